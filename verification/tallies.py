"""The face comparisons' counters (VerificationTally): how they stay right.

A comparison counts once it is completed with an outcome, under the key (enterprise, week it completed in,
outcome): what the dashboard's face-match rates show (portal.dashboard.face_rates_by_week). Only two
services change that: verification_record_result gives a pending comparison its outcome and completion
time (+1), and verification_retake clears them to compare again (-1); each moves the counter in its own
transaction, under the comparison's row lock (`verification_tally_move`). A sandbox's reset deletes its
comparisons and forgets their counters. Nothing else writes an outcome or a completion time, and a
comparison is never deleted otherwise (its enterprise, order and card user protect it).

The ledger is core.ledger's, as the card counters' is: `verification_tallies_compact` folds it each
minute, `verification_tallies_recount` rebuilds it daily from the comparisons and says how far it had
drifted (a write that bypassed the services: a bulk load, an `.update()` in a shell or a test).
"""

from __future__ import annotations

import datetime
from collections import Counter
from typing import Any

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncWeek
from django.utils import timezone

from core.ledger import ledger_compact, ledger_rebuild, ledger_record
from verification.models import Verification, VerificationTally

TallyKey = tuple[int, datetime.date, str]  # (enterprise id, Monday of the week completed, outcome)
TALLY_KEY_FIELDS = ("enterprise", "week", "outcome")


def week_of(moment: datetime.datetime) -> datetime.date:
    """The Monday of the week `moment` falls in, in the portal's time zone (not a viewer's)."""
    day = timezone.localtime(moment, timezone.get_default_timezone()).date()
    return day - datetime.timedelta(days=day.weekday())


def tally_key(record: Verification) -> TallyKey | None:
    """The key a comparison counts under as it stands; None while it is not completed with an outcome."""
    if record.completed_at is None or not record.outcome:
        return None
    return (record.enterprise_id, week_of(record.completed_at), record.outcome)


def verification_tally_move(before: TallyKey | None, after: TallyKey | None) -> None:
    """A comparison's key changed from `before` to `after` (None: not counted): -1 and +1, in the caller's
    transaction. Nothing when the key stayed."""
    if before == after:
        return
    moves: Counter[TallyKey] = Counter()
    if before is not None:
        moves[before] -= 1
    if after is not None:
        moves[after] += 1
    ledger_record(VerificationTally, TALLY_KEY_FIELDS, moves)


def verification_tallies_forget_enterprise(enterprise_id: int) -> None:
    """A sandbox's reset deleted its comparisons: their counters go with them."""
    VerificationTally.objects.filter(enterprise_id=enterprise_id).delete()


def completed_counts(verifications: QuerySet[Any]) -> Counter[TallyKey]:
    """The completed comparisons of `verifications` per key, grouped in the database. Takes a queryset of
    any version of the model, so that the migration that fills the counters counts as the recount does."""
    zone = timezone.get_default_timezone()
    rows = (
        verifications.order_by()
        .filter(completed_at__isnull=False)
        .exclude(outcome="")
        .annotate(week_start=TruncWeek("completed_at", tzinfo=zone))
        .values_list("enterprise_id", "week_start", "outcome")
        .annotate(n=Count("pk"))
    )
    counted: Counter[TallyKey] = Counter()
    for enterprise_id, week_start, outcome, n in rows:
        counted[(enterprise_id, timezone.localtime(week_start, zone).date(), outcome)] += n
    return counted


def verification_tallies_compact() -> int:
    """Fold each key's rows into one; returns the rows removed (safe to run twice at once)."""
    return ledger_compact(VerificationTally, TALLY_KEY_FIELDS)


def verification_tallies_recount() -> dict[TallyKey, int]:
    """Rebuild the counters from the comparisons; returns the drift, per key the comparisons counted minus
    the counters' figure (empty when they were right)."""
    return ledger_rebuild(VerificationTally, TALLY_KEY_FIELDS, lambda: completed_counts(Verification.objects.all()))


__all__ = [
    "TALLY_KEY_FIELDS",
    "TallyKey",
    "completed_counts",
    "tally_key",
    "verification_tallies_compact",
    "verification_tallies_forget_enterprise",
    "verification_tallies_recount",
    "verification_tally_move",
    "week_of",
]
