"""Orders: the business done on an enterprise's cards, with its handler (H1-H3). Only these write orders.

`order_create` checks everything before it writes anything: who files it, the
business type, the cards and whether the business allows their state, the
parameters of the business, the handler's ID document and the photos. A
refused order leaves no row and no file behind.

H3: new installation, ownership transfer, real-name supplementary
registration and card replacement need the handler's live photo. Such an
order waits (awaiting_verification) for the face comparison of the live photo
against the handler's ID photo; verification.services calls
`order_handler_verified` when the comparison passes or a reviewer approves,
and `order_handler_declined` when a reviewer declines. Every other business
completes at once; a live photo given for it is stored but not compared.

Completing an order applies its effect to every card in one transaction with
the order (cards.inventory.services does the card transitions and writes the card
events, each pointing at the order). It is the only way a card changes (H2):
the transitions refuse to run outside the order they belong to. Completion
locks all the order's cards up front, in primary-key order (cards.locks).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models.fields.files import FieldFile
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.permissions import Capability, actor_user, require
from accounts.services import audit_record
from cards.errors import RealnameRequired
from cards.inventory import services as card_services
from cards.inventory.services import realname_satisfied
from cards.locks import lock_cards
from cards.models import (
    BUSINESSES,
    RESUME,
    SUSPEND,
    BusinessType,
    Card,
    CardStatus,
    Order,
    OrderCard,
    OrderStatus,
    Package,
    is_face_gated,
)
from cards.orders.handlers import CleanHandler, HandlerData, handler_clean, handler_get_or_create
from cards.orders.policy import PermissionText, order_needs_fresh_documents
from cards.orders.presentation import fresh_credential_message
from cards.orders.selectors import order_latest_verification, order_lines
from cards.rules import CardFacts, Decision, Exemption, ServiceLevel, evaluate, is_149_segment
from cards.validation import validate_iccid, validate_number_range
from core.errors import (
    Conflict,
    DomainError,
    InvalidTransition,
    ValidationFailed,
)
from core.files import StoredFiles, atomic_with_files
from core.uploads import CleanUpload, sanitize_upload
from enterprises.models import Enterprise
from enterprises.selectors import enterprises_visible_to
from enterprises.services import enterprise_upload_documents
from integrations.webhooks.models import EventType
from integrations.webhooks.payloads import emit_event
from verification.models import LivenessSource, Verification, VerificationPurpose, VerificationStatus
from verification.services import verification_create, verification_retake, verification_send_to_review

ORDER_MAX_CARDS = 1000
SERVICE_LEVELS = frozenset(level.value for level in ServiceLevel)

MSG_LIVE_PHOTO_REQUIRED = _(
    "This business needs a live photo of the handler (rule H3): new installation, ownership transfer, "
    "real-name supplementary registration and card replacement are completed only after the handler's live "
    "photo has been compared with the photo of the handler's ID."
)
MSG_FRESH_RESPONSIBLE = _(
    "The enterprise is already registered: this later business needs a fresh photo of the responsible person's "
    "original ID (rule P3). Nothing else is entered again, but that photo is required at every later business."
)


# --- checking the input -----------------------------------------------------


def parse_iccid_list(text: str) -> list[str]:
    """ICCIDs typed or pasted into a box: separated by spaces, new lines, commas or semicolons."""
    separators = ",;，；、"
    for separator in separators:
        text = (text or "").replace(separator, " ")
    return (text or "").split()


def _business_type(value: str) -> str:
    if not isinstance(value, str) or value not in BUSINESSES:
        raise ValidationFailed(_("Choose a business type."), code="invalid_business_type", field="business_type")
    return value


def _not_in_enterprise(iccid: str) -> ValidationFailed:
    # Unknown cards and other enterprises' cards get the same answer: nothing is learned about others.
    return ValidationFailed(
        _("Card %(iccid)s does not belong to this enterprise.") % {"iccid": iccid},
        code="wrong_enterprise",
        field="cards",
    )


def order_resolve_cards(*, enterprise: Enterprise, business_type: str, cards: Iterable[Card | str]) -> list[Card]:
    """The order's cards (Card objects or ICCIDs), fresh from the database, in the order given.

    They must belong to the enterprise, be in a state the business allows, and not be part of
    another order that is still waiting for its handler's face comparison.
    """
    business_type = _business_type(business_type)
    wanted: list[str] = []
    for item in cards or ():
        if isinstance(item, Card):
            if item.enterprise_id != enterprise.pk:
                raise _not_in_enterprise(item.iccid)
            iccid = item.iccid
        else:
            raw = str(item or "").strip()
            if not raw:
                continue
            try:
                iccid = validate_iccid(raw, field="cards")
            except ValidationFailed as exc:
                raise ValidationFailed(
                    _("%(iccid)s: %(error)s") % {"iccid": raw[:24], "error": exc.message}, code=exc.code, field="cards"
                ) from exc
        if iccid not in wanted:
            wanted.append(iccid)
    if not wanted:
        raise ValidationFailed(_("Choose at least one card."), code="required", field="cards")
    if len(wanted) > ORDER_MAX_CARDS:
        raise ValidationFailed(
            _("An order may list at most %(max)d cards.") % {"max": ORDER_MAX_CARDS}, code="too_many", field="cards"
        )
    found = {
        card.iccid: card
        for card in Card.objects.filter(enterprise=enterprise, iccid__in=wanted).select_related("package", "enterprise")
    }
    result = []
    business = BUSINESSES[business_type]
    for iccid in wanted:
        card = found.get(iccid)
        if card is None:
            raise _not_in_enterprise(iccid)
        if card.status not in business.card_statuses:
            raise ValidationFailed(
                _("Card %(iccid)s is %(status)s: it cannot be part of a %(business)s order.")
                % {"iccid": iccid, "status": card.get_status_display(), "business": business.label},
                code="invalid_card_status",
                field="cards",
            )
        result.append(card)
    refuse_cards_in_pending_orders(result)
    return result


def refuse_cards_in_pending_orders(cards: Sequence[Card]) -> None:
    pending = (
        OrderCard.objects.filter(card__in=cards, order__status=OrderStatus.AWAITING_VERIFICATION)
        .select_related("card", "order")
        .first()
    )
    if pending is not None:
        raise Conflict(
            _("Card %(iccid)s is already part of order %(number)s, which waits for its handler's face comparison.")
            % {"iccid": pending.card.iccid, "number": pending.order.number},
            code="card_in_pending_order",
            field="cards",
        )


@dataclass(frozen=True)
class CleanParameters:
    stored: dict[str, Any]  # what Order.parameters keeps (JSON, no personal data)
    target_enterprise: Enterprise | None = None
    package: Package | None = None
    new_iccids: dict[str, str] = field(default_factory=dict)


def _clean_transfer(actor: User, enterprise: Enterprise, params: dict[str, Any]) -> CleanParameters:
    raw = str(params.get("target_enterprise") or "").strip()
    if not raw:
        raise ValidationFailed(
            _("Choose the enterprise the cards are transferred to."), code="required", field="target_enterprise"
        )
    try:
        key = uuid.UUID(raw)
    except ValueError:
        key = None
    target = enterprises_visible_to(actor).filter(public_id=key).first() if key else None
    if target is None:
        raise ValidationFailed(
            _("The enterprise to transfer to does not exist or you have no access to it."),
            code="unknown_target_enterprise",
            field="target_enterprise",
        )
    if target.pk == enterprise.pk:
        raise ValidationFailed(
            _("The cards already belong to this enterprise: choose another one to transfer them to."),
            code="same_enterprise",
            field="target_enterprise",
        )
    return CleanParameters(stored={"target_enterprise": str(target.public_id)}, target_enterprise=target)


def _clean_replacement(cards: Sequence[Card], params: dict[str, Any]) -> CleanParameters:
    mapping = params.get("new_iccids")
    if not isinstance(mapping, dict) or not mapping:
        raise ValidationFailed(
            _("Give the new ICCID of every card that is replaced."), code="required", field="new_iccids"
        )
    by_old = {str(old).strip(): new for old, new in mapping.items()}
    own = {card.iccid for card in cards}
    for old in by_old:
        if old not in own:
            raise ValidationFailed(
                _("%(iccid)s is not one of this order's cards.") % {"iccid": old[:24]},
                code="unexpected_card",
                field="new_iccids",
            )
    new_iccids: dict[str, str] = {}
    # An order's cards are all its enterprise's: its range is looked up once.
    owner = cards[0].enterprise if cards else None
    for card in cards:
        raw = by_old.get(card.iccid)
        if not str(raw or "").strip():
            raise ValidationFailed(
                _("Give the new ICCID for card %(iccid)s.") % {"iccid": card.iccid}, code="required", field="new_iccids"
            )
        try:
            new = validate_iccid(str(raw), field="new_iccids")
        except ValidationFailed as exc:
            raise ValidationFailed(
                _("New ICCID for card %(iccid)s: %(error)s") % {"iccid": card.iccid, "error": exc.message},
                code=exc.code,
                field="new_iccids",
            ) from exc
        # Before the look-up of taken ICCIDs: a sandbox's order learns nothing of real cards.
        validate_number_range(owner, new, card.msisdn, iccid_field="new_iccids")
        if new in new_iccids.values():
            raise ValidationFailed(
                _("The new ICCID %(iccid)s is given twice.") % {"iccid": new},
                code="duplicate_iccid",
                field="new_iccids",
            )
        new_iccids[card.iccid] = new
    taken = set(Card.objects.filter(iccid__in=new_iccids.values()).values_list("iccid", flat=True))
    taken |= set(
        OrderCard.objects.filter(
            new_iccid__in=new_iccids.values(), order__status=OrderStatus.AWAITING_VERIFICATION
        ).values_list("new_iccid", flat=True)
    )
    for new in new_iccids.values():
        if new in taken:
            raise ValidationFailed(
                _("A card with the ICCID %(iccid)s already exists.") % {"iccid": new},
                code="duplicate_iccid",
                field="new_iccids",
            )
    return CleanParameters(stored={"new_iccids": new_iccids}, new_iccids=new_iccids)


def _realname_refusal(card: Card, decision: Decision) -> RealnameRequired:
    if decision.exemption == Exemption.NONE_POSSIBLE:
        message = _(
            "Card %(iccid)s would need the card user's real-name with face recognition (rules %(rules)s), "
            "which it does not have. No exemption is possible. Nothing was changed."
        )
    else:
        message = _(
            "Card %(iccid)s would need the card user's real-name with face recognition (rules %(rules)s), "
            "or an approved exemption; it has neither. Nothing was changed."
        )
    return RealnameRequired(
        message % {"iccid": card.iccid, "rules": ", ".join(decision.rules)}, decision=decision, field="cards"
    )


def _clean_service_change(cards: Sequence[Card], params: dict[str, Any]) -> CleanParameters:
    stored: dict[str, str] = {}
    for key in ("data", "voice", "sms"):
        value = params.get(key)
        if value in (None, ""):
            continue
        if value not in SERVICE_LEVELS:
            raise ValidationFailed(_("Choose none, directed or non-directed."), code="invalid_level", field=key)
        stored[key] = str(value)
    package = None
    code = str(params.get("package") or "").strip()
    if code:
        package = Package.objects.filter(code=code, is_active=True).first()
        if package is None:
            raise ValidationFailed(
                _("There is no available package with this code."), code="unknown_package", field="package"
            )
        stored["package"] = package.code
    if not stored:
        raise ValidationFailed(
            _("Choose the new data, voice or SMS service, or the new package."), code="required", field="data"
        )
    # U5 up front: an order that cannot complete for every card is refused whole.
    for card in cards:
        facts = CardFacts(
            segment_149=is_149_segment(card.msisdn),
            data=ServiceLevel(stored.get("data", card.data_service)),
            voice=ServiceLevel(stored.get("voice", card.voice_service)),
            sms=ServiceLevel(stored.get("sms", card.sms_service)),
            test_package=(package or card.package).is_test_package,
        )
        decision = evaluate(facts)
        if card.status in (CardStatus.ACTIVE, CardStatus.SUSPENDED) and not realname_satisfied(card, decision)[0]:
            raise _realname_refusal(card, decision)
    return CleanParameters(stored=stored, package=package)


def _clean_suspend_resume(cards: Sequence[Card], params: dict[str, Any]) -> CleanParameters:
    action = params.get("action")
    actions = BUSINESSES[BusinessType.SUSPEND_RESUME].actions
    if not isinstance(action, str) or action not in actions:
        raise ValidationFailed(_("Choose suspend or resume."), code="invalid_action", field="action")
    for card in cards:
        if card.status not in actions[action]:
            message = (
                _("Card %(iccid)s is %(status)s: only an active card can be suspended.")
                if action == SUSPEND
                else _("Card %(iccid)s is %(status)s: only a suspended card can be resumed.")
            )
            raise ValidationFailed(
                message % {"iccid": card.iccid, "status": card.get_status_display()},
                code="invalid_card_status",
                field="cards",
            )
        if action == RESUME:
            decision = card.realname_decision
            if not realname_satisfied(card, decision)[0]:
                raise _realname_refusal(card, decision)
    return CleanParameters(stored={"action": action})


def order_clean_parameters(
    *, actor: User, enterprise: Enterprise, business_type: str, cards: Sequence[Card], parameters: object
) -> CleanParameters:
    """The parameters each business needs, checked; unknown keys are refused."""
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise ValidationFailed(_("The parameters must be an object."), code="invalid", field="parameters")
    for key in parameters:
        if key not in BUSINESSES[business_type].parameters and parameters[key] not in (None, "", {}, []):
            raise ValidationFailed(
                _("%(name)s is not a parameter of this business.") % {"name": str(key)[:40]},
                code="unexpected_parameter",
                field=str(key)[:40],
            )
    if business_type == BusinessType.OWNERSHIP_TRANSFER:
        return _clean_transfer(actor, enterprise, parameters)
    if business_type == BusinessType.CARD_REPLACEMENT:
        return _clean_replacement(cards, parameters)
    if business_type == BusinessType.SERVICE_CHANGE:
        return _clean_service_change(cards, parameters)
    if business_type == BusinessType.SUSPEND_RESUME:
        return _clean_suspend_resume(cards, parameters)
    return CleanParameters(stored={})


def _files(value: object) -> list[Any]:  # nothing, one upload or a list of them, as a form or the API gives
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return [item for item in value if item]
    return [value]


def _require_fresh_documents(
    enterprise: Enterprise, credential_files: list[UploadedFile], responsible_files: list[UploadedFile]
) -> None:
    if not credential_files:
        raise ValidationFailed(
            fresh_credential_message(enterprise), code="fresh_photo_required", field="credential_photo"
        )
    if not responsible_files:
        raise ValidationFailed(MSG_FRESH_RESPONSIBLE, code="fresh_photo_required", field="responsible_id_photo")


# --- writing ----------------------------------------------------------------

_NUMBER_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud on the phone


def _new_number() -> str:
    day = timezone.localdate().strftime("%Y%m%d")
    return "ORD" + day + "".join(secrets.choice(_NUMBER_ALPHABET) for _ in range(6))


def _store(stored: StoredFiles, field_file: FieldFile, name: str, upload: CleanUpload) -> None:
    stored.save(field_file, name, upload.content)


def _save_numbered(order: Order) -> None:
    for attempt in range(8):
        order.number = _new_number()
        try:
            with transaction.atomic():
                order.save()
            return
        except IntegrityError:
            # Only a clash of the random part is retried; any other integrity error is real.
            if attempt == 7 or not Order.objects.filter(number=order.number).exists():
                raise


def order_create(
    *,
    actor: User,
    enterprise: Enterprise,
    business_type: str,
    cards: Iterable[Card | str],
    handler: HandlerData,
    handler_id_photo: object,
    handler_live_photo: object = None,
    parameters: dict[str, Any] | None = None,
    credential_photo: object = None,
    responsible_id_photo: object = None,
    review_required: bool = False,
    liveness: str = "",
    liveness_frames: Sequence[bytes] = (),
    retake_offered: bool = False,
) -> Order:
    """File an order (H1-H3). Face-gated businesses wait for the comparison; others complete now.

    `review_required`, `liveness`, `liveness_frames`: how the handler's live photo came (a live capture's
    outcome, or one fallback photo that proves no presence) as verification_create takes them.
    `retake_offered`: the handler stands at the counter, so a clear mismatch waits for a retake or for the
    manager to send it to a reviewer (issue 11 §1.2), instead of going to a reviewer at once.

    `cards` are Card objects or ICCIDs of the enterprise.

    E2, P3 (对已经建立过实名信息的客户，后期办理业务时只需上传证件原件照片): the
    enterprise's first business (首次开通) is its registration, whose credential and
    responsible-person ID photos were just uploaded with the record; the first order the
    enterprise ever files belongs to it. Every later order, that is any order of an enterprise
    that already has an order (whatever became of it), is later business: it must bring a fresh
    photo of the original credential (the letter with the seal for a letter unit) as
    `credential_photo` and a fresh photo of the responsible person's original ID as
    `responsible_id_photo`. Photos given with the first order are taken too. Each is stored as a
    new document version that names the order number.
    """

    require(actor, Capability.ORDERS_FILE, enterprise, message=PermissionText.CREATE)
    business_type = _business_type(business_type)
    gated = is_face_gated(business_type)
    card_list = order_resolve_cards(enterprise=enterprise, business_type=business_type, cards=cards)
    params = order_clean_parameters(
        actor=actor, enterprise=enterprise, business_type=business_type, cards=card_list, parameters=parameters
    )
    clean_handler: CleanHandler = handler_clean(enterprise=enterprise, data=handler)

    id_photos = _files(handler_id_photo)
    live_photos = _files(handler_live_photo)
    if not id_photos:
        raise ValidationFailed(_("Upload a photo of the handler's ID."), code="required", field="handler_id_photo")
    if gated and not live_photos:
        raise ValidationFailed(MSG_LIVE_PHOTO_REQUIRED, code="live_photo_required", field="handler_live_photo")
    if len(id_photos) > 1 or len(live_photos) > 1:
        raise ValidationFailed(
            _("Upload one photo."),
            code="too_many",
            field="handler_id_photo" if len(id_photos) > 1 else "handler_live_photo",
        )
    id_clean = sanitize_upload(id_photos[0], field="handler_id_photo")
    live_clean = sanitize_upload(live_photos[0], field="handler_live_photo") if live_photos else None
    credential_files = _files(credential_photo)
    responsible_files = _files(responsible_id_photo)
    # Checked here so that a bad document refuses the order before anything is written.
    for upload in credential_files:
        sanitize_upload(upload, allow_pdf=not enterprise.requires_number, field="credential_photo")
    for upload in responsible_files:
        sanitize_upload(upload, field="responsible_id_photo")
    complete_documents = bool(credential_files and responsible_files)
    if not complete_documents and order_needs_fresh_documents(enterprise):
        _require_fresh_documents(enterprise, credential_files, responsible_files)

    with atomic_with_files() as stored:
        # One order of an enterprise at a time (the enterprise row, locked before any card): under it
        # are decided, again, whether this is a later business (two first orders filed at once must
        # not both count as the first) and that no card is in another order still waiting for its
        # face comparison (two filings must not both pass that check); the document versions are
        # numbered under it too.
        Enterprise.objects.select_for_update(of=("self",), no_key=True).get(pk=enterprise.pk)
        if not complete_documents and order_needs_fresh_documents(enterprise):
            _require_fresh_documents(enterprise, credential_files, responsible_files)
        refuse_cards_in_pending_orders(card_list)
        handler_row, handler_created = handler_get_or_create(actor=actor, enterprise=enterprise, clean=clean_handler)
        # A business without the face gate is completed below, in this same transaction.
        order = Order(
            enterprise=enterprise,
            business_type=business_type,
            status=OrderStatus.AWAITING_VERIFICATION,
            handler=handler_row,
            parameters=params.stored,
            created_by=actor_user(actor),
        )
        _store(stored, order.handler_id_photo, f"{order.public_id}-id{id_clean.extension}", id_clean)
        if live_clean is not None:
            _store(stored, order.handler_live_photo, f"{order.public_id}-live{live_clean.extension}", live_clean)
        _save_numbered(order)
        OrderCard.objects.bulk_create(
            [
                OrderCard(
                    order=order,
                    card=card,
                    previous_iccid=card.iccid if card.iccid in params.new_iccids else "",
                    new_iccid=params.new_iccids.get(card.iccid, ""),
                )
                for card in card_list
            ]
        )
        audit_record(
            actor=actor,
            action="order.created",
            obj=order,
            data={
                "number": order.number,
                "business_type": business_type,
                "cards": len(card_list),
                "handler": handler_row.pk,
                "returning_handler": not handler_created,
                "live_photo": live_clean is not None,
                "face_gated": gated,
            },
        )
        if gated:
            assert live_clean is not None  # a face-gated order was refused above without a live photo
            verification = verification_create(
                actor=actor,
                purpose=VerificationPurpose.HANDLER,
                enterprise=enterprise,
                id_photo=id_clean,
                live_photo=live_clean,
                order=order,
                review_required=review_required,
                liveness=liveness,
                liveness_frames=liveness_frames,
                retake_offered=retake_offered,
            )
            audit_record(
                actor=actor,
                action="order.awaiting_verification",
                obj=order,
                data={"verification": str(verification.public_id)},
            )
        if credential_files or responsible_files:
            enterprise_upload_documents(
                actor=actor,
                enterprise=enterprise,
                credential_files=credential_files,
                responsible_id_files=responsible_files,
                business_reference=order.number,
            )
        if not gated:
            order = order_complete(order=order, actor=actor)
    return order


def _apply(line: OrderCard, order: Order, actor: User | None) -> None:
    """The effect of the order on one card; cards.inventory.services checks and records the transition."""
    card = line.card
    business = order.business_type
    params = order.parameters or {}
    detail: dict[str, Any] = {}
    if business == BusinessType.NEW_INSTALLATION:
        card, refusal = card_services.card_activate_or_await(actor=actor, card=card, order=order)
        if refusal is None:
            outcome = "activated"
        else:
            # U5: the card waits for its user's real-name; the order itself is done.
            outcome = "awaiting_realname"
            detail = {
                "rules": list(refusal.decision.rules),
                "exemption": refusal.decision.exemption.value if refusal.decision.exemption else None,
            }
    elif business == BusinessType.OWNERSHIP_TRANSFER:
        target = Enterprise.objects.get(public_id=params["target_enterprise"])
        card = card_services.card_transfer(actor=actor, card=card, target_enterprise=target, order=order)
        outcome = "transferred"
    elif business == BusinessType.CARD_REPLACEMENT:
        card = card_services.card_replace(actor=actor, card=card, new_iccid=line.new_iccid, order=order)
        outcome = "replaced"
    elif business == BusinessType.SERVICE_CHANGE:
        package = Package.objects.get(code=params["package"]) if params.get("package") else None
        card = card_services.card_change_services(
            actor=actor,
            card=card,
            data=params.get("data"),
            voice=params.get("voice"),
            sms=params.get("sms"),
            package=package,
            order=order,
        )
        outcome = "services_changed"
    elif business == BusinessType.SUSPEND_RESUME:
        if params.get("action") == SUSPEND:
            card = card_services.card_suspend(actor=actor, card=card, order=order)
            outcome = "suspended"
        else:
            card = card_services.card_resume(actor=actor, card=card, order=order)
            outcome = "resumed"
    elif business == BusinessType.CANCELLATION:
        card = card_services.card_cancel(actor=actor, card=card, order=order)
        outcome = "cancelled"
    else:  # supplementary registration: the handler and documents are the record; the card stays as it is
        outcome = "registered"
    detail["status"] = card.status
    line.outcome = outcome
    line.outcome_detail = detail
    line.save(update_fields=["outcome", "outcome_detail"])


def order_complete(*, order: Order, actor: User | None) -> Order:
    """Apply the order to its cards and mark it completed, all in one transaction."""
    with transaction.atomic():
        locked = Order.objects.select_for_update(of=("self",)).get(pk=order.pk)
        if locked.status == OrderStatus.COMPLETED:
            return locked
        if locked.status != OrderStatus.AWAITING_VERIFICATION:
            raise InvalidTransition(
                _("This order is %(status)s and cannot be completed.") % {"status": locked.get_status_display()}
            )
        lines = list(order_lines(locked))
        # All the order's cards at once, in pk order (cards.locks): two orders that share cards
        # queue on the first shared card instead of each holding one the other needs.
        lock_cards(line.card_id for line in lines)
        outcomes: dict[str, int] = {}
        for line in lines:
            _apply(line, locked, actor)
            outcomes[line.outcome] = outcomes.get(line.outcome, 0) + 1
        locked.status = OrderStatus.COMPLETED
        locked.completed_at = timezone.now()
        locked.save(update_fields=["status", "completed_at"])
        audit_record(actor=actor, action="order.completed", obj=locked, data={"outcomes": outcomes})
        _emit_order_event(
            locked,
            EventType.ORDER_COMPLETED,
            outcomes=[{"outcome": outcome, "count": count} for outcome, count in sorted(outcomes.items())],
        )
    return locked


def _emit_order_event(order: Order, event_type: str, **fields: Any) -> None:
    """In the order's transaction: a completion rolled back (order_handler_verified's savepoint) emits nothing."""
    emit_event(
        order.enterprise,
        event_type,
        order=order.public_id,
        number=order.number,
        business_type=order.business_type,
        status=order.status,
        **fields,
    )


def _reject(order: Order, *, actor: User | None, reason: str, code: str) -> Order:
    order.status = OrderStatus.REJECTED
    order.rejection_reason = reason
    order.completed_at = timezone.now()
    order.save(update_fields=["status", "rejection_reason", "completed_at"])
    audit_record(actor=actor, action="order.rejected", obj=order, data={"code": code})
    _emit_order_event(order, EventType.ORDER_REFUSED, reason=code)
    return order


def order_handler_verified(*, order: Order, verification: Verification, actor: User | None) -> Order:
    """H3: the handler's comparison passed or a reviewer approved it; the order completes.

    Called by verification.services inside its transaction. If the cards can no longer take
    the business (changed meanwhile), the order is rejected with the reason instead, so the
    verification result is still recorded.
    """
    with transaction.atomic():
        locked = Order.objects.select_for_update(of=("self",)).get(pk=order.pk)
        if locked.status != OrderStatus.AWAITING_VERIFICATION:
            return locked
        audit_record(
            actor=actor,
            action="order.handler_verified",
            obj=locked,
            data={"verification": str(verification.public_id), "status": verification.status},
        )
        try:
            with transaction.atomic():
                return order_complete(order=locked, actor=actor)
        except DomainError as exc:
            locked.refresh_from_db()
            reason = _("The handler was verified, but the order could not be completed: %(error)s") % {
                "error": exc.message
            }
            return _reject(locked, actor=actor, reason=str(reason), code=exc.code)


def order_handler_declined(*, order: Order, verification: Verification, actor: User | None) -> Order:
    """H3: a reviewer declined the handler's comparison; the order is rejected with their reason."""
    with transaction.atomic():
        locked = Order.objects.select_for_update(of=("self",)).get(pk=order.pk)
        if locked.status != OrderStatus.AWAITING_VERIFICATION:
            return locked
        reason = (verification.review_comment or "").strip() or str(
            _("The reviewer declined the handler's face comparison.")
        )
        return _reject(locked, actor=actor, reason=reason, code="handler_declined")


def _replace_live_photo(stored: StoredFiles, order: Order, name: str, upload: CleanUpload) -> None:
    """The order keeps only its newest live photo: the one replaced is deleted once the transaction commits
    (the comparison it went to keeps a copy of its own)."""
    previous = order.handler_live_photo.name
    if previous:
        storage = order.handler_live_photo.storage
        transaction.on_commit(lambda: storage.delete(previous))
    _store(stored, order.handler_live_photo, name, upload)
    order.save(update_fields=["handler_live_photo"])


def order_retake_live_photo(*, actor: User, order: Order, handler_live_photo: object) -> Verification:
    """A comparison refused the live photo as unusable (no face, several faces...), or found a clear
    mismatch while the handler is at the counter (issue 11 §1.2): take it again."""

    require(actor, Capability.ORDERS_FILE, order.enterprise, message=PermissionText.CHANGE)
    photos = _files(handler_live_photo)
    if not photos:
        raise ValidationFailed(MSG_LIVE_PHOTO_REQUIRED, code="live_photo_required", field="handler_live_photo")
    live_clean = sanitize_upload(photos[0], field="handler_live_photo")
    with atomic_with_files() as stored:
        locked = Order.objects.select_for_update(of=("self",)).get(pk=order.pk)
        latest = order_latest_verification(locked)
        if (
            locked.status != OrderStatus.AWAITING_VERIFICATION
            or latest is None
            or latest.status not in (VerificationStatus.REJECTED, VerificationStatus.MISMATCH)
        ):
            raise InvalidTransition(
                _(
                    "A new live photo can only be taken when the last one was refused as unusable or did not "
                    "match the handler's ID photo."
                ),
                field="handler_live_photo",
            )
        if latest.status == VerificationStatus.MISMATCH:
            # The same comparison runs again with the new photo (verification_retake counts the retakes);
            # the order keeps only the newest live photo, as after an unusable one.
            attempt = latest.retakes + 2
            _replace_live_photo(
                stored, locked, f"{locked.public_id}-live-retake-{attempt}{live_clean.extension}", live_clean
            )
            retaken = verification_retake(verification=latest, actor=actor, live_photo=live_clean)
            audit_record(
                actor=actor,
                action="order.live_photo_retaken",
                obj=locked,
                data={"verification": str(retaken.public_id), "after": "mismatch"},
            )
            return retaken
        # The ID photo stays: it was sanitised when the order was filed.
        with locked.handler_id_photo.open("rb") as handle:
            id_content = handle.read()
        id_clean = CleanUpload(
            content=id_content,
            content_type="",
            extension=os.path.splitext(locked.handler_id_photo.name)[1] or ".jpg",
            width=None,
            height=None,
            sha256=hashlib.sha256(id_content).hexdigest(),
        )
        attempt = locked.verifications.count() + 1
        _replace_live_photo(stored, locked, f"{locked.public_id}-live-{attempt}{live_clean.extension}", live_clean)
        verification = verification_create(
            actor=actor,
            purpose=VerificationPurpose.HANDLER,
            enterprise=locked.enterprise,
            id_photo=id_clean,
            live_photo=live_clean,
            order=locked,
            # One photo, from a file or a plain camera shot: presence is not proven (issue 9 §3), so even a
            # match goes to a reviewer.
            review_required=True,
            liveness=LivenessSource.FALLBACK,
        )
        audit_record(
            actor=actor,
            action="order.live_photo_retaken",
            obj=locked,
            data={"verification": str(verification.public_id)},
        )
    return verification


def order_send_to_review(*, actor: User, order: Order) -> Verification:
    """The manager hands the handler's clear mismatch to a reviewer instead of retaking (issue 11 §1.2)."""
    require(actor, Capability.ORDERS_FILE, order.enterprise, message=PermissionText.CHANGE)
    with transaction.atomic():
        locked = Order.objects.select_for_update(of=("self",)).get(pk=order.pk)
        latest = order_latest_verification(locked)
        if locked.status != OrderStatus.AWAITING_VERIFICATION or latest is None:
            raise InvalidTransition(_("This order has no comparison to send to a reviewer."), code="not_mismatch")
        verification = verification_send_to_review(verification=latest, actor=actor)
        audit_record(
            actor=actor,
            action="order.sent_to_review",
            obj=locked,
            data={"verification": str(verification.public_id)},
        )
    return verification


def order_verification_settled(*, verification: Verification, actor: User | None) -> None:
    """Receiver of verification.hooks.verification_settled: the handler's comparison decides its order (H3)."""
    if verification.purpose != VerificationPurpose.HANDLER:
        return None
    assert verification.order is not None  # a handler's comparison is created with its order
    if verification.gate_open:
        order_handler_verified(order=verification.order, verification=verification, actor=actor)
    elif verification.status == VerificationStatus.DECLINED:
        order_handler_declined(order=verification.order, verification=verification, actor=actor)
    return None


__all__ = [
    "MSG_LIVE_PHOTO_REQUIRED",
    "order_send_to_review",
    "ORDER_MAX_CARDS",
    "CleanParameters",
    "order_clean_parameters",
    "order_complete",
    "order_create",
    "order_handler_declined",
    "order_handler_verified",
    "order_resolve_cards",
    "order_retake_live_photo",
    "order_verification_settled",
    "parse_iccid_list",
]
