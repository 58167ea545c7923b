"""Verification records: creation, the engine's result, and manual review. Only these write them.

The comparison itself runs in a Celery task on the `faces` queue
(verification.tasks); this module holds the state transitions it ends in.
When a record opens its gate (passed, or approved by a reviewer), the
business it guards goes on: the handler's order completes (H3) or the card
user's cards are bound (U5, U6).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import NoticeKind, User
from accounts.notifications import notify, notify_all, path_for, users_who_may
from accounts.permissions import Capability, actor_user, require
from accounts.services import audit_record
from core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from core.files import atomic_with_files
from core.identity import mask_numbers_in_text
from core.queueing import enqueue
from core.uploads import CleanUpload
from verification import hooks
from verification.engine import reason
from verification.frames import contact_sheet
from verification.models import (
    LivenessSource,
    Verification,
    VerificationOutcome,
    VerificationStatus,
)
from verification.tallies import tally_key, verification_tally_move

OUTCOME_TO_STATUS = {
    VerificationOutcome.PASS: VerificationStatus.PASSED,
    VerificationOutcome.REVIEW: VerificationStatus.IN_REVIEW,
    # A clear mismatch still goes to a person: the model is weaker on some faces.
    VerificationOutcome.FAIL: VerificationStatus.IN_REVIEW,
    VerificationOutcome.REJECTED: VerificationStatus.REJECTED,
}

# A sandbox's comparisons (issue 10 §5) end where its engine's outcome says, deterministically: "review" waits in
# review for good (no reviewer sees a sandbox), and "fail" is the refusal a reviewer would give.
SANDBOX_OUTCOME_TO_STATUS = {
    VerificationOutcome.PASS: VerificationStatus.PASSED,
    VerificationOutcome.REVIEW: VerificationStatus.IN_REVIEW,
    VerificationOutcome.FAIL: VerificationStatus.DECLINED,
    VerificationOutcome.REJECTED: VerificationStatus.REJECTED,
}


def _in_sandbox(record: Verification) -> bool:
    return Verification.objects.filter(pk=record.pk, enterprise__sandbox_of__isnull=False).exists()


def verification_create(
    *,
    actor: User | None,
    purpose: str,
    # The enterprise, order, card user and cards live on floors this one may not import.
    enterprise: Any,
    id_photo: CleanUpload,
    live_photo: CleanUpload,
    order: Any = None,
    card_user: Any = None,
    cards: Iterable[Any] = (),
    review_required: bool = False,
    liveness: str = "",
    liveness_frames: Sequence[bytes] = (),
    retake_offered: bool = False,
) -> Verification:
    """Store a comparison to run; the task is queued once the transaction commits.

    With `retake_offered` (the person is at the counter) a clear mismatch waits as MISMATCH for a retake
    (verification_retake) or a hand-off to review (verification_send_to_review), instead of a reviewer at once.

    With `review_required` a comparison that passes still goes to a reviewer (presence not proven).
    `liveness` says how the live photo came (models.LivenessSource); `liveness_frames`, the capture's frames
    the reviewer sees side by side when they did not prove presence (kept as one contact sheet).
    """
    with atomic_with_files() as stored:
        verification = Verification(
            purpose=purpose,
            enterprise=enterprise,
            order=order,
            card_user=card_user,
            created_by=actor_user(actor),
            review_required=review_required,
            liveness=liveness,
            retake_offered=retake_offered,
        )
        stored.save(verification.id_photo, f"id{id_photo.extension}", id_photo.content)
        stored.save(verification.live_photo, f"live{live_photo.extension}", live_photo.content)
        sheet = contact_sheet(liveness_frames) if liveness_frames else b""
        if sheet:
            stored.save(verification.liveness_frames, "frames.jpg", sheet)
        verification.save()
        if cards:
            verification.cards.set(cards)
        audit_record(actor=actor, action="verification.created", obj=verification, data={"purpose": purpose})
        transaction.on_commit(lambda: enqueue_verification(verification.pk))
    return verification


def enqueue_verification(verification_id: int) -> bool:
    """Queue the comparison. With the broker down the record stays pending and the request goes on;
    verification.tasks.requeue_pending_verifications sends it again later."""
    # Inside the function: verification.tasks imports this module, through matching (circular at import).
    from verification.tasks import run_verification

    return enqueue(run_verification, verification_id, model=Verification, what="verification")


def verification_record_result(
    *,
    verification: Verification,
    outcome: str,
    distance: float | None = None,
    reasons: list[dict[str, Any]] | None = None,
    threshold_pass: float | None = None,
    threshold_fail: float | None = None,
    engine: str = "",
    engine_version: str = "",
    timings_ms: dict[str, float] | None = None,
    live_photo_phash: str = "",
    replay_of: Verification | None = None,
) -> Verification:
    """Store the engine's result. Safe to call twice: a record already decided is left alone."""
    with transaction.atomic():
        # NO KEY UPDATE: two comparisons of one photo may each point `replay_of` at the other, and
        # the foreign-key check's KEY SHARE lock on the other row must not wait for its transaction
        # (it would deadlock against a plain FOR UPDATE).
        record = Verification.objects.select_for_update(of=("self",), no_key=True).get(pk=verification.pk)
        if record.status != VerificationStatus.PENDING:
            return record
        counted_as = tally_key(record)
        record.outcome = outcome
        record.status = OUTCOME_TO_STATUS[VerificationOutcome(outcome)]
        if _in_sandbox(record):
            # No reviewer looks at a sandbox (issue 10 §5): its outcome is final, and a mismatch is refused.
            record.status = SANDBOX_OUTCOME_TO_STATUS[VerificationOutcome(outcome)]
        elif outcome == VerificationOutcome.FAIL and record.retake_offered and record.retakes < retake_limit():
            # Issue 11 §1.2: the manager is told at once, while the person is still there, and may retake.
            record.status = VerificationStatus.MISMATCH
        elif (replay_of is not None or record.review_required) and record.status == VerificationStatus.PASSED:
            # A live photo seen before, or one no live capture proved, is no proof of presence: a person
            # must look.
            record.status = VerificationStatus.IN_REVIEW
        record.distance = distance
        record.reasons = list(reasons or [])
        if outcome == VerificationOutcome.FAIL and not any(r.get("code") == "face_mismatch" for r in record.reasons):
            # Issue 11 §1.2: a clear mismatch says so, to the counter and to a reviewer, never "reason —".
            record.reasons.append(reason("face_mismatch"))
        record.threshold_pass = threshold_pass
        record.threshold_fail = threshold_fail
        record.engine = engine
        record.engine_version = engine_version
        record.timings_ms = timings_ms or {}
        record.live_photo_phash = live_photo_phash
        record.replay_of = replay_of
        record.attempts += 1
        record.completed_at = timezone.now()
        record.save()
        # The dashboard's rates count it from now on (verification.tallies), in this transaction.
        verification_tally_move(counted_as, tally_key(record))
        audit_record(
            actor=None,
            action="verification.result",
            obj=record,
            data={"outcome": outcome, "status": record.status, "distance": distance},
        )
        _result_settled(record, actor=None)
        if record.status == VerificationStatus.IN_REVIEW:
            _tell_reviewers(record)
    return record


def retake_limit() -> int:
    """Read at call time, so that a test (or the operator) can change it."""
    return int(settings.FACE_RETAKE_LIMIT)


def verification_retake(*, verification: Verification, actor: User | None, live_photo: CleanUpload) -> Verification:
    """A clear mismatch (MISMATCH) compared again with a new live photo, on the same record (issue 11 §1.2).

    The earlier result stays in the audit trail; the record runs again as pending. Only its caller (the card
    user's retake service) checks who may do it: this floor knows no card users.
    """
    with atomic_with_files() as stored:
        record = Verification.objects.select_for_update(of=("self",)).get(pk=verification.pk)
        if record.status != VerificationStatus.MISMATCH:
            raise InvalidTransition(
                _("Only a comparison whose photos do not match can be retaken (it is %(status)s).")
                % {"status": record.get_status_display()},
                code="not_mismatch",
            )
        if record.retakes >= retake_limit():
            raise InvalidTransition(_("No retake is left: send it to a reviewer."), code="retake_limit")
        previous = {"distance": record.distance, "retake": record.retakes}
        counted_as = tally_key(record)
        stored.save(record.live_photo, f"live{live_photo.extension}", live_photo.content)
        record.retakes += 1
        # A retake is one photo: presence is not proven (issue 9 §3), so even a match goes to a reviewer.
        record.review_required = True
        record.liveness = LivenessSource.FALLBACK
        record.status = VerificationStatus.PENDING
        record.outcome = ""
        record.distance = None
        record.reasons = []
        record.completed_at = None
        record.live_photo_phash = ""
        record.replay_of = None
        record.save()
        # Not completed any more: the week it had completed in counts it no longer (its next result will).
        verification_tally_move(counted_as, tally_key(record))
        audit_record(actor=actor, action="verification.retaken", obj=record, data=previous)
        _result_settled(record, actor=actor)
        transaction.on_commit(lambda: enqueue_verification(record.pk))
    return record


def verification_send_to_review(*, verification: Verification, actor: User | None) -> Verification:
    """The manager hands a clear mismatch to a reviewer instead of retaking (issue 11 §1.2)."""
    with transaction.atomic():
        record = Verification.objects.select_for_update(of=("self",)).get(pk=verification.pk)
        if record.status != VerificationStatus.MISMATCH:
            raise InvalidTransition(
                _("Only a comparison whose photos do not match can be sent to a reviewer (it is %(status)s).")
                % {"status": record.get_status_display()},
                code="not_mismatch",
            )
        record.status = VerificationStatus.IN_REVIEW
        record.save(update_fields=["status"])
        audit_record(actor=actor, action="verification.sent_to_review", obj=record, data={"retakes": record.retakes})
        _result_settled(record, actor=actor)
        _tell_reviewers(record)
    return record


def _review_link(record: Verification) -> str:
    return path_for("approvals:review_detail", record.public_id)


def _tell_reviewers(record: Verification) -> int:
    """A comparison awaits a person (issue 11 §3): the reviewers of its province are told, by reference
    only (no name of the person compared), and never the one who submitted it."""
    title = _("Face comparison %(ref)s awaits your review") % {"ref": str(record.public_id)[:8].upper()}
    return notify_all(
        [u for u in users_who_may(Capability.FACE_REVIEW, record) if u.pk != record.created_by_id],
        NoticeKind.REVIEW_WAITING,
        record,
        title=str(title),
        body=str(record.get_purpose_display()),
        link=_review_link(record),
    )


def _tell_submitter(record: Verification) -> None:
    """The decision on a reviewed comparison goes to whoever submitted it (an order's or a card user's)."""
    if record.created_by_id is None:
        return
    approved = record.status == VerificationStatus.APPROVED
    ref = str(record.public_id)[:8].upper()
    order, card_user = record.order, record.card_user
    link = ""
    if order is not None:
        title = (
            _("Order %(number)s: the face comparison was approved")
            if approved
            else _("Order %(number)s: the face comparison was declined")
        ) % {"number": order.number}
        link = path_for("orders:detail", order.public_id)
    else:
        title = (
            _("Face comparison %(ref)s was approved") if approved else _("Face comparison %(ref)s was declined")
        ) % {"ref": ref}
        if card_user is not None:
            link = path_for("cards:card_user_detail", card_user.public_id)
    body = (
        _("Reviewer's comment: %(comment)s") % {"comment": mask_numbers_in_text(record.review_comment)}
        if record.review_comment
        else ""
    )
    notify(record.created_by, NoticeKind.DECISION, record, title=str(title), body=str(body), link=link)


def verification_review(*, verification: Verification, actor: User, approve: bool, comment: str) -> Verification:
    """A reviewer decides a borderline or failed comparison (manual review)."""
    comment = (comment or "").strip()
    with transaction.atomic():
        record = (
            Verification.objects.select_for_update(of=("self",)).select_related("enterprise").get(pk=verification.pk)
        )
        require(
            actor,
            Capability.FACE_REVIEW,
            record,
            message=_("Only a provincial approver of the enterprise's province may review this."),
        )
        if record.created_by_id == actor.pk:
            raise PermissionDenied(_("Nobody may review a comparison they submitted."), code="self_decision")
        if record.status != VerificationStatus.IN_REVIEW:
            raise InvalidTransition(
                _("This comparison is not awaiting review (it is %(status)s).")
                % {"status": record.get_status_display()}
            )
        if not approve and not comment:
            raise ValidationFailed(_("Say why the comparison is declined."), code="comment_required", field="comment")
        record.status = VerificationStatus.APPROVED if approve else VerificationStatus.DECLINED
        record.reviewed_by = actor
        record.reviewed_at = timezone.now()
        record.review_comment = comment
        record.save()
        audit_record(
            actor=actor, action="verification.reviewed", obj=record, data={"approved": approve, "comment": comment}
        )
        _result_settled(record, actor=actor)
        _tell_submitter(record)
    return record


def _result_settled(record: Verification, *, actor: User | None) -> None:
    """The comparison has a new status: the business it guards goes on, in the same transaction,
    through the `verification_settled` hook (cards connects it: H3, a passed comparison completes
    the handler's order and a declined one rejects it; U5, the card user's registration follows
    every status, and a passed comparison binds the cards)."""
    refusals = [refusal for refusal in hooks.verification_settled.send(verification=record, actor=actor) if refusal]
    if refusals:
        # The person is verified, but the business could not go on (e.g. the cards are not bound: the
        # registration says not_bound_card_limit / not_bound); the comparison's reasons keep the refusal's text.
        record.reasons = [*record.reasons, *({"code": r.code, "message": str(r.message)} for r in refusals)]
        record.save(update_fields=["reasons"])
