"""Every API error body names its code, DRF's own errors too (authentication, parsing, routing, throttling)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.throttling import PiiRevealThrottle

pytestmark = pytest.mark.django_db


def _client(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def test_drf_errors_carry_their_code(world, monkeypatch):
    manager = world["users"]["account_manager"]
    cases = [
        (_client().get("/api/v1/cards/"), 401, "not_authenticated"),
        (
            _client(manager).post("/api/v1/rules/evaluate/", b"{not json", content_type="application/json"),
            400,
            "parse_error",
        ),
        (_client(manager).delete("/api/v1/me/"), 405, "method_not_allowed"),
        (_client(manager).get("/api/v1/orders/00000000-0000-0000-0000-000000000000/"), 404, "not_found"),
        (
            _client(manager).post("/api/v1/rules/evaluate/", "x", content_type="text/plain"),
            415,
            "unsupported_media_type",
        ),
    ]
    for response, status, code in cases:
        assert response.status_code == status, (code, response.content)
        body = response.json()
        assert body["code"] == code and body["detail"], body

    monkeypatch.setattr(PiiRevealThrottle, "THROTTLE_RATES", {"pii_reveal": "1/hour"})
    url = f"/api/v1/enterprises/{world['enterprise'].public_id}/reveal/"
    api = _client(manager)
    assert api.post(url, {"field": "credential_number"}, format="json").status_code == 200
    throttled = api.post(url, {"field": "credential_number"}, format="json")
    assert throttled.status_code == 429 and throttled.json()["code"] == "throttled"
    assert int(throttled["Retry-After"]) > 0
