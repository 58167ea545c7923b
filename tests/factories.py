"""Test data made through the services, so tests see what users would create."""

from __future__ import annotations

import itertools

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


def iccid(prefix: str = "8986011") -> str:
    """A valid 20-digit ICCID (prefix 89, Luhn check digit), different on every call."""
    from stdnum import luhn

    body = f"{prefix}{next(_order_serial) + 100000:012d}"[:19]
    return body + luhn.calc_check_digit(body)


def order_stock_card(*, enterprise, segment_149: bool = False, test_package: bool = False, **services):
    """A card in stock for an order test, made through cards.services.card_create."""
    from cards.models import Package
    from cards.services import card_create

    if test_package:
        package = iot_test_package(**services)
    else:
        package, _created = Package.objects.get_or_create(code="IOT-STD", defaults={"name": "标准物联套餐"})
    serial = next(_order_serial)
    msisdn = f"149{serial:08d}" if segment_149 else f"1410{serial:09d}"
    return card_create(actor=None, enterprise=enterprise, iccid=iccid(), msisdn=msisdn, package=package, **services)


def handler_data(**overrides):
    from cards.handlers import HandlerData

    values = dict(id_type="resident_id", id_number=idgen.resident_id(), name="王五", id_address="北京市西城区金融街3号")
    values.update(overrides)
    return HandlerData(**values)


def order(*, actor: User, enterprise, business_type: str, cards, handler=None, live_photo: bool = True, **kwargs):
    """An order through cards.orders.order_create, with generated photos."""
    from cards.orders import order_create

    return order_create(
        actor=actor,
        enterprise=enterprise,
        business_type=business_type,
        cards=cards,
        handler=handler or handler_data(),
        handler_id_photo=kwargs.pop("handler_id_photo", jpeg_upload("handler-id.jpg")),
        handler_live_photo=kwargs.pop("handler_live_photo", jpeg_upload("live.jpg") if live_photo else None),
        parameters=kwargs.pop("parameters", {}),
        **kwargs,
    )


# --- cards, card users (U0-U6) -----------------------------------------------------

_card_serial = itertools.count(1)


def package(*, code: str = "IOT-STD", name: str | None = None, test: bool = False, active: bool = True,
            days: int = 90, data: str = "none", voice: str = "none", sms: str = "none"):
    """A package of the catalogue (get or create by code). A test package (U4) has a test period
    and fixes its cards' services."""
    from cards.models import Package

    defaults = {"name": name or ("物联测试卡套餐" if test else f"物联网套餐 {code}"), "is_test_package": test,
                "is_active": active}
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
    """A card in stock, through cards.services.card_create. With `test`, on the test package whose
    services are the ones asked for (U4: a test package fixes them)."""
    from cards.services import card_create

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


def card_user_registration(*, actor: User | None, enterprise, cards, id_number: str | None = None,
                           id_type: str = "resident_id", name: str = "李四", **kwargs):
    """Register a card user (cards.card_users.card_user_register); returns the pending Verification."""
    from cards.card_users import card_user_register

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

    return verification_record_result(verification=verification, outcome=outcome, distance=distance,
                                      engine="test-double")


def verified_card_user(*, actor: User | None, enterprise, cards, **kwargs):
    """A card user whose face comparison passed, so `cards` are bound to them (U5)."""
    verification = card_user_registration(actor=actor, enterprise=enterprise, cards=cards, **kwargs)
    face_result(verification, "pass")
    return verification.card_user


def exemption(*, enterprise, cards, levels, submitted_by: User, status: str = "approved"):
    """An exemption request row as the approvals workflow would leave it (U1, U3)."""
    from approvals.models import ExemptionRequest

    request = ExemptionRequest.objects.create(
        enterprise=enterprise, required_levels=list(levels), reason="测试豁免", status=status,
        submitted_by=submitted_by,
    )
    request.cards.set(cards)
    return request
