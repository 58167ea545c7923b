"""Card lifecycle and the real-name rules that guard it (U0–U6). Only these functions write cards.

Each transition locks the card row, checks the current state, sets the new
one and writes a CardEvent, in one transaction. A transition is a step of an
order (H2): the order's service authorised its actor when the order was filed
(Capability.ORDERS_FILE), and a step may run later as the reviewer or the system
when a face comparison is decided, so the transitions do not ask the table again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.permissions import Capability, actor_user, require
from cards import hooks
from cards.errors import OrderRequired, RealnameRequired
from cards.inventory.tallies import card_tally_settle, cards_tally_settle
from cards.locks import lock_card, lock_cards
from cards.models import (
    BUSINESSES,
    LIVE_CARD_STATUSES,
    BusinessType,
    Card,
    CardBinding,
    CardEvent,
    CardStatus,
    Order,
    OrderCard,
    OrderStatus,
    Package,
    RealnameState,
    ServiceLevelChoices,
    card_scope_columns,
)
from cards.rules import Decision, Exemption, ServiceLevel, evaluate
from cards.validation import validate_card_msisdn, validate_iccid, validate_imsi, validate_number_range
from core.errors import InvalidTransition, ValidationFailed
from enterprises.models import Enterprise
from integrations.webhooks.models import EventType
from integrations.webhooks.payloads import emit_event

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

SERVICE_LEVELS = frozenset(level.value for level in ServiceLevel)


# --- rule decision ----------------------------------------------------------


def decision_cache_fields(decision: Decision) -> dict[str, Any]:
    """The stored copy of a decision on the card row, for list filters."""
    return {
        "realname_required": decision.user_realname_required,
        "realname_rules": ",".join(decision.rules),
        "exemption_needed": decision.exemption.value if decision.exemption else "",
    }


def exemption_covering(card: Card, decision: Decision) -> Any:  # an approvals ExemptionRequest, or None
    """An approved exemption for this card whose approvals satisfy the decision as it is now, or None.
    The approvals floor keeps exemptions; it answers through the cards.hooks seam."""
    if not decision.exemptable:
        return None
    return hooks.exemption_covering.ask(card=card, decision=decision)


def realname_satisfied(card: Card, decision: Decision | None = None) -> tuple[bool, str]:
    """U5: whether the card may be active with its services; the second item says why."""
    decision = decision or card.realname_decision
    if not decision.user_realname_required:
        return True, "not_required"
    if card.bindings.filter(ended_at__isnull=True).exists():
        return True, "user_realname_complete"
    if exemption_covering(card, decision):
        return True, "exemption_approved"
    return False, "missing"


def _refusal(decision: Decision) -> RealnameRequired:
    if decision.exemption == Exemption.NONE_POSSIBLE:
        message = _(
            "This card needs the card user's real-name with face recognition before it can be used "
            "(rules %(rules)s). No exemption is possible."
        )
    else:
        message = _(
            "This card needs the card user's real-name with face recognition before it can be used "
            "(rules %(rules)s), or an approved exemption."
        )
    return RealnameRequired(message % {"rules": ", ".join(decision.rules)}, decision=decision, field="card")


# --- U4: test packages are a trial ----------------------------------------------
# A test package fixes its cards' services and bounds their trial (Package.test_period_days). Its
# test period starts when the card goes onto the package, not at first activation: the rule text
# ("物联测试卡套餐用户无需实名到使用人") ties the exemption to being on the package, so the clock
# runs from the moment the exemption applies, and an end date is known and shown from that day.

SERVICE_FIELDS = ("data_service", "voice_service", "sms_service")


def _level_label(value: str) -> str:
    return str(dict(ServiceLevelChoices.choices).get(value, value))


def _test_services_refusal(package: Package, field: str, *, card: Card | None = None) -> ValidationFailed:
    values = {
        "package": str(package),
        "data": _level_label(package.data_service),
        "voice": _level_label(package.voice_service),
        "sms": _level_label(package.sms_service),
    }
    if card is None:
        message = (
            _(
                "The IoT test-card package %(package)s fixes the services of its cards (rule U4): data %(data)s, "
                "voice %(voice)s, SMS %(sms)s."
            )
            % values
        )
    else:
        message = _(
            "The services of card %(iccid)s are fixed by the IoT test-card package %(package)s (rule U4): "
            "data %(data)s, voice %(voice)s, SMS %(sms)s. To change them, move the card to a commercial package."
        ) % {**values, "iccid": card.iccid}
    return ValidationFailed(message, code="test_package_services", field=field)


def _test_package_not_allowed(card: Card, package: Package) -> ValidationFailed:
    return ValidationFailed(
        _(
            "Card %(iccid)s cannot go onto the IoT test-card package %(package)s: only a card in stock that has "
            "never been active and never been on a commercial package starts a trial (rule U4). Its real-name "
            "rules stay as they are."
        )
        % {"iccid": card.iccid, "package": str(package)},
        code="test_package_not_allowed",
        field="package",
    )


def _refuse_if_test_period_over(card: Card) -> None:
    if card.test_period_over():
        raise InvalidTransition(
            _(
                "The test period of card %(iccid)s on the IoT test-card package %(package)s ended on %(date)s "
                "(rule U4). Move the card to a commercial package, where its real-name rules apply, before it "
                "is used again."
            )
            % {
                "iccid": card.iccid,
                "package": str(card.package),
                "date": timezone.localtime(card.test_period_ends_at).strftime("%Y-%m-%d %H:%M"),
            },
            code="test_period_ended",
            field="status",
        )


def package_facts(package: Package, now: datetime) -> dict[str, Any]:
    """What a card records when it goes onto `package`: the start and end of a trial, or that it has
    been commercial (then it never goes onto a test package again)."""
    if package.is_test_package:
        assert package.test_period_days is not None  # the table's CHECK: a test package has a test period
        return {"test_period_started_at": now, "test_period_ends_at": now + timedelta(days=package.test_period_days)}
    return {"has_been_commercial": True, "test_period_started_at": None, "test_period_ends_at": None}


# --- creation ---------------------------------------------------------------


def card_create(
    *,
    actor: User | None,
    enterprise: Enterprise,
    iccid: str,
    msisdn: str,
    package: Package,
    imsi: str = "",
    data: str | None = None,
    voice: str | None = None,
    sms: str | None = None,
) -> Card:
    """Put one card in stock for an enterprise, with its rule decision stored for list filters.

    A service left out is none, or on a test package the package's; a test package refuses any
    other (U4). (The bulk import writes many at once with the same fields.) `actor` None is the system.
    """
    if actor is not None:
        # Putting a card in stock is what an import does, one card at a time.
        require(actor, Capability.CARDS_IMPORT, enterprise)
    iccid = validate_iccid(iccid)
    msisdn = validate_card_msisdn(msisdn)
    imsi = validate_imsi(imsi)
    validate_number_range(enterprise, iccid, msisdn)
    levels = {}
    for field, value in zip(SERVICE_FIELDS, (data, voice, sms), strict=True):
        if value is not None and value not in SERVICE_LEVELS:
            raise ValidationFailed(_("Choose none, directed or non-directed."), code="invalid_level", field=field)
        if package.is_test_package:
            if value is not None and value != package.test_levels[field]:
                raise _test_services_refusal(package, field)
            levels[field] = package.test_levels[field]
        else:
            levels[field] = str(value) if value is not None else ServiceLevel.NONE.value
    with transaction.atomic():
        if Card.objects.filter(iccid=iccid).exists():
            raise ValidationFailed(_("A card with this ICCID already exists."), code="duplicate_iccid", field="iccid")
        if Card.objects.filter(msisdn=msisdn).exists():
            raise ValidationFailed(
                _("A card with this number already exists."), code="duplicate_msisdn", field="msisdn"
            )
        card = Card(
            iccid=iccid,
            msisdn=msisdn,
            imsi=imsi,
            enterprise=enterprise,
            **card_scope_columns(enterprise),
            package=package,
            **levels,
            **package_facts(package, timezone.now()),
        )
        for field, value in decision_cache_fields(evaluate(card.facts)).items():
            setattr(card, field, value)
        # A new card has no binding, and no exemption names it yet.
        card.realname_state = RealnameState.LACKING if card.realname_required else RealnameState.NOT_REQUIRED
        card.save()
        card_event(card, actor=actor, action="created", data={"rules": card.realname_rules.split(",")})
    return card


# --- transitions ------------------------------------------------------------


def _order_required(business_type: str) -> OrderRequired:
    return OrderRequired(
        _(
            "Every business on a card is done through an order that records its handler (rule H2): "
            "file a %(business)s order."
        )
        % {"business": BusinessType(business_type).label},
        field="order",
        params={"business_type": business_type},
    )


def _require_order(
    card: Card, order: object, business_type: str, *, status: str = OrderStatus.AWAITING_VERIFICATION
) -> None:
    """H2: the transition runs only as part of `order`: an order of this business, that lists the
    card and is being completed (or, for `status=completed`, was completed)."""
    if (
        not isinstance(order, Order)
        or order.pk is None
        or order.business_type != business_type
        or order.status != status
        or not OrderCard.objects.filter(order_id=order.pk, card_id=card.pk).exists()
    ):
        raise _order_required(business_type)


def card_event(
    card: Card,
    *,
    actor: User | None,
    action: str,
    from_status: str = "",
    order: Order | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """One line of the card's history; the card's status is its new one (the card users' binds write here too).

    Every change of a card writes one, after the card and its bindings are saved: so this is where the card's
    real-name state and its counter follow the change (cards.inventory.tallies), in its transaction."""
    card_tally_settle(card)
    CardEvent.objects.create(
        card=card,
        actor=actor_user(actor),
        action=action,
        from_status=from_status,
        to_status=card.status,
        order=order,
        data={**(data or {}), **(getattr(actor, "audit_data", None) or {})},
    )
    if from_status and from_status != card.status:
        _emit_status_event(card, action=action, from_status=from_status, order=order, data=data or {})


# An activation: the card goes live for the first time under an order (or once its real-name completes).
_ACTIVATED_FROM = frozenset({CardStatus.IN_STOCK, CardStatus.AWAITING_REALNAME})


def _emit_status_event(card: Card, *, action: str, from_status: str, order: Order | None, data: dict[str, Any]) -> None:
    """Every status transition writes its CardEvent through card_event, so this is the one place a card's
    status change becomes a platform event, in the transition's transaction (issue 10 §3)."""
    activated = card.status == CardStatus.ACTIVE and from_status in _ACTIVATED_FROM
    reason = data.get("basis") if activated else data.get("reason")
    emit_event(
        card.enterprise,
        EventType.CARD_ACTIVATED if activated else EventType.CARD_STATUS_CHANGED,
        card=card.iccid,
        from_status=from_status,
        status=card.status,
        action=action,
        order=order.public_id if order is not None else None,
        reason=reason if isinstance(reason, str) else None,
    )


def _require_status(card: Card, allowed: Iterable[str], action: StrOrPromise) -> None:
    if card.status not in allowed:
        raise InvalidTransition(
            _("A card that is %(status)s cannot be %(action)s.")
            % {"status": card.get_status_display(), "action": action},
            field="status",
        )


def card_activate(*, actor: User | None, card: Card, order: Order) -> Card:
    """Activate a card, as part of a new-installation order. U5: blocked until user real-name is
    complete or an exemption covers it; the card then awaits it (see card_realname_completed) and
    RealnameRequired is raised."""
    card, refusal = card_activate_or_await(actor=actor, card=card, order=order)
    if refusal is not None:
        raise refusal
    return card


def card_activate_or_await(*, actor: User | None, card: Card, order: Order) -> tuple[Card, RealnameRequired | None]:
    """card_activate for a new-installation order, where a card left awaiting its user's real-name
    (U5) is an outcome, not an error: the card as it is now, and the refusal when it awaits."""
    _require_order(card, order, BusinessType.NEW_INSTALLATION)
    # A refused activation still records that the card now awaits real-name: the refusal is
    # returned, so card_activate raises it only after the transaction commits.
    with transaction.atomic():
        card = lock_card(card)
        _require_status(card, [CardStatus.IN_STOCK, CardStatus.AWAITING_REALNAME], _("activated"))
        _refuse_if_test_period_over(card)
        decision = evaluate(card.facts)
        allowed, why = realname_satisfied(card, decision)
        if not allowed:
            if card.status == CardStatus.IN_STOCK:
                previous = card.status
                card.status = CardStatus.AWAITING_REALNAME
                card.save(update_fields=["status", "updated_at"])
                card_event(
                    card,
                    actor=actor,
                    action="awaiting_realname",
                    from_status=previous,
                    order=order,
                    data={"rules": list(decision.rules)},
                )
            return card, _refusal(decision)
        previous = card.status
        card.status = CardStatus.ACTIVE
        # U4: a card that was ever active never goes onto a test package.
        card.first_activated_at = card.first_activated_at or timezone.now()
        card.save(update_fields=["status", "first_activated_at", "updated_at"])
        card_event(card, actor=actor, action="activated", from_status=previous, order=order, data={"basis": why})
    return card, None


def card_suspend(*, actor: User | None, card: Card, order: Order) -> Card:
    """Suspend an active card, as part of a suspension order."""
    _require_order(card, order, BusinessType.SUSPEND_RESUME)
    with transaction.atomic():
        card = lock_card(card)
        _require_status(card, [CardStatus.ACTIVE], _("suspended"))
        card.status = CardStatus.SUSPENDED
        card.save(update_fields=["status", "updated_at"])
        card_event(card, actor=actor, action="suspended", from_status=CardStatus.ACTIVE, order=order)
    return card


def card_resume(*, actor: User | None, card: Card, order: Order) -> Card:
    """Resume a suspended card, as part of a resumption order; the rules are checked again, as they
    may have changed."""
    _require_order(card, order, BusinessType.SUSPEND_RESUME)
    with transaction.atomic():
        card = lock_card(card)
        _require_status(card, [CardStatus.SUSPENDED], _("resumed"))
        _refuse_if_test_period_over(card)
        decision = evaluate(card.facts)
        allowed, why = realname_satisfied(card, decision)
        if not allowed:
            raise _refusal(decision)
        card.status = CardStatus.ACTIVE
        card.save(update_fields=["status", "updated_at"])
        card_event(
            card, actor=actor, action="resumed", from_status=CardStatus.SUSPENDED, order=order, data={"basis": why}
        )
    return card


def card_cancel(*, actor: User | None, card: Card, order: Order) -> Card:
    """Cancel a card for good, as part of a cancellation order. Its live binding ends, which frees a
    one-ID-five-cards slot (U6)."""
    _require_order(card, order, BusinessType.CANCELLATION)
    with transaction.atomic():
        card = lock_card(card)
        _require_status(card, LIVE_CARD_STATUSES, _("cancelled"))
        previous = card.status
        ended = _end_bindings(card, reason="card_cancelled")
        card.status = CardStatus.CANCELLED
        card.save(update_fields=["status", "updated_at"])
        card_event(
            card, actor=actor, action="cancelled", from_status=previous, order=order, data={"bindings_ended": ended}
        )
    return card


def card_change_services(
    *,
    actor: User | None,
    card: Card,
    data: str | None = None,
    voice: str | None = None,
    sms: str | None = None,
    package: Package | None = None,
    order: Order,
) -> Card:
    """Open or close services, or change the package, as part of a service-change order. The rules
    are checked on the new facts: a live card cannot get a service whose real-name requirement it
    does not meet (U5).

    U4: only a card in stock that was never active nor commercial goes onto a test package, and
    takes its services; a card on a test package keeps them. A level passed as it already is counts
    as no change (an order may send all three)."""
    _require_order(card, order, BusinessType.SERVICE_CHANGE)
    with transaction.atomic():
        card = lock_card(card)
        _require_status(card, LIVE_CARD_STATUSES, _("changed"))
        before = {
            "data": card.data_service,
            "voice": card.voice_service,
            "sms": card.sms_service,
            "package": card.package.code,
        }
        requested = {}
        for field, value in zip(SERVICE_FIELDS, (data, voice, sms), strict=True):
            if value is None:
                continue
            if value not in SERVICE_LEVELS:
                raise ValidationFailed(_("Choose none, directed or non-directed."), code="invalid_level", field=field)
            requested[field] = str(value)
        moving = package is not None and package.pk != card.package_id
        target = package if package is not None and moving else card.package
        if moving and not target.is_active:
            raise ValidationFailed(_("This package is no longer offered."), code="package_unavailable", field="package")
        if target.is_test_package:
            if moving and (
                card.status != CardStatus.IN_STOCK
                or card.first_activated_at is not None
                or card.has_been_commercial
                or not card.package.is_test_package
            ):
                raise _test_package_not_allowed(card, target)
            for field, value in requested.items():
                if value != getattr(card, field) and value != target.test_levels[field]:
                    raise _test_services_refusal(target, field, card=card)
            requested = target.test_levels
        for field, value in requested.items():
            setattr(card, field, value)
        if moving:
            card.package = target
            for field, value in package_facts(target, timezone.now()).items():
                setattr(card, field, value)
        decision = evaluate(card.facts)
        if card.status in (CardStatus.ACTIVE, CardStatus.SUSPENDED):
            allowed, _why = realname_satisfied(card, decision)
            if not allowed:
                raise _refusal(decision)
        for field, value in decision_cache_fields(decision).items():
            setattr(card, field, value)
        card.save()
        after = {
            "data": card.data_service,
            "voice": card.voice_service,
            "sms": card.sms_service,
            "package": card.package.code,
        }
        card_event(
            card,
            actor=actor,
            action="services_changed",
            from_status=card.status,
            order=order,
            data={"before": before, "after": after, "rules": list(decision.rules)},
        )
    return card


def card_end_test_period(*, card: Card, now: datetime | None = None) -> bool:
    """U4: the trial on the test package is over, so the active card is suspended.

    A system transition (no actor, no order: the beat task calls it). It does nothing, and says so
    (False), for a card that moved to a commercial package, whose trial still runs, or that is not
    active: an in-stock card cannot be activated on the package any more, nor a suspended one resumed.
    """
    now = now or timezone.now()
    with transaction.atomic():
        card = lock_card(card)
        if card.status != CardStatus.ACTIVE or not card.test_period_over(now):
            return False
        assert card.test_period_ends_at is not None  # test_period_over() held, so the trial has an end
        card.status = CardStatus.SUSPENDED
        card.save(update_fields=["status", "updated_at"])
        card_event(
            card,
            actor=None,
            action="test_period_ended",
            from_status=CardStatus.ACTIVE,
            data={
                "reason": "test_period_ended",
                "package": card.package.code,
                "test_period_ends_at": card.test_period_ends_at.isoformat(),
            },
        )
    return True


def card_transfer(*, actor: User | None, card: Card, target_enterprise: Enterprise, order: Order) -> Card:
    """Ownership transfer, as part of a transfer order: the card moves, its user binding ends, and the
    rules are checked again. A live card that now lacks its required real-name waits for it."""
    _require_order(card, order, BusinessType.OWNERSHIP_TRANSFER)
    with transaction.atomic():
        card = lock_card(card)
        _require_status(card, LIVE_CARD_STATUSES, _("transferred"))
        if card.enterprise_id == target_enterprise.pk:
            raise ValidationFailed(
                _("The card already belongs to this enterprise."), code="same_enterprise", field="target_enterprise"
            )
        previous_status = card.status
        ended = _end_bindings(card, reason="ownership_transfer")
        card.enterprise = target_enterprise
        decision = evaluate(card.facts)
        if card.status in (CardStatus.ACTIVE, CardStatus.SUSPENDED) and not realname_satisfied(card, decision)[0]:
            card.status = CardStatus.AWAITING_REALNAME
        card.save()
        card_event(
            card,
            actor=actor,
            action="transferred",
            from_status=previous_status,
            order=order,
            data={"to_enterprise": str(target_enterprise.public_id), "bindings_ended": ended},
        )
    return card


def card_replace(*, actor: User | None, card: Card, new_iccid: str, order: Order) -> Card:
    """Card replacement, as part of a replacement order: a new ICCID; the number and the user
    binding stay."""
    _require_order(card, order, BusinessType.CARD_REPLACEMENT)
    new_iccid = validate_iccid(new_iccid)
    validate_number_range(card.enterprise, new_iccid, card.msisdn, iccid_field="new_iccid")
    with transaction.atomic():
        card = lock_card(card)
        _require_status(card, LIVE_CARD_STATUSES, _("replaced"))
        if Card.objects.filter(iccid=new_iccid).exists():
            raise ValidationFailed(
                _("A card with this ICCID already exists."), code="duplicate_iccid", field="new_iccid"
            )
        previous = card.iccid
        card.iccid = new_iccid
        card.save(update_fields=["iccid", "updated_at"])
        card_event(
            card,
            actor=actor,
            action="replaced",
            from_status=card.status,
            order=order,
            data={"previous_iccid": previous, "new_iccid": new_iccid},
        )
    return card


# --- U5 completed later -----------------------------------------------------
# A new installation (or a transfer) whose card still needs its user's real-name completes with the
# card awaiting it (OrderCard outcome awaiting_realname). The business was recorded with its handler
# then; when the card user's face comparison binds the card, or an exemption for it is approved, the
# card goes on under that same order, with no second order and no direct action.

AWAITING_BUSINESSES = tuple(business.type for business in BUSINESSES.values() if business.awaits_realname)


def awaiting_order_line(card: Card) -> OrderCard | None:
    """The line of the completed order that left the card awaiting its user's real-name, if any."""
    line = (
        OrderCard.objects.filter(
            card_id=card.pk, order__status=OrderStatus.COMPLETED, order__business_type__in=AWAITING_BUSINESSES
        )
        .select_related("order")
        .order_by("-order__completed_at", "-pk")
        .first()
    )
    if line is None or (line.outcome_detail or {}).get("status") != CardStatus.AWAITING_REALNAME:
        return None
    return line


def card_realname_completed(*, actor: User | None, card: Card, order: Order) -> Card:
    """The card user's real-name (or an exemption) now covers a card that `order` left awaiting it:
    the card takes the state the order meant, active (a transfer: the state it had before), and the
    CardEvent points at the order."""
    # No order (or an unsaved one) has no lines: order_id is never NULL.
    order_pk = getattr(order, "pk", None)
    line = None if order_pk is None else OrderCard.objects.filter(order_id=order_pk, card_id=card.pk).first()
    if line is None or getattr(order, "business_type", None) not in AWAITING_BUSINESSES:
        raise _order_required(BusinessType.NEW_INSTALLATION)
    _require_order(card, order, order.business_type, status=OrderStatus.COMPLETED)
    with transaction.atomic():
        card = lock_card(card)
        _require_status(card, [CardStatus.AWAITING_REALNAME], _("activated"))
        decision = evaluate(card.facts)
        allowed, why = realname_satisfied(card, decision)
        if not allowed:
            raise _refusal(decision)
        target = CardStatus.ACTIVE
        if order.business_type == BusinessType.OWNERSHIP_TRANSFER:
            before = CardEvent.objects.filter(card=card, order=order, action="transferred").first()
            if before is not None and before.from_status == CardStatus.SUSPENDED:
                target = CardStatus.SUSPENDED
        card.status = target
        # U4: a card that was ever active never goes onto a test package.
        if target == CardStatus.ACTIVE:
            card.first_activated_at = card.first_activated_at or timezone.now()
        card.save(update_fields=["status", "first_activated_at", "updated_at"])
        card_event(
            card,
            actor=actor,
            action="activated" if target == CardStatus.ACTIVE else "realname_completed",
            from_status=CardStatus.AWAITING_REALNAME,
            order=order,
            data={"basis": why},
        )
        detail = {**(line.outcome_detail or {}), "status": card.status, "realname_completed": why}
        if line.outcome == "awaiting_realname":
            line.outcome = "activated_after_realname"
        line.outcome_detail = detail
        line.save(update_fields=["outcome", "outcome_detail"])
    return card


def cards_realname_resolved(*, actor: User | None, cards: Iterable[Card]) -> list[Card]:
    """Called when real-name may have become complete for `cards` (a binding, an approved exemption):
    each card that an order left awaiting it, and that is now covered, goes on under that order.

    Cards locked by the caller stay locked; a card not covered yet, or awaiting without an order
    (left by an earlier version of the portal), stays as it is: a new-installation order activates it.
    """
    released = []
    locked = lock_cards(cards)
    # A binding settled its cards already; an approved exemption changes their state without a CardEvent.
    cards_tally_settle(locked)
    for card in locked:
        if card.status != CardStatus.AWAITING_REALNAME or not realname_satisfied(card)[0]:
            continue
        line = awaiting_order_line(card)
        if line is not None:
            released.append(card_realname_completed(actor=actor, card=card, order=line.order))
    return released


def _end_bindings(card: Card, *, reason: str) -> int:
    return CardBinding.objects.filter(card=card, ended_at__isnull=True).update(
        ended_at=timezone.now(), end_reason=reason
    )
