"""Test data made through the services, so tests see what users would create."""

from __future__ import annotations

import itertools
from unittest import mock

import factory

from accounts.models import User
from accounts.services import user_create
from enterprises.services import EnterpriseData, ResponsiblePersonData, enterprise_register
from tests import idgen
from tests.images import jpeg_upload, pdf_upload

_seq = itertools.count(1)
PASSWORD = "Test-pass-2026!"


class UserFactory(factory.django.DjangoModelFactory):
    """For tests that need a bare user row; `user()` below goes through the service."""

    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    role = "ops"


def user(*, role: str, username: str | None = None, password: str = PASSWORD, **kwargs) -> User:
    return user_create(username=username or f"{role}{next(_seq)}", password=password, role=role, **kwargs)


def enterprise_data(**overrides) -> EnterpriseData:
    values = dict(
        name=f"测试物联有限公司{next(_seq)}",
        credential_type="business_licence",
        credential_number=idgen.uscc(),
        credential_address="北京市朝阳区建国路1号",
    )
    values.update(overrides)
    if values["credential_type"] == "official_letter":
        # The letter path is for units that cannot hold a credential (E1): a party or government organ.
        values.setdefault("unit_kind", "party_government")
    return EnterpriseData(**values)


def responsible_data(**overrides) -> ResponsiblePersonData:
    values = dict(
        name="张三",
        id_type="resident_id",
        id_number=idgen.resident_id(),
        id_address="北京市朝阳区建国路2号",
        is_legal_representative=True,
    )
    values.update(overrides)
    return ResponsiblePersonData(**values)


def enterprise(*, actor: User, responsible: dict | None = None, **overrides):
    person = responsible_data(**(responsible or {}))
    data = enterprise_data(**overrides)
    letter_path = data.credential_type == "official_letter"
    return enterprise_register(
        actor=actor,
        enterprise=data,
        responsible=person,
        credential_files=[pdf_upload() if letter_path else jpeg_upload()],
        responsible_id_files=[jpeg_upload("id.jpg")],
        authorisation_letter_files=[] if person.is_legal_representative else [pdf_upload("auth.pdf")],
    )


# --- orders (H1-H3) -------------------------------------------------------------

_order_serial = itertools.count(1)


TRANSITION_BUSINESS = {
    "activate": "new_installation",
    "suspend": "suspend_resume",
    "resume": "suspend_resume",
    "cancel": "cancellation",
    "change_services": "service_change",
}


def card_transition(name: str, card, *, actor: User | None = None, **kwargs):
    """One card transition (cards.inventory.services.card_<name>) called on its own, inside an order made for
    it that ends completed whatever the transition did: for tests of the transition's own checks."""
    from django.utils import timezone

    from cards.inventory import services as card_services
    from cards.models import Order, OrderStatus

    made = order_in_progress(TRANSITION_BUSINESS[name], card, actor=actor)
    try:
        return getattr(card_services, f"card_{name}")(actor=actor, card=card, order=made, **kwargs)
    finally:
        Order.objects.filter(pk=made.pk).update(status=OrderStatus.COMPLETED, completed_at=timezone.now())


def iccid(prefix: str = "8986011") -> str:
    """A valid 20-digit ICCID (prefix 89, Luhn check digit), different on every call."""
    from stdnum import luhn

    body = f"{prefix}{next(_order_serial) + 100000:012d}"[:19]
    return body + luhn.calc_check_digit(body)


def order_stock_card(*, enterprise, segment_149: bool = False, test_package: bool = False, **services):
    """A card in stock for an order test, made through cards.inventory.services.card_create."""
    from cards.inventory.services import card_create
    from cards.models import Package

    if test_package:
        package = iot_test_package(**services)
    else:
        package, _created = Package.objects.get_or_create(code="IOT-STD", defaults={"name": "标准物联套餐"})
    serial = next(_order_serial)
    msisdn = f"149{serial:08d}" if segment_149 else f"1410{serial:09d}"
    return card_create(actor=None, enterprise=enterprise, iccid=iccid(), msisdn=msisdn, package=package, **services)


def handler_data(**overrides):
    from cards.orders.handlers import HandlerData

    values = dict(id_type="resident_id", id_number=idgen.resident_id(), name="王五", id_address="北京市西城区金融街3号")
    values.update(overrides)
    return HandlerData(**values)


def order(*, actor: User, enterprise, business_type: str, cards, handler=None, live_photo: bool = True, **kwargs):
    """An order through cards.orders.order_create, with generated photos.

    The enterprise's fresh credential and responsible-person photos (E2, P3) are sent unless the
    test says otherwise (`credential_photo=None`): every order after the enterprise's first needs them.
    """
    from cards.orders.services import order_create

    letter_unit = not enterprise.requires_number
    return order_create(
        actor=actor,
        enterprise=enterprise,
        business_type=business_type,
        cards=cards,
        handler=handler or handler_data(),
        handler_id_photo=kwargs.pop("handler_id_photo", jpeg_upload("handler-id.jpg")),
        handler_live_photo=kwargs.pop("handler_live_photo", jpeg_upload("live.jpg") if live_photo else None),
        parameters=kwargs.pop("parameters", {}),
        credential_photo=kwargs.pop(
            "credential_photo", pdf_upload("letter.pdf") if letter_unit else jpeg_upload("credential.jpg")
        ),
        responsible_id_photo=kwargs.pop("responsible_id_photo", jpeg_upload("responsible-id.jpg")),
        **kwargs,
    )


def order_filer(enterprise) -> User:
    """Someone who may file orders for the enterprise: an account manager of its province."""
    found = User.objects.filter(role="account_manager", province_id=enterprise.province_id, is_active=True).first()
    return found or user(role="account_manager", province=enterprise.province)


def order_done(*, business_type: str, cards, actor: User | None = None, enterprise=None, parameters=None, **kwargs):
    """A business on cards done the way the rules want it (H2): an order with its handler, filed by
    `actor` (default: an account manager of the province). Where the H3 face gate applies the
    handler's comparison is fed in as passed, so the order completes. Returns the order."""
    from cards.models import Card, OrderStatus
    from verification.models import Verification

    cards = [cards] if isinstance(cards, Card) else list(cards)
    enterprise = enterprise or cards[0].enterprise
    actor = actor or order_filer(enterprise)
    # The comparison's result is fed in below: no engine runs for it, also where commits are real.
    with mock.patch("verification.services.enqueue_verification"):
        filed = order(
            actor=actor,
            enterprise=enterprise,
            business_type=business_type,
            cards=cards,
            parameters=parameters or {},
            **kwargs,
        )
    if filed.status == OrderStatus.AWAITING_VERIFICATION:
        face_result(Verification.objects.filter(order=filed).latest("created_at"), "pass")
        filed.refresh_from_db()
    return filed


def order_in_progress(business_type: str, cards, *, actor: User | None = None):
    """An order as it is while its completion runs (awaiting_verification, its cards listed), made
    directly: it lets a test call one card transition on its own, to show that the transition's own
    checks hold (the order service normally calls them)."""
    from cards.models import Card, Order, OrderCard, OrderStatus

    cards = [cards] if isinstance(cards, Card) else list(cards)
    enterprise = cards[0].enterprise
    actor = actor or order_filer(enterprise)
    from cards.orders.handlers import handler_clean, handler_get_or_create

    handler_row, _created = handler_get_or_create(
        actor=actor, enterprise=enterprise, clean=handler_clean(enterprise=enterprise, data=handler_data())
    )
    made = Order.objects.create(
        number=f"T{next(_order_serial):011d}",
        enterprise=enterprise,
        business_type=business_type,
        status=OrderStatus.AWAITING_VERIFICATION,
        handler=handler_row,
        handler_id_photo="orders/test-id.jpg",
        created_by=actor,
    )
    OrderCard.objects.bulk_create([OrderCard(order=made, card=card) for card in cards])
    return made


_order_serial = itertools.count(1)


def activate(cards, *, actor: User | None = None):
    """A new-installation order for `cards` (H2, H3). Returns the order; a card that needs its
    user's real-name waits for it (its line's outcome is awaiting_realname)."""
    return order_done(business_type="new_installation", cards=cards, actor=actor)


def active_card(*, actor: User | None = None, **kwargs):
    """A card made with `card(**kwargs)` and activated through a new-installation order."""
    from cards.models import Card

    made = card(**kwargs)
    activate(made, actor=actor)
    return Card.objects.get(pk=made.pk)


def suspend(cards, *, actor: User | None = None):
    return order_done(business_type="suspend_resume", cards=cards, actor=actor, parameters={"action": "suspend"})


def resume(cards, *, actor: User | None = None):
    return order_done(business_type="suspend_resume", cards=cards, actor=actor, parameters={"action": "resume"})


def cancel(cards, *, actor: User | None = None):
    return order_done(business_type="cancellation", cards=cards, actor=actor)


def change_services(cards, *, actor: User | None = None, **parameters):
    """A service or package change order; `package` is a Package or its code."""
    if parameters.get("package") is not None and not isinstance(parameters["package"], str):
        parameters["package"] = parameters["package"].code
    return order_done(business_type="service_change", cards=cards, actor=actor, parameters=parameters)


def order_line(order, card):
    """What the order did to one card (its OrderCard: outcome, outcome_detail)."""
    from cards.models import OrderCard

    return OrderCard.objects.get(order=order, card_id=card.pk)


# --- cards, card users (U0-U6) -----------------------------------------------------

_card_serial = itertools.count(1)


def package(
    *,
    code: str = "IOT-STD",
    name: str | None = None,
    test: bool = False,
    active: bool = True,
    days: int = 90,
    data: str = "none",
    voice: str = "none",
    sms: str = "none",
):
    """A package of the catalogue (get or create by code). A test package (U4) has a test period
    and fixes its cards' services."""
    from cards.models import Package

    defaults = {
        "name": name or ("物联测试卡套餐" if test else f"物联网套餐 {code}"),
        "is_test_package": test,
        "is_active": active,
    }
    if test:
        defaults.update(test_period_days=days, data_service=data, voice_service=voice, sms_service=sms)
    found, _created = Package.objects.get_or_create(code=code, defaults=defaults)
    return found


def iot_test_package(*, data: str | None = None, voice: str | None = None, sms: str | None = None):
    """The test package whose fixed services are these (IOT-TEST: none, none, none)."""
    levels = (data or "none", voice or "none", sms or "none")
    short = {"none": "0", "directed": "D", "non_directed": "N"}
    code = "IOT-TEST" if levels == ("none", "none", "none") else "IOT-TEST-" + "".join(short[x] for x in levels)
    return package(code=code, name="物联测试卡套餐", test=True, data=levels[0], voice=levels[1], sms=levels[2])


def msisdn(*, segment_149: bool = False) -> str:
    """A 149-segment mobile number (11 digits) or a 13-digit IoT number, new on every call."""
    serial = next(_card_serial)
    return f"1499{serial:07d}" if segment_149 else f"1440{serial:09d}"


def card(
    *,
    enterprise,
    segment_149: bool = False,
    data: str | None = None,
    voice: str | None = None,
    sms: str | None = None,
    pkg=None,
    test: bool = False,
    actor: User | None = None,
    iccid: str | None = None,
    number: str | None = None,
):
    """A card in stock, through cards.inventory.services.card_create. With `test`, on the test package whose
    services are the ones asked for (U4: a test package fixes them)."""
    from cards.inventory.services import card_create

    chosen = pkg or (iot_test_package(data=data, voice=voice, sms=sms) if test else package())
    return card_create(
        actor=actor,
        enterprise=enterprise,
        iccid=iccid or idgen.iccid(),
        msisdn=number or msisdn(segment_149=segment_149),
        package=chosen,
        data=data,
        voice=voice,
        sms=sms,
    )


def card_user_registration(
    *,
    actor: User | None,
    enterprise,
    cards,
    id_number: str | None = None,
    id_type: str = "resident_id",
    name: str = "李四",
    **kwargs,
):
    """Register a card user (cards.card_users.card_user_register); returns the pending Verification."""
    from cards.card_users.services import card_user_register

    return card_user_register(
        actor=actor,
        enterprise=enterprise,
        name=name,
        id_type=id_type,
        id_number=id_number or idgen.resident_id(),
        id_photo=kwargs.pop("id_photo", jpeg_upload("id.jpg")),
        live_photo=kwargs.pop("live_photo", jpeg_upload("live.jpg")),
        biometric_consent=kwargs.pop("biometric_consent", True),
        cards=cards,
        **kwargs,
    )


def face_result(verification, outcome: str = "pass", distance: float = 0.31):
    """Stand in for the face engine: record its result (verification.services)."""
    from verification.services import verification_record_result

    return verification_record_result(
        verification=verification, outcome=outcome, distance=distance, engine="test-double"
    )


def verified_card_user(*, actor: User | None, enterprise, cards, **kwargs):
    """A card user whose face comparison passed, so `cards` are bound to them (U5)."""
    verification = card_user_registration(actor=actor, enterprise=enterprise, cards=cards, **kwargs)
    face_result(verification, "pass")
    return verification.card_user


def exemption(*, enterprise, cards, levels, submitted_by: User, status: str = "approved"):
    """An exemption request row as the approvals workflow would leave it (U1, U3)."""
    from approvals.models import ExemptionRequest

    request = ExemptionRequest.objects.create(
        enterprise=enterprise,
        required_levels=list(levels),
        reason="测试豁免",
        status=status,
        submitted_by=submitted_by,
    )
    request.cards.set(cards)
    if status == "approved":
        # What approval does to the cards' real-name state and counters (approvals.services.exemption_decide).
        from django.db import transaction

        from cards.inventory.tallies import cards_tally_settle
        from cards.locks import lock_cards

        with transaction.atomic():
            cards_tally_settle(lock_cards(cards))
    return request
