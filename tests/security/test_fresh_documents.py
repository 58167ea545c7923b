"""Issue 7 §1.5 / E2, P3: every later order takes a fresh credential photo and a fresh
responsible-person ID photo (只需上传…证件原件照片: that photo is the one thing still required).

The enterprise's first order belongs to its registration (首次开通), whose documents were just
uploaded; every order after it is later business. A refused order leaves no row and no file;
an accepted one stores each photo as a new document version naming the order number.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from rest_framework.test import APIClient

from cards.models import BusinessType, Order, OrderStatus
from core.errors import ValidationFailed
from core.pending_uploads import FOLDER as KEPT  # a form's files kept for its next submit (issue 11 §2)
from enterprises.models import Document, DocumentKind
from tests import factories, idgen
from tests.images import jpeg_upload, pdf_upload

pytestmark = pytest.mark.django_db

NEW, HANDLER, DETAILS = reverse("orders:new"), reverse("orders:new_handler"), reverse("orders:new_details")


@pytest.fixture(autouse=True)
def no_engine(monkeypatch):
    monkeypatch.setattr("verification.services.enqueue_verification", lambda pk: None)


@pytest.fixture
def manager(world):
    return world["users"]["account_manager"]


@pytest.fixture
def ent(world):
    return world["enterprise"]


def files() -> int:
    root = Path(settings.PRIVATE_MEDIA_ROOT)
    return sum(1 for p in root.rglob("*") if p.is_file() and KEPT not in p.parts) if root.exists() else 0


def written() -> tuple:
    return Order.objects.count(), Document.objects.count(), files()


def versions(enterprise) -> dict:
    return {
        kind: Document.objects.filter(enterprise=enterprise, kind=kind).count()
        for kind in (DocumentKind.CREDENTIAL, DocumentKind.OFFICIAL_LETTER, DocumentKind.RESPONSIBLE_ID)
    }


def first_order(enterprise, manager):
    """The enterprise's first order, without fresh photos: its registration's documents serve it."""
    card = factories.active_card(enterprise=enterprise)  # a new installation: the first order
    return card


def suspend_order(manager, enterprise, card, **photos):
    return factories.order(
        actor=manager,
        enterprise=enterprise,
        business_type=BusinessType.SUSPEND_RESUME,
        cards=[card],
        parameters={"action": "suspend"},
        live_photo=False,
        **photos,
    )


def test_7_1_5_the_first_order_is_the_registration_business_and_needs_no_fresh_photos(ent, manager):
    card = factories.card(enterprise=ent)
    before = versions(ent)
    order = factories.order(
        actor=manager,
        enterprise=ent,
        business_type=BusinessType.NEW_INSTALLATION,
        cards=[card],
        credential_photo=None,
        responsible_id_photo=None,
    )
    assert order.pk is not None
    assert versions(ent) == before


@pytest.mark.parametrize(
    "missing, field",
    [
        ({"credential_photo": None}, "credential_photo"),
        ({"responsible_id_photo": None}, "responsible_id_photo"),
        ({"credential_photo": None, "responsible_id_photo": None}, "credential_photo"),
    ],
)
def test_7_1_5_a_later_suspend_order_without_the_fresh_photos_is_refused(ent, manager, missing, field):
    card = first_order(ent, manager)
    before = written()
    with pytest.raises(ValidationFailed) as caught:
        suspend_order(manager, ent, card, **missing)
    assert (caught.value.code, caught.value.field) == ("fresh_photo_required", field)
    assert "E2" in str(caught.value.message) or "P3" in str(caught.value.message)
    assert written() == before  # no order, no document, no file
    card.refresh_from_db()
    assert card.status == "active"


def test_7_1_5_a_later_order_with_both_fresh_photos_completes_and_adds_document_versions(ent, manager):
    card = first_order(ent, manager)
    before = versions(ent)
    order = suspend_order(manager, ent, card)
    assert order.status == OrderStatus.COMPLETED
    after = versions(ent)
    assert after[DocumentKind.CREDENTIAL] == before[DocumentKind.CREDENTIAL] + 1
    assert after[DocumentKind.RESPONSIBLE_ID] == before[DocumentKind.RESPONSIBLE_ID] + 1
    newest = Document.objects.filter(enterprise=ent, kind=DocumentKind.CREDENTIAL).order_by("-version").first()
    assert newest.business_reference == order.number and newest.version == after[DocumentKind.CREDENTIAL]


def test_7_1_5_a_rejected_first_order_still_makes_the_next_one_a_later_business(ent, manager, world):
    from verification.models import Verification
    from verification.services import verification_record_result, verification_review

    order = factories.order(
        actor=manager,
        enterprise=ent,
        business_type=BusinessType.NEW_INSTALLATION,
        cards=[factories.card(enterprise=ent)],
        credential_photo=None,
        responsible_id_photo=None,
    )
    verification = verification_record_result(
        verification=Verification.objects.get(order=order), outcome="fail", distance=0.8
    )
    verification_review(
        verification=verification, actor=world["users"]["provincial_approver"], approve=False, comment="不是本人"
    )
    assert Order.objects.get(pk=order.pk).status == OrderStatus.REJECTED
    with pytest.raises(ValidationFailed) as caught:
        factories.order(
            actor=manager,
            enterprise=ent,
            business_type=BusinessType.NEW_INSTALLATION,
            cards=[factories.card(enterprise=ent)],
            credential_photo=None,
        )
    assert caught.value.field == "credential_photo"


def test_7_1_5_a_letter_unit_brings_a_fresh_letter(manager):
    unit = factories.enterprise(
        actor=manager, name="北京市测试局", credential_type="official_letter", credential_number=""
    )
    card = first_order(unit, manager)
    with pytest.raises(ValidationFailed) as caught:
        suspend_order(manager, unit, card, credential_photo=None)
    assert caught.value.field == "credential_photo" and "letter" in str(caught.value.message)
    before = versions(unit)
    suspend_order(manager, unit, card, credential_photo=pdf_upload("公函.pdf"))
    assert versions(unit)[DocumentKind.OFFICIAL_LETTER] == before[DocumentKind.OFFICIAL_LETTER] + 1


# --- the API ---------------------------------------------------------------------------------


def api_post(manager, ent, card, **photos):
    api = APIClient()
    api.force_authenticate(manager)
    body = {
        "enterprise": str(ent.public_id),
        "business_type": "suspend_resume",
        "cards": [card.iccid],
        "handler_id_type": "resident_id",
        "handler_id_number": idgen.resident_id(),
        "handler_name": "王五",
        "handler_id_address": "北京市西城区金融街3号",
        "handler_id_photo": jpeg_upload("h.jpg"),
        "parameters": '{"action": "suspend"}',
        **photos,
    }
    return api.post("/api/v1/orders/", body, format="multipart")


def test_7_1_5_api_refuses_a_later_order_without_the_fresh_photos(ent, manager):
    card = first_order(ent, manager)
    before = written()
    response = api_post(manager, ent, card, responsible_id_photo=jpeg_upload("r.jpg"))
    assert response.status_code == 400, response.content
    assert (response.json()["code"], response.json()["field"]) == ("fresh_photo_required", "credential_photo")
    response = api_post(manager, ent, card, credential_photo=jpeg_upload("c.jpg"))
    assert (response.json()["code"], response.json()["field"]) == ("fresh_photo_required", "responsible_id_photo")
    assert written() == before
    versions_before = versions(ent)
    response = api_post(
        manager, ent, card, credential_photo=jpeg_upload("c.jpg"), responsible_id_photo=jpeg_upload("r.jpg")
    )
    assert response.status_code == 201, response.content
    assert versions(ent)[DocumentKind.CREDENTIAL] == versions_before[DocumentKind.CREDENTIAL] + 1
    assert versions(ent)[DocumentKind.RESPONSIBLE_ID] == versions_before[DocumentKind.RESPONSIBLE_ID] + 1


def test_7_1_5_the_api_schema_documents_the_fresh_photo_fields(db):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    body = schema["components"]["schemas"]["OrderCreateRequest"]["properties"]
    for name in ("credential_photo", "responsible_id_photo"):
        assert "fresh_photo_required" in body[name]["description"], name


# --- the wizard ------------------------------------------------------------------------------


def wizard_to_details(client, ent, card):
    client.post(NEW, {"business_type": "suspend_resume", "enterprise": str(ent.public_id), "cards": card.iccid})
    client.post(HANDLER, {"handler_id_type": "resident_id", "handler_id_number": idgen.resident_id()})


def test_7_1_5_the_wizard_asks_for_both_fresh_photos_and_refuses_without_them(client, ent, manager):
    card = first_order(ent, manager)
    client.force_login(manager)
    wizard_to_details(client, ent, card)
    html = client.get(DETAILS).content.decode()
    assert "Enterprise documents (required)" in html and "E2" in html and "P3" in html
    for name in ("credential_photo", "responsible_id_photo"):
        tag = html.split(f'name="{name}"')[1].split(">")[0]
        assert "required" in tag, name
    before = written()
    response = client.post(
        DETAILS,
        {
            "handler_name": "王五",
            "handler_id_address": "北京市西城区金融街3号",
            "handler_id_photo": jpeg_upload("h.jpg"),
            "action": "suspend",
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "credential_photo" in errors and "responsible_id_photo" in errors
    assert "E2" in errors["credential_photo"][0] and "P3" in errors["responsible_id_photo"][0]
    assert written() == before
    response = client.post(
        DETAILS,
        {
            "handler_name": "王五",
            "handler_id_address": "北京市西城区金融街3号",
            "handler_id_photo": jpeg_upload("h.jpg"),
            "action": "suspend",
            "credential_photo": jpeg_upload("c.jpg"),
            "responsible_id_photo": jpeg_upload("r.jpg"),
        },
    )
    assert response.status_code == 302
    assert Order.objects.filter(business_type="suspend_resume", status=OrderStatus.COMPLETED).count() == 1


def test_7_1_5_the_wizard_keeps_them_optional_on_the_first_order(client, ent, manager):
    card = factories.card(enterprise=ent)
    client.force_login(manager)
    client.post(NEW, {"business_type": "cancellation", "enterprise": str(ent.public_id), "cards": card.iccid})
    client.post(HANDLER, {"handler_id_type": "resident_id", "handler_id_number": idgen.resident_id()})
    html = client.get(DETAILS).content.decode()
    assert "Enterprise documents (optional)" in html
