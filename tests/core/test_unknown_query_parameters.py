"""An API request with a query parameter its operation does not document answers 400
unknown_query_parameter (issue 12 §1.6), for every endpoint at once (core.api, core.middleware); and the
card list's MSISDN filter, whole or by its start (§1.6)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from core.api import documented_query_parameters
from tests import factories, idgen

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def api(world):
    client = APIClient()
    client.force_authenticate(world["users"]["account_manager"])
    return client


def _unknown(response) -> dict:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "unknown_query_parameter" and body["detail"], body
    return body


@pytest.mark.parametrize(
    "url",
    [
        f"{API}/cards/",
        f"{API}/card-users/",
        f"{API}/orders/",
        f"{API}/enterprises/",
        f"{API}/card-imports/",
        f"{API}/me/",
    ],
)
def test_a_list_or_detail_refuses_a_parameter_it_does_not_know(api, url):
    known = api.get(url)
    assert known.status_code == 200, (url, known.content)
    body = _unknown(api.get(url, {"statu": "active"}))
    assert body["field"] == "statu" and body["unknown"] == ["statu"]
    assert "format" in body["allowed"] and "statu" not in body["allowed"]
    assert api.get(url, {"format": "json"}).status_code == 200


def test_a_card_detail_refuses_one_too(api, world):
    card = factories.card(enterprise=world["enterprise"])
    assert api.get(f"{API}/cards/{card.iccid}/").status_code == 200
    assert _unknown(api.get(f"{API}/cards/{card.iccid}/", {"fields": "iccid"}))["field"] == "fields"


def test_the_known_ones_are_the_documented_filters_and_pagination(api):
    from cards.inventory.api import CardListView

    assert documented_query_parameters(CardListView, "GET") == {
        "status",
        "package",
        "iccid__startswith",
        "msisdn",
        "realname_required",
        "enterprise",
        "search",
        "cursor",
        "format",
    }
    assert documented_query_parameters(CardListView, "HEAD") == documented_query_parameters(CardListView, "GET")
    body = _unknown(api.get(f"{API}/cards/", {"status": "active", "page": "2"}))
    assert body["unknown"] == ["page"] and "cursor" in body["allowed"]


def test_a_parameter_name_that_holds_an_id_number_is_not_echoed_in_the_clear(api):
    number = idgen.resident_id()
    response = api.get(f"{API}/cards/", {number: "1"})
    _unknown(response)
    assert number not in response.content.decode()


def test_an_anonymous_caller_learns_no_more_than_the_schema_says(client):
    # The check answers before authentication: what it lists is the public schema's.
    response = client.get(f"{API}/cards/", {"x": "1"})
    assert _unknown(response)["field"] == "x"
    assert client.get(f"{API}/cards/").status_code == 401


def test_the_card_list_filters_by_a_whole_msisdn_or_its_start(api, world):
    ent = world["enterprise"]
    eleven = factories.card(enterprise=ent, number="13912345678")
    thirteen = factories.card(enterprise=ent, number="1064912345678")
    other = factories.card(enterprise=ent, number="13987654321")

    def found(value):
        response = api.get(f"{API}/cards/", {"msisdn": value})
        assert response.status_code == 200, response.content
        return {row["iccid"] for row in response.json()["results"]}

    assert found("13912345678") == {eleven.iccid}
    assert found("1064912345678") == {thirteen.iccid}
    assert found("1391") == {eleven.iccid}
    assert found("139") == {eleven.iccid, other.iccid}
    # 11 digits are a whole number: exact, not the start of a 13-digit one.
    assert found("10649123456") == set()
    assert found("106491234567") == {thirteen.iccid}
    for junk in ("abc", "1" * 14, "139-1"):
        response = api.get(f"{API}/cards/", {"msisdn": junk})
        assert response.status_code == 400 and response.json()["field"] == "msisdn", junk


def test_the_schema_documents_the_msisdn_filter_and_the_400(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/cards/"]["get"]
    msisdn = next(p for p in operation["parameters"] if p["name"] == "msisdn")
    assert msisdn["in"] == "query" and "exactly" in msisdn["description"]
    detail = schema["paths"]["/api/v1/cards/{iccid}/"]["get"]
    assert "unknown_query_parameter" in detail["responses"]["400"]["description"]
    assert "unknown_query_parameter" in schema["components"]["schemas"]["Error"]["x-error-codes"]["400"]
