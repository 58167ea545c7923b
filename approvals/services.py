"""Exemption requests (U1, U3; never U2) and change-request decisions (E3, P4). Only these write them.

Each request runs through an explicit state machine, draft → submitted →
approved | rejected | withdrawn; every transition locks the row, checks the
state and the actor's authority, writes the new state and a Decision or
audit row in one transaction, and sends its emails after commit.

Who decides:
* the provincial level: a provincial approver of the enterprise's province;
* the group level: a group approver, nationwide;
* nobody decides their own request, and every rejection says why.

An approved exemption covers its cards for as long as their rule decision
needs no more approvals than it got (cards.inventory.services.exemption_covering), so
a new-installation order activates them (U5); a card that such an order left
awaiting its user's real-name activates under that order once the exemption
is approved (cards.inventory.services.cards_realname_resolved).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.permissions import Capability, require
from accounts.services import audit_record
from approvals import notifications, selectors
from approvals.models import (
    ApprovalLevel,
    Decision,
    ExemptionAttachment,
    ExemptionRequest,
    RequestStatus,
)
from cards.inventory.services import cards_realname_resolved, exemption_covering
from cards.locks import lock_cards
from cards.models import LIVE_CARD_STATUSES, Card, CardBinding
from cards.rules import Decision as RuleDecision
from cards.rules import Exemption, evaluate
from core.errors import (
    Conflict,
    DomainError,
    InvalidTransition,
    PermissionDenied,
    ValidationFailed,
)
from core.files import atomic_with_files
from core.text import join_words
from core.uploads import CleanUpload, sanitize_upload
from enterprises.models import (
    ChangeRequest,
    ChangeRequestStatus,
    Enterprise,
    EnterpriseStatus,
)
from enterprises.services import change_request_apply
from integrations.webhooks.models import EventType
from integrations.webhooks.payloads import emit_event
from verification.services import verification_review

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from verification.models import Verification

MAX_CARDS_PER_REQUEST = 1000
MAX_FILES_PER_LEVEL = 5
MAX_REASON_LENGTH = 2000
MAX_COMMENT_LENGTH = 2000

MSG_FILE_DENIED = _(
    "Only an account manager of the enterprise's province or the enterprise's own admin may file an exemption request."
)

ATTACHMENT_LABELS: dict[str, StrOrPromise] = {
    ApprovalLevel.PROVINCE: _("the provincial approval form (省内审批单)"),
    ApprovalLevel.GROUP: _("the group approval form (集团审批单)"),
}


def attachment_field(level: str) -> str:
    """The form/API field that carries a level's approval form."""
    return f"attachment_{level}"


def _require_user(actor: Any) -> User:
    if actor is None or not actor.is_authenticated or not actor.is_active:
        raise PermissionDenied(_("Log in to do this."), code="login_required")
    if not isinstance(actor, User):  # a platform key or a link holder: filing and deciding are a person's
        raise PermissionDenied(_("Only a person who logs in may do this."), code="person_required")
    return actor


def _clean_comment(comment: str | None) -> str:
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT_LENGTH:
        raise ValidationFailed(
            _("The comment may have at most %(max)d characters.") % {"max": MAX_COMMENT_LENGTH},
            code="too_long",
            field="comment",
        )
    return comment


def _require_rejection_reason(approve: bool, comment: str) -> None:
    if not approve and not comment:
        raise ValidationFailed(
            _("Say why the request is rejected: a rejection needs a comment."), code="comment_required", field="comment"
        )


def _level_label(level: str) -> str:
    return str(ApprovalLevel(level).label)


def _ordered_levels(levels: Iterable[str]) -> list[str]:
    levels = set(levels)
    return [level for level in selectors.LEVEL_ORDER if level in levels]


# --- filing -----------------------------------------------------------------


@dataclass(frozen=True)
class CardAssessment:
    """One card's rule decision as the filing page and the service see it."""

    card: Card
    decision: RuleDecision  # the card rules' decision, not an approval level's
    exemptable: bool
    problem: str  # "" when the card can be exempted; else the code of the refusal
    message: str


def assess_card(card: Card, *, bound: bool | None = None) -> CardAssessment:
    """Why a card can or cannot be put into an exemption request (shown on the filing page).

    `bound`: whether the card has a live binding, when the caller fetched it with the cards (a page of them
    would otherwise ask once a card); looked up when not given.
    """
    decision = evaluate(card.facts)
    iccid = card.iccid
    if decision.exemption == Exemption.NONE_POSSIBLE:
        return CardAssessment(
            card,
            decision,
            False,
            "exemption_impossible",
            _(
                "No exemption is possible for card %(iccid)s: rule U2 (a 149-segment number with non-directed "
                "voice or non-directed SMS) always requires the card user's real-name and the one-ID-five-cards "
                "check. Register the card user instead."
            )
            % {"iccid": iccid},
        )
    if not decision.user_realname_required:
        return CardAssessment(
            card,
            decision,
            False,
            "not_required",
            _("Card %(iccid)s does not need the card user's real-name (rules %(rules)s): there is nothing to exempt.")
            % {"iccid": iccid, "rules": ", ".join(decision.rules)},
        )
    if card.status not in LIVE_CARD_STATUSES:
        return CardAssessment(
            card,
            decision,
            False,
            "card_cancelled",
            _("Card %(iccid)s is cancelled.") % {"iccid": iccid},
        )
    if bound is None:
        bound = CardBinding.objects.filter(card=card, ended_at__isnull=True).exists()
    if bound:
        return CardAssessment(
            card,
            decision,
            False,
            "realname_complete",
            _("Card %(iccid)s already has its card user's real-name: there is nothing to exempt.") % {"iccid": iccid},
        )
    return CardAssessment(card, decision, True, "", "")


def _clean_attachments(
    attachments: Mapping[str, Sequence[UploadedFile]] | None, required_levels: list[str]
) -> dict[str, list[CleanUpload]]:
    attachments = dict(attachments or {})
    unknown = [key for key in attachments if key not in ApprovalLevel.values]
    if unknown:
        raise ValidationFailed(
            _("Approval forms are attached for the provincial or the group level only."),
            code="invalid_level",
            field="attachments",
        )
    cleaned: dict[str, list[CleanUpload]] = {}
    for level in ApprovalLevel.values:
        files = [f for f in (attachments.get(level) or []) if f]
        if level not in required_levels:
            if files:
                raise ValidationFailed(
                    _("These cards need no %(level)s approval: do not attach %(form)s.")
                    % {"level": _level_label(level), "form": ATTACHMENT_LABELS[level]},
                    code="attachment_not_needed",
                    field=attachment_field(level),
                )
            continue
        if not files:
            raise ValidationFailed(
                _("Attach %(form)s: the %(level)s level must approve these cards.")
                % {"form": ATTACHMENT_LABELS[level], "level": _level_label(level)},
                code="attachment_required",
                field=attachment_field(level),
            )
        if len(files) > MAX_FILES_PER_LEVEL:
            raise ValidationFailed(
                _("Attach at most %(max)d files per approval form.") % {"max": MAX_FILES_PER_LEVEL},
                code="too_many",
                field=attachment_field(level),
            )
        cleaned[level] = []
        for upload in files:
            cleaned[level].append(sanitize_upload(upload, allow_pdf=True, field=attachment_field(level)))
    return cleaned


def exemption_file(
    *,
    actor: User,
    enterprise: Enterprise,
    cards: Sequence[Card],
    reason: str,
    attachments: Mapping[str, Sequence[UploadedFile]] | None = None,
) -> ExemptionRequest:
    """File an exemption from card-user real-name for some of an enterprise's cards.

    U2 cards are refused at filing (no exemption is possible); cards that need no
    user real-name are refused (nothing to exempt). The approvals needed are the
    union of the cards' decisions (U1: province, U3: group, both: both), and the
    approval form of every needed level must be attached.
    """
    actor = _require_user(actor)
    require(actor, Capability.EXEMPTIONS_FILE, enterprise, message=MSG_FILE_DENIED)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("Say why the card users cannot be registered."), code="required", field="reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise ValidationFailed(
            _("The reason may have at most %(max)d characters.") % {"max": MAX_REASON_LENGTH},
            code="too_long",
            field="reason",
        )
    unique_cards = list({card.pk: card for card in cards or ()}.values())
    if not unique_cards:
        raise ValidationFailed(_("Choose at least one card."), code="required", field="cards")
    if len(unique_cards) > MAX_CARDS_PER_REQUEST:
        raise ValidationFailed(
            _("One request may cover at most %(max)d cards.") % {"max": MAX_CARDS_PER_REQUEST},
            code="too_many",
            field="cards",
        )
    fresh = list(Card.objects.select_related("package").filter(pk__in=[c.pk for c in unique_cards]).order_by("iccid"))
    if len(fresh) != len(unique_cards) or any(card.enterprise_id != enterprise.pk for card in fresh):
        raise ValidationFailed(_("Every card must belong to this enterprise."), code="wrong_enterprise", field="cards")

    assessments = [assess_card(card) for card in fresh]
    # U2 first: it is the refusal the user most needs to understand.
    impossible = [a for a in assessments if a.problem == "exemption_impossible"]
    if impossible:
        iccids = ", ".join(a.card.iccid for a in impossible)
        message = (
            impossible[0].message
            if len(impossible) == 1
            else _(
                "No exemption is possible for cards %(iccids)s: rule U2 (a 149-segment number with non-directed "
                "voice or non-directed SMS) always requires the card user's real-name and the one-ID-five-cards "
                "check. Register the card users instead."
            )
            % {"iccids": iccids}
        )
        raise ValidationFailed(
            message, code="exemption_impossible", field="cards", params={"iccids": [a.card.iccid for a in impossible]}
        )
    for assessment in assessments:
        if assessment.problem:
            raise ValidationFailed(
                assessment.message, code=assessment.problem, field="cards", params={"iccids": [assessment.card.iccid]}
            )

    required_levels = _ordered_levels(level for a in assessments for level in a.decision.approvers)
    rules = sorted({rule for a in assessments for rule in a.decision.rules})
    uploads = _clean_attachments(attachments, required_levels)

    with atomic_with_files() as stored:
        locked_cards = lock_cards(fresh)
        pending = selectors.open_exemptions_for_cards(locked_cards)
        if pending.exists():
            taken = sorted(set(pending.values_list("cards__iccid", flat=True)) & {c.iccid for c in locked_cards})
            raise Conflict(
                _("Cards %(iccids)s are already in an exemption request that awaits a decision.")
                % {"iccids": ", ".join(taken)},
                code="exemption_pending",
                field="cards",
            )

        covered = [a.card.iccid for a in assessments if exemption_covering(a.card, a.decision)]
        if covered:
            raise Conflict(
                _("Cards %(iccids)s are already covered by an approved exemption.") % {"iccids": ", ".join(covered)},
                code="already_exempted",
                field="cards",
            )
        request = ExemptionRequest.objects.create(
            enterprise=enterprise,
            required_levels=required_levels,
            rules=rules,
            reason=reason,
            status=RequestStatus.SUBMITTED,
            submitted_by=actor,
            submitted_at=timezone.now(),
        )
        request.cards.set(locked_cards)
        for level, files in uploads.items():
            for number, upload in enumerate(files, start=1):
                attachment = ExemptionAttachment(
                    request=request, level=level, content_type=upload.content_type, uploaded_by=actor
                )
                # Neutral names: opaque ids only, never a person's name or number.
                stored.save(attachment.file, f"{request.public_id}-{level}-{number}{upload.extension}", upload.content)
                attachment.save()
        audit_record(
            actor=actor,
            action="exemption.submitted",
            obj=request,
            data={"cards": [c.iccid for c in locked_cards], "rules": rules, "required_levels": required_levels},
        )
        notifications.queue(notifications.exemption_filed, request.pk)
    return request


# --- deciding ---------------------------------------------------------------


def _check_decision_authority(actor: User, request: ExemptionRequest, level: str) -> None:
    if level == ApprovalLevel.PROVINCE:
        message = _("Only a provincial approver of the enterprise's province may decide at the provincial level.")
    else:
        message = _("Only a group approver may decide at the group level.")
    require(actor, selectors.DECIDES[level], request.enterprise, message=message)
    if request.submitted_by_id == actor.pk:
        raise PermissionDenied(_("Nobody may decide a request they filed themselves."), code="self_decision")


def _reassess_cards(request: ExemptionRequest) -> None:
    """Approve only what the cards' rules allow now (issue 7 §1.7).

    The levels were fixed from the cards' decisions when the request was filed. A card's services
    may have changed since: it may have become U2 (no exemption at all) or need a level the request
    did not ask for (U1 became U1+U3). The cards are locked, so their services cannot change while
    the decision is written; card changes lock the same rows.
    """
    cards = lock_cards(request.cards.values_list("pk", flat=True))
    asked = set(request.required_levels)
    impossible, more_needed = [], []
    for card in cards:
        decision = evaluate(card.facts)
        if decision.exemption == Exemption.NONE_POSSIBLE:
            impossible.append(card)
        elif not decision.approvers <= asked:
            more_needed.append((card, decision))
    if impossible:
        raise Conflict(
            _(
                "This request can no longer be approved: card %(iccids)s now falls under rule U2 (a 149-segment "
                "number with non-directed voice or non-directed SMS), which always requires the card user's "
                "real-name and the one-ID-five-cards check. No exemption is possible. Reject the request and "
                "say why."
            )
            % {"iccids": ", ".join(sorted(card.iccid for card in impossible))},
            code="exemption_impossible",
            field="cards",
            params={"iccids": sorted(card.iccid for card in impossible)},
        )
    if more_needed:
        card, decision = min(more_needed, key=lambda item: item[0].iccid)
        missing = _ordered_levels(decision.approvers - asked)
        raise Conflict(
            _(
                "This request can no longer be approved: card %(iccid)s now falls under rules %(rules)s and "
                "needs the approval of the %(levels)s level too, which this request did not ask for. Reject "
                "it and file a new request with the approval form of every level the card needs."
            )
            % {
                "iccid": card.iccid,
                "rules": ", ".join(decision.rules),
                "levels": join_words(_level_label(level).lower() for level in missing),
            },
            code="exemption_levels_changed",
            field="cards",
            params={"iccids": sorted(c.iccid for c, _d in more_needed), "levels": missing},
        )


def exemption_decide(
    *, request: ExemptionRequest, actor: User, level: str, approve: bool, comment: str = ""
) -> ExemptionRequest:
    """One approver's decision at one level. A rejection at any level rejects the request;
    approval at every required level approves it, and an approval is given only while the
    cards' rules, as they are now, allow the exemption this request asks for (§1.7)."""
    actor = _require_user(actor)
    if level not in ApprovalLevel.values:
        raise ValidationFailed(_("Choose the provincial or the group level."), code="invalid_level", field="level")
    comment = _clean_comment(comment)
    approve = bool(approve)
    try:
        with transaction.atomic():
            locked = ExemptionRequest.objects.select_for_update(of=("self",)).get(pk=request.pk)
            enterprise = Enterprise.objects.get(pk=locked.enterprise_id)
            locked.enterprise = enterprise
            _check_decision_authority(actor, locked, level)
            if locked.status != RequestStatus.SUBMITTED:
                raise InvalidTransition(
                    _("This request is %(status)s: it can no longer be decided.")
                    % {"status": RequestStatus(locked.status).label.lower()},
                    field="status",
                )
            if level not in locked.required_levels:
                raise ValidationFailed(
                    _("This request needs no decision at the %(level)s level.") % {"level": _level_label(level)},
                    code="level_not_required",
                    field="level",
                )
            if locked.decisions.filter(level=level).exists():
                raise InvalidTransition(
                    _("This request has already been decided at the %(level)s level.") % {"level": _level_label(level)},
                    code="already_decided",
                    field="level",
                )
            _require_rejection_reason(approve, comment)
            if approve:
                _reassess_cards(locked)
            Decision.objects.create(exemption=locked, level=level, approved=approve, comment=comment, decided_by=actor)
            previous = locked.status
            if not approve:
                locked.status = RequestStatus.REJECTED
            elif set(locked.decisions.filter(approved=True).values_list("level", flat=True)) >= set(
                locked.required_levels
            ):
                locked.status = RequestStatus.APPROVED
            if locked.status != previous:
                locked.save(update_fields=["status"])
            if locked.status == RequestStatus.APPROVED:
                # U5: a card that an order left awaiting this exemption goes on under that order.
                cards_realname_resolved(actor=actor, cards=locked.cards.all())
            audit_record(
                actor=actor,
                action="exemption.decided",
                obj=locked,
                data={"level": level, "approved": approve, "comment": comment, "status": locked.status},
            )
            if locked.status != RequestStatus.SUBMITTED:
                notifications.queue(notifications.exemption_decided, locked.pk)
                emit_event(
                    enterprise,
                    EventType.EXEMPTION_DECIDED,
                    exemption=locked.public_id,
                    status=locked.status,
                    level=level,
                    required_levels=list(locked.required_levels),
                    cards=sorted(locked.cards.values_list("iccid", flat=True)),
                )
    except IntegrityError as exc:
        # Two approvers of one level at the same moment: the unique constraint lets one win.
        raise InvalidTransition(
            _("This request has already been decided at the %(level)s level.") % {"level": _level_label(level)},
            code="already_decided",
            field="level",
        ) from exc
    return locked


def _withdraw(
    locked: ExemptionRequest | ChangeRequest,
    *,
    actor: User,
    statuses: type[RequestStatus] | type[ChangeRequestStatus],
    refusal: StrOrPromise,
) -> None:
    """submitted -> withdrawn, by its submitter only; `locked` is the row, locked for update.

    `statuses` is the request's status choices, `refusal` the message when it is past submitted."""
    if locked.submitted_by_id != actor.pk:
        raise PermissionDenied(_("Only the person who filed the request may withdraw it."), code="not_submitter")
    if locked.status != statuses.SUBMITTED:
        raise InvalidTransition(refusal % {"status": statuses(locked.status).label.lower()}, field="status")
    locked.status = statuses.WITHDRAWN
    locked.save(update_fields=["status"])


def exemption_withdraw(*, request: ExemptionRequest, actor: User) -> ExemptionRequest:
    """The submitter takes back a request that is still awaiting a decision."""
    actor = _require_user(actor)
    with transaction.atomic():
        locked = ExemptionRequest.objects.select_for_update(of=("self",)).get(pk=request.pk)
        _withdraw(
            locked,
            actor=actor,
            statuses=RequestStatus,
            refusal=_("This request is %(status)s: only a request awaiting a decision can be withdrawn."),
        )
        audit_record(actor=actor, action="exemption.withdrawn", obj=locked)
    return locked


@dataclass
class BulkResult:
    decided: list[ExemptionRequest | ChangeRequest | Verification] = field(default_factory=list)
    errors: list[tuple[object, DomainError]] = field(default_factory=list)


def exemption_decide_many(
    *,
    requests: Iterable[ExemptionRequest],
    actor: User,
    approve: bool,
    comment: str = "",
    level: str | None = None,
) -> BulkResult:
    """Decide several requests at the actor's level, each in its own transaction; refusals are reported."""
    level = level or selectors.approver_level(actor)
    result = BulkResult()
    for request in requests:
        try:
            result.decided.append(
                exemption_decide(request=request, actor=actor, level=level or "", approve=approve, comment=comment)
            )
        except DomainError as exc:
            result.errors.append((request, exc))
    return result


# --- change requests (E3, P4) ----------------------------------------------


def _reset_enterprise_status(enterprise_id: int) -> None:
    enterprise = Enterprise.objects.select_for_update(of=("self",), no_key=True).get(pk=enterprise_id)
    still_open = ChangeRequest.objects.filter(
        enterprise_id=enterprise_id, status__in=[ChangeRequestStatus.DRAFT, ChangeRequestStatus.SUBMITTED]
    ).exists()
    if not still_open and enterprise.status != EnterpriseStatus.ACTIVE:
        enterprise.status = EnterpriseStatus.ACTIVE
        enterprise.save(update_fields=["status", "updated_at"])


def change_request_decide(
    *, change_request: ChangeRequest, actor: User, approve: bool, comment: str = ""
) -> ChangeRequest:
    """A provincial approver of the enterprise's province decides a change of real-name data.

    Approved: the change is written into the record in the same transaction and the
    replaced values are kept as a version (enterprises.services.change_request_apply).
    """
    actor = _require_user(actor)
    comment = _clean_comment(comment)
    approve = bool(approve)
    with transaction.atomic():
        locked = (
            ChangeRequest.objects.select_for_update(of=("self",)).select_related("enterprise").get(pk=change_request.pk)
        )
        require(
            actor,
            Capability.DECIDE_PROVINCE,
            locked.enterprise,
            message=_("Only a provincial approver of the enterprise's province may decide its change requests."),
        )
        if locked.submitted_by_id == actor.pk:
            raise PermissionDenied(_("Nobody may decide a request they filed themselves."), code="self_decision")
        if locked.status != ChangeRequestStatus.SUBMITTED:
            raise InvalidTransition(
                _("This change request is %(status)s: it can no longer be decided.")
                % {"status": ChangeRequestStatus(locked.status).label.lower()},
                field="status",
            )
        _require_rejection_reason(approve, comment)
        locked.status = ChangeRequestStatus.APPROVED if approve else ChangeRequestStatus.REJECTED
        locked.decided_by = actor
        locked.decided_at = timezone.now()
        locked.decision_comment = comment
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_comment"])
        Decision.objects.create(
            change_request=locked, level=ApprovalLevel.PROVINCE, approved=approve, comment=comment, decided_by=actor
        )
        audit_record(
            actor=actor,
            action="change_request.decided",
            obj=locked,
            data={"approved": approve, "comment": comment, "target": locked.target},
        )
        if approve:
            change_request_apply(change_request=locked, actor=actor)
        else:
            _reset_enterprise_status(locked.enterprise_id)
        notifications.queue(notifications.change_request_decided, locked.pk)
    locked.refresh_from_db()
    return locked


def change_request_withdraw(*, change_request: ChangeRequest, actor: User) -> ChangeRequest:
    """The submitter takes back a change request that awaits a decision; the record stays as it is."""
    actor = _require_user(actor)
    with transaction.atomic():
        locked = ChangeRequest.objects.select_for_update(of=("self",)).get(pk=change_request.pk)
        _withdraw(
            locked,
            actor=actor,
            statuses=ChangeRequestStatus,
            refusal=_("This change request is %(status)s: only a request awaiting a decision can be withdrawn."),
        )
        _reset_enterprise_status(locked.enterprise_id)
        audit_record(actor=actor, action="change_request.withdrawn", obj=locked, data={"target": locked.target})
    return locked


def change_request_decide_many(
    *, change_requests: Iterable[ChangeRequest], actor: User, approve: bool, comment: str = ""
) -> BulkResult:
    result = BulkResult()
    for change_request in change_requests:
        try:
            result.decided.append(
                change_request_decide(change_request=change_request, actor=actor, approve=approve, comment=comment)
            )
        except DomainError as exc:
            result.errors.append((change_request, exc))
    return result


# --- manual face review ------------------------------------------------------


def review_decide_many(
    *, verifications: Iterable[Verification], actor: User, approve: bool, comment: str = ""
) -> BulkResult:
    """Bulk manual review (admin action): each comparison in its own transaction."""
    result = BulkResult()
    for verification in verifications:
        try:
            result.decided.append(
                verification_review(verification=verification, actor=actor, approve=approve, comment=comment)
            )
        except DomainError as exc:
            result.errors.append((verification, exc))
    return result


__all__ = [
    "BulkResult",
    "CardAssessment",
    "assess_card",
    "attachment_field",
    "change_request_decide",
    "change_request_decide_many",
    "change_request_withdraw",
    "exemption_decide",
    "exemption_decide_many",
    "exemption_file",
    "exemption_withdraw",
    "review_decide_many",
]
