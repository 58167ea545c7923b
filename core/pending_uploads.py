"""Pending uploads: the files of a form that came back with errors, kept for its next submit (issue 11 §2).

A person who photographed an ID, a licence and a handler, and then mistyped an address, must not
take the three photos again. So when a form is shown again with errors, each file it received (on a
field without an error of its own) is kept here, and the page refers to it by an opaque token in a
hidden field. The next submit sends the token instead of the file.

- The file is personal data: it lies in the private storage (core.storage, encrypted at rest with the
  field-encryption keys) and never under a public URL. Its name on disk is a keyed hash of the token,
  so a listing of the folder gives no token away.
- It belongs to whoever chose it (`upload_owner`): another user's token is refused as an unknown one
  (no answer tells the two apart).
- It lives `PENDING_UPLOAD_SECONDS` (1 hour): an older one is refused with a message that says so,
  and deleted; `pending_uploads_purge` (a beat task) deletes what nobody came back for.
- The bytes are kept as they were sent: the service that finally stores them sanitises them then
  (core.uploads.sanitize_upload), once, as it does a file sent directly. Only the preview sanitises
  on its own, so that what the browser is shown is a re-encoded image with no metadata.
- Tokens carry no personal data: they are random.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import re
import secrets
import time

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.translation import gettext_lazy as _

from core.errors import ValidationFailed
from core.storage import private_storage

logger = logging.getLogger(__name__)

FOLDER = "pending-uploads"
DEFAULT_TTL_SECONDS = 3600
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")

# What a kept file is, for the page ("Already chosen: a photo"), from its first bytes (never its name).
KIND_IMAGE = "image"
KIND_PDF = "pdf"
KIND_FILE = "file"
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")

MSG_UNKNOWN = _("The file chosen earlier is no longer available. Choose it again.")
MSG_EXPIRED = _("The file chosen earlier was kept for %(minutes)s minutes only and has expired. Choose it again.")


class PendingUploadRefused(ValidationFailed):
    """The token names no pending upload of this owner ("unknown"), or one that has expired ("expired")."""


@dataclasses.dataclass(frozen=True)
class PendingUpload:
    token: str
    field: str
    kind: str
    content_type: str
    created: float
    content: bytes = dataclasses.field(repr=False)

    def as_upload(self) -> SimpleUploadedFile:
        """The file as a form field and a service take it, as if it had just been sent again."""
        upload = SimpleUploadedFile(f"upload{_extension(self.kind, self.content)}", self.content, self.content_type)
        upload.pending_token = self.token  # type: ignore[attr-defined]  # lets the form keep its token
        return upload


def ttl_seconds() -> int:
    return int(getattr(settings, "PENDING_UPLOAD_SECONDS", DEFAULT_TTL_SECONDS))


def _now() -> float:
    # One place for the clock, so that a test can move it.
    return time.time()


def upload_owner(request) -> str:
    """Whose pending uploads a request may use: its user's (the portal's forms need a login)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ""
    return f"user:{user.pk}"


def _keyed(value: str, purpose: str) -> str:
    key = hashlib.sha256(f"core.pending_uploads.{purpose}:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def _name(token: str) -> str:
    return f"{FOLDER}/{_keyed(token, 'name')}"


def _kind(content: bytes) -> str:
    if content.startswith(_IMAGE_MAGIC) or (content[:4] == b"RIFF" and content[8:12] == b"WEBP"):
        return KIND_IMAGE
    if content.startswith(b"%PDF-"):
        return KIND_PDF
    return KIND_FILE


def kind_of(upload) -> str:
    """What an uploaded file is, from its first bytes."""
    seek = getattr(upload, "seek", None)
    if callable(seek):
        seek(0)
    head = bytes(upload.read(16))
    if callable(seek):
        seek(0)
    return _kind(head)


def _extension(kind: str, content: bytes) -> str:
    if kind == KIND_PDF:
        return ".pdf"
    if kind == KIND_IMAGE:
        if content.startswith(b"\x89PNG"):
            return ".png"
        return ".webp" if content[:4] == b"RIFF" else ".jpg"
    return ".bin"


def _read_all(upload) -> bytes:
    seek = getattr(upload, "seek", None)
    if callable(seek):
        seek(0)
    content = upload.read()
    if callable(seek):
        # The service may read it again (a refused submit is kept after the service has seen it).
        seek(0)
    return bytes(content)


def pending_upload_keep(*, owner: str, field: str, upload) -> str | None:
    """Keep `upload` (a file the form received on `field`) for `owner`; returns its token.

    Returns None when nothing is kept: no owner, an empty file, or one over UPLOAD_MAX_BYTES (it is
    refused anyway, and must be chosen again).
    """
    if not owner:
        return None
    content = _read_all(upload)
    if not content or len(content) > int(getattr(settings, "UPLOAD_MAX_BYTES", 10 * 1024 * 1024)):
        return None
    token = secrets.token_urlsafe(24)
    kind = _kind(content)
    header = {
        "owner": _keyed(owner, "owner"),
        "field": field,
        "kind": kind,
        "content_type": getattr(upload, "content_type", None) or "application/octet-stream",
        "created": _now(),
    }
    # The storage encrypts the whole file, header included.
    private_storage().save(_name(token), ContentFile(json.dumps(header).encode() + b"\n" + content))
    return token


def pending_upload_get(*, owner: str, token: str) -> PendingUpload:
    """The pending upload `token` names, if it is `owner`'s and has not expired; else PendingUploadRefused."""
    unknown = PendingUploadRefused(MSG_UNKNOWN, code="pending_upload_unknown")
    if not owner or not isinstance(token, str) or not _TOKEN.match(token):
        raise unknown
    storage = private_storage()
    name = _name(token)
    try:
        with storage.open(name) as handle:
            raw = handle.read()
    except (FileNotFoundError, OSError):
        raise unknown from None
    head, _sep, content = raw.partition(b"\n")
    try:
        header = json.loads(head)
    except ValueError:
        raise unknown from None
    if not hmac.compare_digest(str(header.get("owner", "")), _keyed(owner, "owner")):
        raise unknown
    if _now() - float(header.get("created", 0)) > ttl_seconds():
        storage.delete(name)
        raise PendingUploadRefused(
            MSG_EXPIRED % {"minutes": max(1, ttl_seconds() // 60)}, code="pending_upload_expired"
        )
    return PendingUpload(
        token=token,
        field=str(header.get("field", "")),
        kind=str(header.get("kind", KIND_FILE)),
        content_type=str(header.get("content_type", "application/octet-stream")),
        created=float(header["created"]),
        content=content,
    )


def pending_upload_discard(*, owner: str, token: str) -> None:
    """Delete `owner`'s pending upload `token` (it was used, or replaced); nothing if it is not theirs."""
    try:
        pending_upload_get(owner=owner, token=token)
    except PendingUploadRefused:
        return
    private_storage().delete(_name(token))


def pending_uploads_purge() -> int:
    """Delete the pending uploads older than their lifetime; returns how many."""
    storage = private_storage()
    try:
        _folders, names = storage.listdir(FOLDER)
    except FileNotFoundError:
        return 0
    cutoff = _now() - ttl_seconds()
    purged = 0
    for filename in names:
        name = f"{FOLDER}/{filename}"
        try:
            if storage.get_modified_time(name).timestamp() < cutoff:
                storage.delete(name)
                purged += 1
        except FileNotFoundError:
            continue  # used or purged meanwhile
    if purged:
        logger.info("Purged %d expired pending uploads", purged)
    return purged
