"""The transport: urllib, a multipart encoder, retries with backoff, and errors mapped to types.

Standard library only, so that an integrator's platform inherits none of our dependency pins.
"""

from __future__ import annotations

import http.client
import json
import mimetypes
import os
import random
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import IO, Any, Union

from iot_realname_client import __version__
from iot_realname_client.errors import ApiError, ConnectionFailed, RateLimited, error_class

# A file to upload: its bytes, a path, an open binary file, or (filename, bytes[, content type]).
FileInput = Union[  # noqa: UP007 - a runtime alias (Python 3.9)
    bytes, str, "os.PathLike[str]", IO[bytes], tuple[str, bytes], tuple[str, bytes, str]
]
FormValue = Union[str, int, float, bool]  # noqa: UP007 - a runtime alias: `X | Y` fails on Python 3.9, which the client supports

USER_AGENT = f"iot-realname-client/{__version__} (python)"
# The longest Retry-After the client waits out by itself; a longer one is raised as RateLimited at once.
MAX_RETRY_AFTER = 60.0
MAX_BACKOFF = 30.0
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    url: str

    def json(self) -> Any:
        if not self.body:
            return None
        return json.loads(self.body.decode("utf-8"))

    @property
    def replayed(self) -> bool:
        """True when the server answered from its idempotency store (a retry of a create it already made)."""
        return self.headers.get("idempotent-replayed", "").lower() == "true"


@dataclass
class Upload:
    name: str
    filename: str
    content: bytes
    content_type: str


@dataclass
class Form:
    """A multipart/form-data body: plain fields (repeatable) and files."""

    fields: list[tuple[str, str]] = field(default_factory=list)
    files: list[Upload] = field(default_factory=list)

    def add(self, name: str, value: FormValue | Sequence[FormValue] | None) -> None:
        if value is None:
            return
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if isinstance(item, bool):
                self.fields.append((name, "true" if item else "false"))
            else:
                self.fields.append((name, str(item)))

    def add_file(self, name: str, value: FileInput | None, default_name: str = "upload") -> None:
        if value is None:
            return
        self.files.append(read_upload(name, value, default_name))

    def encode(self) -> tuple[bytes, str]:
        boundary = "----iot-realname-" + uuid.uuid4().hex
        parts: list[bytes] = []
        for name, value in self.fields:
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote(name)}"\r\n\r\n'.encode()
                + value.encode("utf-8")
                + b"\r\n"
            )
        for upload in self.files:
            parts.append(
                (
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote(upload.name)}"; '
                    f'filename="{_quote(upload.filename)}"\r\nContent-Type: {upload.content_type}\r\n\r\n'
                ).encode()
                + upload.content
                + b"\r\n"
            )
        parts.append(f"--{boundary}--\r\n".encode())
        return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _quote(text: str) -> str:
    # RFC 7578 §4.2: quotes and line breaks in a name are percent-encoded, other characters go as UTF-8.
    return text.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def _sniff(content: bytes) -> str:
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    if content.startswith(b"%PDF"):
        return "application/pdf"
    if content.startswith(b"PK\x03\x04"):
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return "application/octet-stream"


def read_upload(name: str, value: FileInput, default_name: str) -> Upload:
    if isinstance(value, tuple):
        filename, content = value[0], value[1]
        content_type = value[2] if len(value) > 2 else None
    elif isinstance(value, (bytes, bytearray, memoryview)):
        filename, content, content_type = default_name, bytes(value), None
    elif isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        with open(path, "rb") as handle:
            content = handle.read()
        filename, content_type = os.path.basename(path), None
    else:
        content = value.read()
        filename = os.path.basename(str(getattr(value, "name", "") or default_name))
        content_type = None
    if not isinstance(content, bytes):
        raise TypeError(f"{name}: a file must be bytes, a path, a binary file or (filename, bytes)")
    if content_type is None:
        content_type = mimetypes.guess_type(filename)[0] or _sniff(content)
    return Upload(name=name, filename=filename, content=content, content_type=content_type)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are not followed: urllib would resend the Authorization header to wherever they point."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After in seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _code(response: Response) -> str | None:
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return None
    return body.get("code") if isinstance(body, dict) and isinstance(body.get("code"), str) else None


def _error(response: Response) -> ApiError:
    code: str | None = None
    detail = ""
    field_name: str | None = None
    body: Any = None
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        code = body.get("code") if isinstance(body.get("code"), str) else None
        detail = str(body.get("detail", ""))
        field_name = body.get("field") if isinstance(body.get("field"), str) else None
    else:
        # Not the portal's JSON (a proxy's error page, say): keep a short excerpt only.
        detail = response.body[:200].decode("utf-8", errors="replace").strip()
    cls = error_class(response.status)
    kwargs: dict[str, Any] = {"body": body, "headers": response.headers}
    if cls is RateLimited:
        kwargs["retry_after"] = retry_after_seconds(response.headers.get("retry-after"))
    return cls(response.status, code, detail, field_name, **kwargs)


class Transport:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30,
        max_retries: int = 3,
        backoff: float = 0.5,
        user_agent: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise ValueError("api_key is required")
        root = base_url.rstrip("/")
        if not root.endswith("/api/v1"):
            root += "/api/v1"
        parsed = urllib.parse.urlsplit(root)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError("base_url must be an http(s) URL, e.g. https://portal.example.com")
        self.api_root = root + "/"
        self.origin = f"{parsed.scheme}://{parsed.netloc}"
        self.api_key = api_key
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self.backoff = backoff
        self.user_agent = user_agent or USER_AGENT
        self.sleep = sleep
        self._opener = urllib.request.build_opener(_NoRedirect())

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        if path.startswith(("http://", "https://")):
            # A `next` link: keep its path and query, but always on our own origin, so that a link
            # naming another host never receives the key.
            parts = urllib.parse.urlsplit(path)
            url = self.origin + parts.path + (f"?{parts.query}" if parts.query else "")
        else:
            url = self.api_root + path.lstrip("/")
        if params:
            pairs: list[tuple[str, str]] = []
            for key, value in params.items():
                if value is None:
                    continue
                values: Iterable[Any] = value if isinstance(value, (list, tuple)) else [value]
                for item in values:
                    pairs.append((key, ("true" if item else "false") if isinstance(item, bool) else str(item)))
            if pairs:
                url += ("&" if "?" in url else "?") + urllib.parse.urlencode(pairs)
        return url

    @staticmethod
    def _retryable(response: Response, safe_to_repeat: bool) -> bool:
        if response.status == 429:
            return True  # refused before anything was done
        if response.status >= 500:
            return safe_to_repeat
        # Our own earlier attempt (one that timed out here, say) is still running on the server: wait,
        # then this retry gets its stored answer.
        return response.status == 409 and safe_to_repeat and _code(response) == "idempotency_request_in_progress"

    def _delay(self, retry: int, response: Response | None) -> float | None:
        """Seconds before retry number `retry` (1-based); None when the server asked for too long a wait."""
        if response is not None and response.status in (409, 429, 503):
            after = retry_after_seconds(response.headers.get("retry-after"))
            if after is not None:
                return after if after <= MAX_RETRY_AFTER else None
        base = min(self.backoff * (2 ** (retry - 1)), MAX_BACKOFF)
        # "Equal jitter": at least half the backoff, so clients that failed together spread out.
        return base / 2 + random.uniform(0, base / 2)  # noqa: S311 - jitter, not a secret

    def _send_once(self, method: str, url: str, body: bytes | None, headers: dict[str, str]) -> Response:
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                return Response(answer.status, _lower(answer.headers.items()), answer.read(), url)
        except urllib.error.HTTPError as exc:
            try:
                content = exc.read()
            finally:
                exc.close()
            return Response(exc.code, _lower(exc.headers.items() if exc.headers else []), content, url)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        form: Form | None = None,
        idempotency_key: str | None = None,
        create: bool = False,
    ) -> Response:
        """Send with retries; answer the 2xx Response or raise the error's type.

        Retried: 429 (after Retry-After), 5xx and connection errors, for reads and for creates (which carry
        one Idempotency-Key across all their attempts, so the server makes them once), and a create's 409
        idempotency_request_in_progress (its own earlier attempt still runs). Other POSTs are retried only
        on 429, which the server answers before doing anything.
        """
        method = method.upper()
        url = self.url(path, params)
        headers = {
            "Authorization": f"Api-Key {self.api_key}",
            "Accept": "application/json",
            "User-Agent": self.user_agent,
        }
        body: bytes | None = None
        if form is not None:
            body, headers["Content-Type"] = form.encode()
        elif json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        if method == "POST":
            # Every POST carries a key: the portal requires one of a key's creating calls, and ignores it
            # elsewhere. Only creates count on it to be made once, so only they are retried after a 5xx.
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        safe_to_repeat = method in IDEMPOTENT_METHODS or create

        retry = 0
        while True:
            response: Response | None = None
            failure: BaseException | None = None
            try:
                response = self._send_once(method, url, body, headers)
            except (TimeoutError, urllib.error.URLError, http.client.HTTPException, ConnectionError, OSError) as exc:
                failure = exc
            if response is not None and 200 <= response.status < 300:
                return response
            retryable = (failure is not None and safe_to_repeat) or (
                response is not None and self._retryable(response, safe_to_repeat)
            )
            delay = self._delay(retry + 1, response) if retryable and retry < self.max_retries else None
            if delay is None:
                if response is not None:
                    raise _error(response)
                reason = getattr(failure, "reason", failure)
                raise ConnectionFailed(f"{method} {url}: {reason}") from failure
            retry += 1
            self.sleep(delay)


def _lower(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {key.lower(): value for key, value in items}
