"""Celery tasks of the cards app. Thin: ids in, state re-read, safe to repeat.

The card imports' tasks live in cards.imports.tasks (their names are still cards.tasks.*); imported
here so that Celery's autodiscovery, which reads each app's tasks module, registers them.
"""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from cards.imports.tasks import requeue_pending_imports, run_card_import
from cards.inventory.services import card_end_test_period
from cards.models import Card, CardStatus
from cards.self_service.cleanup import sweep_abandoned
from cards.self_service.services import links_warn_expiring
from integrations.keys import keys_warn_expiring

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
