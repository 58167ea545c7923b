"""Celery tasks of the cards app. Thin: ids in, state re-read, safe to repeat.

The card imports' tasks live in cards.imports.tasks (their names are still cards.tasks.*); imported
here so that Celery's autodiscovery, which reads each app's tasks module, registers them.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from cards.imports.tasks import requeue_pending_imports, run_card_import
from cards.inventory.partitions import ensure_event_partitions
from cards.inventory.services import card_end_test_period
from cards.inventory.tallies import tallies_compact, tallies_recount
from cards.models import Card, CardStatus
from cards.self_service.cleanup import sweep_abandoned
from cards.self_service.services import links_warn_expiring
from integrations.keys import keys_warn_expiring

logger = logging.getLogger(__name__)

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


@shared_task(acks_late=True, ignore_result=True, max_retries=0, soft_time_limit=240, time_limit=300)
def ensure_card_event_partitions() -> int:
    """Celery beat, daily: make the coming months' partitions of the card events (issue 12 §3) before any
    event needs them. Safe to repeat (cards.inventory.partitions); a no-op where the table is not
    partitioned (SQLite). Returns how many partitions it made."""
    return len(ensure_event_partitions())


@shared_task(acks_late=True, ignore_result=True, max_retries=0, soft_time_limit=240, time_limit=300)
def self_service_sweep_abandoned() -> int:
    """Celery beat: delete the photos and frames of phone sessions idle past their lifetime and never
    submitted, and their session entries (cards.self_service.cleanup). Safe to repeat; returns how many."""
    result = sweep_abandoned()
    return result.states + result.folders


@shared_task(acks_late=True, ignore_result=True, max_retries=0, soft_time_limit=240, time_limit=300)
def notify_expiring() -> int:
    """Celery beat, daily: tell of the self-service links and API keys about to expire (issue 11 §3).
    Safe to repeat: each link or key is told of once per expiry (the notices' once_key)."""
    within = timedelta(days=settings.EXPIRY_NOTICE_DAYS)
    return links_warn_expiring(within=within) + keys_warn_expiring(within=within)


__all__ = [
    "end_test_periods",
    "notify_expiring",
    "self_service_sweep_abandoned",
    "requeue_pending_imports",
    "run_card_import",
]


@shared_task(acks_late=True, ignore_result=True, max_retries=0, soft_time_limit=50, time_limit=60)
def compact_card_tallies() -> int:
    """Celery beat, each minute: fold the card counters' rows, one per key (cards.inventory.tallies). Safe to
    repeat, and to run twice at once; returns how many rows it removed."""
    return tallies_compact()


@shared_task(acks_late=True, ignore_result=True, max_retries=0, soft_time_limit=1800, time_limit=1900)
def recount_card_tallies() -> bool:
    """Celery beat, daily: rebuild the card counters from the cards (manage.py recount_cards). A drift means a
    write path that moves no counter: it is logged (keys and figures only, never a card). True when clean."""
    result = tallies_recount()
    if not result.clean:
        logger.warning(
            "card counters drifted: %s cards had a wrong real-name state; counted minus tallied per key: %s",
            result.cards_repaired,
            result.drift,
        )
    return result.clean
