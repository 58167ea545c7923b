"""The comparison runner: one verification record through the face engine, its result stored.

Called by the Celery task (verification.tasks.run_verification) with an id.
Safe to run twice: a record that is no longer pending is left alone, and
verification_record_result ignores a record decided meanwhile.

Errors:
- transient ones (storage OSError, database OperationalError) propagate,
  and the task retries them with backoff;
- a photo the engine cannot use is a ``rejected`` result with its reasons;
- an unexpected engine error on a photo also ends as ``rejected``
  (reason ``engine_error``), logged without personal data, so a bad image
  never loops through retries;
- EngineUnavailable (a broken install) propagates: the record stays
  pending until a working worker takes it.
"""

from __future__ import annotations

import logging

import numpy as np
from django.conf import settings

from verification.engine import (
    REJECTED,
    ComparisonResult,
    EngineUnavailable,
    get_engine,
    perceptual_hash_bytes,
    reason,
    thresholds,
)
from verification.models import Verification, VerificationStatus
from verification.services import verification_record_result

logger = logging.getLogger(__name__)

__all__ = ["find_replay", "run_comparison"]


def _read(field) -> bytes | None:
    """The photo's bytes; None when it is gone for good (retrying would not bring it back).
    Other storage errors (OSError) propagate for the task to retry."""
    if not field.name:
        return None
    try:
        with field.storage.open(field.name, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def run_comparison(verification_id: int) -> str:
    """Compare the record's ID photo with its live photo and store the outcome. Returns the status."""
    record = Verification.objects.filter(pk=verification_id).first()
    if record is None:
        logger.warning("verification %s does not exist", verification_id)
        return "missing"
    if record.status != VerificationStatus.PENDING:
        return record.status

    engine = get_engine()
    id_bytes = _read(record.id_photo)
    live_bytes = _read(record.live_photo)
    if id_bytes is None or live_bytes is None:
        logger.warning("verification %s: a photo is missing from storage", record.pk)
        missing = [reason("unreadable", photo) for photo, data in (("live", live_bytes), ("id", id_bytes))
                   if data is None]
        result = _rejected(engine, missing)
        if live_bytes is not None:
            result.live_phash = None
    else:
        try:
            result = engine.compare(id_bytes, live_bytes)
        except EngineUnavailable:
            raise
        except Exception:
            # Not transient (the same photo would fail again): the user is asked for new photos.
            logger.exception("face engine %s failed on verification %s", engine.name, record.pk)
            result = _rejected(engine, [reason("engine_error")])
            result.live_phash = None

    phash = result.live_phash
    if phash is None:
        phash = perceptual_hash_bytes(live_bytes) if live_bytes else ""
    replay = find_replay(phash, exclude_pk=record.pk) if phash else None
    reasons = list(result.reasons)
    if replay is not None:
        reasons.append(reason("replay", "live"))
        logger.info("verification %s: live photo matches verification %s", record.pk, replay.pk)

    stored = verification_record_result(
        verification=record,
        outcome=result.outcome,
        distance=result.distance,
        reasons=reasons,
        threshold_pass=result.threshold_pass,
        threshold_fail=result.threshold_fail,
        engine=result.engine or engine.name,
        engine_version=result.engine_version or engine.version,
        timings_ms=result.timings_ms,
        live_photo_phash=phash,
        replay_of=replay,
    )
    return stored.status


def _rejected(engine, reasons: list[dict]) -> ComparisonResult:
    t_pass, t_fail = thresholds()
    return ComparisonResult(
        outcome=REJECTED,
        reasons=reasons,
        threshold_pass=t_pass,
        threshold_fail=t_fail,
        engine=engine.name,
        engine_version=engine.version,
        live_phash="",
    )


def find_replay(phash: str, *, exclude_pk: int | None = None) -> Verification | None:
    """The earliest other verification whose live photo's perceptual hash is within
    FACE_REPLAY_MAX_DISTANCE bits of ``phash`` (a re-encoded or resized copy of the same photo).

    Hamming distance has no index: the hashes are scanned in chunks with numpy
    (about a million a second).
    """
    limit = int(getattr(settings, "FACE_REPLAY_MAX_DISTANCE", 6))
    target = np.uint64(int(phash, 16))
    candidates = (
        Verification.objects.exclude(live_photo_phash="")
        .exclude(pk=exclude_pk)
        .order_by("pk")
        .values_list("pk", "live_photo_phash")
    )
    chunk: list[tuple[int, str]] = []
    for row in candidates.iterator(chunk_size=5000):
        chunk.append(row)
        if len(chunk) == 5000:
            found = _closest(chunk, target, limit)
            if found is not None:
                return Verification.objects.get(pk=found)
            chunk = []
    found = _closest(chunk, target, limit) if chunk else None
    return Verification.objects.get(pk=found) if found is not None else None


def _closest(rows: list[tuple[int, str]], target: np.uint64, limit: int) -> int | None:
    pks, values = [], []
    for pk, value in rows:
        try:
            values.append(int(value, 16))
        except ValueError:
            continue
        pks.append(pk)
    if not values:
        return None
    xor = np.array(values, dtype=np.uint64) ^ target
    bits = np.unpackbits(xor.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
    hits = np.flatnonzero(bits <= limit)
    return pks[int(hits[0])] if hits.size else None
