"""Issue 7 §3: every /api/v1/ response is `Cache-Control: no-store`: lists, details and errors.

Most carry a name, an address or an ID; an error may echo what was sent. Marking
them all (core.middleware.ApiNoStoreMiddleware) leaves no endpoint to forget.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def _api(user=None) -> APIClient:
    api = APIClient()
    if user is not None:
        api.force_authenticate(user)
    return api


def assert_no_store(response) -> None:
    assert "no-store" in response.get("Cache-Control", ""), (response.status_code, response.get("Cache-Control"))


def test_7_3_api_lists_are_no_store(world):
    api = _api(world["users"]["account_manager"])
    for url in (
        "/api/v1/enterprises/",
        "/api/v1/cards/",
        "/api/v1/card-users/",
        "/api/v1/orders/",
        "/api/v1/exemptions/",
    ):
        response = api.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert_no_store(response)


def test_7_3_api_details_are_no_store(world):
    from tests import factories

    manager = world["users"]["account_manager"]
    api = _api(manager)
    enterprise = world["enterprise"]
    card = factories.card(enterprise=enterprise)
    for url in (f"/api/v1/enterprises/{enterprise.public_id}/", f"/api/v1/cards/{card.iccid}/", "/api/v1/me/"):
        response = api.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert_no_store(response)


def test_7_3_api_errors_are_no_store(world):
    manager = world["users"]["account_manager"]
    cases = [
        _api().get("/api/v1/enterprises/"),  # 401
        _api(manager).get("/api/v1/orders/00000000-0000-0000-0000-000000000000/"),  # 404 of a view
        _api(manager).get("/api/v1/no-such-route/"),  # 404 of the URL resolver
        _api(manager).post("/api/v1/enterprises/", {"name": "x"}, format="multipart"),  # 400
        _api(manager).post("/api/v1/rules/evaluate/", "x", content_type="text/plain"),  # 415
    ]
    for response in cases:
        assert response.status_code >= 400
        assert_no_store(response)
