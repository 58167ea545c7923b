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

Replay defence: the live photo's perceptual hash is stored and committed
*before* the other hashes are searched. Of two comparisons of the same photo
running at once on two workers, the second to store its hash finds the first
one's, whichever finishes first, so a simultaneous replay is not missed.
"""

from __future__ import annotations

import itertools
import logging
from functools import reduce
from operator import or_

from django.conf import settings
from django.db.models import Q

from verification import hooks
from verification.engine import (
    REJECTED,
    ComparisonResult,
    EngineUnavailable,
    FaceEngine,
    SandboxEngine,
    get_engine,
    hamming,
    perceptual_hash_bytes,
    reason,
    thresholds,
)
from verification.models import Verification, VerificationStatus
from verification.services import verification_record_result

logger = logging.getLogger(__name__)

__all__ = ["engine_for", "find_replay", "run_comparison"]


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


def engine_for(record: Verification) -> FaceEngine:
    """The engine for this record: the sandbox's for a sandbox enterprise (issue 10 §5), else FACE_ENGINE's."""
    if record.enterprise.sandbox_of_id is not None:
        return SandboxEngine(hooks.sandbox_outcome.ask(verification=record))
    return get_engine()


def run_comparison(verification_id: int) -> str:
    """Compare the record's ID photo with its live photo and store the outcome. Returns the status."""
    record = Verification.objects.select_related("enterprise").filter(pk=verification_id).first()
    if record is None:
        logger.warning("verification %s does not exist", verification_id)
        return "missing"
    if record.status != VerificationStatus.PENDING:
        return record.status

    engine = engine_for(record)
    id_bytes = _read(record.id_photo)
    live_bytes = _read(record.live_photo)
    if id_bytes is None or live_bytes is None:
        logger.warning("verification %s: a photo is missing from storage", record.pk)
        missing = [
            reason("unreadable", photo) for photo, data in (("live", live_bytes), ("id", id_bytes)) if data is None
        ]
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
    if isinstance(engine, SandboxEngine):
        # A sandbox photo keeps no hash: nothing of a sandbox is compared with a real photo, either way.
        phash = ""
    elif phash is None:
        phash = perceptual_hash_bytes(live_bytes) if live_bytes else ""
    # Committed before the search (outside any transaction, as in the worker): see the module doc.
    Verification.objects.filter(pk=record.pk).update(live_photo_phash=phash, **phash_bands(phash))
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


BANDS = 4
BAND_BITS = 16


def phash_bands(phash: str) -> dict[str, int | None]:
    """The 64-bit hash as the four 16-bit band columns of Verification (None without a hash)."""
    value = int(phash, 16) if phash else None
    return {
        f"live_phash_band{band}": None if value is None else (value >> (BAND_BITS * band)) & 0xFFFF
        for band in range(BANDS)
    }


def _within(value: int, radius: int) -> list[int]:
    """Every 16-bit value at most `radius` bits from `value`."""
    found = [value]
    for count in range(1, radius + 1):
        for bits in itertools.combinations(range(BAND_BITS), count):
            found.append(value ^ sum(1 << bit for bit in bits))
    return found


def find_replay(phash: str, *, exclude_pk: int | None = None) -> Verification | None:
    """The earliest other verification whose live photo's perceptual hash is within
    FACE_REPLAY_MAX_DISTANCE bits of ``phash`` (a re-encoded or resized copy of the same photo).

    Two hashes at most d bits apart have a band, of the four, at most d // 4 bits apart
    (pigeonhole), so only the rows that share such a band with ``phash`` are read, through
    the band indexes (17 values per band for d <= 7), and their full distance checked.
    """
    limit = settings.FACE_REPLAY_MAX_DISTANCE
    radius = limit // BANDS
    # A hash has every band (phash_bands gives None only for no hash, which is never looked up).
    bands = {column: value for column, value in phash_bands(phash).items() if value is not None}
    near_a_band = reduce(or_, (Q(**{f"{column}__in": _within(value, radius)}) for column, value in bands.items()))
    others = Verification.objects.filter(near_a_band)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    candidates = others.order_by("pk").values_list("pk", "live_photo_phash")
    # A plain query, not .iterator(): PostgreSQL plans a server-side cursor for its first rows and
    # would walk the primary key instead of the band indexes. The candidates are few.
    for pk, value in candidates:
        try:
            if hamming(phash, value) <= limit:
                return Verification.objects.get(pk=pk)
        except ValueError:
            continue
    return None
