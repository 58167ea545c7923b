"""Celery tasks of the portal: building a large list export. Thin: an id in, the state re-read."""

from __future__ import annotations

from celery import shared_task

from portal.exports import export_build, exports_sweep


@shared_task(acks_late=True, reject_on_worker_lost=True, max_retries=0, soft_time_limit=600, time_limit=660)
def build_list_export(job_id: int) -> str:
    """Build one list export into private storage; a second delivery of a finished one does nothing."""
    return export_build(job_id=job_id)


@shared_task(acks_late=True, max_retries=0, soft_time_limit=60, time_limit=90)
def sweep_list_exports() -> int:
    """Celery beat: delete expired export files, requeue lost export tasks (portal.exports.exports_sweep)."""
    return exports_sweep()
