"""Celery tasks of the verification app. Thin: ids in, state re-read, safe to repeat."""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.files.storage import default_storage
from django.db import InterfaceError, OperationalError

from core.queueing import requeue_stale
from verification.liveness import check_liveness
from verification.matching import run_comparison
from verification.models import Verification, VerificationStatus
from verification.tallies import verification_tallies_compact, verification_tallies_recount

logger = logging.getLogger(__name__)

# Transient: storage (OSError, e.g. a network file system or object store hiccup) and the database.
TRANSIENT_ERRORS = (OSError, OperationalError, InterfaceError)


@shared_task(
    bind=True,
    queue="faces",
    acks_late=True,  # acknowledged only once done: a worker that dies mid-task leaves it queued
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=5,  # 5 s, 10 s, 20 s... with jitter
    retry_backoff_max=300,
    retry_jitter=True,
    retry_kwargs={"max_retries": 6},
    soft_time_limit=60,  # a comparison takes about a second; run_comparison stores a timeout as "rejected"
    time_limit=90,
)
def run_verification(self, verification_id: int) -> str:
    return run_comparison(verification_id)


@shared_task(queue="default", acks_late=True, max_retries=0, soft_time_limit=60, time_limit=90)
def requeue_pending_verifications() -> int:
    """Beat: send again the comparisons still pending long after their task was sent (issue 7 §4.1).

    A comparison whose first message is still queued or running is harmless to send twice:
    run_comparison returns at once for a record no longer pending, and the result is stored
    once, under a row lock (verification_record_result).
    """
    return requeue_stale(
        Verification.objects.filter(status=VerificationStatus.PENDING), run_verification, what="verification"
    )


@shared_task(queue="faces", acks_late=True, max_retries=0, soft_time_limit=60, time_limit=90)
def run_liveness_check(frame_paths: list[str], timestamps: list[float] | None, challenge: list[str]) -> dict:
    """The active liveness check (issue 9 §3) on frames already stored; the caller records the result.

    Thin: paths in storage, not image bytes, travel through the broker; the check is verification.liveness.
    """
    frames = []
    for path in frame_paths:
        with default_storage.open(path, "rb") as fh:
            frames.append(fh.read())
    return check_liveness(frames, timestamps, challenge).as_dict()


@shared_task(queue="default", acks_late=True, ignore_result=True, max_retries=0, soft_time_limit=50, time_limit=60)
def compact_verification_tallies() -> int:
    """Celery beat, each minute: fold the comparisons' counters, one row per key (verification.tallies).
    Safe to repeat, and to run twice at once; returns how many rows it removed."""
    return verification_tallies_compact()


@shared_task(queue="default", acks_late=True, ignore_result=True, max_retries=0, soft_time_limit=1800, time_limit=1900)
def recount_verification_tallies() -> bool:
    """Celery beat, daily: rebuild the comparisons' counters from the comparisons. A drift means a write
    that moved no counter: it is logged (keys and figures only). True when clean."""
    drift = verification_tallies_recount()
    if drift:
        logger.warning("face comparison counters drifted: counted minus tallied per key: %s", drift)
    return not drift
