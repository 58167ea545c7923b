"""Platform API keys (issue 10 §1): the contract, who manages them, the key at rest, authentication,
rotation's grace, revocation, and the key named in audit events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from integrations.key_models import PlatformKey
from integrations.keys import key_hash

pytestmark = pytest.mark.django_db

URL = "/api/v1/platform/keys/"
ISSUED = {"id", "prefix", "key", "scopes", "expires_at", "test"}


def _client(user=None, key=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    if key is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def _create(world, user="enterprise_admin", enterprise=None, **body):
    enterprise = enterprise or world["enterprise"]
    payload = {"enterprise": str(enterprise.public_id), "name": "fleet", "scopes": ["cards:read"], **body}
    return _client(world["users"][user]).post(URL, payload, format="json")


def test_create_answers_the_contract_and_stores_only_a_hash(world):
    response = _create(world, scopes=["cards:read", "orders:write"], expires_in_days=30)
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == ISSUED
    assert body["key"].startswith("rnk_live_") and body["key"].startswith(body["prefix"])
    assert body["scopes"] == ["cards:read", "orders:write"] and body["test"] is False
    record = PlatformKey.objects.get(public_id=body["id"])
    assert record.key_hash == key_hash(body["key"]) and body["key"] not in str(record.__dict__)
    event = AuditEvent.objects.get(action="platform_key.created")
    assert body["key"] not in str(event.data)
    listing = _client(world["users"]["enterprise_admin"]).get(URL, {"enterprise": str(world["enterprise"].public_id)})
    assert listing.status_code == 200 and "key" not in listing.json()["results"][0]


def test_test_keys_and_bounds(world):
    assert _create(world, test=True).json()["key"].startswith("rnk_test_")
    for bad in ({"expires_in_days": 366}, {"expires_in_days": 0}, {"scopes": []}, {"scopes": ["admin"]}, {"name": ""}):
        response = _create(world, **bad)
        assert response.status_code == 400, bad
        assert response.json()["code"].startswith("invalid_")


@pytest.mark.parametrize(
    ("user", "target", "expected"),
    [
        ("enterprise_admin", "enterprise", 201),
        ("account_manager", "enterprise", 201),
        ("enterprise_admin", "enterprise_same_province", 404),
        ("account_manager_other_province", "enterprise", 404),
        ("provincial_approver", "enterprise", 403),
        ("ops", "enterprise", 403),
    ],
)
def test_who_manages_keys(world, user, target, expected):
    assert _create(world, user=user, enterprise=world[target]).status_code == expected


def test_anonymous_gets_401_with_a_challenge(world):
    response = APIClient().get(URL)
    assert response.status_code == 401 and response.has_header("WWW-Authenticate")


def test_a_key_authenticates_and_records_its_use_but_cannot_manage_keys(world):
    key = _create(world).json()["key"]
    response = _client(key=key).get("/api/v1/cards/")
    assert response.status_code == 200
    assert PlatformKey.objects.get().last_used_at is not None
    assert _client(key=key).get(URL).status_code == 403
    bad = _client(key=key[:-2] + "xx").get("/api/v1/cards/")
    assert bad.status_code == 401 and bad["WWW-Authenticate"]


def test_rotation_keeps_the_old_key_for_the_grace_period_and_revoke_ends_it(world):
    admin = _client(world["users"]["enterprise_admin"])
    created = _create(world).json()
    rotated = admin.post(f"{URL}{created['id']}/rotate/", {"grace_hours": 1}, format="json")
    assert rotated.status_code == 201 and set(rotated.json()) == ISSUED
    new_key = rotated.json()["key"]
    assert _client(key=created["key"]).get("/api/v1/cards/").status_code == 200
    assert _client(key=new_key).get("/api/v1/cards/").status_code == 200
    PlatformKey.objects.filter(public_id=created["id"]).update(grace_until=timezone.now() - timedelta(seconds=1))
    assert _client(key=created["key"]).get("/api/v1/cards/").status_code == 401
    assert admin.post(f"{URL}{rotated.json()['id']}/revoke/").status_code == 200
    assert _client(key=new_key).get("/api/v1/cards/").status_code == 401
    assert admin.post(f"{URL}{rotated.json()['id']}/revoke/").status_code == 409
    assert admin.post(f"{URL}not-a-uuid/revoke/").status_code == 404


def test_expired_key_is_refused(world):
    key = _create(world).json()["key"]
    PlatformKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _client(key=key).get("/api/v1/cards/").status_code == 401


def test_audit_events_written_for_a_key_name_the_key_and_no_user(world):
    from accounts.services import audit_record  # imported here: only this test writes an event by hand
    from integrations.auth import KeyActor  # likewise

    key = PlatformKey.objects.get(public_id=_create(world).json()["id"])
    event = audit_record(actor=KeyActor(key), action="test.key_call", obj=world["enterprise"])
    assert event.actor is None and event.data == {"platform_key": str(key.public_id)}


def test_each_key_has_its_own_rate_limit_with_retry_after(world, settings):
    from django.core.cache import cache  # imported here: only this test clears the throttle's counters

    cache.clear()
    settings.PLATFORM_KEY_RATE = "2/minute"
    first = _create(world).json()["key"]
    second = _create(world).json()["key"]
    statuses = [_client(key=first).get("/api/v1/cards/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    refused = _client(key=first).get("/api/v1/cards/")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert refused.json()["code"] == "throttled"
    assert _client(key=second).get("/api/v1/cards/").status_code == 200
    # A session is not counted by the key's limit.
    admin = _client(world["users"]["enterprise_admin"])
    assert [admin.get("/api/v1/cards/").status_code for _ in range(3)] == [200, 200, 200]


def test_a_key_sees_only_its_enterprise_and_needs_its_scope(world):
    from tests import factories  # imported here: only this test creates cards

    own = factories.card(enterprise=world["enterprise"], actor=world["users"]["account_manager"])
    factories.card(enterprise=world["enterprise_same_province"], actor=world["users"]["account_manager"])
    reader = _create(world, scopes=["cards:read"]).json()["key"]
    listed = _client(key=reader).get("/api/v1/cards/")
    assert listed.status_code == 200
    assert [row["iccid"] for row in listed.json()["results"]] == [own.iccid]
    writer = _create(world, scopes=["orders:write"]).json()["key"]
    refused = _client(key=writer).get("/api/v1/cards/")
    # Without cards:read the key holds no VIEW: the list is refused (403), not an empty list that looks like an
    # enterprise without cards.
    assert refused.status_code == 403, refused.content


def test_a_key_without_orders_write_may_not_file_an_order(world):
    path = "/api/v1/orders/"
    reader = _create(world, scopes=["cards:read"]).json()["key"]
    body = {"enterprise": str(world["enterprise"].public_id)}
    response = _client(key=reader).post(path, body, format="multipart", HTTP_IDEMPOTENCY_KEY="order-1")
    assert response.status_code == 403, response.content
