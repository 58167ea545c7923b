"""Fetch and authorise in one call for exemption requests, change requests and manual reviews.

Visibility follows accounts.access (a provincial approver sees their own
province, a group approver everything). The *decidable* querysets are the
approvers' queues: a provincial approver decides the provincial level of their
own province's requests (and its change requests and face reviews), a group
approver the group level nationwide. Nothing here returns another province's
request to a provincial approver.
"""

from __future__ import annotations

import uuid

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.access import NOTHING, can_view_full_pii, scoped
from accounts.permissions import Capability, can
from accounts.roles import Role
from approvals.models import ApprovalLevel, ExemptionRequest, RequestStatus
from cards import policy as card_policy
from core.errors import NotFound
from enterprises.models import ChangeRequest, ChangeRequestStatus
from verification.models import Verification, VerificationPurpose, VerificationStatus
from verification.selectors import verifications_visible_to

EXEMPTION_NOT_FOUND = _("The exemption request does not exist or you have no access to it.")
CHANGE_REQUEST_NOT_FOUND = _("The change request does not exist or you have no access to it.")
REVIEW_NOT_FOUND = _("The face comparison does not exist or you have no access to it.")

# The order levels are stored and shown in.
LEVEL_ORDER = (ApprovalLevel.PROVINCE.value, ApprovalLevel.GROUP.value)
RULES_IN_REQUESTS = ("U1", "U3")


def _active(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def _parse_uuid(value) -> uuid.UUID | None:
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


# --- who decides what --------------------------------------------------------


def approver_level(user) -> str | None:
    """The level this user decides at: "province", "group", or None."""
    if not _active(user):
        return None
    if user.role == Role.PROVINCIAL_APPROVER and user.province_id is not None:
        return ApprovalLevel.PROVINCE
    if user.role == Role.GROUP_APPROVER:
        return ApprovalLevel.GROUP
    return None


def is_approver(user) -> bool:
    return approver_level(user) is not None


def has_authority(user, enterprise, level: str) -> bool:
    """Province level: a provincial approver of the enterprise's province. Group level: a group approver."""
    if not _active(user):
        return False
    if level == ApprovalLevel.PROVINCE:
        return (
            user.role == Role.PROVINCIAL_APPROVER
            and user.province_id is not None
            and user.province_id == enterprise.province_id
        )
    if level == ApprovalLevel.GROUP:
        return user.role == Role.GROUP_APPROVER
    return False


def can_file_exemption(user, enterprise) -> bool:
    """Those who manage the enterprise's cards file requests for them: account managers of its
    province and its own admin."""
    return card_policy.can_manage_enterprise_cards(user, enterprise)


def may_file_somewhere(user) -> bool:
    return card_policy.may_manage_cards_somewhere(user)


def levels_to_decide(user, request: ExemptionRequest) -> list[str]:
    """The levels of `request` that `user` may still decide now (empty when none)."""
    if request.status != RequestStatus.SUBMITTED or request.submitted_by_id == getattr(user, "pk", None):
        return []
    decided = {d.level for d in request.decisions.all()}
    return [
        level
        for level in LEVEL_ORDER
        if level in request.required_levels and level not in decided and has_authority(user, request.enterprise, level)
    ]


def may_open_files(user, enterprise) -> bool:
    """Approval forms and change-request documents: roles that may see personal data in full, or the
    enterprise's admin. Face photos follow may_open_verification_photos.

    Ops see personal data masked only, so they get the metadata but not the files.
    """
    if not _active(user):
        return False
    if can_view_full_pii(user):
        return True
    return user.role == Role.ENTERPRISE_ADMIN and user.enterprise_id == enterprise.pk


# --- exemption requests ------------------------------------------------------


def exemptions_visible_to(user) -> QuerySet[ExemptionRequest]:
    return (
        scoped(ExemptionRequest.objects.all(), user, path="enterprise__")
        .select_related("enterprise", "enterprise__province", "submitted_by")
        .prefetch_related("decisions", "decisions__decided_by")
    )


def exemption_for_user(user, public_id) -> ExemptionRequest:
    key = _parse_uuid(public_id)
    request = exemptions_visible_to(user).filter(public_id=key).first() if key else None
    if request is None:
        raise NotFound(EXEMPTION_NOT_FOUND)
    return request


def exemptions_in_scope_of_approver(user) -> QuerySet[ExemptionRequest]:
    """Every request (any status) at the approver's level and in their scope: their desk."""
    level = approver_level(user)
    queryset = exemptions_visible_to(user)
    if level == ApprovalLevel.PROVINCE:
        return queryset.filter(
            json_list_has("required_levels", ApprovalLevel.PROVINCE), enterprise__province_id=user.province_id
        )
    if level == ApprovalLevel.GROUP:
        return queryset.filter(json_list_has("required_levels", ApprovalLevel.GROUP))
    return queryset.none()


def exemptions_pending_for(user) -> QuerySet[ExemptionRequest]:
    """The approver's queue: submitted requests still waiting for their level, not filed by themselves."""
    level = approver_level(user)
    if level is None:
        return ExemptionRequest.objects.none()
    return (
        exemptions_in_scope_of_approver(user)
        .filter(status=RequestStatus.SUBMITTED)
        .exclude(decisions__level=level)
        .exclude(submitted_by=user)
        .order_by("submitted_at", "pk")
    )


def exemptions_filed_by(user) -> QuerySet[ExemptionRequest]:
    """ "My requests": what the user filed; an enterprise admin also sees every request of their enterprise."""
    if not _active(user):
        return ExemptionRequest.objects.none()
    queryset = exemptions_visible_to(user)
    if user.role == Role.ENTERPRISE_ADMIN:
        return queryset.filter(Q(submitted_by=user) | Q(enterprise_id=user.enterprise_id))
    return queryset.filter(submitted_by=user)


def exemption_covering_card(*, card, decision) -> ExemptionRequest | None:
    """Answers cards.hooks.exemption_covering: an approved exemption of the card's current owner whose
    levels cover what the card's decision needs now (an ownership transfer leaves the old ones behind)."""
    requests = ExemptionRequest.objects.filter(
        cards=card, enterprise_id=card.enterprise_id, status=RequestStatus.APPROVED
    ).order_by("pk")
    for request in requests:
        if decision.approvers <= set(request.required_levels):
            return request
    return None


def open_exemptions_for_cards(cards) -> QuerySet[ExemptionRequest]:
    return ExemptionRequest.objects.filter(cards__in=cards, status=RequestStatus.SUBMITTED).distinct()


# --- change requests (E3, P4) -----------------------------------------------


def change_requests_decidable_by(user) -> QuerySet[ChangeRequest]:
    """Change requests of the provincial approver's province (any status); nobody else decides them."""
    if approver_level(user) != ApprovalLevel.PROVINCE:
        return ChangeRequest.objects.none()
    return (
        scoped(ChangeRequest.objects.all(), user, path="enterprise__")
        .filter(enterprise__province_id=user.province_id)
        .select_related("enterprise", "enterprise__province", "submitted_by", "decided_by")
    )


def change_requests_pending_for(user) -> QuerySet[ChangeRequest]:
    return (
        change_requests_decidable_by(user)
        .filter(status=ChangeRequestStatus.SUBMITTED)
        .exclude(submitted_by=user)
        .order_by("submitted_at", "pk")
    )


def change_request_for_user(user, public_id) -> ChangeRequest:
    from enterprises.selectors import change_requests_visible_to

    key = _parse_uuid(public_id)
    change_request = change_requests_visible_to(user).filter(public_id=key).first() if key else None
    if change_request is None:
        raise NotFound(CHANGE_REQUEST_NOT_FOUND)
    return change_request


def can_decide_change_request(user, change_request: ChangeRequest) -> bool:
    return (
        change_request.status == ChangeRequestStatus.SUBMITTED
        and change_request.submitted_by_id != getattr(user, "pk", None)
        and has_authority(user, change_request.enterprise, ApprovalLevel.PROVINCE)
    )


# --- manual face review ------------------------------------------------------


def reviews_in_scope(user) -> QuerySet[Verification]:
    """Every verification the user may review (any status): provincial approvers, their province."""
    if approver_level(user) != ApprovalLevel.PROVINCE:
        return Verification.objects.none()
    return verifications_visible_to(user).filter(enterprise__province_id=user.province_id)


def review_queue(user) -> QuerySet[Verification]:
    """Comparisons awaiting manual review in the reviewer's province, oldest first."""
    return (
        reviews_in_scope(user)
        .filter(status=VerificationStatus.IN_REVIEW)
        .select_related("enterprise", "order", "card_user")
        .order_by("completed_at", "created_at", "pk")
    )


def verification_for_reviewer(user, public_id) -> Verification:
    key = _parse_uuid(public_id)
    verification = reviews_in_scope(user).filter(public_id=key).first() if key else None
    if verification is None or not can(user, Capability.FACE_REVIEW, verification):
        raise NotFound(REVIEW_NOT_FOUND)
    return verification


def may_open_verification_photos(user, verification: Verification) -> bool:
    """Its reviewers, and whoever may open the photos it compares, by the rule of where they come from:
    a card user's (cards.policy.can_view_card_user_photos: only roles with full views, so not the
    enterprise's admin) or an order's handler's (can_view_handler_photos: the enterprise's admin too)."""
    if can(user, Capability.FACE_REVIEW, verification):
        return True
    if verification.purpose == VerificationPurpose.CARD_USER:
        return card_policy.can_view_card_user_photos(user, verification.card_user)
    return card_policy.can_view_handler_photos(user, verification.order)


def verification_for_photos(user, public_id) -> Verification:
    """A verification whose photos the user may open (may_open_verification_photos)."""
    key = _parse_uuid(public_id)
    verification = verifications_visible_to(user).filter(public_id=key).first() if key else None
    if verification is None:
        raise NotFound(REVIEW_NOT_FOUND)
    if not may_open_verification_photos(user, verification):
        from core.errors import PermissionDenied

        raise PermissionDenied(_("Your role may not open photos that show personal data."))
    return verification


__all__ = [
    "approver_level",
    "can_decide_change_request",
    "can_file_exemption",
    "change_request_for_user",
    "change_requests_decidable_by",
    "change_requests_pending_for",
    "exemption_for_user",
    "exemptions_filed_by",
    "exemptions_in_scope_of_approver",
    "exemptions_pending_for",
    "exemptions_visible_to",
    "has_authority",
    "is_approver",
    "levels_to_decide",
    "may_file_somewhere",
    "may_open_files",
    "may_open_verification_photos",
    "open_exemptions_for_cards",
    "review_queue",
    "reviews_in_scope",
    "verification_for_photos",
    "verification_for_reviewer",
]
