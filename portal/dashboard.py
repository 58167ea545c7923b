"""The compliance dashboard (issue 11 §3): each role's figures, in its scope, and the lists behind them.

Every figure is counted from the same scoped selectors and filters as the list it links to (the card list's
status / real-name / enterprise / province filters, the exemption list's rule and age, the review queue's
age, the import list's day), so the number on a bar is the number of rows behind it.

Fast at a million cards: each section is one grouped query, whatever the number of enterprises or cards.
The card figures are read from the per-enterprise counters table (issue 12 §1.3), never from the cards,
and grouped there: the state totals, the ten enterprises shown and the provinces, each a query whose
rows are the figures drawn (a nationwide scope has some thousands of counter rows; summing them here grew
with the enterprises).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.permissions import Capability, Scope, may_somewhere, scope_of
from approvals import selectors as approval_selectors
from approvals.models import RequestStatus
from cards.imports.selectors import card_imports_visible_to
from cards.inventory.selectors import REALNAME_PENDING_STATUSES
from cards.inventory.tallies import (
    lacking_tallies_by_enterprise,
    lacking_tallies_by_province,
    tallies_by_status,
)
from cards.models import CardStatus
from cards.models import RealnameState as RealnameStateChoice
from core.ages import bucket_q
from verification.models import VerificationOutcome
from verification.selectors import verification_tallies_visible_to
from verification.tallies import week_of

RealnameState = Literal["not_required", "lacking", "covered"]
REALNAME_STATES: tuple[RealnameState, ...] = ("lacking", "covered", "not_required")
# The card list's ?realname= value for each state (cards.inventory.forms.REALNAME_FILTER_CHOICES).
REALNAME_FILTER = {"lacking": "missing", "covered": "covered", "not_required": "no"}
TOP_ENTERPRISES = 10
WEEKS = 12
DAYS = 30


def card_state_counts(user: Any) -> dict[tuple[RealnameState, str], int]:
    """The user's visible cards counted by (real-name state, status): the one place the dashboard counts
    them all. It reads the counters (cards.inventory.tallies, issue 12 §1.3), which the transitions and the
    import keep in their own transactions, grouped in the database, so the figures cost one query of at
    most a row per status and state at a thousand cards and at ten million. "lacking" is
    cards_lacking_realname's condition exactly: a card whose user's real-name is missing counts as lacking
    only while it is in stock or at the gate, which is all that list shows."""
    counts: dict[tuple[RealnameState, str], int] = defaultdict(int)
    for row in tallies_by_status(user):
        realname: RealnameState = row["realname"]
        if realname == RealnameStateChoice.LACKING and row["status"] not in REALNAME_PENDING_STATUSES:
            realname = "covered"
        counts[(realname, row["status"])] += row["count"]
    return counts


def cards_url(**filters: str) -> str:
    """The card list with these filters (the names of cards.inventory.forms.CardFilterForm)."""
    return f"{reverse('cards:list')}?{urlencode(filters)}"


@dataclass(frozen=True)
class Figure:
    """One number on the dashboard: its label, its count, the list behind it, and a tone for its bar."""

    label: str
    count: int
    href: str | None = None
    tone: str = "0"
    key: str = ""


@dataclass(frozen=True)
class StateRow:
    """Cards of one real-name state, split by status (a stacked bar)."""

    state: RealnameState
    label: str
    href: str
    by_status: tuple[Figure, ...]

    @property
    def total(self) -> int:
        return sum(figure.count for figure in self.by_status)


def _state_labels() -> dict[str, str]:
    return {
        "lacking": _("Needs real-name, lacks it"),
        "covered": _("Needs real-name, has it"),
        "not_required": _("Real-name not needed"),
    }


STATUS_TONES = {
    CardStatus.IN_STOCK: "0",
    CardStatus.AWAITING_REALNAME: "warn",
    CardStatus.ACTIVE: "good",
    CardStatus.SUSPENDED: "1",
    CardStatus.CANCELLED: "muted",
}


def cards_by_state(counts: Mapping[tuple[RealnameState, str], int]) -> list[StateRow]:
    """`card_state_counts` as a stacked bar per real-name state, a part per status."""
    labels = _state_labels()
    return [
        StateRow(
            state=state,
            label=labels[state],
            href=cards_url(realname=REALNAME_FILTER[state]),
            by_status=tuple(
                Figure(
                    label=str(status_label),
                    count=counts.get((state, status), 0),
                    href=cards_url(realname=REALNAME_FILTER[state], status=status),
                    tone=STATUS_TONES[CardStatus(status)],
                    key=status,
                )
                for status, status_label in CardStatus.choices
            ),
        )
        for state in REALNAME_STATES
    ]


def lacking_by_enterprise(user: Any, *, lacking_total: int, top: int = TOP_ENTERPRISES) -> list[Figure]:
    """Cards lacking real-name per enterprise, the `top` largest, then one "other enterprises" figure
    (which links to every lacking card: no list filter names "all but these"). `lacking_total` is the
    "lacking" figure of `card_state_counts` (the same counter rows): the rest is what the top leaves of
    it, so that only the enterprises shown are read."""
    ranked = lacking_tallies_by_enterprise(user, top=top)
    figures = [
        Figure(
            label=row["name"],
            count=row["count"],
            href=cards_url(realname="missing", enterprise=str(row["public_id"])),
            tone="bad",
            key=str(row["public_id"]),
        )
        for row in ranked
    ]
    others = ranked[0]["enterprises"] - len(ranked) if ranked else 0
    if others:
        figures.append(
            Figure(
                label=_("Other enterprises (%(count)s)") % {"count": others},
                count=lacking_total - sum(row["count"] for row in ranked),
                href=cards_url(realname="missing"),
                tone="muted",
                key="others",
            )
        )
    return figures


def lacking_by_province(user: Any, *, linked: bool) -> list[Figure]:
    """Cards lacking real-name per province, largest first; linked to the card list's province filter
    where the viewer has it (a nationwide scope: cards.inventory.forms.CardFilterForm)."""
    rows = sorted(lacking_tallies_by_province(user), key=lambda row: (-row["count"], row["code"]))
    return [
        Figure(
            label=row["name"],
            count=row["count"],
            href=cards_url(realname="missing", province=row["code"]) if linked else cards_url(realname="missing"),
            tone="bad",
            key=row["code"],
        )
        for row in rows
    ]


# --- exemptions -------------------------------------------------------------------------------------------

EXEMPTION_STATUS_TONES = {
    RequestStatus.DRAFT: "muted",
    RequestStatus.SUBMITTED: "warn",
    RequestStatus.APPROVED: "good",
    RequestStatus.REJECTED: "bad",
    RequestStatus.WITHDRAWN: "muted",
}


def exemptions_url(**filters: str) -> str:
    return f"{reverse('approvals:my_requests')}?{urlencode(filters)}"


def exemptions_by_rule(user: Any) -> list[tuple[str, tuple[Figure, ...]]]:
    """The role's exemption list (selectors.exemptions_listed_for) counted by rule and status, in one query
    grouped by status: a count per rule on each of the few status rows (ten counts over every request,
    each its own DISTINCT sort, cost 7x as much and grew with the requests)."""
    queryset = approval_selectors.exemptions_listed_for(user).order_by()
    rows = queryset.values("status").annotate(
        **{
            f"rule_{rule}": Count("pk", filter=approval_selectors.json_list_has("rules", rule), distinct=True)
            for rule in approval_selectors.RULES_IN_REQUESTS
        }
    )
    counts = {
        (rule, row["status"]): row[f"rule_{rule}"] for row in rows for rule in approval_selectors.RULES_IN_REQUESTS
    }
    return [
        (
            rule,
            tuple(
                Figure(
                    label=str(label),
                    count=counts.get((rule, status), 0),
                    href=exemptions_url(rule=rule, status=status),
                    tone=EXEMPTION_STATUS_TONES[RequestStatus(status)],
                    key=status,
                )
                for status, label in RequestStatus.choices
            ),
        )
        for rule in approval_selectors.RULES_IN_REQUESTS
    ]


def exemptions_by_age(user: Any, now: datetime.datetime) -> list[Figure]:
    """The role's open exemption requests by how long they have waited since filed, in one query."""
    buckets = approval_selectors.EXEMPTION_AGE_BUCKETS
    # Only the open ones: every bucket asks for them, and the decided requests are most of the list.
    queryset = approval_selectors.exemptions_listed_for(user).filter(status=RequestStatus.SUBMITTED).order_by()
    counts = queryset.aggregate(
        **{
            bucket.key: Count("pk", filter=approval_selectors.exemption_age_q(bucket, now), distinct=True)
            for bucket in buckets
        }
    )
    return [
        Figure(
            label=str(bucket.label),
            count=counts[bucket.key] or 0,
            href=exemptions_url(status=RequestStatus.SUBMITTED, age=bucket.key),
            tone=bucket.tone,
            key=bucket.key,
        )
        for bucket in buckets
    ]


# --- face reviews -----------------------------------------------------------------------------------------


def reviews_by_age(user: Any, now: datetime.datetime) -> list[Figure]:
    """Comparisons waiting in the reviewer's queue by how long they have waited, against the target."""
    buckets = approval_selectors.review_age_buckets()
    queryset = approval_selectors.with_waiting_since(approval_selectors.review_queue(user).order_by())
    counts = queryset.aggregate(
        **{bucket.key: Count("pk", filter=bucket_q("waiting_since", bucket, now)) for bucket in buckets}
    )
    base = reverse("approvals:review_queue")
    return [
        Figure(
            label=str(bucket.label),
            count=counts[bucket.key] or 0,
            href=f"{base}?{urlencode({'age': bucket.key})}",
            tone=bucket.tone,
            key=bucket.key,
        )
        for bucket in buckets
    ]


# --- face-match rates by week -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WeekRates:
    week: datetime.date
    total: int
    counts: Mapping[str, int]

    def rate(self, outcome: str) -> float | None:
        """The share of the week's completed comparisons with this outcome, in per cent (None: none done)."""
        return round(100 * self.counts.get(outcome, 0) / self.total, 1) if self.total else None


RATE_OUTCOMES = (VerificationOutcome.PASS, VerificationOutcome.REVIEW, VerificationOutcome.FAIL)


def _local_date(value: datetime.date | datetime.datetime) -> datetime.date:
    return timezone.localtime(value).date() if isinstance(value, datetime.datetime) else value


def face_rates_by_week(user: Any, now: datetime.datetime, *, weeks: int = WEEKS) -> list[WeekRates]:
    """The engine's outcomes of the comparisons completed in each of the last `weeks` weeks (Monday to
    Sunday, the portal's time zone), in one grouped query. A photo the engine could not use counts in the
    week's total, not in any of the three rates.

    Read from the comparisons' counters (verification.tallies, issue 12 §1.3), grouped in the database by
    week and outcome: the rows read are at most weeks x outcomes x enterprises in scope, whatever the
    number of comparisons, and the rows returned at most weeks x outcomes."""
    # The week as the counters key it (verification.tallies.week_of), not by the request's time zone.
    this_monday = week_of(now)
    first = this_monday - datetime.timedelta(weeks=weeks - 1)
    rows = (
        verification_tallies_visible_to(user)
        .filter(week__gte=first, week__lte=this_monday)
        .values("week", "outcome")
        .annotate(count=Sum("count"))
        .exclude(count=0)
        .order_by()
    )
    counts: dict[datetime.date, dict[str, int]] = defaultdict(dict)
    for row in rows:
        counts[row["week"]][row["outcome"]] = row["count"]
    result = []
    for index in range(weeks):
        week = first + datetime.timedelta(weeks=index)
        week_counts = counts.get(week, {})
        result.append(WeekRates(week=week, total=sum(week_counts.values()), counts=week_counts))
    return result


# --- imports per day --------------------------------------------------------------------------------------


def imports_by_day(user: Any, now: datetime.datetime, *, days: int = DAYS) -> list[Figure]:
    """Card files uploaded on each of the last `days` days (the portal's time zone), in one grouped query."""
    today = timezone.localdate(now)
    first = today - datetime.timedelta(days=days - 1)
    start = timezone.make_aware(datetime.datetime.combine(first, datetime.time.min))
    rows = (
        card_imports_visible_to(user)
        .select_related(None)
        .order_by()
        .filter(created_at__gte=start)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(count=Count("pk"))
    )
    counts = {_local_date(row["day"]): row["count"] for row in rows}
    base = reverse("card_imports:list")
    figures = []
    for index in range(days):
        day = first + datetime.timedelta(days=index)
        figures.append(
            Figure(
                label=day.isoformat(),
                count=counts.get(day, 0),
                href=f"{base}?{urlencode({'day': day.isoformat()})}",
                key=day.isoformat(),
            )
        )
    return figures


# --- what each role sees ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sections:
    """Which parts of the dashboard a role gets (from the capability table, not from role names)."""

    cards: bool
    by_enterprise: bool
    by_province: bool
    province_links: bool
    exemptions: bool
    reviews: bool
    face_rates: bool
    imports: bool


def sections_for(user: Any) -> Sections:
    view = scope_of(user, Capability.VIEW)
    sees_cards = view is not None
    return Sections(
        cards=sees_cards,
        by_enterprise=view in (Scope.OWN_PROVINCE, Scope.NATIONWIDE),
        by_province=view == Scope.NATIONWIDE,
        province_links=view == Scope.NATIONWIDE,
        exemptions=sees_cards,
        reviews=may_somewhere(user, Capability.FACE_REVIEW),
        face_rates=sees_cards,
        imports=sees_cards,
    )


__all__ = [
    "Figure",
    "REALNAME_STATES",
    "Sections",
    "StateRow",
    "WeekRates",
    "card_state_counts",
    "cards_by_state",
    "exemptions_by_age",
    "exemptions_by_rule",
    "face_rates_by_week",
    "imports_by_day",
    "lacking_by_enterprise",
    "lacking_by_province",
    "reviews_by_age",
    "sections_for",
]
