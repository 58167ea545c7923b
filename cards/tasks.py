"""Celery tasks of the cards app. Thin: ids in, state re-read, safe to repeat."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from cards.imports.services import card_import_run
from cards.inventory.services import card_end_test_period
from cards.models import Card, CardImport, CardStatus, ImportStatus
from core.queueing import requeue_stale

# A large XLSX file is slow to read; the import itself is one transaction at the end.
IMPORT_SOFT_TIME_LIMIT = 600
IMPORT_TIME_LIMIT = 660


@shared_task(
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


# U4: how many due cards one query fetches; each is then locked and suspended on its own.
TEST_PERIOD_BATCH = 500


@shared_task(acks_late=True, ignore_result=True, max_retries=0, soft_time_limit=240, time_limit=300)
def end_test_periods() -> int:
    """Celery beat: suspend the active cards whose trial on a test package has ended (U4).

    Safe to repeat: cards.inventory.services.card_end_test_period re-reads each card under its lock and skips
    one that is suspended already or moved to a commercial package. Returns how many it suspended.
    """
    now = timezone.now()
    due = Card.objects.filter(status=CardStatus.ACTIVE, package__is_test_package=True, test_period_ends_at__lte=now)
    suspended = 0
    last_pk = 0
    while True:
        batch = list(due.filter(pk__gt=last_pk).order_by("pk").values_list("pk", flat=True)[:TEST_PERIOD_BATCH])
        if not batch:
            return suspended
        for pk in batch:
            suspended += card_end_test_period(card=Card(pk=pk), now=now)
        last_pk = batch[-1]


@shared_task(acks_late=True, max_retries=0, soft_time_limit=60, time_limit=90)
def requeue_pending_imports() -> int:
    """Beat: send again the imports still pending long after their task was sent (issue 7 §4.1).
    A second message for an import finds it taken (card_import_run) and does nothing."""
    return requeue_stale(CardImport.objects.filter(status=ImportStatus.PENDING), run_card_import, what="card import")
