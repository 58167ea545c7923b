"""The card user's phone flow behind a self-service link (C2, issue 9 §2): its state and its submit.

The state lives in the Django session, one entry per link (no login): the steps done so far, the cards
chosen, the identity typed, and the storage names of the photos already taken, so that a typo never throws
a photo away. Photos sit in the private (encrypted) storage under a name of the session's own, and are
removed when the session is submitted or expires. The server decides everything at submit: the same
service as the staff pages (card_user_register, U5/U6 and the five-card limit) with the link holder as actor.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from celery.result import AsyncResult
from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.pii import decrypt, encrypt
from cards.card_users.services import card_user_register, one_id_card_limit
from cards.models import (
    LIVE_CARD_STATUSES,
    Card,
    CardBinding,
    CardStatus,
    CardUser,
    Channel,
    RegistrationStatus,
    SelfServiceLink,
    SelfServiceLinkKind,
)
from cards.self_service.actors import LinkHolder
from cards.self_service.services import handover_claim_for_phone, handover_record, handover_refuse
from core.errors import DomainError, InvalidTransition, ValidationFailed
from core.uploads import UploadRejected, sanitize_upload
from integrations.webhooks.models import EventType
from integrations.webhooks.payloads import emit_event
from verification.capture import random_challenge
from verification.models import Verification
from verification.tasks import run_liveness_check

MAX_FRAMES = 15  # the capture script takes 8-15 frames (static/js/liveness_capture.js)

STEPS = ("consent", "cards", "identity", "id_photo", "live", "review")
PHOTO_FIELDS = ("id_photo", "live_photo")
PICK_LIST_MAX = 20  # a longer list is typed, not shown: the page names no card the person did not type

MSG_ALREADY_SUBMITTED = _("This registration has already been submitted. Its status is shown below.")
MSG_NOT_THE_LINKS = _(
    "%(value)s is not one of the cards of this link that await real-name registration. Check the number "
    "printed on the card or its packaging."
)
MSG_NO_CARD = _("Choose or type at least one card.")
MSG_TOO_MANY_CARDS = _("At most %(max)s cards can be registered to one ID.")
MSG_EXHAUSTED = _("This link has been used as many times as it allows.")
MSG_LOCKED = _(
    "The live capture failed too many times. Your registration will be checked by a reviewer; you need not try again."
)
MSG_FRAMES = _("The live capture did not arrive whole. Take it again.")


def _key(link: SelfServiceLink) -> str:
    return f"self_service:{link.public_id}"


def idle_lifetime() -> timedelta:
    return timedelta(minutes=settings.SELF_SERVICE_SESSION_IDLE_MINUTES)


def _storage():
    return storages["private"]


# --- the state -----------------------------------------------------------------------


def state_get(request, link: SelfServiceLink) -> dict | None:
    """This device's session for the link, or None (never started, or idle too long: then it is cleared).

    A submitted session never expires by idleness: its status page stays reachable from the same device.
    """
    state = request.session.get(_key(link))
    if state is None:
        return None
    seen = datetime.fromisoformat(state["seen"])
    if not state.get("submitted") and timezone.now() - seen > idle_lifetime():
        state_clear(request, link)
        return None
    return state


def state_start(request, link: SelfServiceLink) -> dict:
    state: dict = {"id": secrets.token_hex(16), "done": [], "cards": [], "submitted": None, "failures": 0}
    state_save(request, link, state)
    return state


def state_save(request, link: SelfServiceLink, state: dict) -> None:
    state["seen"] = timezone.now().isoformat()
    request.session[_key(link)] = state
    request.session.modified = True
    # A counter handover's desktop page follows the phone by this (the step only, on the link's row).
    handover_record(link, progress(state))


def progress(state: dict | None) -> str:
    """How far the session got, as the desktop of a handover shows it (services.HANDOVER_STEPS)."""
    if state is None:
        return "opened"
    if state.get("submitted"):
        return "submitted"
    done = [step for step in STEPS if step in state["done"]]
    if not done:
        return "opened"
    if len(done) >= len(STEPS) - 1:
        return "review"
    return done[-1]


def link_opened(link: SelfServiceLink) -> None:
    """The link's page was opened on a phone (before any session exists)."""
    handover_record(link, "opened")


def state_clear(request, link: SelfServiceLink) -> None:
    state = request.session.pop(_key(link), None)
    if state:
        _remove_photos(state)
    request.session.modified = True


def next_step(state: dict) -> str:
    """Where the session resumes: the first step not done yet ("review" once all are)."""
    for step in STEPS:
        if step not in state["done"]:
            return step
    return "review"


def step_done(state: dict, step: str) -> None:
    if step not in state["done"]:
        state["done"].append(step)


# The ID number waits in the session between the identity step and the submit, sealed with the keys of the
# encrypted fields: a session row is personal data at rest like any other (DESIGN, personal data), and a
# session store's dump or a debug page must not show it.
SEALED_ID_NUMBER = "id_number_sealed"


def identity_keep(state: dict, *, name: str, id_type: str, id_number: str) -> None:
    """The identity step's answers, kept until the submit: the ID number sealed, never in the clear."""
    state.update(name=name, id_type=id_type)
    state[SEALED_ID_NUMBER] = encrypt(id_number)


def _id_number(state: dict) -> str:
    sealed = state.get(SEALED_ID_NUMBER)
    # A session whose identity step ran before the number was sealed (at most the idle limit old) has it plain.
    return decrypt(sealed) if sealed else state["id_number"]


def may_open(state: dict, step: str) -> bool:
    """A step is open once every step before it is done: a later page cannot be reached by its URL."""
    return all(earlier in state["done"] for earlier in STEPS[: STEPS.index(step)])


# --- the cards -------------------------------------------------------------------------


def link_cards_awaiting(link: SelfServiceLink) -> QuerySet:
    """The cards this link covers that await real-name: its list, or else the enterprise's.

    A counter's handover names its cards itself (the order wizard's, often still in stock before a new
    installation): any of them that is live and has no registered user yet.
    """
    if link.kind == SelfServiceLinkKind.HANDOVER:
        return (
            link.cards.filter(status__in=LIVE_CARD_STATUSES)
            .exclude(pk__in=CardBinding.objects.filter(ended_at__isnull=True).values("card_id"))
            .order_by("iccid")
        )
    cards = link.enterprise.cards.filter(status=CardStatus.AWAITING_REALNAME)
    if link.cards.exists():
        cards = cards.filter(self_service_links=link)
    return cards.order_by("iccid")


def pick_list(link: SelfServiceLink) -> list:
    """The cards offered to pick from: only a link's own short list (an enterprise's whole stock is typed)."""
    if not link.cards.exists():
        return []
    cards = list(link_cards_awaiting(link)[: PICK_LIST_MAX + 1])
    return cards if len(cards) <= PICK_LIST_MAX else []


def cards_choose(link: SelfServiceLink, *, picked: list[str], typed: list[str]) -> list[int]:
    """The ids of the chosen cards; any value that is not one of the link's awaiting cards is refused."""
    awaiting = link_cards_awaiting(link)
    chosen: dict[int, None] = {}
    for field, values in (("cards", picked), ("typed", typed)):
        for value in values:
            card = awaiting.filter(Q(iccid=value) | Q(msisdn=value)).first()
            if card is None:
                raise ValidationFailed(MSG_NOT_THE_LINKS % {"value": value}, code="not_the_links", field=field)
            chosen[card.pk] = None
    if not chosen:
        raise ValidationFailed(MSG_NO_CARD, code="required", field="typed")
    # One ID holds at most this many live cards (U6): more can never pass.
    if len(chosen) > one_id_card_limit():
        raise ValidationFailed(MSG_TOO_MANY_CARDS % {"max": one_id_card_limit()}, code="too_many", field="typed")
    return list(chosen)


# --- the photos --------------------------------------------------------------------------


def photo_store(state: dict, field: str, upload) -> None:
    """Check and keep a photo (EXIF and all metadata gone) until submit; a new one replaces the old."""
    clean = sanitize_upload(upload, field=field)
    storage = _storage()
    name = storage.save(f"self_service/{state['id']}/{field}{clean.extension}", ContentFile(clean.content))
    previous = state.get(field)
    state[field] = name
    if previous and previous != name:
        storage.delete(previous)


def _photo_bytes(state: dict, field: str) -> bytes | None:
    name = state.get(field)
    if not name:
        return None
    with _storage().open(name, "rb") as handle:
        return handle.read()


def remove_session_files(state: dict) -> None:
    """Delete everything a session uploaded (its photos, a capture's frames): cleanup.sweep_abandoned."""
    _remove_photos(state)


def _remove_photos(state: dict) -> None:
    storage = _storage()
    for field in PHOTO_FIELDS:
        name = state.pop(field, None)
        if name and storage.exists(name):
            storage.delete(name)
    _remove_frames(state)
    _remove_review_frames(state)


# --- the live capture (issue 9 §3) -------------------------------------------------------


def challenge_for(state: dict) -> list[str]:
    """The session's challenge (verification.capture's, as the counter asks); kept until a capture
    settles, so that reloading the page does not change what is asked."""
    if not state.get("challenge"):
        state["challenge"] = random_challenge()
    return state["challenge"]


def frames_store(state: dict, uploads: list, timestamps: str) -> None:
    """Keep a capture's frames (re-encoded, metadata gone) where the faces-queue task reads them."""
    if not uploads or len(uploads) > MAX_FRAMES:
        raise ValidationFailed(MSG_FRAMES, code="frames", field="frames")
    try:
        times = [float(t) for t in timestamps.split(",")] if timestamps else None
    except ValueError:
        times = None
    if times is not None and len(times) != len(uploads):
        times = None
    _remove_frames(state)
    names: list[str] = []
    for index, upload in enumerate(uploads):
        try:
            clean = sanitize_upload(upload, field="frames")
        except UploadRejected:
            for name in names:
                default_storage.delete(name)
            raise
        names.append(
            default_storage.save(f"self_service/{state['id']}/frames/f{index:02d}.jpg", ContentFile(clean.content))
        )
    state["frames"], state["timestamps"] = names, times


def fallback_photo_taken(state: dict) -> None:
    """The live photo came from the file input: one photo proves no presence, so a reviewer looks, and no
    earlier capture's frames stand for it."""
    state["review_required"], state["liveness"] = True, "fallback"
    _remove_review_frames(state)


def _remove_review_frames(state: dict) -> None:
    for name in state.pop("review_frames", None) or []:
        if default_storage.exists(name):
            default_storage.delete(name)


def _review_frames_bytes(state: dict) -> list[bytes]:
    frames = []
    for name in state.get("review_frames") or []:
        if default_storage.exists(name):
            with default_storage.open(name, "rb") as handle:
                frames.append(handle.read())
    return frames


def _remove_frames(state: dict) -> None:
    for name in state.pop("frames", None) or []:
        if default_storage.exists(name):
            default_storage.delete(name)
    state.pop("timestamps", None)


def liveness_start(state: dict) -> None:
    """Send the check to the faces queue; an eager worker (tests, a single-process setup) answers at once."""
    try:
        result = run_liveness_check.delay(state["frames"], state.get("timestamps"), challenge_for(state))
    except Exception:  # the broker down: nothing proves presence, so a reviewer looks
        liveness_settle(state, {"outcome": "inconclusive", "reasons": [], "best_frame": None})
        return
    if result.ready():
        # Ready: get() does not wait. Celery's "never join inside a task" guard is one process-wide flag that
        # two eager tasks on two threads can leave set (celery.result.denied_join_result), which would turn
        # this page into a 500; it guards nothing here.
        liveness_settle(state, result.get(propagate=False, disable_sync_subtasks=False))
    else:
        state["liveness_task"] = result.id


def liveness_poll(state: dict) -> bool:
    """Whether the session's pending check has settled (its outcome is then in the state)."""
    task_id = state.get("liveness_task")
    if not task_id:
        return True
    result = AsyncResult(task_id)
    if not result.ready():
        return False
    liveness_settle(state, result.get(propagate=False, disable_sync_subtasks=False))  # ready: see liveness_start
    return True


def liveness_settle(state: dict, result) -> None:
    """Pass: the most frontal frame is the live photo of the comparison. Fail: a retake, with the reasons,
    until the session locks (then a reviewer looks). Inconclusive (or a check that broke): a reviewer looks."""
    state.pop("liveness_task", None)
    if not isinstance(result, dict):
        result = {"outcome": "inconclusive", "reasons": [], "best_frame": None}
    outcome, frames = result.get("outcome"), state.get("frames") or []
    state["liveness_reasons"] = [str(r.get("message", "")) for r in result.get("reasons") or []]
    if outcome == "fail":
        state["failures"] = state.get("failures", 0) + 1
        if state["failures"] < settings.SELF_SERVICE_MAX_FAILED_CAPTURES or not frames:
            state.pop("challenge", None)
            _remove_frames(state)
            return
        state["locked"] = True
    best = result.get("best_frame")
    index = best if isinstance(best, int) and 0 <= best < len(frames) else 0
    if frames:
        with default_storage.open(frames[index], "rb") as handle:
            photo_store(state, "live_photo", handle.read())
    state["review_required"] = outcome != "pass" or bool(state.get("locked"))
    state["liveness"] = "fail" if state.get("locked") else outcome
    _remove_review_frames(state)
    if state["review_required"] and frames:
        # A capture that proved no presence: its frames stay, for the reviewer to see side by side.
        state["review_frames"] = state.pop("frames")
        state.pop("timestamps", None)
    _remove_frames(state)
    if state.get("live_photo"):
        step_done(state, "live")


# --- submit and status ----------------------------------------------------------------


def _use_link(link: SelfServiceLink) -> None:
    """Count one use, atomically: a link whose last use another phone just took refuses this one."""
    used = SelfServiceLink.objects.filter(
        pk=link.pk, revoked_at__isnull=True, expires_at__gt=timezone.now(), uses__lt=F("max_uses")
    ).update(uses=F("uses") + 1)
    if not used:
        raise InvalidTransition(MSG_EXHAUSTED, code="link_exhausted")
    # The use that took the last one says so, once, in the submit's transaction (a refused submit rolls
    # the use and the event back). A counter handover is single use by design: nothing to renew.
    fresh = SelfServiceLink.objects.select_related("enterprise").get(pk=link.pk)
    if fresh.uses >= fresh.max_uses and fresh.kind == SelfServiceLinkKind.LINK:
        emit_event(
            fresh.enterprise,
            EventType.SELF_SERVICE_LINK_EXHAUSTED,
            self_service_link=fresh.public_id,
            max_uses=fresh.max_uses,
            uses=fresh.uses,
        )


def phone_submit(request, link: SelfServiceLink, state: dict) -> dict:
    """Register the card user from the session, once: the session ends as submitted, or refused with the reason.

    The single use is an atomic add in the shared cache, keyed by the session: a second submit (a double tap,
    the same page in two tabs) is refused whatever the timing.
    """
    if state.get("submitted") or not cache.add(f"self_service:submit:{state['id']}", 1, timeout=86400):
        raise InvalidTransition(MSG_ALREADY_SUBMITTED, code="already_submitted")
    try:
        with transaction.atomic():
            # A handover completes on one side only: the counter may have taken it back a moment ago.
            handover_claim_for_phone(link)
            _use_link(link)
            verification = card_user_register(
                # The services take any actor of the table; their annotations still name User.
                actor=LinkHolder(link),  # type: ignore[arg-type]
                enterprise=link.enterprise,
                name=state["name"],
                id_type=state["id_type"],
                id_number=_id_number(state),
                id_photo=_photo_bytes(state, "id_photo"),
                live_photo=_photo_bytes(state, "live_photo"),
                biometric_consent="consent" in state["done"],
                cards=list(Card.objects.filter(pk__in=state["cards"])),
                channel=Channel.SELF_SERVICE,
                # Only a passed liveness check proves presence; the file-input photo, an inconclusive check
                # and a locked session go to a reviewer.
                review_required=state.get("review_required", True),
                liveness=state.get("liveness", ""),
                liveness_frames=_review_frames_bytes(state),
            )
    except DomainError as exc:
        state["submitted"] = {"refused": str(exc.message), "code": exc.code}
        # After the rollback: a counter's handover must not wait on a phone that can no longer submit.
        handover_refuse(link, exc.code)
    else:
        card_user = verification.card_user  # always set for a card user's comparison
        state["submitted"] = {"card_user": str(card_user.public_id) if card_user else ""}
        handover_record(link, "submitted", card_user=card_user)
    # What identifies the person leaves the session; the registration holds it now (or nothing does).
    for field in ("name", SEALED_ID_NUMBER, "id_number"):
        state.pop(field, None)
    _remove_photos(state)
    state_save(request, link, state)
    return state


def phone_status(state: dict) -> dict:
    """What the status page says: the registration's status, and the reasons where there are any."""
    submitted = state.get("submitted") or {}
    if "refused" in submitted:
        return {"status": "refused", "reasons": [submitted["refused"]]}
    public_id = submitted.get("card_user")
    card_user = CardUser.objects.filter(public_id=public_id).first() if public_id else None
    if card_user is None:
        return {"status": "refused", "reasons": []}
    status = card_user.registration_status
    reasons: list[str] = []
    if status == RegistrationStatus.NEEDS_NEW_PHOTO:
        verification = Verification.objects.filter(card_user=card_user).order_by("-pk").first()
        reasons = [str(r.get("message", "")) for r in (verification.reasons if verification else []) if r]
        return {"status": "needs_new_photo", "reasons": reasons}
    if status in (RegistrationStatus.SUBMITTED, RegistrationStatus.IN_REVIEW, RegistrationStatus.REGISTERED):
        return {"status": status, "reasons": reasons}
    return {"status": "refused", "reasons": [str(card_user.get_registration_status_display())]}


__all__ = [
    "SEALED_ID_NUMBER",
    "STEPS",
    "cards_choose",
    "fallback_photo_taken",
    "identity_keep",
    "link_cards_awaiting",
    "link_opened",
    "may_open",
    "next_step",
    "phone_status",
    "phone_submit",
    "photo_store",
    "progress",
    "remove_session_files",
    "pick_list",
    "state_clear",
    "state_get",
    "state_save",
    "state_start",
    "step_done",
]
