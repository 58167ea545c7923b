"""The order wizard, the order pages and the order API (H1-H3, E2/P3), driven through test clients.

The face comparison is not run (the task queueing is switched off); the
engine's result is fed in with verification_record_result where needed.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import PiiAccessLog
from cards.models import BusinessType, Card, CardStatus, Handler, Order, OrderStatus
from core.api import NewestFirstPagination
from tests import factories, idgen
from tests.cards.order_helpers import active, counts, passed, stock, verification_of
from tests.images import jpeg_upload
from verification.capture import challenge_sign
from verification.models import Verification
from verification.services import verification_record_result

pytestmark = pytest.mark.django_db

NEW, HANDLER, DETAILS = reverse("orders:new"), reverse("orders:new_handler"), reverse("orders:new_details")


@pytest.fixture(autouse=True)
def no_engine(monkeypatch):
    monkeypatch.setattr("verification.services.enqueue_verification", lambda pk: None)


@pytest.fixture
def am_client(client, world):
    client.force_login(world["users"]["account_manager"])
    return client


def fresh_photos() -> dict:
    """E2, P3: every order after the enterprise's first brings fresh photos of the originals."""
    return {"credential_photo": jpeg_upload("credential.jpg"), "responsible_id_photo": jpeg_upload("resp-id.jpg")}


def start(client, enterprise, business_type, cards):
    return client.post(
        NEW,
        {
            "business_type": business_type,
            "enterprise": str(enterprise.public_id),
            "cards": "\n".join(c.iccid for c in cards),
        },
    )


def handler_step(client, number, id_type="resident_id"):
    return client.post(HANDLER, {"handler_id_type": id_type, "handler_id_number": number})


def test_wizard_new_installation_end_to_end_with_a_new_handler(am_client, world, monkeypatch):
    from tests.cards.test_card_user_live_capture import frames, stand_in

    # The handler's live capture passes (one photo alone would go to a reviewer: test_order_live_capture.py).
    stand_in(monkeypatch, {"outcome": "pass", "reasons": [], "best_frame": 0})
    ent = world["enterprise"]
    cards = stock(ent, 2)
    number = idgen.resident_id()
    response = start(am_client, ent, BusinessType.NEW_INSTALLATION, cards)
    assert response.status_code == 302 and response["Location"] == HANDLER
    response = handler_step(am_client, number)
    assert response.status_code == 302 and response["Location"] == DETAILS

    page = am_client.get(DETAILS)
    html = page.content.decode()
    assert page.status_code == 200
    # A new handler: name and address are asked; H3 live photo is required and opens the front camera.
    assert 'name="handler_name"' in html and 'name="handler_id_address"' in html
    assert 'name="handler_live_photo"' in html and 'capture="user"' in html and 'accept="image/*"' in html
    assert "H3" in html
    assert number not in html and number[:6] + "********" + number[-4:] in html
    # Nothing of the ID number in the clear in the session store either.
    assert all(number not in str(s.get_decoded()) for s in Session.objects.all())

    response = am_client.post(
        DETAILS,
        {
            "handler_name": "王五",
            "handler_id_address": "北京市西城区金融街3号",
            "handler_id_photo": jpeg_upload("id.jpg"),
            "frames": frames(),
            "challenge": challenge_sign(["left", "right"]),
            "credential_photo": jpeg_upload("cred.jpg"),
        },
    )
    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("orders:detail", args=[order.public_id])
    assert order.status == OrderStatus.AWAITING_VERIFICATION
    assert order.handler.name == "王五" and order.handler.id_number == number
    assert list(order.cards.order_by("pk")) == cards

    detail = am_client.get(response["Location"])
    html = detail.content.decode()
    assert detail.status_code == 200
    assert f'data-order-poll="{reverse("api:order-detail", args=[order.public_id])}"' in html
    assert "js/order_wizard.js" in html
    assert number not in html
    # The wizard's data is gone once the order is filed.
    assert am_client.get(DETAILS).status_code == 302

    passed(order)
    detail = am_client.get(reverse("orders:detail", args=[order.public_id]))
    assert "data-order-poll" not in detail.content.decode()
    assert {c.status for c in Card.objects.filter(pk__in=[c.pk for c in cards])} == {CardStatus.ACTIVE}


def test_wizard_returning_handler_only_gives_a_fresh_id_photo(am_client, world):
    ent = world["enterprise"]
    number = idgen.resident_id()
    factories.order(
        actor=world["users"]["account_manager"],
        enterprise=ent,
        business_type=BusinessType.CANCELLATION,
        cards=stock(ent),
        handler=factories.handler_data(id_number=number, name="老经办人"),
    )
    start(am_client, ent, BusinessType.CANCELLATION, stock(ent))
    handler_step(am_client, number)
    html = am_client.get(DETAILS).content.decode()
    assert "老经办人" in html
    assert 'name="handler_name"' not in html and 'name="handler_id_address"' not in html
    assert 'name="handler_id_photo"' in html
    # Not a face-gated business: the live photo is offered but optional.
    assert "(optional)" in html or "可选" in html
    response = am_client.post(DETAILS, {"handler_id_photo": jpeg_upload("fresh.jpg"), **fresh_photos()})
    assert response.status_code == 302
    assert Handler.objects.count() == 1
    assert Order.objects.filter(status=OrderStatus.COMPLETED).count() == 2


def test_wizard_gated_order_without_live_photo_is_refused_with_nothing_written(am_client, world):
    ent = world["enterprise"]
    start(am_client, ent, BusinessType.NEW_INSTALLATION, stock(ent))
    handler_step(am_client, idgen.resident_id())
    before = counts()
    response = am_client.post(
        DETAILS, {"handler_name": "王五", "handler_id_address": "北京", "handler_id_photo": jpeg_upload("id.jpg")}
    )
    assert response.status_code == 200
    assert "frames" in response.context["form"].errors  # the capture, or its fallback photo, is missing
    assert counts() == before


def test_wizard_step1_refuses_a_card_of_another_enterprise(am_client, world):
    ent = world["enterprise"]
    foreign = stock(world["enterprise_same_province"])[0]
    response = start(am_client, ent, BusinessType.CANCELLATION, [foreign])
    assert response.status_code == 200
    assert response.context["form"].errors["cards"]
    assert foreign.iccid in response.content.decode()
    response = am_client.post(
        NEW, {"business_type": "cancellation", "enterprise": str(ent.public_id), "cards": "not-an-iccid"}
    )
    assert response.status_code == 200 and response.context["form"].errors["cards"]


def test_wizard_offers_only_the_users_enterprises(client, world):
    client.force_login(world["users"]["enterprise_admin"])
    html = client.get(NEW).content.decode()
    assert world["enterprise"].name in html
    assert world["enterprise_same_province"].name not in html and world["enterprise_other"].name not in html
    # Posting another enterprise's id is a form error, not a way in.
    response = start(
        client, world["enterprise_same_province"], BusinessType.CANCELLATION, stock(world["enterprise_same_province"])
    )
    assert response.status_code == 200 and "enterprise" in response.context["form"].errors


def test_wizard_handler_step_validates_the_id_number(am_client, world):
    ent = world["enterprise"]
    start(am_client, ent, BusinessType.CANCELLATION, stock(ent))
    response = handler_step(am_client, "110105198507120000")
    assert response.status_code == 200
    assert response.context["form"].errors["handler_id_number"]
    assert "110105198507120000" not in response.content.decode()


def test_wizard_steps_in_the_wrong_order_go_back_to_the_start(am_client, world):
    assert am_client.get(HANDLER)["Location"] == NEW
    assert am_client.get(DETAILS)["Location"] == NEW
    ent = world["enterprise"]
    start(am_client, ent, BusinessType.CANCELLATION, stock(ent))
    assert am_client.get(DETAILS)["Location"] == HANDLER


def test_wizard_replacement_asks_a_new_iccid_per_card(am_client, world):
    ent = world["enterprise"]
    cards = active(ent, 2)
    start(am_client, ent, BusinessType.CARD_REPLACEMENT, cards)
    handler_step(am_client, idgen.resident_id())
    html = am_client.get(DETAILS).content.decode()
    assert 'name="new_iccid_0"' in html and 'name="new_iccid_1"' in html
    assert 'name="target_enterprise"' not in html and 'name="action"' not in html
    new = [factories.iccid(), factories.iccid()]
    replacements = Order.objects.filter(business_type=BusinessType.CARD_REPLACEMENT)
    bad = am_client.post(
        DETAILS,
        {
            "handler_name": "王五",
            "handler_id_address": "北京",
            "handler_id_photo": jpeg_upload(),
            "handler_live_photo": jpeg_upload(),
            "new_iccid_0": new[0],
            "new_iccid_1": "8986000000000000001",
            **fresh_photos(),
        },
    )
    assert bad.status_code == 200 and bad.context["form"].non_field_errors()
    assert not replacements.exists()
    response = am_client.post(
        DETAILS,
        {
            "handler_name": "王五",
            "handler_id_address": "北京",
            "handler_id_photo": jpeg_upload(),
            "handler_live_photo": jpeg_upload(),
            "new_iccid_0": new[0],
            "new_iccid_1": new[1],
            **fresh_photos(),
        },
    )
    assert response.status_code == 302
    order = replacements.get()
    assert order.parameters == {"new_iccids": {cards[0].iccid: new[0], cards[1].iccid: new[1]}}


def test_wizard_transfer_offers_other_visible_enterprises(am_client, world):
    ent = world["enterprise"]
    start(am_client, ent, BusinessType.OWNERSHIP_TRANSFER, active(ent))
    handler_step(am_client, idgen.resident_id())
    form = am_client.get(DETAILS).context["form"]
    assert list(form.fields["target_enterprise"].queryset) == [world["enterprise_same_province"]]


def test_wizard_service_change_refusal_explains_the_rule(am_client, world):
    ent = world["enterprise"]
    card = active(ent, segment_149=True)[0]
    start(am_client, ent, BusinessType.SERVICE_CHANGE, [card])
    handler_step(am_client, idgen.resident_id())
    before = Order.objects.count()
    response = am_client.post(
        DETAILS,
        {
            "handler_name": "王五",
            "handler_id_address": "北京",
            "handler_id_photo": jpeg_upload(),
            "sms": "non_directed",
            **fresh_photos(),
        },
    )
    assert response.status_code == 200
    assert "U2" in response.content.decode()
    assert Order.objects.count() == before
    assert Card.objects.get(pk=card.pk).sms_service == "none"


@pytest.mark.zh
def test_order_detail_shows_rejection_and_retake(am_client, world):
    ent = world["enterprise"]
    order = factories.order(
        actor=world["users"]["account_manager"],
        enterprise=ent,
        business_type=BusinessType.NEW_INSTALLATION,
        cards=stock(ent),
    )
    verification_record_result(
        verification=verification_of(order),
        outcome="rejected",
        reasons=[{"code": "no_face", "zh": "未检测到人脸", "en": "No face found in the live photo"}],
    )
    url = reverse("orders:detail", args=[order.public_id])
    html = am_client.get(url).content.decode()
    assert 'name="handler_live_photo"' in html and "未检测到人脸" in html
    assert "data-order-poll" not in html  # nothing changes until a new photo is taken
    response = am_client.post(
        reverse("orders:retake", args=[order.public_id]), {"handler_live_photo": jpeg_upload("again.jpg")}
    )
    assert response.status_code == 302
    assert Verification.objects.filter(order=order).count() == 2
    assert "data-order-poll" in am_client.get(url).content.decode()  # the new comparison runs


def test_order_photo_is_served_privately_and_logged(client, world):
    ent = world["enterprise"]
    order = factories.order(
        actor=world["users"]["account_manager"],
        enterprise=ent,
        business_type=BusinessType.CANCELLATION,
        cards=stock(ent),
    )
    client.force_login(world["users"]["account_manager"])
    response = client.get(reverse("orders:photo", args=[order.public_id, "id"]))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store, private"
    assert response["Content-Type"] == "image/jpeg"
    assert PiiAccessLog.objects.filter(field="handler_id_photo", object_id=str(order.pk)).count() == 1
    assert client.get(reverse("orders:photo", args=[order.public_id, "other"])).status_code == 404
    client.force_login(world["users"]["ops"])  # sees orders, personal data masked only
    assert client.get(reverse("orders:photo", args=[order.public_id, "id"])).status_code == 403


def test_order_list_filters(am_client, world):
    ent = world["enterprise"]
    am = world["users"]["account_manager"]
    done = factories.order(actor=am, enterprise=ent, business_type=BusinessType.CANCELLATION, cards=stock(ent))
    waiting = factories.order(actor=am, enterprise=ent, business_type=BusinessType.NEW_INSTALLATION, cards=stock(ent))
    html = am_client.get(reverse("orders:list")).content.decode()
    assert done.number in html and waiting.number in html
    html = am_client.get(reverse("orders:list"), {"status": "awaiting_verification"}).content.decode()
    assert done.number not in html and waiting.number in html
    assert am_client.get(reverse("orders:list"), {"status": "bogus", "page": "x"}).status_code == 200


# --- the API ---------------------------------------------------------------------------------


@pytest.fixture
def api(world):
    client = APIClient()
    client.force_authenticate(world["users"]["account_manager"])
    return client


def payload(world, card_list, **overrides) -> dict:
    data = {
        "enterprise": str(world["enterprise"].public_id),
        "business_type": "new_installation",
        "cards": [c.iccid for c in card_list],
        "handler_id_type": "resident_id",
        "handler_id_number": idgen.resident_id(),
        "handler_name": "王五",
        "handler_id_address": "北京市西城区金融街3号",
        "handler_id_photo": jpeg_upload("id.jpg"),
        "handler_live_photo": jpeg_upload("live.jpg"),
        **fresh_photos(),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_api_gated_order_without_live_photo_is_refused_with_nothing_written(api, world):
    cards = stock(world["enterprise"])
    before = counts()
    response = api.post("/api/v1/orders/", payload(world, cards, handler_live_photo=None), format="multipart")
    assert response.status_code == 400
    assert response.json()["code"] == "live_photo_required"
    assert response.json()["field"] == "handler_live_photo"
    assert counts() == before


def test_api_create_then_poll_until_the_comparison_passes(api, world):
    cards = stock(world["enterprise"], 2)
    body = payload(world, cards)
    number = body["handler_id_number"]
    response = api.post("/api/v1/orders/", body, format="multipart")
    assert response.status_code == 201, response.content
    data = response.json()
    assert response["Cache-Control"] == "no-store, private"
    assert data["status"] == "awaiting_verification" and data["face_gated"] is True
    assert data["verification"]["status"] == "pending" and data["verification"]["gate_open"] is False
    assert data["handler"] == {
        "name": "王五",
        "id_type": "resident_id",
        "id_number_masked": number[:6] + "********" + number[-4:],
    }
    assert [c["iccid"] for c in data["cards"]] == [c.iccid for c in cards]
    assert number not in json.dumps(data)
    order = Order.objects.get(public_id=data["public_id"])
    passed(order)
    data = api.get(data["url"]).json()
    assert data["status"] == "completed" and data["verification"]["status"] == "passed"
    assert {c["outcome"] for c in data["cards"]} == {"activated"}
    assert {c["status"] for c in data["cards"]} == {"active"}


def test_api_declined_order_shows_the_reason(api, world):
    cards = stock(world["enterprise"])
    data = api.post("/api/v1/orders/", payload(world, cards), format="multipart").json()
    order = Order.objects.get(public_id=data["public_id"])
    from verification.services import verification_review

    verification = verification_record_result(verification=verification_of(order), outcome="fail", distance=0.9)
    verification_review(
        verification=verification, actor=world["users"]["provincial_approver"], approve=False, comment="不是同一人"
    )
    data = api.get(data["url"]).json()
    assert (data["status"], data["rejection_reason"]) == ("rejected", "不是同一人")
    assert data["verification"]["status"] == "declined"


def test_api_replacement_with_json_parameters_and_cards_as_lines(api, world):
    cards = active(world["enterprise"], 2)
    new = {cards[0].iccid: factories.iccid(), cards[1].iccid: factories.iccid()}
    response = api.post(
        "/api/v1/orders/",
        payload(
            world,
            [],
            business_type="card_replacement",
            cards="\n".join(c.iccid for c in cards),
            parameters=json.dumps({"new_iccids": new}),
        ),
        format="multipart",
    )
    assert response.status_code == 201, response.content
    lines = response.json()["cards"]
    assert [(c["previous_iccid"], c["new_iccid"]) for c in lines] == list(new.items())


@pytest.mark.parametrize(
    "overrides, status, code, field",
    [
        ({"parameters": "{not json"}, 400, "invalid", "parameters"),
        (
            {"business_type": "cancellation", "parameters": json.dumps({"action": "suspend"})},
            400,
            "unexpected_parameter",
            "action",
        ),
        ({"handler_id_number": "110105198507120000"}, 400, "invalid_checksum", "handler_id_number"),
        ({"handler_id_type": "library_card"}, 400, "invalid_choice", "handler_id_type"),
        ({"cards": ["8986"]}, 400, "invalid_iccid", "cards"),
        ({"business_type": "upgrade"}, 400, "invalid_choice", "business_type"),
        ({"enterprise": None}, 400, "required", "enterprise"),
        ({"enterprise": "00000000-0000-0000-0000-000000000000"}, 404, "not_found", None),
        ({"handler_id_photo": None}, 400, "required", "handler_id_photo"),
    ],
)
def test_api_bad_requests_are_clear_errors_with_nothing_written(api, world, overrides, status, code, field):
    cards = stock(world["enterprise"])
    before = counts()
    response = api.post("/api/v1/orders/", payload(world, cards, **overrides), format="multipart")
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert response.json().get("field") == field
    assert counts() == before


def test_api_service_change_needing_realname_is_409_with_the_decision(api, world):
    card = active(world["enterprise"], segment_149=True)[0]
    response = api.post(
        "/api/v1/orders/",
        payload(
            world,
            [card],
            business_type="service_change",
            handler_live_photo=None,
            parameters=json.dumps({"voice": "non_directed"}),
        ),
        format="multipart",
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "realname_required"
    assert body["decision"]["rules"] == ["U2"] and body["decision"]["exemption"] == "none_possible"
    assert not Order.objects.filter(business_type="service_change").exists()


def test_api_returning_handler_needs_only_the_id_and_a_fresh_photo(api, world):
    number = idgen.resident_id()
    first = api.post(
        "/api/v1/orders/",
        payload(world, stock(world["enterprise"]), business_type="cancellation", handler_id_number=number),
        format="multipart",
    )
    second = api.post(
        "/api/v1/orders/",
        payload(
            world,
            stock(world["enterprise"]),
            business_type="cancellation",
            handler_id_number=number,
            handler_name=None,
            handler_id_address=None,
            handler_live_photo=None,
        ),
        format="multipart",
    )
    assert (first.status_code, second.status_code) == (201, 201)
    assert Handler.objects.count() == 1
    assert second.json()["handler"]["name"] == "王五"


def test_api_list_filters(api, world):
    am = world["users"]["account_manager"]
    ent = world["enterprise"]
    done = factories.order(actor=am, enterprise=ent, business_type=BusinessType.CANCELLATION, cards=stock(ent))
    waiting = factories.order(actor=am, enterprise=ent, business_type=BusinessType.NEW_INSTALLATION, cards=stock(ent))
    numbers = lambda **q: {o["number"] for o in api.get("/api/v1/orders/", q).json()["results"]}  # noqa: E731
    assert numbers() == {done.number, waiting.number}
    assert numbers(status="completed") == {done.number}
    assert numbers(business_type="new_installation") == {waiting.number}
    assert numbers(enterprise=str(world["enterprise_same_province"].public_id)) == set()
    assert api.get("/api/v1/orders/", {"status": "bogus"}).status_code == 400
    item = api.get("/api/v1/orders/").json()["results"][0]
    assert item["card_count"] == 1 and "cards" not in item


def test_api_list_pages_by_cursor_with_each_orders_cards(api, world, monkeypatch):
    """Keyset pages, newest first: no count of the whole scope to go stale or grow (issue 12 §1.4), and each
    order's card count is its own, though counted only for the page."""
    monkeypatch.setattr(NewestFirstPagination, "page_size", 2)
    am, ent = world["users"]["account_manager"], world["enterprise"]
    made = [
        factories.order(actor=am, enterprise=ent, business_type=BusinessType.CANCELLATION, cards=stock(ent, n))
        for n in (1, 2, 3)
    ]
    first = api.get("/api/v1/orders/").json()
    assert "count" not in first and first["previous"] is None
    second = api.get(first["next"]).json()
    assert second["next"] is None
    shown = [(o["number"], o["card_count"]) for o in first["results"] + second["results"]]
    assert shown == [(made[2].number, 3), (made[1].number, 2), (made[0].number, 1)]


def test_api_schema_documents_the_order_endpoints():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert {"/api/v1/orders/", "/api/v1/orders/{public_id}/", "/api/v1/orders/{public_id}/live-photo/"} <= set(
        schema["paths"]
    )
    create = schema["paths"]["/api/v1/orders/"]["post"]
    assert "multipart/form-data" in create["requestBody"]["content"]
