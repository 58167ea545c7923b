"""Demo data for `make run`: a user for every role, enterprises in two provinces, cards, and
work in progress for every queue.

Idempotent: users are matched by username and enterprises by the blind index
of their credential number, so running it again changes nothing. Document
images are drawn with Pillow; the responsible persons' ID photos use the
face test photos when ../shared/testdata/faces is there.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TypedDict

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction
from PIL import Image, ImageDraw, ImageFont
from stdnum import luhn

from accounts.models import Province, User
from accounts.pii import credential_index
from accounts.roles import Role
from accounts.services import user_create
from approvals.models import ExemptionRequest
from approvals.services import exemption_file
from cards.card_users.services import card_user_register
from cards.inventory.packages import package_create
from cards.inventory.services import card_create
from cards.models import Card, CardStatus, CardUser, OrderCard, Package
from cards.orders.handlers import HandlerData
from cards.orders.policy import order_needs_fresh_documents
from cards.orders.services import order_create
from enterprises.models import ChangeRequest, Enterprise
from enterprises.services import (
    EnterpriseData,
    ResponsiblePersonData,
    change_request_submit,
    enterprise_register,
)

DEMO_PASSWORD = "demo-pass-2026"
# Demo addresses: a reserved domain (RFC 2606), so no demo email can reach anyone.
DEMO_EMAIL_DOMAIN = "demo.example"

# username, role, province code, enterprise key, full name
DEMO_USERS = [
    ("manager_bj", Role.ACCOUNT_MANAGER, "11", None, "王经理（北京）"),
    ("manager_gd", Role.ACCOUNT_MANAGER, "44", None, "陈经理（广东）"),
    ("approver_bj", Role.PROVINCIAL_APPROVER, "11", None, "李审批（北京）"),
    ("approver_gd", Role.PROVINCIAL_APPROVER, "44", None, "黄审批（广东）"),
    ("approver_group", Role.GROUP_APPROVER, None, None, "赵审批（集团）"),
    ("ops", Role.OPS, None, None, "运维小刘"),
    ("admin_bj", Role.ENTERPRISE_ADMIN, None, "bj_tech", "企业管理员（北京智联）"),
    ("admin_gd", Role.ENTERPRISE_ADMIN, None, "gd_logistics", "企业管理员（广东物流）"),
]


class DemoEnterprise(TypedDict):
    key: str
    manager: str  # the account manager's username
    enterprise: EnterpriseData
    responsible: ResponsiblePersonData
    face: str  # the responsible person's photo, under the face test data


# Valid demo identifiers (check digits computed per GB 32100 / GB 11643).
DEMO_ENTERPRISES: list[DemoEnterprise] = [
    {
        "key": "bj_tech",
        "manager": "manager_bj",
        "enterprise": EnterpriseData(
            "北京智联物联网科技有限公司", "business_licence", "91110105MA01ABCD5F", "北京市朝阳区望京街10号"
        ),
        "responsible": ResponsiblePersonData(
            "张伟", "resident_id", "11010519850712001X", "北京市朝阳区望京街10号", True
        ),
        "face": "obama/obama1.jpg",
    },
    {
        "key": "bj_water",
        "manager": "manager_bj",
        "enterprise": EnterpriseData(
            "北京市水务局", "official_letter", "", "北京市海淀区玉渊潭南路5号", "party_government"
        ),
        "responsible": ResponsiblePersonData(
            "刘洋", "resident_id", "110108197803150031", "北京市海淀区玉渊潭南路5号", False
        ),
        "face": "biden/biden1.jpg",
    },
    {
        "key": "gd_logistics",
        "manager": "manager_gd",
        "enterprise": EnterpriseData(
            "广州速达物流有限公司", "business_licence", "91440101MA5CXY122T", "广州市天河区天河路385号"
        ),
        "responsible": ResponsiblePersonData(
            "陈静", "resident_id", "440106199001010021", "广州市天河区天河路385号", True
        ),
        "face": "kit_harington/kit1.jpg",
    },
]


def _font(size: int):
    for candidate in ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"):
        if os.path.exists(candidate):
            return ImageFont.truetype(candidate, size)
    return ImageFont.load_default()


def _document_image(title: str, lines: list[str], size=(900, 600)) -> SimpleUploadedFile:
    image = Image.new("RGB", size, (247, 243, 232))
    draw = ImageDraw.Draw(image)
    draw.rectangle([12, 12, size[0] - 12, size[1] - 12], outline=(160, 40, 40), width=6)
    draw.text((40, 40), title, fill=(160, 40, 40), font=_font(44))
    for row, line in enumerate(lines):
        draw.text((40, 140 + row * 56), line, fill=(30, 30, 30), font=_font(30))
    draw.ellipse([size[0] - 230, size[1] - 230, size[0] - 50, size[1] - 50], outline=(200, 30, 30), width=8)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88)
    return SimpleUploadedFile("document.jpg", buffer.getvalue(), content_type="image/jpeg")


def _faces_dir() -> Path | None:
    for candidate in (os.environ.get("FACE_TESTDATA"), settings.BASE_DIR.parent / "shared" / "testdata" / "faces"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def _id_photo(person: ResponsiblePersonData, face: str) -> SimpleUploadedFile:
    card = _document_image("居民身份证", [f"姓名 {person.name}", f"住址 {person.id_address}"], size=(856, 540))
    faces = _faces_dir()
    if faces and (faces / face).exists():
        image = Image.open(io.BytesIO(card.read())).convert("RGB")
        portrait = Image.open(faces / face).convert("RGB")
        portrait.thumbnail((240, 300))
        image.paste(portrait, (580, 140))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=88)
        return SimpleUploadedFile("id.jpg", buffer.getvalue(), content_type="image/jpeg")
    card.seek(0)
    return card


class Command(BaseCommand):
    help = "Load demo users, enterprises, cards and work in progress (idempotent)."

    def handle(self, *args, **options):
        self.seed_people()
        seed_demo_cards(self.stdout)
        made = seed_demo_activations(self.stdout)
        made += seed_demo_workflows(self.stdout)
        if made:
            self.stdout.write("Demo work in progress: " + ", ".join(made) + ".")

    def seed_people(self) -> None:
        # Keyed for DEMO_USERS, whose province and enterprise columns may be None.
        provinces: dict[str | None, Province] = {p.code: p for p in Province.objects.filter(code__in=["11", "44"])}
        users: dict[str, User] = {}
        with transaction.atomic():
            for username, role, province_code, _enterprise_key, full_name in DEMO_USERS:
                if role == Role.ENTERPRISE_ADMIN:
                    continue
                users[username] = self._user(username, role, provinces.get(province_code), None, full_name)
            enterprises: dict[str | None, Enterprise] = {
                spec["key"]: self._enterprise(spec, users[spec["manager"]]) for spec in DEMO_ENTERPRISES
            }
            for username, role, _province_code, enterprise_key, full_name in DEMO_USERS:
                if role == Role.ENTERPRISE_ADMIN:
                    self._user(username, role, None, enterprises[enterprise_key], full_name)
            superuser = User.objects.filter(username="superuser").first()
            if superuser is None:
                superuser = user_create(
                    username="superuser",
                    password=DEMO_PASSWORD,
                    role=Role.OPS,
                    full_name="超级管理员",
                    email=f"superuser@{DEMO_EMAIL_DOMAIN}",
                )
                User.objects.filter(pk=superuser.pk).update(is_superuser=True, is_staff=True)
        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Every demo user's password: {DEMO_PASSWORD}"))

    def _user(self, username, role, province, enterprise, full_name) -> User:
        existing = User.objects.filter(username=username).first()
        if existing:
            if not existing.email:  # demo data seeded before the users had addresses
                User.objects.filter(pk=existing.pk).update(email=f"{username}@{DEMO_EMAIL_DOMAIN}")
            return existing
        return user_create(
            username=username,
            password=DEMO_PASSWORD,
            role=role,
            province=province,
            enterprise=enterprise,
            full_name=full_name,
            # Notifications are emailed too (issue 11 §3); under `make run` the console backend prints them.
            email=f"{username}@{DEMO_EMAIL_DOMAIN}",
            is_staff=role == Role.OPS,
        )

    def _enterprise(self, spec: DemoEnterprise, manager: User) -> Enterprise:
        data: EnterpriseData = spec["enterprise"]
        person: ResponsiblePersonData = spec["responsible"]
        if data.credential_number:
            found = Enterprise.objects.filter(credential_number_index=credential_index(data.credential_number)).first()
        else:
            found = Enterprise.objects.filter(name=data.name, credential_type=data.credential_type).first()
        if found:
            return found
        if data.credential_type == "official_letter":
            credential = _document_image("单位介绍信", [data.name, "兹介绍我单位办理物联网卡业务", "（公章）"])
        else:
            credential = _document_image(
                "营业执照",
                [f"名称 {data.name}", f"统一社会信用代码 {data.credential_number}", f"住所 {data.credential_address}"],
            )
        letters = []
        if not person.is_legal_representative:
            letters = [
                _document_image("责任人授权书", [data.name, f"兹授权 {person.name} 为物联网卡业务责任人", "（公章）"])
            ]
        return enterprise_register(
            actor=manager,
            enterprise=data,
            responsible=person,
            credential_files=[credential],
            responsible_id_files=[_id_photo(person, spec["face"])],
            authorisation_letter_files=letters,
            business_reference="DEMO",
        )


# --- cards (issue 3): packages and ~20 demo cards per demo enterprise --------------------------------

# The IoT test-card package (U4) is a trial: a test period and the services its cards have.
DEMO_TEST_PACKAGE = {
    "is_test_package": True,
    "test_period_days": 90,
    "data_service": "non_directed",
    "voice_service": "none",
    "sms_service": "non_directed",
}
DEMO_PACKAGES = [
    # code, name, what makes it an IoT test-card package (U4), or None
    ("IOT-STD", "物联网标准套餐", None),
    ("IOT-DATA", "物联网通用流量套餐", None),
    ("IOT-149", "149号段语音短信套餐", None),
    ("IOT-TEST", "物联测试卡套餐", DEMO_TEST_PACKAGE),
]

# (how many, package code, 149 segment, data, voice, sms): every rule U0-U4 appears.
DEMO_CARD_MIX = [
    (5, "IOT-STD", False, "directed", "none", "none"),  # U0
    (4, "IOT-DATA", False, "non_directed", "none", "none"),  # U1: provincial exemption possible
    (4, "IOT-149", True, "directed", "none", "non_directed"),  # U2: 149 with non-directed SMS, no exemption
    (3, "IOT-149", True, "none", "directed", "none"),  # U3: group exemption
    (2, "IOT-149", True, "non_directed", "none", "directed"),  # U1 + U3: both approvals
    (2, "IOT-TEST", True, "non_directed", "none", "non_directed"),  # U4: test package (its services), a trial
]


def _demo_iccid(enterprise_no: int, serial: int) -> str:
    body = f"898611{enterprise_no:02d}{serial:011d}"
    return body + luhn.calc_check_digit(body)


def _demo_enterprise(spec: DemoEnterprise) -> Enterprise | None:
    data: EnterpriseData = spec["enterprise"]
    if data.credential_number:
        return Enterprise.objects.filter(credential_number_index=credential_index(data.credential_number)).first()
    return Enterprise.objects.filter(name=data.name, credential_type=data.credential_type).first()


def seed_demo_cards(stdout=None) -> int:
    """Packages, and cards in stock for each demo enterprise (seed_demo_activations activates some).

    Idempotent: packages are matched by code and cards by ICCID.
    """
    packages = {}
    for code, name, test in DEMO_PACKAGES:
        packages[code] = Package.objects.filter(code=code).first() or package_create(
            actor=None, code=code, name=name, **(test or {})
        )
    created = 0
    for enterprise_no, spec in enumerate(DEMO_ENTERPRISES, start=1):
        enterprise = _demo_enterprise(spec)
        if enterprise is None:
            continue
        manager = User.objects.filter(username=spec["manager"]).first()
        serial = 0
        for count, code, segment_149, data_level, voice, sms in DEMO_CARD_MIX:
            for _ in range(count):
                serial += 1
                iccid = _demo_iccid(enterprise_no, serial)
                if Card.objects.filter(iccid=iccid).exists():
                    continue
                msisdn = f"149{enterprise_no}{serial:07d}" if segment_149 else f"1440{enterprise_no}{serial:08d}"
                card_create(
                    actor=manager,
                    enterprise=enterprise,
                    iccid=iccid,
                    msisdn=msisdn,
                    package=packages[code],
                    data=data_level,
                    voice=voice,
                    sms=sms,
                )
                created += 1
    if stdout is not None:
        stdout.write(f"Demo cards ready ({created} new).")
    return created


# Activation is a business: a new-installation order with its handler, whose live photo is compared
# with the handler's ID photo (H2, H3). One per enterprise, for its cards that need no user real-name;
# (ID photo, live photo) of one person, each live photo used once (else the replay check flags it).
DEMO_HANDLERS = {
    "bj_tech": ("赵刚", "110102198703150057", "北京市西城区金融街3号", ("obama/obama1.jpg", "obama/obama3.jpg")),
    "bj_water": ("钱敏", "11010819900620004X", "北京市海淀区玉渊潭南路5号", ("biden/biden1.jpg", "biden/biden2.jpg")),
    "gd_logistics": (
        "孙丽",
        "440106198501010031",
        "广州市天河区天河路385号",
        ("kit_harington/kit1.jpg", "kit_harington/kit2.jpg"),
    ),
}


def _fresh_documents(spec: DemoEnterprise, enterprise: Enterprise) -> dict:
    """E2, P3: an order after the enterprise's first brings fresh photos of the originals."""
    if not order_needs_fresh_documents(enterprise):
        return {}
    data: EnterpriseData = spec["enterprise"]
    title = "营业执照" if data.credential_number else "单位介绍信（公章）"
    return {
        "credential_photo": _document_image(title, [f"名称 {data.name}", f"住所 {data.credential_address}"]),
        "responsible_id_photo": _id_photo(spec["responsible"], spec["face"]),
    }


def seed_demo_activations(stdout=None) -> list[str]:
    """With the face photos: a new-installation order per demo enterprise for its cards in stock that
    need no user real-name. The comparison runs (in-process in the embedded mode) and the order
    completes once it passes. Made once: skipped when such a card is already part of an order."""
    faces = _faces_dir()
    if faces is None:
        if stdout is not None:
            stdout.write("No face photos (../shared/testdata/faces): the demo cards stay in stock.")
        return []
    done = []
    for spec in DEMO_ENTERPRISES:
        enterprise = _demo_enterprise(spec)
        manager = User.objects.filter(username=spec["manager"]).first()
        if enterprise is None or manager is None:
            continue
        cards = list(
            Card.objects.filter(enterprise=enterprise, status=CardStatus.IN_STOCK, realname_required=False).order_by(
                "iccid"
            )
        )
        if not cards or OrderCard.objects.filter(card__in=cards).exists():
            continue
        name, id_number, address, (id_face, live_face) = DEMO_HANDLERS[spec["key"]]
        order_create(
            actor=manager,
            enterprise=enterprise,
            business_type="new_installation",
            cards=cards,
            handler=HandlerData(name=name, id_type="resident_id", id_number=id_number, id_address=address),
            handler_id_photo=_photo(faces, id_face),
            handler_live_photo=_photo(faces, live_face),
            **_fresh_documents(spec, enterprise),
        )
        done.append(f"a new-installation order for {len(cards)} cards of {enterprise.name}")
    return done


# --- work in progress (issue 4): orders, card users, exemptions, a change request -------------
# So that every role finds something in its queue. Each item is made once: it is skipped when
# the Beijing demo enterprise already has work of its kind. The face comparisons are real
# (the engine runs in-process in the embedded mode), so those items need the face photos.

# (photo of the ID, live photo): the same person twice (each live photo used once, or the replay
# check flags it), and a borderline pair that goes to review.
HANDLER_PAIR = ("alex_lacamoire/alex1.jpg", "alex_lacamoire/alex2.jpg")
SAME_PERSON = ("rose_leslie/rose1.jpg", "rose_leslie/rose2.jpg")
BORDERLINE = ("johns/John_Shimkus/000383_03227939.jpg", "johns/John_Shimkus/000394_02340150.jpg")


def _photo(faces: Path, relative: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(relative.rsplit("/", 1)[-1], (faces / relative).read_bytes(), content_type="image/jpeg")


def seed_demo_workflows(stdout=None) -> list[str]:
    """Pending exemptions (province, group, both) and a change request for the approvers; with the
    face photos also a completed new-installation order, a verified card user and one in review."""
    spec = DEMO_ENTERPRISES[0]
    enterprise = Enterprise.objects.filter(
        credential_number_index=credential_index(spec["enterprise"].credential_number)
    ).first()
    manager = User.objects.filter(username=spec["manager"]).first()
    admin = User.objects.filter(username="admin_bj").first()
    if enterprise is None or manager is None or admin is None:
        return []

    def card(serial: int) -> Card:
        return Card.objects.get(iccid=_demo_iccid(1, serial))

    done = []
    if not ExemptionRequest.objects.filter(enterprise=enterprise).exists():
        province_form = [_document_image("省内审批单", [enterprise.name, "同意豁免使用人实名", "（省公司审批章）"])]
        group_form = [_document_image("集团审批单", [enterprise.name, "同意豁免使用人实名", "（集团审批章）"])]
        for serial, attachments, reason in [
            (7, {"province": province_form}, "设备为无人值守的水表，无法实名到使用人"),
            (14, {"group": group_form}, "定向语音仅拨打企业客服，无个人使用人"),
            (17, {"province": province_form, "group": group_form}, "车载终端由企业统一管理"),
        ]:
            with transaction.atomic():
                exemption_file(
                    actor=manager, enterprise=enterprise, cards=[card(serial)], reason=reason, attachments=attachments
                )
        done.append("3 exemption requests")
    if not ChangeRequest.objects.filter(enterprise=enterprise).exists():
        data = spec["enterprise"]
        with transaction.atomic():
            change_request_submit(
                actor=admin,
                enterprise=enterprise,
                target="enterprise",
                values={
                    "name": data.name,
                    "credential_type": data.credential_type,
                    "credential_number": data.credential_number,
                    "credential_address": "北京市朝阳区望京街18号",
                },
                files=[
                    _document_image(
                        "营业执照",
                        [
                            f"名称 {data.name}",
                            f"统一社会信用代码 {data.credential_number}",
                            "住所 北京市朝阳区望京街18号",
                        ],
                    )
                ],
                reason="公司搬迁，住所变更",
            )
        done.append("a change request")

    faces = _faces_dir()
    if faces is None:
        if stdout is not None:
            stdout.write("No face photos (../shared/testdata/faces): no demo orders or card users.")
        return done
    if not OrderCard.objects.filter(card=card(6)).exists():
        # Cards that need their users' real-name: the order completes and they wait for it (U5); a card
        # user verified below activates card 10 under this order.
        order_create(
            actor=manager,
            enterprise=enterprise,
            business_type="new_installation",
            cards=[card(6), card(10), card(11)],
            handler=HandlerData(
                name="王五", id_type="resident_id", id_number="110101199003070038", id_address="北京市东城区东长安街1号"
            ),
            handler_id_photo=_photo(faces, HANDLER_PAIR[0]),
            handler_live_photo=_photo(faces, HANDLER_PAIR[1]),
            **_fresh_documents(spec, enterprise),
        )
        done.append("a new-installation order")
    if not CardUser.objects.filter(enterprise=enterprise).exists():
        for name, id_number, pair, serial in [
            ("李明", "110105198801010014", SAME_PERSON, 10),
            ("周强", "110106197905050012", BORDERLINE, 11),
        ]:
            card_user_register(
                actor=manager,
                enterprise=enterprise,
                name=name,
                id_type="resident_id",
                id_number=id_number,
                id_photo=_photo(faces, pair[0]),
                live_photo=_photo(faces, pair[1]),
                biometric_consent=True,
                cards=[card(serial)],
            )
        done.append("2 card users (one verified, one in manual review)")
    return done
