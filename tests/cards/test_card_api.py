"""REST API for cards, the rule engine, card users and verification status (cards.inventory.api).

Who may call what is in test_card_access_matrix.py; this file checks shapes,
masking, error codes, and that refused requests write nothing.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import PiiAccessLog
from accounts.pii import mask_identifier
from cards.models import CardBinding, CardImport, CardStatus, CardUser, ImportStatus
from cards.rules import REASONS
from tests import factories, idgen
from tests.images import jpeg_upload
from verification.models import Verification

pytestmark = pytest.mark.django_db

API = "/api/v1"


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def manager(world):
    return world["users"]["account_manager"]


@pytest.fixture
def ent(world):
    return world["enterprise"]


@pytest.fixture
def api(manager):
    return client_for(manager)


def assert_error(response, status: int, *, field: str | None, code: str | None = None):
    assert response.status_code == status, response.content
    body = response.json()
    assert body.get("field") == field, body
    if code:
        assert body["code"] == code, body
    assert body["detail"]
    return body


# --- the rule engine -------------------------------------------------------------------


def evaluate(api, language: str | None = None, **overrides):
    body = {"msisdn": "14912345678", "data": "none", "voice": "none", "sms": "non_directed", "test_package": False}
    body.update(overrides)
    headers = {"HTTP_ACCEPT_LANGUAGE": language} if language else {}
    return api.post(f"{API}/rules/evaluate/", body, format="json", **headers)


def test_evaluate_the_example_of_the_issue(api):
    response = evaluate(api, "en")
    assert response.status_code == 200
    body = response.json()
    assert body["user_realname_required"] is True
    assert body["exemption"] == "none_possible"
    assert body["rules"] == ["U2"]
    assert body["reasons"] == [REASONS["U2"].en]
    assert "No exemption is possible" in body["exemption_text"]


@pytest.mark.parametrize(
    "overrides, required, exemption, rules",
    [
        ({"sms": "none"}, False, None, ["U0"]),
        ({"msisdn": "13912345678", "sms": "non_directed"}, False, None, ["U0"]),
        ({"data": "non_directed", "sms": "none"}, True, "province", ["U1"]),
        ({"sms": "directed"}, True, "group", ["U3"]),
        ({"data": "non_directed", "voice": "directed", "sms": "none"}, True, "province_and_group", ["U1", "U3"]),
        ({"data": "non_directed", "test_package": True}, False, None, ["U4"]),
        ({"msisdn": "1440123456789", "data": "non_directed", "sms": "directed"}, True, "province", ["U1"]),
        ({"msisdn": "+86 149-1234-5678"}, True, "none_possible", ["U2"]),
    ],
)
def test_evaluate_decisions(api, overrides, required, exemption, rules):
    body = evaluate(api, **overrides).json()
    assert (body["user_realname_required"], body["exemption"], body["rules"]) == (required, exemption, rules)


def test_evaluate_reasons_follow_the_language(api):
    assert evaluate(api, "zh-hans").json()["reasons"] == [REASONS["U2"].zh]
    assert evaluate(api, "en").json()["reasons"] == [REASONS["U2"].en]


def test_evaluate_test_package_defaults_to_false(api):
    response = api.post(
        f"{API}/rules/evaluate/",
        {"msisdn": "14912345678", "data": "none", "voice": "none", "sms": "non_directed"},
        format="json",
    )
    assert response.json()["rules"] == ["U2"]


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"msisdn": "2491234567"}, "msisdn"),
        ({"msisdn": "149123456789"}, "msisdn"),
        ({"msisdn": "１４９１２３４５６７８"}, "msisdn"),
        ({"msisdn": ""}, "msisdn"),
        ({"data": "lots"}, "data"),
        ({"voice": None}, "voice"),
        ({"sms": ["none"]}, "sms"),
        ({"test_package": "perhaps"}, "test_package"),
    ],
)
def test_evaluate_malformed_request_is_400_naming_the_field(api, overrides, field):
    assert_error(evaluate(api, **overrides), 400, field=field)


def test_evaluate_missing_fields_are_named(api):
    assert_error(api.post(f"{API}/rules/evaluate/", {"msisdn": "14912345678"}, format="json"), 400, field="data")


def test_evaluate_malformed_json_is_400(api):
    response = api.post(f"{API}/rules/evaluate/", "{not json", content_type="application/json")
    assert response.status_code == 400


def test_evaluate_needs_authentication_and_accepts_a_token(world):
    assert evaluate(client_for(None)).status_code == 401
    _instance, token = AuthToken.objects.create(world["users"]["enterprise_admin"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert evaluate(client).status_code == 200


# --- card list ---------------------------------------------------------------------------------


def test_list_is_scoped_ordered_and_cursor_paginated_by_50(api, world, ent):
    own = [factories.card(enterprise=ent).iccid for _ in range(52)]
    factories.card(enterprise=world["enterprise_other"])
    first = api.get(f"{API}/cards/")
    assert first.status_code == 200
    body = first.json()
    assert [c["iccid"] for c in body["results"]] == sorted(own)[:50]
    assert "count" not in body and body["previous"] is None
    second = api.get(body["next"]).json()
    assert [c["iccid"] for c in second["results"]] == sorted(own)[50:]
    assert second["next"] is None


def test_list_filters(api, world, ent):
    active = factories.card(enterprise=ent, iccid=idgen.iccid(prefix="8986041"))
    factories.activate(active)
    needs = factories.card(enterprise=ent, segment_149=True, sms="directed", iccid=idgen.iccid(prefix="8986042"))
    on_test = factories.card(enterprise=ent, test=True, iccid=idgen.iccid(prefix="8986043"))
    other = factories.card(enterprise=world["enterprise_same_province"], iccid=idgen.iccid(prefix="8986044"))

    def listed(**params):
        response = api.get(f"{API}/cards/", params)
        assert response.status_code == 200, response.content
        return [c["iccid"] for c in response.json()["results"]]

    assert listed(status="active") == [active.iccid]
    assert listed(realname_required="true") == [needs.iccid]
    assert listed(package="IOT-TEST") == [on_test.iccid]
    assert listed(iccid__startswith="8986042") == [needs.iccid]
    assert listed(enterprise=str(other.enterprise.public_id)) == [other.iccid]
    assert listed(realname_required="false", iccid__startswith="898604") == sorted(
        [active.iccid, on_test.iccid, other.iccid]
    )
    row = api.get(f"{API}/cards/", {"iccid__startswith": needs.iccid}).json()["results"][0]
    assert row["rules"] == ["U3"] and row["exemption_needed"] == "group" and row["realname_required"] is True
    assert row["package"] == "IOT-STD" and row["enterprise"] == str(ent.public_id)


@pytest.mark.parametrize(
    "params, field",
    [
        ({"status": "bogus"}, "status"),
        ({"iccid__startswith": "89ab"}, "iccid__startswith"),
        ({"package": "NOPE"}, "package"),
        ({"realname_required": "perhaps"}, "realname_required"),
        ({"enterprise": "nope"}, "enterprise"),
    ],
)
def test_list_bad_filters_are_400_naming_the_field(api, params, field):
    assert_error(api.get(f"{API}/cards/", params), 400, field=field)


def test_list_bad_cursor_is_404_not_500(api, ent):
    factories.card(enterprise=ent)
    assert api.get(f"{API}/cards/", {"cursor": "garbage"}).status_code == 404


def test_list_query_count_is_pinned_and_does_not_grow(api, ent, django_assert_num_queries):
    for _ in range(3):
        factories.card(enterprise=ent)
    # Session-less (forced) auth: one query for the page of cards with package and enterprise.
    with django_assert_num_queries(1):
        assert len(api.get(f"{API}/cards/", {"status": "in_stock"}).json()["results"]) == 3
    for _ in range(60):
        factories.card(enterprise=ent)
    with django_assert_num_queries(1):
        assert len(api.get(f"{API}/cards/", {"status": "in_stock"}).json()["results"]) == 50
    # A package filter looks the package up first: one more.
    with django_assert_num_queries(2):
        api.get(f"{API}/cards/", {"package": "IOT-STD"})


# --- card detail and the real-name requirement --------------------------------------------------


def test_detail_shape_with_decision_user_and_history(api, manager, ent):
    number = idgen.resident_id()
    card = factories.card(enterprise=ent, segment_149=True, sms="non_directed", actor=manager)
    factories.verified_card_user(actor=manager, enterprise=ent, cards=[card], id_number=number, name="孙八")
    factories.activate(card, actor=manager)
    response = api.get(f"{API}/cards/{card.iccid}/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    body = response.json()
    assert body["iccid"] == card.iccid and body["status"] == "active"
    assert (body["data"], body["voice"], body["sms"]) == ("none", "none", "non_directed")
    assert body["package"] == {"code": "IOT-STD", "name": card.package.name, "is_test_package": False}
    realname = body["realname"]
    assert realname["rules"] == ["U2"] and realname["exemption"] == "none_possible"
    assert realname["satisfied"] is True and realname["basis"] == "user_realname_complete"
    assert body["card_user"]["id_number_masked"] == mask_identifier(number)
    assert body["card_user"]["name"] == "孙八"
    assert number not in response.content.decode()
    actions = [event["action"] for event in body["history"]]
    assert actions == ["activated", "user_bound", "created"]
    # Completed when the handler's comparison passed (the system); the order was filed by am_bj (H2).
    assert body["history"][0]["actor"] is None and body["history"][0]["label"] == "Activated"


@pytest.mark.zh
def test_realname_requirement(api, ent, manager):
    card = factories.card(enterprise=ent, data="non_directed", segment_149=True, voice="directed")
    response = api.get(f"{API}/cards/{card.iccid}/realname-requirement/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    body = response.json()
    assert body["user_realname_required"] is True
    assert body["exemption"] == "province_and_group"
    assert body["rules"] == ["U1", "U3"]
    assert body["reasons"] == [REASONS["U1"].en, REASONS["U3"].en]
    assert (body["satisfied"], body["basis"]) == (False, "missing")
    factories.exemption(enterprise=ent, cards=[card], levels=["province", "group"], submitted_by=manager)
    body = api.get(f"{API}/cards/{card.iccid}/realname-requirement/").json()
    assert (body["satisfied"], body["basis"]) == (True, "exemption_approved")
    assert body["reasons"] == [REASONS["U1"].zh, REASONS["U3"].zh]  # default language


def test_realname_requirement_not_required(api, ent):
    card = factories.card(enterprise=ent, test=True, data="non_directed")
    body = api.get(f"{API}/cards/{card.iccid}/realname-requirement/").json()
    assert body["user_realname_required"] is False and body["exemption"] is None and body["rules"] == ["U4"]
    assert (body["satisfied"], body["basis"]) == (True, "not_required")


@pytest.mark.parametrize("iccid", ["89860200000000000000", "1", "0" * 24])
def test_unknown_iccid_is_json_404(api, iccid):
    for suffix in ("", "realname-requirement/"):
        response = api.get(f"{API}/cards/{iccid}/{suffix}")
        assert_error(response, 404, field=None, code="not_found")


# --- card actions ----------------------------------------------------------------------------------


def test_the_former_card_actions_answer_410_order_required_and_change_nothing(api, ent):
    """Issue 7 §1.2 / H2 (more in tests/security/test_business_through_orders.py)."""
    card = factories.card(enterprise=ent, segment_149=True, sms="non_directed")
    for action in ("activate", "suspend", "resume", "cancel"):
        body = assert_error(api.post(f"{API}/cards/{card.iccid}/{action}/"), 410, field=None, code="order_required")
        assert "/api/v1/orders/" in body["detail"]
    for payload in ({"data": "directed"}, {}, {"data": "lots"}, {"package": "NOPE"}, {"sms": 3}):
        response = api.post(f"{API}/cards/{card.iccid}/services/", payload, format="json")
        assert_error(response, 410, field=None, code="order_required")
    card.refresh_from_db()
    assert (card.status, card.data_service) == (CardStatus.IN_STOCK, "none")


# --- card users --------------------------------------------------------------------------------------


def register_body(ent, cards, **overrides):
    body = {
        "enterprise": str(ent.public_id),
        "cards": [card.iccid for card in cards] if cards and not isinstance(cards[0], str) else cards,
        "name": "周九",
        "id_type": "resident_id",
        "id_number": idgen.resident_id(),
        "id_photo": jpeg_upload("id.jpg"),
        "live_photo": jpeg_upload("live.jpg"),
        "biometric_consent": "true",
    }
    body.update(overrides)
    return body


def test_register_card_user_201_masked_and_pollable(api, ent):
    card = factories.card(enterprise=ent, data="non_directed")
    body = register_body(ent, [card])
    response = api.post(f"{API}/card-users/", body, format="multipart")
    assert response.status_code == 201, response.content
    data = response.json()
    assert body["id_number"] not in response.content.decode()
    assert data["card_user"]["id_number_masked"] == mask_identifier(body["id_number"])
    assert data["verification"]["status"] == "pending" and data["verification"]["final"] is False
    assert response["Cache-Control"].startswith("no-store")
    poll = api.get(data["verification_url"])
    assert poll.status_code == 200 and poll.json()["status"] == "pending"
    verification = Verification.objects.get(public_id=data["verification"]["public_id"])
    factories.face_result(verification, "pass")
    poll = api.get(data["verification_url"]).json()
    assert (poll["status"], poll["final"], poll["passed"]) == ("passed", True, True)
    assert CardBinding.objects.filter(card=card, ended_at__isnull=True).exists()


def test_verification_status_reasons_follow_the_language(api, ent):
    response = api.post(f"{API}/card-users/", register_body(ent, [factories.card(enterprise=ent)]), format="multipart")
    verification = Verification.objects.get(public_id=response.json()["verification"]["public_id"])
    from verification.services import verification_record_result

    verification_record_result(
        verification=verification,
        outcome="rejected",
        reasons=[{"code": "no_face", "zh": "未检测到人脸", "en": "No face found"}],
    )
    url = f"{API}/verifications/{verification.public_id}/"
    assert api.get(url, HTTP_ACCEPT_LANGUAGE="en").json()["reasons"] == ["No face found"]
    assert api.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").json()["reasons"] == ["未检测到人脸"]
    assert api.get(url).json()["final"] is True


@pytest.mark.parametrize(
    "overrides, field, code",
    [
        ({"biometric_consent": "false"}, "biometric_consent", "consent_required"),
        ({"biometric_consent": None}, "biometric_consent", None),
        ({"id_number": "11010519850712001"}, "id_number", None),
        ({"id_type": "library_card"}, "id_type", None),
        ({"name": "名" * 101}, "name", None),
        ({"cards": ["89860200000000000000"]}, "cards", "unknown_card"),
        ({"enterprise": "not-a-uuid"}, "enterprise", None),
    ],
)
def test_register_bad_input_is_400_and_writes_nothing(api, ent, overrides, field, code):
    overrides.setdefault("cards", [factories.card(enterprise=ent)])
    body = register_body(ent, **overrides)
    body = {k: v for k, v in body.items() if v is not None}
    response = api.post(f"{API}/card-users/", body, format="multipart")
    assert_error(response, 400, field=field, code=code)
    assert CardUser.objects.count() == 0 and Verification.objects.count() == 0


def test_register_a_corrupt_photo_is_400(api, ent):
    from django.core.files.uploadedfile import SimpleUploadedFile

    broken = SimpleUploadedFile("live.jpg", b"\xff\xd8\xff\xe0 not really a jpeg", content_type="image/jpeg")
    response = api.post(
        f"{API}/card-users/",
        register_body(ent, [factories.card(enterprise=ent)], live_photo=broken),
        format="multipart",
    )
    assert_error(response, 400, field="live_photo")
    assert CardUser.objects.count() == 0


def test_register_for_another_enterprise_card_is_400(api, world, ent):
    foreign = factories.card(enterprise=world["enterprise_same_province"])
    response = api.post(f"{API}/card-users/", register_body(ent, [foreign]), format="multipart")
    body = assert_error(response, 400, field="cards", code="unknown_card")
    assert foreign.iccid in body["detail"]


def test_register_sixth_card_is_409_with_the_id_masked(api, manager, ent):
    number = idgen.resident_id()
    # The same person (one ID, one name: issue 11 §1.3) asks for a sixth card.
    factories.verified_card_user(
        actor=manager,
        enterprise=ent,
        id_number=number,
        name="周九",
        cards=[factories.card(enterprise=ent) for _ in range(5)],
    )
    response = api.post(
        f"{API}/card-users/",
        register_body(ent, [factories.card(enterprise=ent)], id_number=number),
        format="multipart",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    body = assert_error(response, 409, field="id_number", code="one_id_five_cards")
    assert mask_identifier(number) in body["detail"] and number not in response.content.decode()
    assert "5 live cards" in body["detail"] and "limit is 5" in body["detail"]
    assert CardUser.objects.count() == 1


def test_register_through_a_token_records_the_api_channel(world, ent):
    _instance, token = AuthToken.objects.create(world["users"]["enterprise_admin"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.post(
        f"{API}/card-users/", register_body(ent, [factories.card(enterprise=ent)]), format="multipart"
    )
    assert response.status_code == 201, response.content
    assert CardUser.objects.get().channel == "platform"


def test_card_user_list_and_detail_are_masked(api, manager, ent):
    number = idgen.resident_id()
    card = factories.card(enterprise=ent)
    card_user = factories.verified_card_user(actor=manager, enterprise=ent, cards=[card], id_number=number)
    listing = api.get(f"{API}/card-users/")
    assert listing.status_code == 200 and number not in listing.content.decode()
    assert listing.json()["results"][0]["id_number_masked"] == mask_identifier(number)
    detail = api.get(f"{API}/card-users/{card_user.public_id}/")
    assert detail.status_code == 200 and number not in detail.content.decode()
    body = detail.json()
    assert [b["iccid"] for b in body["bindings"]] == [card.iccid]
    assert body["verifications"][0]["status"] == "passed"
    assert set(body["photos"]) == {"id_photo", "live_photo"}


def test_card_user_detail_hides_photo_links_from_roles_without_full_view(world, manager, ent):
    card_user = factories.verified_card_user(actor=manager, enterprise=ent, cards=[factories.card(enterprise=ent)])
    body = client_for(world["users"]["enterprise_admin"]).get(f"{API}/card-users/{card_user.public_id}/").json()
    assert body["photos"] is None


def test_reveal_logs_and_is_not_cached(api, manager, ent):
    number = idgen.resident_id()
    card_user = factories.verified_card_user(
        actor=manager, enterprise=ent, cards=[factories.card(enterprise=ent)], id_number=number
    )
    response = api.post(f"{API}/card-users/{card_user.public_id}/reveal/", {"field": "id_number"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"field": "id_number", "value": number}
    assert response["Cache-Control"].startswith("no-store")
    assert PiiAccessLog.objects.filter(actor=manager, object_id=str(card_user.pk), field="id_number").count() == 1
    assert_error(
        api.post(f"{API}/card-users/{card_user.public_id}/reveal/", {"field": "name"}, format="json"),
        400,
        field="field",
    )
    assert PiiAccessLog.objects.count() == 1


def test_photo_download_is_private_and_logged(api, manager, ent):
    card_user = factories.verified_card_user(actor=manager, enterprise=ent, cards=[factories.card(enterprise=ent)])
    response = api.get(f"{API}/card-users/{card_user.public_id}/photos/id_photo/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"].startswith("no-store")
    assert "attachment" in response["Content-Disposition"]
    assert PiiAccessLog.objects.filter(field="id_photo").count() == 1
    assert_error(api.get(f"{API}/card-users/{card_user.public_id}/photos/passport/"), 404, field=None)


@pytest.mark.parametrize("bad_id", ["nope", "00000000-0000-0000-0000-000000000000"])
def test_unknown_card_user_and_verification_ids_are_json_404(api, bad_id):
    for url in (
        f"{API}/card-users/{bad_id}/",
        f"{API}/verifications/{bad_id}/",
        f"{API}/card-users/{bad_id}/photos/id_photo/",
    ):
        assert_error(api.get(url), 404, field=None, code="not_found")
    assert_error(
        api.post(f"{API}/card-users/{bad_id}/reveal/", {"field": "id_number"}, format="json"),
        404,
        field=None,
        code="not_found",
    )


def test_the_schema_documents_the_card_endpoints(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/api/v1/cards/",
        "/api/v1/cards/{iccid}/",
        "/api/v1/cards/{iccid}/realname-requirement/",
        "/api/v1/cards/{iccid}/activate/",
        "/api/v1/cards/{iccid}/services/",
        "/api/v1/rules/evaluate/",
        "/api/v1/card-users/",
        "/api/v1/card-users/{public_id}/reveal/",
        "/api/v1/verifications/{public_id}/",
    ]:
        assert path in paths, path


def _card_users_made(manager, ent, n: int) -> None:
    for _ in range(n):
        factories.verified_card_user(actor=manager, enterprise=ent, cards=[factories.card(enterprise=ent)])


def _orders_made(manager, ent, n: int) -> None:
    factories.activate([factories.card(enterprise=ent) for _ in range(n)], actor=manager)
    for _ in range(n - 1):
        factories.suspend([factories.active_card(enterprise=ent, actor=manager)], actor=manager)


def _imports_made(manager, ent, n: int) -> None:
    for _ in range(n):
        error = {"row": 2, "column": "iccid", "code": "missing_value", "value": ""}
        CardImport.objects.create(
            enterprise=ent, created_by=manager, file_format="csv", status=ImportStatus.FAILED, errors=[error]
        )


@pytest.mark.parametrize(
    "path, made",
    [("card-users", _card_users_made), ("orders", _orders_made), ("card-imports", _imports_made)],
)
def test_a_list_api_page_costs_the_same_queries_with_more_rows(api, manager, ent, path, made):
    """Issue 12 §1.4: no list API reads a row's relations one query a row."""
    made(manager, ent, 2)
    with CaptureQueriesContext(connection) as few:
        assert api.get(f"{API}/{path}/").status_code == 200
    made(manager, ent, 23)
    with CaptureQueriesContext(connection) as many:
        body = api.get(f"{API}/{path}/").json()
    assert len(body["results"]) >= 25
    assert len(many) == len(few)
