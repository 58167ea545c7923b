"""Emails about approvals: to the approvers when a request is filed, to the requester when it is decided.

Services call `queue(function, id)` inside their transaction: the messages are written to the
outbox (approvals.models.Notification) with the business change, so nothing is sent for a
refused or rolled-back action and nothing is lost when the broker or the mail server is down.
Each message is sent by a task once the transaction commits; one that could not be queued or
sent stays unsent and the beat task sends it again (issue 7 §4.1). Emails carry no personal
data: no names of card users or responsible persons, no ID or credential numbers, no photos;
free text written by people (a comment) is passed through `scrub` so an ID number typed into it
goes out masked. A failed send is logged (ids only) and never undoes the decision.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import NoticeKind, User
from accounts.notifications import notify, notify_all, path_for, users_who_may
from accounts.permissions import Capability
from accounts.roles import Role
from approvals.models import ApprovalLevel, ExemptionRequest, Notification, RequestStatus
from core.identity import mask_numbers_in_text
from core.queueing import enqueue
from core.text import join_words
from enterprises.models import ChangeRequest, ChangeRequestStatus

logger = logging.getLogger(__name__)

SUBJECT_PREFIX = "[IoT real-name] "
# Free text made safe to email; the same function masks it on every page (core.identity).
scrub = mask_numbers_in_text


def _link(url_name: str, *args) -> str:
    try:
        path = reverse(url_name, args=args)
    except NoReverseMatch:
        return ""
    return f"{settings.PORTAL_BASE_URL.rstrip('/')}{path}"


def _to_outbox(recipients: Iterable[User], subject: str, body: str, *, ref: str) -> int:
    """Write one outbox message per recipient (approvers do not see each other's addresses);
    each is sent by a task after the transaction commits."""
    by_address: dict[str, User] = {}
    for user in recipients:
        if user.email:
            by_address.setdefault(user.email, user)
    notes = [
        Notification.objects.create(
            recipient=user, address=address, subject=SUBJECT_PREFIX + subject, body=body, ref=ref
        )
        for address, user in sorted(by_address.items())
    ]
    for note in notes:
        transaction.on_commit(functools.partial(enqueue_notification, note.pk))
    return len(notes)


def enqueue_notification(notification_id: int) -> bool:
    # Inside the function: approvals.tasks imports this module (circular at import time).
    from approvals.tasks import send_notification

    return enqueue(send_notification, notification_id, model=Notification, what="notification")


def notification_send(*, notification_id: int) -> str:
    """Send one outbox message. Safe to repeat: a message already sent, or being sent by another
    task (its row is locked), is left alone."""
    with transaction.atomic():
        note = (
            Notification.objects.select_for_update(skip_locked=True)
            .filter(pk=notification_id, sent_at__isnull=True)
            .first()
        )
        if note is None:
            return "nothing_to_do"
        if note.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
            return "given_up"
        message = EmailMessage(note.subject, note.body, settings.DEFAULT_FROM_EMAIL, [note.address])
        note.attempts += 1
        try:
            get_connection().send_messages([message])
        except Exception as exc:  # noqa: BLE001 - a mail outage must not undo a committed decision
            note.last_error = type(exc).__name__[:100]
            note.save(update_fields=["attempts", "last_error"])
            log = logger.error if note.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS else logger.warning
            log("notification %s for %s not sent (%s), attempt %d", note.pk, note.ref, note.last_error, note.attempts)
            return "failed"
        note.sent_at = timezone.now()
        note.last_error = ""
        note.save(update_fields=["attempts", "sent_at", "last_error"])
    return "sent"


def approvers_for(level: str, enterprise) -> list[User]:
    users = User.objects.filter(is_active=True).exclude(email="")
    if level == ApprovalLevel.PROVINCE:
        users = users.filter(role=Role.PROVINCIAL_APPROVER, province_id=enterprise.province_id)
    elif level == ApprovalLevel.GROUP:
        users = users.filter(role=Role.GROUP_APPROVER)
    else:
        return []
    return list(users)


LEVEL_CAPABILITY = {ApprovalLevel.PROVINCE: Capability.DECIDE_PROVINCE, ApprovalLevel.GROUP: Capability.DECIDE_GROUP}


def _levels_text(levels) -> str:
    return join_words(ApprovalLevel(level).label for level in levels)


# --- exemption requests ------------------------------------------------------


def exemption_filed(request_id: int) -> int:
    request = ExemptionRequest.objects.select_related("enterprise").filter(pk=request_id).first()
    if request is None:
        return 0
    sent = 0
    with translation.override(settings.LANGUAGE_CODE):
        for level in request.required_levels:
            recipients = [u for u in approvers_for(level, request.enterprise) if u.pk != request.submitted_by_id]
            subject = _("Exemption request %(ref)s awaits your approval") % {"ref": _ref(request)}
            body = "\n".join(
                [
                    _("An exemption from card-user real-name was filed and awaits a decision at the %(level)s level.")
                    % {"level": ApprovalLevel(level).label},
                    "",
                    _("Request: %(ref)s") % {"ref": _ref(request)},
                    _("Enterprise: %(name)s") % {"name": request.enterprise.name},
                    _("Cards: %(count)d") % {"count": request.cards.count()},
                    _("Rules: %(rules)s") % {"rules": ", ".join(request.rules)},
                    _("Approvals needed: %(levels)s") % {"levels": _levels_text(request.required_levels)},
                    "",
                    _("Open it: %(link)s") % {"link": _link("approvals:exemption_detail", request.public_id)},
                ]
            )
            sent += _to_outbox(recipients, subject, body, ref=f"exemption {request.pk}")
            # The inbox (issue 11 §3): everyone who may decide at this level, with an address or not;
            # the email above is the outbox's, so the notice sends none of its own.
            notify_all(
                [u for u in users_who_may(LEVEL_CAPABILITY[level], request) if u.pk != request.submitted_by_id],
                NoticeKind.REVIEW_WAITING,
                request,
                title=subject,
                body=body.split("\n")[0],
                link=path_for("approvals:exemption_detail", request.public_id),
                email=False,
            )
    return sent


def exemption_decided(request_id: int) -> int:
    request = ExemptionRequest.objects.select_related("enterprise", "submitted_by").filter(pk=request_id).first()
    if request is None or request.status not in (RequestStatus.APPROVED, RequestStatus.REJECTED):
        return 0
    with translation.override(settings.LANGUAGE_CODE):
        lines = [
            _("Your exemption request %(ref)s was %(status)s.")
            % {"ref": _ref(request), "status": RequestStatus(request.status).label.lower()},
            "",
            _("Enterprise: %(name)s") % {"name": request.enterprise.name},
            _("Cards: %(count)d") % {"count": request.cards.count()},
        ]
        for decision in request.decisions.all():
            verdict = _("approved") if decision.approved else _("rejected")
            line = _("%(level)s: %(verdict)s on %(at)s") % {
                "level": ApprovalLevel(decision.level).label,
                "verdict": verdict,
                "at": decision.decided_at.strftime("%Y-%m-%d %H:%M"),
            }
            if decision.comment:
                line += " (" + _("comment: %(comment)s") % {"comment": scrub(decision.comment)} + ")"
            lines.append(line)
        if request.status == RequestStatus.APPROVED:
            lines += ["", _("The covered cards can now be activated without card-user real-name.")]
        lines += ["", _("Open it: %(link)s") % {"link": _link("approvals:exemption_detail", request.public_id)}]
        subject = _("Exemption request %(ref)s: %(status)s") % {
            "ref": _ref(request),
            "status": RequestStatus(request.status).label,
        }
        notify(
            request.submitted_by,
            NoticeKind.DECISION,
            request,
            title=subject,
            body=lines[0],
            link=path_for("approvals:exemption_detail", request.public_id),
            email=False,
        )
        return _to_outbox([request.submitted_by], subject, "\n".join(lines), ref=f"exemption {request.pk}")


# --- change requests (E3, P4) ------------------------------------------------


def change_request_filed(change_request_id: int) -> int:
    change_request = ChangeRequest.objects.select_related("enterprise").filter(pk=change_request_id).first()
    if change_request is None:
        return 0
    recipients = [
        u
        for u in approvers_for(ApprovalLevel.PROVINCE, change_request.enterprise)
        if u.pk != change_request.submitted_by_id
    ]
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("Change request %(ref)s awaits your approval") % {"ref": _ref(change_request)}
        body = "\n".join(
            [
                _("A change of real-name data awaits your decision: %(target)s.")
                % {"target": change_request.get_target_display()},
                "",
                _("Enterprise: %(name)s") % {"name": change_request.enterprise.name},
                _("Open it: %(link)s") % {"link": _link("approvals:change_request_detail", change_request.public_id)},
            ]
        )
        notify_all(
            [
                u
                for u in users_who_may(Capability.DECIDE_PROVINCE, change_request)
                if u.pk != change_request.submitted_by_id
            ],
            NoticeKind.REVIEW_WAITING,
            change_request,
            title=subject,
            body=body.split("\n")[0],
            link=path_for("approvals:change_request_detail", change_request.public_id),
            email=False,
        )
        return _to_outbox(recipients, subject, body, ref=f"change request {change_request.pk}")


def change_request_decided(change_request_id: int) -> int:
    change_request = (
        ChangeRequest.objects.select_related("enterprise", "submitted_by").filter(pk=change_request_id).first()
    )
    if change_request is None or change_request.status not in (
        ChangeRequestStatus.APPROVED,
        ChangeRequestStatus.REJECTED,
    ):
        return 0
    with translation.override(settings.LANGUAGE_CODE):
        approved = change_request.status == ChangeRequestStatus.APPROVED
        lines = [
            _("Your change request %(ref)s (%(target)s) was %(status)s.")
            % {
                "ref": _ref(change_request),
                "target": change_request.get_target_display(),
                "status": _("approved") if approved else _("rejected"),
            },
            "",
            _("Enterprise: %(name)s") % {"name": change_request.enterprise.name},
        ]
        if change_request.decision_comment:
            lines.append(_("Comment: %(comment)s") % {"comment": scrub(change_request.decision_comment)})
        if approved:
            lines.append(_("The record now holds the new data; the previous data is kept in its history."))
        subject = _("Change request %(ref)s: %(status)s") % {
            "ref": _ref(change_request),
            "status": _("approved") if approved else _("rejected"),
        }
        notify(
            change_request.submitted_by,
            NoticeKind.DECISION,
            change_request,
            title=subject,
            body=lines[0],
            link=path_for("approvals:change_request_detail", change_request.public_id),
            email=False,
        )
        return _to_outbox(
            [change_request.submitted_by], subject, "\n".join(lines), ref=f"change request {change_request.pk}"
        )


def _ref(obj) -> str:
    return str(obj.public_id)[:8].upper()


def queue(function, object_id: int) -> int:
    """Write a notification's messages to the outbox now, in the caller's transaction (they are
    sent once it commits). Returns how many messages were written."""
    return function(object_id)


def change_request_submitted(*, change_request) -> int:
    """Receiver of enterprises.hooks.change_request_submitted: the province's approvers are told."""
    return queue(change_request_filed, change_request.pk)
