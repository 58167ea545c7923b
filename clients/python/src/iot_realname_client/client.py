"""Client: one object per portal, with a typed method per resource an API key reaches.

client = Client("https://portal.example.com", "rnk_live_...")
for card in client.cards.iter(status="inactive"):
    ...
"""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, Union, cast

from iot_realname_client import types as t
from iot_realname_client._http import FileInput, Form, Response, Transport

T = TypeVar("T")
When = Union[str, datetime]  # noqa: UP007 - a runtime alias: `X | Y` fails on Python 3.9, which the client supports

# Statuses after which a verification or import changes no more by itself.
FINAL_IMPORT_STATUSES = frozenset({"succeeded", "failed"})


@dataclass
class Page(Generic[T]):
    """One page of a cursor-paginated list; `next` is the URL of the following one (None on the last)."""

    results: list[T]
    next: str | None = None
    previous: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def _iso(value: When | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("give an aware datetime (e.g. datetime.now(timezone.utc)): the API compares instants")
    return value.astimezone(UTC).isoformat()


def _id(value: Any) -> str:
    """A path segment from an id (a UUID, a str, or a dict the API answered with)."""
    if isinstance(value, Mapping):
        for key in ("public_id", "id", "iccid"):
            if key in value:
                return str(value[key])
        raise ValueError("that object carries no id")
    text = str(value)
    if not text or "/" in text or text in (".", ".."):
        raise ValueError(f"not an id: {text!r}")
    return text


class _Resource:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def _page(self, path: str, params: Mapping[str, Any] | None = None) -> Page[Any]:
        body = self._t.request("GET", path, params=params).json() or {}
        return Page(
            results=list(body.get("results", [])), next=body.get("next"), previous=body.get("previous"), raw=body
        )

    def _all(self, first: Page[Any]) -> Iterator[Any]:
        page = first
        while True:
            yield from page.results
            if not page.next:
                return
            page = self._page(page.next)


class Cards(_Resource):
    def list(
        self,
        *,
        status: str | None = None,
        package: str | None = None,
        iccid_startswith: str | None = None,
        realname_required: bool | None = None,
        enterprise: str | None = None,
        cursor_url: str | None = None,
    ) -> Page[t.Card]:
        """One page (50 cards, by ICCID). Pass a page's `next` as `cursor_url` for the following one."""
        if cursor_url:
            return self._page(cursor_url)
        params = {
            "status": status,
            "package": package,
            "iccid__startswith": iccid_startswith,
            "realname_required": realname_required,
            "enterprise": enterprise,
        }
        return self._page("cards/", params)

    def iter(self, **filters: Any) -> Iterator[t.Card]:
        """Every card that matches, page after page (the same filters as `list`)."""
        return self._all(self.list(**filters))

    def get(self, iccid: str) -> t.Card:
        return cast(t.Card, self._t.request("GET", f"cards/{_id(iccid)}/").json())


class Orders(_Resource):
    def create(
        self,
        *,
        enterprise: str,
        business_type: str,
        cards: Sequence[str],
        handler_id_type: str,
        handler_id_number: str,
        handler_id_photo: FileInput,
        handler_name: str | None = None,
        handler_id_address: str | None = None,
        handler_live_photo: FileInput | None = None,
        credential_photo: FileInput | None = None,
        responsible_id_photo: FileInput | None = None,
        parameters: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> t.Order:
        """File an order (business on cards). Face-gated businesses answer `awaiting_verification`: poll `get`."""
        form = Form()
        form.add("enterprise", enterprise)
        form.add("business_type", business_type)
        form.add("cards", list(cards))
        form.add("handler_id_type", handler_id_type)
        form.add("handler_id_number", handler_id_number)
        form.add("handler_name", handler_name)
        form.add("handler_id_address", handler_id_address)
        if parameters is not None:
            form.add("parameters", json.dumps(dict(parameters)))
        form.add_file("handler_id_photo", handler_id_photo, "handler-id.jpg")
        form.add_file("handler_live_photo", handler_live_photo, "handler-live.jpg")
        form.add_file("credential_photo", credential_photo, "credential.jpg")
        form.add_file("responsible_id_photo", responsible_id_photo, "responsible-id.jpg")
        response = self._t.request("POST", "orders/", form=form, create=True, idempotency_key=idempotency_key)
        return cast(t.Order, response.json())

    def get(self, public_id: Any) -> t.Order:
        return cast(t.Order, self._t.request("GET", f"orders/{_id(public_id)}/").json())

    def list(
        self,
        *,
        status: str | None = None,
        business_type: str | None = None,
        enterprise: str | None = None,
    ) -> Page[t.Order]:
        params = {"status": status, "business_type": business_type, "enterprise": enterprise}
        return self._page("orders/", params)


class Verifications(_Resource):
    def get(self, public_id_or_url: Any) -> t.Verification:
        """A face comparison's status, by its id or by the `verification_url` a registration answered."""
        target = str(public_id_or_url)
        path = target if target.startswith(("http://", "https://")) else f"verifications/{_id(public_id_or_url)}/"
        return cast(t.Verification, self._t.request("GET", path).json())

    def wait(self, public_id_or_url: Any, *, timeout: float = 120, interval: float = 2) -> t.Verification:
        """Poll until `final` (or `timeout` seconds pass: then the last status). Prefer the callbacks."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.get(public_id_or_url)
            if status.get("final") or time.monotonic() >= deadline:
                return status
            time.sleep(interval)


# The multipart field names of liveness frames (as the self-service capture sends them).
FRAMES_FIELD = "frames"
FRAME_TIMESTAMPS_FIELD = "timestamps"
CHALLENGE_FIELD = "challenge"


class CardUsers(_Resource):
    def register(
        self,
        *,
        enterprise: str,
        name: str,
        id_type: str,
        id_number: str,
        id_photo: FileInput,
        cards: Sequence[str],
        live_photo: FileInput | None = None,
        liveness_frames: Sequence[FileInput] | None = None,
        challenge: str | Sequence[str] | None = None,
        frame_timestamps: Sequence[float] | None = None,
        biometric_consent: bool,
        idempotency_key: str | None = None,
    ) -> t.Registration:
        """Register a card user for the enterprise's cards: an ID photo plus one live photo or liveness frames.

        Liveness frames are 8 to 15 JPEGs of a short capture, in order, in which the card user makes the head
        moves of `challenge` (1 to 3 of "left", "right", "straight"); `frame_timestamps` are their capture
        times in seconds (else the server reads them from file names such as `f0013_t001.080.jpg`). The
        portal's active liveness check decides; a failed check is a ValidationError `liveness_failed`.

        `biometric_consent` must be the card user's explicit consent to face recognition (the server refuses
        without it). The answer's `verification` tells where the face comparison stands; the outcome comes as
        a `card_user.registered` / `card_user.in_review` / `card_user.refused` callback, or poll
        `client.verifications.wait(answer["verification_url"])`.
        """
        if (live_photo is None) == (not liveness_frames):
            raise ValueError("give either live_photo or liveness_frames")
        form = Form()
        form.add("enterprise", enterprise)
        form.add("name", name)
        form.add("id_type", id_type)
        form.add("id_number", id_number)
        form.add("biometric_consent", bool(biometric_consent))
        form.add("cards", list(cards))
        form.add_file("id_photo", id_photo, "id-photo.jpg")
        form.add_file("live_photo", live_photo, "live-photo.jpg")
        for index, frame in enumerate(liveness_frames or []):
            form.add_file(FRAMES_FIELD, frame, f"frame-{index:02d}.jpg")
        if challenge is not None:
            form.add(CHALLENGE_FIELD, challenge if isinstance(challenge, str) else ",".join(challenge))
        if frame_timestamps is not None:
            form.add(FRAME_TIMESTAMPS_FIELD, ",".join(str(stamp) for stamp in frame_timestamps))
        response = self._t.request("POST", "card-users/", form=form, create=True, idempotency_key=idempotency_key)
        return cast(t.Registration, response.json())

    def get(self, public_id: Any) -> t.CardUser:
        """A card user, ID number masked, with bindings and face comparisons."""
        return cast(t.CardUser, self._t.request("GET", f"card-users/{_id(public_id)}/").json())

    def list(self, *, cursor_url: str | None = None) -> Page[t.CardUser]:
        return self._page(cursor_url or "card-users/")

    def iter(self) -> Iterator[t.CardUser]:
        return self._all(self.list())


class Imports(_Resource):
    def create(self, *, enterprise: str, file: FileInput, idempotency_key: str | None = None) -> t.CardImport:
        """Upload a card file (CSV or XLSX); it is imported in the background: poll `get` or `wait`."""
        form = Form()
        form.add("enterprise", enterprise)
        form.add_file("file", file, "cards.csv")
        response = self._t.request("POST", "card-imports/", form=form, create=True, idempotency_key=idempotency_key)
        return cast(t.CardImport, response.json())

    def get(self, public_id: Any) -> t.CardImport:
        return cast(t.CardImport, self._t.request("GET", f"card-imports/{_id(public_id)}/").json())

    def wait(self, public_id: Any, *, timeout: float = 300, interval: float = 2) -> t.CardImport:
        """Poll until the import succeeded or failed (or `timeout` seconds pass: then its last status)."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(public_id)
            if job.get("status") in FINAL_IMPORT_STATUSES or time.monotonic() >= deadline:
                return job
            time.sleep(interval)


class Events(_Resource):
    def list(
        self,
        *,
        since: When | None = None,
        type: str | None = None,
        page_size: int | None = None,
        cursor_url: str | None = None,
    ) -> Page[t.Event]:
        """One page of the events feed (what the callbacks carried), oldest first, from `since` on."""
        if cursor_url:
            return self._page(cursor_url)
        return self._page("platform/events/", {"since": _iso(since), "type": type, "page_size": page_size})

    def iter(
        self, *, since: When | None = None, type: str | None = None, page_size: int | None = None
    ) -> Iterator[t.Event]:
        """Every event since then, following `next` to the end: catch up after downtime with this."""
        return self._all(self.list(since=since, type=type, page_size=page_size))


class Webhooks(_Resource):
    """Callback endpoints (needs the key's webhooks:manage scope)."""

    def create(
        self,
        *,
        enterprise: str,
        url: str,
        events: Sequence[str] | None = None,
        description: str = "",
        idempotency_key: str | None = None,
    ) -> t.WebhookEndpoint:
        """Register an endpoint; keep the answer's `secret` (whsec_...): verify callbacks with it."""
        body = {"enterprise": enterprise, "url": url, "events": list(events or []), "description": description}
        response = self._t.request(
            "POST", "platform/webhooks/", json_body=body, create=True, idempotency_key=idempotency_key
        )
        return cast(t.WebhookEndpoint, response.json())

    def get(self, public_id: Any) -> t.WebhookEndpoint:
        return cast(t.WebhookEndpoint, self._t.request("GET", f"platform/webhooks/{_id(public_id)}/").json())

    def list(self) -> Page[t.WebhookEndpoint]:
        return self._page("platform/webhooks/")

    def update(
        self,
        public_id: Any,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        description: str | None = None,
    ) -> t.WebhookEndpoint:
        """Change what is given (a new URL is checked again like a new endpoint's)."""
        body: dict[str, Any] = {}
        if url is not None:
            body["url"] = url
        if events is not None:
            body["events"] = list(events)
        if description is not None:
            body["description"] = description
        path = f"platform/webhooks/{_id(public_id)}/"
        return cast(t.WebhookEndpoint, self._t.request("PATCH", path, json_body=body).json())

    def delete(self, public_id: Any) -> None:
        self._t.request("DELETE", f"platform/webhooks/{_id(public_id)}/")

    def disable(self, public_id: Any) -> t.WebhookEndpoint:
        return cast(t.WebhookEndpoint, self._t.request("POST", f"platform/webhooks/{_id(public_id)}/disable/").json())

    def enable(self, public_id: Any) -> t.WebhookEndpoint:
        return cast(t.WebhookEndpoint, self._t.request("POST", f"platform/webhooks/{_id(public_id)}/enable/").json())

    def rotate_secret(self, public_id: Any, *, grace_hours: int | None = None) -> t.WebhookEndpoint:
        """A new secret (in the answer); the old one keeps signing too for the grace period."""
        body = {} if grace_hours is None else {"grace_hours": grace_hours}
        path = f"platform/webhooks/{_id(public_id)}/rotate-secret/"
        return cast(t.WebhookEndpoint, self._t.request("POST", path, json_body=body, create=True).json())

    def send_test(self, public_id: Any) -> Any:
        """Send a test event to this endpoint alone."""
        return self._t.request("POST", f"platform/webhooks/{_id(public_id)}/test/", create=True).json()

    def resend(self, public_id: Any, attempt_id: Any) -> Any:
        """Send one delivery again (that attempt's event, to this endpoint)."""
        path = f"platform/webhooks/{_id(public_id)}/deliveries/{_id(attempt_id)}/resend/"
        return self._t.request("POST", path).json()

    def deliveries(self, public_id: Any) -> builtins.list[t.DeliveryAttempt]:
        """Every delivery attempt to the endpoint, newest first (all pages)."""
        return list(self._all(self._page(f"platform/webhooks/{_id(public_id)}/deliveries/")))

    def recover(self, public_id: Any, *, since: When) -> Any:
        """Send again every delivery to the endpoint that failed since then."""
        body = {"since": _iso(since)}
        return self._t.request("POST", f"platform/webhooks/{_id(public_id)}/recover/", json_body=body).json()


class Client:
    """The portal's platform API, authenticated with one API key (`Authorization: Api-Key <key>`).

    Creates carry an `Idempotency-Key` (a new UUID per call, or yours), kept across the client's own
    retries, so a retried create is made once. 429 (after its Retry-After), 5xx and connection errors
    are retried up to `max_retries` times with exponential backoff (`backoff`, doubling) and jitter.
    Errors raise `ApiError` subclasses carrying the API's `code`, `detail` and `field`.
    """

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
        self.transport = Transport(
            base_url,
            api_key,
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
            user_agent=user_agent,
            sleep=sleep,
        )
        self.cards = Cards(self.transport)
        self.orders = Orders(self.transport)
        self.card_users = CardUsers(self.transport)
        self.verifications = Verifications(self.transport)
        self.imports = Imports(self.transport)
        self.events = Events(self.transport)
        self.webhooks = Webhooks(self.transport)

    def request(self, method: str, path: str, **kwargs: Any) -> Response:
        """Any other call, with the same authentication, retries and errors (path relative to /api/v1/)."""
        return self.transport.request(method, path, **kwargs)

    def __repr__(self) -> str:  # never the key
        return f"Client({self.transport.api_root!r})"
