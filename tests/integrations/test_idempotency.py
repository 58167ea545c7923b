"""Idempotency-Key on creating requests (issue 10 §2): required for keys, replay, reuse, in progress, what is
stored (2xx and 4xx, never 5xx), multipart fingerprints, expiry, and the schema."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from cards.management.commands.make_card_file import card_csv
from cards.models import CardImport
from core.errors import ServiceUnavailable
from integrations import idempotency
from integrations.key_models import IdempotencyRecord, PlatformKey
from integrations.keys import key_create
from integrations.tasks import purge_idempotency_records
from tests import factories

pytestmark = pytest.mark.django_db

KEYS = "/api/v1/platform/keys/"
IMPORTS = "/api/v1/card-imports/"


def _client(user=None, key=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    if key is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def _key_body(world, name="fleet"):
    return {"enterprise": str(world["enterprise"].public_id), "name": name, "scopes": ["cards:read"]}


def _admin(world):
    return _client(world["users"]["enterprise_admin"])


def _platform_key(world, scopes=("cards:read", "cards:write")):
    _record, key = key_create(
        actor=world["users"]["enterprise_admin"], enterprise=world["enterprise"], name="erp", scopes=list(scopes)
    )
    return key


def _csv(world, rows=2, name="cards.csv"):
    package = factories.package(code="IOT-IDEM")
    return SimpleUploadedFile(name, card_csv(rows, package_code=package.code), content_type="text/csv")


def _import(client, world, upload, **headers):
    body = {"enterprise": str(world["enterprise"].public_id), "file": upload}
    return client.post(IMPORTS, body, format="multipart", **headers)


def test_a_retry_with_the_same_body_gets_the_stored_answer_and_creates_nothing(world):
    admin = _admin(world)
    first = admin.post(KEYS, _key_body(world), format="json", HTTP_IDEMPOTENCY_KEY="create-fleet-1")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first
    again = admin.post(KEYS, _key_body(world), format="json", HTTP_IDEMPOTENCY_KEY="create-fleet-1")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json() and again["Content-Type"] == "application/json"
    assert PlatformKey.objects.count() == 1
    # The record holds neither the idempotency key nor the answer (here a key shown once) readably.
    record = IdempotencyRecord.objects.get()
    assert record.owner == f"user:{world['users']['enterprise_admin'].pk}" and record.status_code == 201
    assert "create-fleet-1" not in str(record.__dict__)
    assert first.json()["key"].encode() not in bytes(record.body)


def test_the_same_key_with_another_body_is_422_and_another_key_creates(world):
    admin = _admin(world)
    assert admin.post(KEYS, _key_body(world), format="json", HTTP_IDEMPOTENCY_KEY="k-1").status_code == 201
    reused = admin.post(KEYS, _key_body(world, name="other"), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    other_path = admin.post(f"{KEYS}{PlatformKey.objects.get().public_id}/rotate/", {}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert other_path.status_code == 422
    assert (
        admin.post(KEYS, _key_body(world, name="other"), format="json", HTTP_IDEMPOTENCY_KEY="k-2").status_code == 201
    )
    assert PlatformKey.objects.count() == 2


def test_keys_are_per_sender(world):
    body = _key_body(world)
    assert _admin(world).post(KEYS, body, format="json", HTTP_IDEMPOTENCY_KEY="same").status_code == 201
    manager = _client(world["users"]["account_manager"])
    answer = manager.post(KEYS, body, format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert answer.status_code == 201 and "Idempotent-Replayed" not in answer
    assert PlatformKey.objects.count() == 2


def test_users_may_leave_it_out(world):
    admin = _admin(world)
    assert admin.post(KEYS, _key_body(world), format="json").status_code == 201
    assert admin.post(KEYS, _key_body(world), format="json").status_code == 201
    assert PlatformKey.objects.count() == 2 and not IdempotencyRecord.objects.exists()


@pytest.mark.parametrize("value", ["", "x" * 256, "naïve", "tab\there"])
def test_a_malformed_header_is_400(world, value):
    response = _admin(world).post(KEYS, _key_body(world), format="json", HTTP_IDEMPOTENCY_KEY=value)
    assert response.status_code == 400 and response.json()["code"] == "invalid_idempotency_key"
    assert not PlatformKey.objects.exists()


def test_the_longest_header_is_fine(world):
    response = _admin(world).post(KEYS, _key_body(world), format="json", HTTP_IDEMPOTENCY_KEY="x" * 255)
    assert response.status_code == 201


def test_a_platform_key_must_send_it_on_creating_posts(world):
    key = _platform_key(world)
    refused = _import(_client(key=key), world, _csv(world))
    assert refused.status_code == 400 and refused.json()["code"] == "idempotency_key_required"
    assert not CardImport.objects.exists()
    # Reads and non-creating posts need none.
    assert _client(key=key).get("/api/v1/cards/").status_code == 200


def test_multipart_retries_with_a_new_boundary_replay_and_another_file_is_422(world):
    client = _admin(world)
    content = _csv(world).read()
    first = _import(
        client, world, SimpleUploadedFile("cards.csv", content, content_type="text/csv"), HTTP_IDEMPOTENCY_KEY="imp-1"
    )
    assert first.status_code == 202, first.content
    again = _import(
        client, world, SimpleUploadedFile("cards.csv", content, content_type="text/csv"), HTTP_IDEMPOTENCY_KEY="imp-1"
    )
    assert again.status_code == 202 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json() and again["Location"] == first["Location"]
    assert CardImport.objects.count() == 1
    changed = content.replace(b"\n", b"\r\n", 1)
    other = _import(
        client, world, SimpleUploadedFile("cards.csv", changed, content_type="text/csv"), HTTP_IDEMPOTENCY_KEY="imp-1"
    )
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"


def test_a_retry_while_the_first_runs_is_409_with_retry_after(world, monkeypatch):
    admin = _admin(world)
    body = _key_body(world)
    # The first request's answer is not stored yet: to the retry, it still runs.
    monkeypatch.setattr(idempotency.Claim, "finish", lambda self, response: None)
    assert admin.post(KEYS, body, format="json", HTTP_IDEMPOTENCY_KEY="busy").status_code == 201
    monkeypatch.undo()
    busy = admin.post(KEYS, body, format="json", HTTP_IDEMPOTENCY_KEY="busy")
    assert busy.status_code == 409 and busy.json()["code"] == "idempotency_request_in_progress"
    assert int(busy["Retry-After"]) >= 1
    # Another body under the same key is still a reuse, even while the first runs.
    assert admin.post(KEYS, _key_body(world, "x"), format="json", HTTP_IDEMPOTENCY_KEY="busy").status_code == 422
    assert PlatformKey.objects.count() == 1
    # A claim whose request died without an answer is taken over once stale.
    IdempotencyRecord.objects.update(created_at=timezone.now() - idempotency.STALE_CLAIM - timedelta(seconds=1))
    assert admin.post(KEYS, body, format="json", HTTP_IDEMPOTENCY_KEY="busy").status_code == 201


def test_4xx_answers_are_stored_and_replayed(world):
    admin = _admin(world)
    bad = {**_key_body(world), "scopes": []}
    first = admin.post(KEYS, bad, format="json", HTTP_IDEMPOTENCY_KEY="bad-1")
    assert first.status_code == 400 and first.json()["code"] == "invalid_scopes"
    again = admin.post(KEYS, bad, format="json", HTTP_IDEMPOTENCY_KEY="bad-1")
    assert again.status_code == 400 and again["Idempotent-Replayed"] == "true" and again.json() == first.json()


def test_5xx_answers_are_not_stored_and_the_retry_runs(world, monkeypatch):
    admin = _admin(world)

    def down(**kwargs):
        raise ServiceUnavailable("down")

    monkeypatch.setattr("integrations.api.keys.key_create", down)
    failed = admin.post(KEYS, _key_body(world), format="json", HTTP_IDEMPOTENCY_KEY="retry-me")
    assert failed.status_code == 503 and not IdempotencyRecord.objects.exists()
    monkeypatch.undo()
    retried = admin.post(KEYS, _key_body(world), format="json", HTTP_IDEMPOTENCY_KEY="retry-me")
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried


def test_an_unhandled_error_frees_the_key(world, monkeypatch):
    admin = _admin(world)

    def broken(**kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr("integrations.api.keys.key_create", broken)
    admin.raise_request_exception = True
    with pytest.raises(RuntimeError):
        admin.post(KEYS, _key_body(world), format="json", HTTP_IDEMPOTENCY_KEY="bug-1")
    assert not IdempotencyRecord.objects.exists()


def test_expired_records_are_replaced_on_reuse_and_purged(world):
    admin = _admin(world)
    assert admin.post(KEYS, _key_body(world), format="json", HTTP_IDEMPOTENCY_KEY="old").status_code == 201
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    fresh = admin.post(KEYS, _key_body(world, "new"), format="json", HTTP_IDEMPOTENCY_KEY="old")
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh
    assert IdempotencyRecord.objects.get().expires_at > timezone.now() + timedelta(hours=23)
    assert admin.post(KEYS, _key_body(world), format="json", HTTP_IDEMPOTENCY_KEY="other").status_code == 201
    IdempotencyRecord.objects.filter(status_code=201).update(expires_at=timezone.now() - timedelta(seconds=1))
    IdempotencyRecord.objects.create(
        owner="user:0", key_hash="x" * 64, fingerprint="f", expires_at=timezone.now() + timedelta(hours=1)
    )
    assert purge_idempotency_records() == 2
    assert list(IdempotencyRecord.objects.values_list("owner", flat=True)) == ["user:0"]


CREATING = [
    ("/api/v1/enterprises/", "post"),
    ("/api/v1/enterprises/{public_id}/documents/", "post"),
    ("/api/v1/enterprises/{public_id}/change-requests/", "post"),
    ("/api/v1/card-users/", "post"),
    ("/api/v1/orders/", "post"),
    ("/api/v1/orders/{public_id}/live-photo/", "post"),
    ("/api/v1/card-imports/", "post"),
    ("/api/v1/self-service/links/", "post"),
    ("/api/v1/exemptions/", "post"),
    ("/api/v1/platform/keys/", "post"),
    ("/api/v1/platform/keys/{public_id}/rotate/", "post"),
]


def test_the_schema_documents_the_header_and_its_answers():
    from drf_spectacular.generators import SchemaGenerator  # imported here: only this test builds the schema

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    for path, method in CREATING:
        operation = paths[path][method]
        [header] = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
        assert header["in"] == "header" and not header.get("required")
        responses = operation["responses"]
        assert "idempotency_key_reused" in responses["422"]["description"]
        assert "idempotency_request_in_progress" in responses["409"]["description"]
        assert "idempotency_key_required" in responses["400"]["description"]
        success = next(code for code in responses if code.startswith("2"))
        assert "Idempotent-Replayed" in responses[success]["headers"]
    reads = paths["/api/v1/platform/keys/"]["get"]
    assert all(p["name"] != "Idempotency-Key" for p in reads.get("parameters", []))
    revoke = paths["/api/v1/platform/keys/{public_id}/revoke/"]["post"]
    assert all(p["name"] != "Idempotency-Key" for p in revoke.get("parameters", []))


def test_a_platform_keys_retry_is_replayed_under_the_key_and_never_cached(world):
    key = _platform_key(world)
    client = _client(key=key)
    content = _csv(world).read()

    def send():
        upload = SimpleUploadedFile("cards.csv", content, content_type="text/csv")
        return _import(client, world, upload, HTTP_IDEMPOTENCY_KEY="erp-import-7")

    first, again = send(), send()
    assert first.status_code == 202, first.content
    assert again.status_code == 202 and again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert "no-store" in again["Cache-Control"]
    assert CardImport.objects.count() == 1
    assert IdempotencyRecord.objects.get().owner == f"key:{PlatformKey.objects.get().public_id}"
    # The same idempotency key from the enterprise's admin is another sender's: it runs.
    upload = SimpleUploadedFile("cards.csv", content, content_type="text/csv")
    other = _import(_admin(world), world, upload, HTTP_IDEMPOTENCY_KEY="erp-import-7")
    assert other.status_code == 202 and "Idempotent-Replayed" not in other
    assert CardImport.objects.count() == 2 and IdempotencyRecord.objects.count() == 2


def test_a_retry_with_the_rotated_keys_successor_is_the_same_sender(world):
    from integrations.keys import key_rotate  # imported here: only this test rotates

    record, old_key = key_create(
        actor=world["users"]["enterprise_admin"],
        enterprise=world["enterprise"],
        name="erp",
        scopes=["cards:read", "cards:write"],
    )
    content = _csv(world).read()

    def send(key):
        upload = SimpleUploadedFile("cards.csv", content, content_type="text/csv")
        return _import(_client(key=key), world, upload, HTTP_IDEMPOTENCY_KEY="during-rotation")

    first = send(old_key)
    _new, new_key = key_rotate(actor=world["users"]["enterprise_admin"], key=record, grace_hours=1)
    again = send(new_key)
    assert first.status_code == 202 and again.status_code == 202, again.content
    assert again["Idempotent-Replayed"] == "true" and CardImport.objects.count() == 1
    assert IdempotencyRecord.objects.get().owner == f"key:{record.public_id}"
