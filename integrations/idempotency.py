"""Idempotency-Key on creating requests (issue 10 §2): claims, stored answers, replays.

The views take the header through core.idempotency.Idempotent; this module answers its hook
(`idempotency_begin`, connected in IntegrationsConfig.ready()):

- The header is 1 to 255 printable ASCII characters (else 400 invalid_idempotency_key). A call with a platform
  API key must send it on every creating POST (else 400 idempotency_key_required); users may.
- A record is kept per sender (`key:<API key id>`, the first key of a rotation chain, or `user:<pk>`) and key
  for 24 hours, with a SHA-256
  fingerprint of the method, the path and the body (parsed: JSON canonically, multipart as its fields and the
  SHA-256 of each file's content, so a new multipart boundary on a retry is the same body).
- The claim is an INSERT under the unique (owner, key_hash) constraint in its own transaction, committed
  before the request runs, so of two concurrent requests exactly one runs; the other finds the claim and gets
  409 idempotency_request_in_progress (Retry-After), or the stored answer once it is there, or 422
  idempotency_key_reused when its body differs.
- Only final answers are stored: every 2xx and 4xx, the answers to the request as sent (a validation error
  stays one on a retry of the same body; running it again later could give another outcome under the same
  key). Not stored, and the key is freed for the retry: 5xx (the failure rolled the work back: it is no
  answer to the request, and a retry should run it) and answers with Retry-After (429, a temporary refusal).
- Nothing readable is stored: the idempotency key only as a keyed hash, the answer encrypted with a key
  derived from the sender, the idempotency key itself and the server's blind-index secret. An answer may hold
  a secret shown once (a new API key, a webhook secret, a self-service link's URL) or personal data; only a
  retry that presents the same idempotency key can read it back.
- A claim whose request died without an answer (the process was killed) is taken over after
  STALE_CLAIM; expired records are deleted lazily on reuse and by the beat task purge_idempotency_records.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, IntegrityError, transaction
from django.http import HttpResponse, HttpResponseBase
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.pii import blind_index
from core.errors import DomainError, RetryLater, ValidationFailed
from core.idempotency import HEADER, REPLAYED_HEADER
from integrations.auth import is_key_call
from integrations.key_models import IdempotencyRecord, PlatformKey

logger = logging.getLogger(__name__)

TTL = timedelta(hours=24)
# Longer than any request may run (the web server's timeout): a claim still without an answer after this
# lost its request, and a retry takes it over instead of waiting for the record to expire.
STALE_CLAIM = timedelta(minutes=10)
IN_PROGRESS_RETRY_AFTER = 1
VALID_KEY = re.compile(r"[\x20-\x7e]{1,255}")
# Headers of the stored answer that a replay sends again (the body's type, where the new record is).
KEPT_HEADERS = ("Content-Type", "Location")
PURGE_BATCH = 1000
MAX_ROTATIONS = 1000  # a bound on the walk back through a key's rotations (each step is one row)

MSG_REQUIRED = _("Calls with an API key must send an Idempotency-Key header on every creating request.")
MSG_INVALID = _("The Idempotency-Key header must be 1 to 255 printable ASCII characters.")
MSG_REUSED = _("This Idempotency-Key was already used with a different request; use a new key for a new request.")
MSG_IN_PROGRESS = _("A request with this Idempotency-Key is still being processed; retry shortly.")


class IdempotencyKeyReused(DomainError):
    status_code = 422
    default_code = "idempotency_key_reused"


class RequestInProgress(RetryLater):
    status_code = 409
    default_code = "idempotency_request_in_progress"


def _first_of_rotation(key: PlatformKey) -> PlatformKey:
    """The key a chain of rotations started from: its successors share its records."""
    current = key
    for _step in range(MAX_ROTATIONS):
        previous = PlatformKey.objects.filter(replaced_by=current).only("pk", "public_id").first()
        if previous is None:
            break
        current = previous
    return current


def owner_of(request: Any) -> str | None:
    """Whose records these are: the API key or the user. A rotated key and its successors are one sender, so a
    retry sent with the new key during the grace period is not run twice."""
    if is_key_call(request):
        return f"key:{_first_of_rotation(request.auth).public_id}"
    pk = getattr(request.user, "pk", None)
    return f"user:{pk}" if pk is not None else None


def _file_digest(upload: UploadedFile) -> dict[str, Any]:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)  # the view reads it next
    return {"file": upload.name or "", "size": upload.size, "sha256": digest.hexdigest()}


def _canonical(value: Any) -> Any:
    if isinstance(value, UploadedFile):
        return _file_digest(value)
    if hasattr(value, "lists"):  # QueryDict / MultiValueDict: form fields and files, every value of a name
        return {str(name): [_canonical(item) for item in items] for name, items in value.lists()}
    if isinstance(value, Mapping):
        return {str(name): _canonical(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    return value


def fingerprint_of(request: Any) -> str:
    """SHA-256 of method, path and parsed body (a malformed body is DRF's 400 here, before any claim)."""
    body = json.dumps(_canonical(request.data), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    message = "\n".join([request.method, request.get_full_path(), body])
    return hashlib.sha256(message.encode()).hexdigest()


def _key_hash(owner: str, key: str) -> str:
    return blind_index(f"{owner}\x00{key}", purpose="idempotency_key")


def _cipher(owner: str, key: str) -> Fernet:
    secret = bytes.fromhex(blind_index(f"{owner}\x00{key}", purpose="idempotency_answer"))
    return Fernet(base64.urlsafe_b64encode(secret))


def _stored_answer(record: IdempotencyRecord, cipher: Fernet) -> HttpResponse:
    try:
        content = cipher.decrypt(bytes(record.body or b""))
    except InvalidToken:  # the blind-index secret changed within the 24 hours: nothing to replay
        content = b""
    response = HttpResponse(content, status=record.status_code)
    for name, value in (record.headers or {}).items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


@dataclass
class Claim:
    """The claimed record of a running request (core.idempotency.Attempt)."""

    record_pk: int
    cipher: Fernet

    def finish(self, response: HttpResponseBase) -> None:
        if not is_final(response) or getattr(response, "streaming", False):
            self.abandon()
            return
        render = getattr(response, "render", None)
        if callable(render):
            render()
        content = getattr(response, "content", b"")
        headers = {name: response[name] for name in KEPT_HEADERS if name in response}
        try:
            IdempotencyRecord.objects.filter(pk=self.record_pk, status_code__isnull=True).update(
                status_code=response.status_code, body=self.cipher.encrypt(content), headers=headers
            )
        except DatabaseError:
            # The work is done and answered; without its record a retry waits (409) until STALE_CLAIM.
            logger.warning("idempotency: the answer of record %s could not be stored", self.record_pk)

    def abandon(self) -> None:
        try:
            IdempotencyRecord.objects.filter(pk=self.record_pk, status_code__isnull=True).delete()
        except DatabaseError:
            logger.warning("idempotency: the claim %s could not be freed; it goes stale", self.record_pk)


def is_final(response: HttpResponseBase) -> bool:
    """Stored: 2xx and 4xx. Not: 5xx (no answer to the request) and temporary refusals (Retry-After)."""
    return response.status_code < 500 and "Retry-After" not in response


def _claim(*, owner: str, key: str, fingerprint: str) -> Claim | HttpResponse:
    key_hash = _key_hash(owner, key)
    cipher = _cipher(owner, key)
    for _attempt in range(3):
        now = timezone.now()
        try:
            # Its own transaction (ATOMIC_REQUESTS is off): committed before the work starts, so a concurrent
            # request with the same key meets the unique constraint.
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    owner=owner, key_hash=key_hash, fingerprint=fingerprint, created_at=now, expires_at=now + TTL
                )
            return Claim(record.pk, cipher)
        except IntegrityError:
            pass
        existing = IdempotencyRecord.objects.filter(owner=owner, key_hash=key_hash).first()
        if existing is None:  # freed (5xx) or purged in between: claim again
            continue
        if existing.expires_at <= now or (existing.status_code is None and existing.created_at <= now - STALE_CLAIM):
            IdempotencyRecord.objects.filter(pk=existing.pk, status_code=existing.status_code).delete()
            continue
        if existing.fingerprint != fingerprint:
            raise IdempotencyKeyReused(MSG_REUSED)
        if existing.status_code is None:
            raise RequestInProgress(MSG_IN_PROGRESS, retry_after=IN_PROGRESS_RETRY_AFTER)
        return _stored_answer(existing, cipher)
    raise RequestInProgress(MSG_IN_PROGRESS, retry_after=IN_PROGRESS_RETRY_AFTER)


def begin(*, request: Any) -> Claim | HttpResponse | None:
    """core.idempotency's hook: None (no header, none needed), a claim, or the stored answer to replay."""
    key = request.headers.get(HEADER)
    if key is None:
        if is_key_call(request):
            raise ValidationFailed(MSG_REQUIRED, code="idempotency_key_required")
        return None
    if not VALID_KEY.fullmatch(key):
        raise ValidationFailed(MSG_INVALID, code="invalid_idempotency_key")
    owner = owner_of(request)
    if owner is None:  # anonymous: the view's permission refuses it before this; nothing to key on
        return None
    return _claim(owner=owner, key=key, fingerprint=fingerprint_of(request))


def purge_expired(*, now=None, batch: int = PURGE_BATCH) -> int:
    """Delete expired records in batches; how many went."""
    now = now or timezone.now()
    deleted = 0
    while True:
        pks = list(IdempotencyRecord.objects.filter(expires_at__lte=now).values_list("pk", flat=True)[:batch])
        if not pks:
            return deleted
        deleted += IdempotencyRecord.objects.filter(pk__in=pks).delete()[0]


__all__ = ["Claim", "IdempotencyKeyReused", "RequestInProgress", "begin", "fingerprint_of", "purge_expired"]
