"""What a platform key reaches beyond its own endpoints (found by tests/test_schemathesis.py): the views about a
person answer a key as they answer no credential, a key files or decides no approval, and a key reads its
enterprise's exemption requests. An API path that does not exist is a JSON 404, and a list's page past the
end is a documented 404."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from approvals.models import RequestStatus
from integrations.keys import key_create
from integrations.scopes import KeyScope
from tests.approvals import file_for_combo

pytestmark = pytest.mark.django_db


def _key_client(world) -> APIClient:
    _record, key = key_create(
        actor=world["users"]["account_manager"],
        enterprise=world["enterprise"],
        name="fleet",
        scopes=[scope.value for scope in KeyScope],
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def test_the_token_list_does_not_take_a_key(world):
    response = _key_client(world).get("/api/v1/auth/tokens/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_revoking_a_personal_token_does_not_take_a_key(world):
    response = _key_client(world).delete("/api/v1/auth/tokens/abcdef/")
    assert response.status_code == 401


def test_a_key_neither_withdraws_nor_decides_an_approval(world):
    exemption, _card = file_for_combo(world, "U1")
    client = _key_client(world)
    for action, body in (("withdraw", {}), ("decide", {"approve": False, "comment": "no"})):
        response = client.post(f"/api/v1/exemptions/{exemption.public_id}/{action}/", body, format="json")
        assert response.status_code in (403, 404), (action, response.content)
    exemption.refresh_from_db()
    assert exemption.status != RequestStatus.WITHDRAWN


def test_a_key_reads_its_enterprises_exemption_requests(world):
    exemption, _card = file_for_combo(world, "U1")
    response = _key_client(world).get("/api/v1/exemptions/", {"mine": "true"})
    assert response.status_code == 200, response.content
    assert str(exemption.public_id) in {row["public_id"] for row in response.json()["results"]}


def test_an_unknown_api_path_is_a_json_404(world):
    client = APIClient()
    client.force_authenticate(world["users"]["enterprise_admin"])
    for url in ("/api/v1/no-such-thing/", "/api/v1/cards/a/b/c/"):
        response = client.get(url)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json()["code"] == "not_found"
        assert "no-store" in response["Cache-Control"]
    assert "text/html" in client.get("/no-such-page/")["Content-Type"]  # the portal keeps its page


def test_a_page_past_the_end_is_a_documented_404(world):
    client = APIClient()
    client.force_authenticate(world["users"]["enterprise_admin"])
    # The list pages by cursor (issue 12 §1.4): a cursor it never gave ("o=abc", a broken offset) is its 404.
    assert client.get("/api/v1/exemptions/", {"cursor": "bz1hYmM="}).status_code == 404
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path in ("/api/v1/exemptions/", "/api/v1/card-users/", "/api/v1/cards/"):
        not_found = schema["paths"][path]["get"]["responses"]["404"]
        assert not_found["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
