"""Celery tasks of the accounts app. Thin and safe to repeat."""

from __future__ import annotations

from celery import shared_task

from core.pending_uploads import pending_uploads_purge


@shared_task(acks_late=True, ignore_result=True, max_retries=0, soft_time_limit=240, time_limit=300)
def purge_pending_uploads() -> int:
    """Celery beat: delete the files kept for forms that came back with errors and were not sent again
    within their lifetime (core.pending_uploads, issue 11 §2). Returns how many."""
    return pending_uploads_purge()


__all__ = ["purge_pending_uploads"]
