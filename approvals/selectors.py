"""Fetch and authorise in one call for exemption requests, change requests and manual reviews.

Visibility follows accounts.access (a provincial approver sees their own
province, a group approver everything). The *decidable* querysets are the
approvers' queues: a provincial approver decides the provincial level of their
own province's requests (and its change requests and face reviews), a group
approver the group level nationwide. Nothing here returns another province's
request to a provincial approver.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable
from typing import Any, TypeVar

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from accounts.access import NOTHING, scoped
from accounts.permissions import Capability, actor_user, can, may_somewhere, scope_filter
from accounts.roles import Role
from approvals.models import ApprovalLevel, ExemptionRequest, RequestStatus
from cards.models import Card
from cards.rules import Decision as RuleDecision
from core.ages import AgeBucket, bucket_named, bucket_q
from core.errors import NotFound, PermissionDenied
from core.search import clean_search
from enterprises.models import ChangeRequest, ChangeRequestStatus
from enterprises.selectors import change_requests_visible_to
from verification.models import Verification, VerificationPurpose, VerificationStatus
from verification.selectors import verifications_visible_to

EXEMPTION_NOT_FOUND = _("The exemption request does not exist or you have no access to it.")
CHANGE_REQUEST_NOT_FOUND = _("The change request does not exist or you have no access to it.")
REVIEW_NOT_FOUND = _("The face comparison does not exist or you have no access to it.")

# A queue is worked oldest first. Keyed on when a request was created, not filed: submitted_at is empty on
# drafts, and a keyset cursor (approvals.views) needs a column that never is. Both kinds of request are
# created already submitted, so the order is the filing order; a partial index on the open ones serves it.
QUEUE_ORDER = ("created_at", "pk")

# The order levels are stored and shown in.
LEVEL_ORDER = (ApprovalLevel.PROVINCE.value, ApprovalLevel.GROUP.value)
RULES_IN_REQUESTS = ("U1", "U3")


def _active(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def _parse_uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def json_list_has(field: str, value: str, *, length: int = 2) -> Q:
    """`value` is one of the first `length` items of a JSON list (portable: SQLite has no JSON contains)."""
    condition = NOTHING
    for index in range(length):
        condition |= Q(**{f"{field}__{index}": value})
    return condition


_Request = TypeVar("_Request", ExemptionRequest, ChangeRequest)


def search_requests(queryset: QuerySet[_Request], raw: object) -> QuerySet[_Request]:
    """Exemption or change requests found by their number (the public_id shown on their page, whole)
    or a part of their enterprise's name."""
    value = clean_search(raw)
    if not value:
        return queryset
    key = _parse_uuid(value)
    if key is not None:
        return queryset.filter(public_id=key)
    return queryset.filter(enterprise__name__icontains=value)


# --- who decides what --------------------------------------------------------


# The capability that decides each level (accounts.permissions): who holds it, and where, is the table's.
DECIDES: dict[str, Capability] = {
    ApprovalLevel.PROVINCE: Capability.DECIDE_PROVINCE,
    ApprovalLevel.GROUP: Capability.DECIDE_GROUP,
}


def approver_level(user: Any) -> str | None:
    """The level this user decides at: "province", "group", or None (no role holds both)."""
    return next((level for level in LEVEL_ORDER if may_somewhere(user, DECIDES[level])), None)


def is_approver(user: Any) -> bool:
    return approver_level(user) is not None


def levels_to_decide(user: Any, request: ExemptionRequest) -> list[str]:
    """The levels of `request` that `user` may still decide now (empty when none)."""
    if request.status != RequestStatus.SUBMITTED or request.submitted_by_id == getattr(user, "pk", None):
        return []
    decided = {d.level for d in request.decisions.all()}
    return [
        level
        for level in LEVEL_ORDER
        if level in request.required_levels and level not in decided and can(user, DECIDES[level], request.enterprise)
    ]


# --- exemption requests ------------------------------------------------------


def exemptions_visible_to(user: Any) -> QuerySet[ExemptionRequest]:
    return (
        scoped(ExemptionRequest.objects.all(), user, path="enterprise__")
        .select_related("enterprise", "enterprise__province", "submitted_by")
        .prefetch_related("decisions", "decisions__decided_by")
    )


def exemption_for_user(user: Any, public_id: object) -> ExemptionRequest:
    key = _parse_uuid(public_id)
    request = exemptions_visible_to(user).filter(public_id=key).first() if key else None
    if request is None:
        raise NotFound(EXEMPTION_NOT_FOUND)
    return request


def exemptions_in_scope_of_approver(user: Any) -> QuerySet[ExemptionRequest]:
    """Every request (any status) at the approver's level and in their scope: their desk."""
    level = approver_level(user)
    if level is None:
        return ExemptionRequest.objects.none()
    return exemptions_visible_to(user).filter(
        json_list_has("required_levels", level), scope_filter(user, DECIDES[level], path="enterprise__")
    )


def exemptions_pending_for(user: Any) -> QuerySet[ExemptionRequest]:
    """The approver's queue: submitted requests still waiting for their level, not filed by themselves."""
    level = approver_level(user)
    if level is None:
        return ExemptionRequest.objects.none()
    return (
        exemptions_in_scope_of_approver(user)
        .filter(status=RequestStatus.SUBMITTED)
        .exclude(decisions__level=level)
        .exclude(submitted_by=user)
        .order_by(*QUEUE_ORDER)
    )


def exemptions_filed_by(user: Any) -> QuerySet[ExemptionRequest]:
    """ "My requests": what the user filed; an enterprise admin also sees every request of their enterprise."""
    if not _active(user):
        return ExemptionRequest.objects.none()
    queryset = exemptions_visible_to(user)
    # A platform key is no user and files nothing itself; acting as its enterprise's admin, it sees the
    # enterprise's requests.
    person = actor_user(user)
    filed = Q(submitted_by=person) if person is not None else NOTHING
    if user.role == Role.ENTERPRISE_ADMIN:
        return queryset.filter(filed | Q(enterprise_id=user.enterprise_id))
    return queryset.filter(filed)


def exemptions_listed_for(user: Any) -> QuerySet[ExemptionRequest]:
    """The exemption list a role works with (its page, its export and its dashboard figures): what a filer
    filed (exemptions_filed_by), an approver's desk (any status, at their level), or, for a role that does
    neither (ops), every request it may view."""
    if may_somewhere(user, Capability.EXEMPTIONS_FILE):
        return exemptions_filed_by(user)
    if is_approver(user):
        return exemptions_in_scope_of_approver(user)
    return exemptions_visible_to(user)


def exemptions_with_rule(queryset: QuerySet[ExemptionRequest], rule: str) -> QuerySet[ExemptionRequest]:
    """Requests whose rules include `rule` (U1 or U3; a U1+U3 request is in both)."""
    return queryset.filter(json_list_has("rules", rule)) if rule in RULES_IN_REQUESTS else queryset


_DAY = datetime.timedelta(days=1)
# How long an open request has waited since it was filed (the list's ?age= and the dashboard's bars).
EXEMPTION_AGE_BUCKETS = (
    AgeBucket("lt1d", _("Under 1 day"), datetime.timedelta(0), _DAY, tone="good"),
    AgeBucket("1-3d", _("1 to 3 days"), _DAY, 3 * _DAY, tone="0"),
    AgeBucket("3-7d", _("3 to 7 days"), 3 * _DAY, 7 * _DAY, tone="warn"),
    AgeBucket("7-30d", _("7 to 30 days"), 7 * _DAY, 30 * _DAY, tone="bad"),
    AgeBucket("ge30d", _("30 days or more"), 30 * _DAY, None, tone="bad"),
)


def exemption_age_q(bucket: AgeBucket, now: datetime.datetime) -> Q:
    """Open (submitted) requests filed `bucket` ago."""
    return Q(status=RequestStatus.SUBMITTED) & bucket_q("submitted_at", bucket, now)


def exemptions_of_age(
    queryset: QuerySet[ExemptionRequest], key: object, now: datetime.datetime
) -> QuerySet[ExemptionRequest]:
    bucket = bucket_named(EXEMPTION_AGE_BUCKETS, key)
    return queryset.filter(exemption_age_q(bucket, now)) if bucket else queryset


def exemption_covering_card(*, card: Card, decision: RuleDecision) -> ExemptionRequest | None:
    """Answers cards.hooks.exemption_covering: an approved exemption of the card's current owner whose
    levels cover what the card's decision needs now (an ownership transfer leaves the old ones behind)."""
    requests = ExemptionRequest.objects.filter(
        cards=card, enterprise_id=card.enterprise_id, status=RequestStatus.APPROVED
    ).order_by("pk")
    for request in requests:
        if decision.approvers <= set(request.required_levels):
            return request
    return None


def approved_exemption_exists() -> Exists:
    """Answers cards.hooks.exemption_approved_expression: for a card row, whether an approved exemption
    of its current owner names it. Unlike exemption_covering_card it does not compare approval levels
    with the decision as it is now: a count over many cards cannot, and a card whose services changed
    after approval so that a higher level must approve is rare (its card page says so)."""
    return Exists(
        ExemptionRequest.objects.filter(
            cards=OuterRef("pk"), enterprise_id=OuterRef("enterprise_id"), status=RequestStatus.APPROVED
        )
    )


def open_exemptions_for_cards(cards: Iterable[Card]) -> QuerySet[ExemptionRequest]:
    return ExemptionRequest.objects.filter(cards__in=cards, status=RequestStatus.SUBMITTED).distinct()


# --- change requests (E3, P4) -----------------------------------------------


def change_requests_decidable_by(user: Any) -> QuerySet[ChangeRequest]:
    """Change requests of the provincial approver's province (any status); nobody else decides them."""
    return (
        scoped(ChangeRequest.objects.all(), user, path="enterprise__")
        .filter(scope_filter(user, Capability.DECIDE_PROVINCE, path="enterprise__"))
        .select_related("enterprise", "enterprise__province", "submitted_by", "decided_by")
    )


def change_requests_pending_for(user: Any) -> QuerySet[ChangeRequest]:
    return (
        change_requests_decidable_by(user)
        .filter(status=ChangeRequestStatus.SUBMITTED)
        .exclude(submitted_by=user)
        .order_by(*QUEUE_ORDER)
    )


def change_request_for_user(user: Any, public_id: object) -> ChangeRequest:
    key = _parse_uuid(public_id)
    change_request = change_requests_visible_to(user).filter(public_id=key).first() if key else None
    if change_request is None:
        raise NotFound(CHANGE_REQUEST_NOT_FOUND)
    return change_request


def change_request_open_to(user: Any, change_request: ChangeRequest) -> bool:
    """Whether the request still awaits a decision that `user` did not file: facts of the request. Whether
    their role decides it is the table's (Capability.DECIDE_PROVINCE)."""
    return change_request.status == ChangeRequestStatus.SUBMITTED and change_request.submitted_by_id != getattr(
        user, "pk", None
    )


# --- manual face review ------------------------------------------------------


def reviews_in_scope(user: Any) -> QuerySet[Verification]:
    """Every verification the user may review (any status): provincial approvers, their province."""
    return verifications_visible_to(user).filter(scope_filter(user, Capability.FACE_REVIEW, path="enterprise__"))


def review_queue(user: Any) -> QuerySet[Verification]:
    """Comparisons awaiting manual review in the reviewer's province, oldest first.

    Oldest by creation, as the queue page's keyset (approvals.views.REVIEW_KEYSET) and the API's pages go: a
    comparison goes to review as it completes, so the order is the completion order, and the partial index
    verification_review_queue serves it. Ordered by completed_at first, every page sorted the whole queue
    of the province (its rows joined to their card users first): 6.6 ms with 3,000 in review, growing with
    them, against a walk that stops at the page's rows."""
    return (
        reviews_in_scope(user)
        .filter(status=VerificationStatus.IN_REVIEW)
        .select_related("enterprise", "order", "card_user")
        .order_by("created_at", "pk")
    )


def review_target_hours() -> int:
    """How long a face comparison should wait for its reviewer at most (settings.REVIEW_TARGET_HOURS)."""
    return max(int(getattr(settings, "REVIEW_TARGET_HOURS", 24)), 1)


def review_age_buckets() -> tuple[AgeBucket, ...]:
    """Waiting times against the target T: under T/2, T/2 to T, T to 2T (late), 2T or more (very late)."""
    hours = review_target_hours()
    target = datetime.timedelta(hours=hours)
    half, zero = target / 2, datetime.timedelta(0)
    low, twice = f"{hours / 2:g}", 2 * hours
    return (
        AgeBucket("early", _("Under %(hours)s h") % {"hours": low}, zero, half, "good"),
        AgeBucket("due", _("%(low)s to %(high)s h") % {"low": low, "high": hours}, half, target, "warn"),
        AgeBucket("late", _("%(low)s to %(high)s h, late") % {"low": hours, "high": twice}, target, 2 * target, "bad"),
        AgeBucket("very_late", _("%(hours)s h or more, late") % {"hours": twice}, 2 * target, None, "bad"),
    )


def with_waiting_since(queryset: QuerySet[Verification]) -> QuerySet[Verification]:
    """A comparison waits for its reviewer from the time the engine finished (else from its creation)."""
    return queryset.annotate(waiting_since=Coalesce("completed_at", "created_at"))


def reviews_of_age(queryset: QuerySet[Verification], key: object, now: datetime.datetime) -> QuerySet[Verification]:
    bucket = bucket_named(review_age_buckets(), key)
    return with_waiting_since(queryset).filter(bucket_q("waiting_since", bucket, now)) if bucket else queryset


def verification_for_reviewer(user: Any, public_id: object) -> Verification:
    key = _parse_uuid(public_id)
    verification = reviews_in_scope(user).filter(public_id=key).first() if key else None
    if verification is None or not can(user, Capability.FACE_REVIEW, verification):
        raise NotFound(REVIEW_NOT_FOUND)
    return verification


def verification_for_photos(user: Any, public_id: object) -> Verification:
    """A verification whose photos the user may open: its reviewers, and whoever may open the photos it
    compares, by the rule of where they come from. A card user's photos are a full view of personal data
    (VIEW_FULL_PII, so not the enterprise's admin); an order's handler's are the enterprise's files
    (ENTERPRISE_FILES_OPEN: the enterprise's admin, who took them, too)."""
    key = _parse_uuid(public_id)
    verification = verifications_visible_to(user).filter(public_id=key).first() if key else None
    if verification is None:
        raise NotFound(REVIEW_NOT_FOUND)
    source = (
        Capability.VIEW_FULL_PII
        if verification.purpose == VerificationPurpose.CARD_USER
        else Capability.ENTERPRISE_FILES_OPEN
    )
    if not (can(user, Capability.FACE_REVIEW, verification) or can(user, source, verification)):
        raise PermissionDenied(_("Your role may not open photos that show personal data."))
    return verification


__all__ = [
    "approver_level",
    "DECIDES",
    "change_request_open_to",
    "change_request_for_user",
    "change_requests_decidable_by",
    "change_requests_pending_for",
    "exemption_for_user",
    "EXEMPTION_AGE_BUCKETS",
    "exemption_age_q",
    "exemptions_filed_by",
    "exemptions_listed_for",
    "exemptions_of_age",
    "exemptions_with_rule",
    "exemptions_in_scope_of_approver",
    "exemptions_pending_for",
    "exemptions_visible_to",
    "is_approver",
    "levels_to_decide",
    "open_exemptions_for_cards",
    "QUEUE_ORDER",
    "review_age_buckets",
    "review_queue",
    "review_target_hours",
    "reviews_of_age",
    "reviews_in_scope",
    "search_requests",
    "verification_for_photos",
    "verification_for_reviewer",
    "with_waiting_since",
]
