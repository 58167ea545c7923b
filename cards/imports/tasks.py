"""Celery tasks of the card imports. Thin: ids in, state re-read, safe to repeat.

Their names stay "cards.tasks.…", as queued messages and the beat schedule know them; cards.tasks
imports this module, so Celery's autodiscovery of the cards app registers them.
"""

from __future__ import annotations

from celery import shared_task

from cards.imports.services import card_import_run
from cards.models import CardImport, ImportStatus
from core.queueing import requeue_stale

# A large XLSX file is slow to read; the import itself is one transaction at the end.
IMPORT_SOFT_TIME_LIMIT = 600
IMPORT_TIME_LIMIT = 660


@shared_task(
    name="cards.tasks.run_card_import",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=IMPORT_SOFT_TIME_LIMIT,
    time_limit=IMPORT_TIME_LIMIT,
    max_retries=0,
)
def run_card_import(self, import_id: int) -> str:
    """Run one card import. A second delivery of a finished import does nothing (cards.imports.services)."""
    return card_import_run(import_id=import_id, task_id=self.request.id)


@shared_task(
    name="cards.tasks.requeue_pending_imports", acks_late=True, max_retries=0, soft_time_limit=60, time_limit=90
)
def requeue_pending_imports() -> int:
    """Beat: send again the imports still pending long after their task was sent (issue 7 §4.1).
    A second message for an import finds it taken (card_import_run) and does nothing."""
    return requeue_stale(CardImport.objects.filter(status=ImportStatus.PENDING), run_card_import, what="card import")
