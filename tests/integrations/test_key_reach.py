"""What a platform API key reaches (issue 10 §1): the card, order, card-user and import endpoints, with the
right scope; 403 without it; 404 for another enterprise's records; its rate limit on every view; and every
audit event of its calls naming the key."""

from __future__ import annotations

import itertools

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from cards.management.commands.make_card_file import card_csv
from cards.models import CardImport, CardUser, Channel, Order
from integrations.keys import key_create
from tests import factories, idgen
from tests.cards.order_helpers import active, stock
from tests.images import jpeg_upload
from verification.models import Verification

pytestmark = pytest.mark.django_db

_idempotency = itertools.count()


def _key(world, *scopes, enterprise=None):
    record, key = key_create(
        actor=world["users"]["enterprise_admin"],
        enterprise=enterprise or world["enterprise"],
        name="platform",
        scopes=list(scopes),
    )
    return record, key


def _client(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def _post(client, path, body):
    return client.post(path, body, format="multipart", HTTP_IDEMPOTENCY_KEY=f"reach-{next(_idempotency)}")


def _order_body(world, cards, enterprise=None):
    return {
        "enterprise": str((enterprise or world["enterprise"]).public_id),
        "business_type": "new_installation",
        "cards": [c.iccid for c in cards],
        "handler_id_type": "resident_id",
        "handler_id_number": idgen.resident_id(),
        "handler_name": "王五",
        "handler_id_address": "北京市西城区金融街3号",
        "handler_id_photo": jpeg_upload("id.jpg"),
        "handler_live_photo": jpeg_upload("live.jpg"),
        "credential_photo": jpeg_upload("credential.jpg"),
        "responsible_id_photo": jpeg_upload("resp-id.jpg"),
    }


def _card_user_body(world, cards, enterprise=None, **overrides):
    body = {
        "enterprise": str((enterprise or world["enterprise"]).public_id),
        "cards": [c.iccid for c in cards],
        "name": "周九",
        "id_type": "resident_id",
        "id_number": idgen.resident_id(),
        "id_photo": jpeg_upload("id.jpg"),
        "live_photo": jpeg_upload("live.jpg"),
        "biometric_consent": "true",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def _import_body(world, enterprise=None):
    package = factories.package(code="IOT-REACH")
    upload = SimpleUploadedFile("cards.csv", card_csv(2, package_code=package.code), content_type="text/csv")
    return {"enterprise": str((enterprise or world["enterprise"]).public_id), "file": upload}


# --- with the right scope -------------------------------------------------------------------


def test_a_key_lists_its_enterprises_cards(world):
    own = factories.card(enterprise=world["enterprise"])
    factories.card(enterprise=world["enterprise_same_province"])
    _record, key = _key(world, "cards:read")
    response = _client(key).get("/api/v1/cards/")
    assert response.status_code == 200
    assert [row["iccid"] for row in response.json()["results"]] == [own.iccid]
    assert _client(key).get(f"/api/v1/cards/{own.iccid}/").status_code == 200


def test_a_key_files_an_order(world, scripted_face_engine):
    scripted_face_engine("pass")
    cards = stock(world["enterprise"])
    record, key = _key(world, "cards:read", "orders:write")
    last_event = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    response = _post(_client(key), "/api/v1/orders/", _order_body(world, cards))
    assert response.status_code == 201, response.content
    order = Order.objects.get(public_id=response.json()["public_id"])
    assert order.enterprise == world["enterprise"] and order.created_by is None
    assert response.json()["created_by"] is None
    assert _client(key).get(f"/api/v1/orders/{order.public_id}/").status_code == 200
    # Every audit event the call wrote names the key and no user (§1: a non-human actor in every event):
    # the order, its wait for the face comparison, the fresh documents it brought (E2, P3).
    events = list(AuditEvent.objects.filter(pk__gt=last_event))
    assert {"order.created", "order.awaiting_verification", "enterprise.documents_uploaded"} <= {
        event.action for event in events
    }
    for event in events:
        assert event.actor is None and event.data["platform_key"] == str(record.public_id), event.action


def test_a_key_registers_a_card_user_with_an_id_photo_and_a_live_photo(world, scripted_face_engine):
    scripted_face_engine("pass")
    cards = active(world["enterprise"])
    record, key = _key(world, "cards:read", "card_users:write")
    response = _post(_client(key), "/api/v1/card-users/", _card_user_body(world, cards))
    assert response.status_code == 201, response.content
    card_user = CardUser.objects.get(public_id=response.json()["card_user"]["public_id"])
    assert card_user.channel == Channel.PLATFORM
    assert _client(key).get(response["Location"]).status_code == 200
    assert AuditEvent.objects.filter(data__platform_key=str(record.public_id)).exists()


def test_a_key_starts_a_card_import(world, django_capture_on_commit_callbacks):
    record, key = _key(world, "cards:read", "cards:write")
    with django_capture_on_commit_callbacks(execute=True):  # the import's task runs (in process) on commit
        response = _post(_client(key), "/api/v1/card-imports/", _import_body(world))
    assert response.status_code == 202, response.content
    job = CardImport.objects.get(public_id=response.json()["id"])
    assert job.enterprise == world["enterprise"] and job.created_by is None
    assert job.status == "succeeded" and job.imported_rows == 2
    assert _client(key).get(response["Location"]).status_code == 200
    # The worker's events of the import name the key that started it, as the call's own event does.
    events = AuditEvent.objects.filter(object_id=str(job.pk), action__startswith="card_import.")
    assert {event.action for event in events} == {"card_import.created", "card_import.succeeded"}
    assert all(event.data["platform_key"] == str(record.public_id) for event in events)


# --- without it: 403; another enterprise's: 404 ---------------------------------------------


def test_a_key_without_the_scope_gets_403_for_each(world):
    _record, key = _key(world, "cards:read")
    client = _client(key)
    cards = active(world["enterprise"])
    before = (Order.objects.count(), CardUser.objects.count(), CardImport.objects.count())
    writer = _client(_key(world, "orders:write", "card_users:write", "cards:write")[1])
    for path in ["/api/v1/cards/", "/api/v1/card-users/", "/api/v1/orders/", "/api/v1/card-imports/"]:
        assert writer.get(path).status_code == 403, path
    assert _post(client, "/api/v1/orders/", _order_body(world, stock(world["enterprise"]))).status_code == 403
    # The body is not looked at before the permission: an empty one is 403 too, not 400.
    assert _post(client, "/api/v1/card-users/", _card_user_body(world, cards)).status_code == 403
    assert _post(client, "/api/v1/card-users/", {"enterprise": str(world["enterprise"].public_id)}).status_code == 403
    assert _post(client, "/api/v1/card-imports/", _import_body(world)).status_code == 403
    assert (Order.objects.count(), CardUser.objects.count(), CardImport.objects.count()) == before


def test_a_key_never_sees_another_enterprises_records(world):
    other = world["enterprise_same_province"]
    manager = world["users"]["account_manager"]
    card = factories.card(enterprise=other)
    registered = factories.card_user_registration(actor=manager, enterprise=other, cards=[active(other)[0]])
    order = factories.order(actor=manager, enterprise=other, business_type="new_installation", cards=stock(other))
    _record, key = _key(world, "cards:read", "cards:write", "orders:write", "card_users:write")
    client = _client(key)
    assert client.get(f"/api/v1/cards/{card.iccid}/").status_code == 404
    assert client.get(f"/api/v1/card-users/{registered.card_user.public_id}/").status_code == 404
    assert client.get(f"/api/v1/verifications/{registered.public_id}/").status_code == 404
    assert client.get(f"/api/v1/orders/{order.public_id}/").status_code == 404
    assert client.get("/api/v1/orders/").json()["results"] == []
    assert client.get("/api/v1/card-users/").json()["results"] == []
    assert _post(client, "/api/v1/orders/", _order_body(world, stock(other), enterprise=other)).status_code == 404
    assert _post(client, "/api/v1/card-users/", _card_user_body(world, [card], enterprise=other)).status_code == 404
    assert _post(client, "/api/v1/card-imports/", _import_body(world, enterprise=other)).status_code == 404


# --- the rate limit holds on views with throttles of their own -------------------------------


def test_a_key_is_throttled_on_views_with_their_own_throttles(world, settings):
    from django.core.cache import cache  # imported here: only this test clears the throttle's counters

    cache.clear()
    settings.PLATFORM_KEY_RATE = "2/minute"
    registered = factories.card_user_registration(
        actor=world["users"]["account_manager"], enterprise=world["enterprise"], cards=[active(world["enterprise"])[0]]
    )
    _record, key = _key(world, "cards:read")
    client = _client(key)
    paths = [
        f"/api/v1/card-users/{registered.card_user.public_id}/reveal/",
        f"/api/v1/enterprises/{world['enterprise'].public_id}/reveal/",
        f"/api/v1/card-users/{registered.card_user.public_id}/reveal/",
    ]
    statuses = [client.post(path, {"field": "id_number"}, format="json").status_code for path in paths]
    # The key may not see numbers in full (403), and its third call in the minute is throttled.
    assert statuses[:2] == [403, 403] and statuses[2] == 429
    refused = client.post(paths[1], {"field": "id_number"}, format="json")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0


# --- card users with liveness frames instead of one live photo --------------------------------


class _Liveness:
    """run_liveness_check's stand-in: answers what the test chooses, and records what it was sent."""

    def __init__(self, answer):
        self.answer, self.sent = answer, []

    def delay(self, names, times, moves):
        self.sent.append((list(names), times, moves))
        return self

    def get(self, **kwargs):
        return self.answer


def _frames(count=8):
    return [jpeg_upload(f"frame_t{index * 0.2:.3f}.jpg", color=(150 + index, 120, 100)) for index in range(count)]


@pytest.fixture
def key_for_card_users(world):
    _record, key = _key(world, "cards:read", "card_users:write")
    return key


@pytest.mark.parametrize(("outcome", "review"), [("pass", False), ("inconclusive", True)])
def test_a_key_registers_a_card_user_with_liveness_frames(
    world, key_for_card_users, scripted_face_engine, monkeypatch, outcome, review
):
    scripted_face_engine("pass")
    check = _Liveness({"outcome": outcome, "reasons": [], "best_frame": 3 if outcome == "pass" else None})
    monkeypatch.setattr("verification.capture.run_liveness_check", check)
    body = _card_user_body(world, active(world["enterprise"]), live_photo=None, frames=_frames(), challenge="left")
    response = _post(_client(key_for_card_users), "/api/v1/card-users/", body)
    assert response.status_code == 201, response.content
    [(names, times, moves)] = check.sent
    assert len(names) == 8 and moves == ["left"] and times == pytest.approx([i * 0.2 for i in range(8)])
    # A pass lets the comparison decide; a check that could not tell sends it to a reviewer.
    verification = Verification.objects.get(public_id=response.json()["verification_url"].rstrip("/").split("/")[-1])
    assert verification.review_required is review
    card_user = verification.card_user
    assert card_user.channel == Channel.PLATFORM and card_user.live_photo


def test_no_liveness_check_runs_without_consent(world, key_for_card_users, monkeypatch):
    check = _Liveness({"outcome": "pass", "reasons": [], "best_frame": 0})
    monkeypatch.setattr("verification.capture.run_liveness_check", check)
    body = _card_user_body(
        world,
        active(world["enterprise"]),
        live_photo=None,
        frames=_frames(),
        challenge="left",
        biometric_consent="false",
    )
    response = _post(_client(key_for_card_users), "/api/v1/card-users/", body)
    assert response.status_code == 400 and response.json()["code"] == "consent_required"
    assert check.sent == []


def test_liveness_frames_that_fail_are_refused_with_the_reasons(world, key_for_card_users, monkeypatch):
    check = _Liveness({"outcome": "fail", "reasons": [{"code": "frames_identical", "message": "x"}]})
    monkeypatch.setattr("verification.capture.run_liveness_check", check)
    body = _card_user_body(world, active(world["enterprise"]), live_photo=None, frames=_frames(), challenge="left")
    response = _post(_client(key_for_card_users), "/api/v1/card-users/", body)
    assert response.status_code == 400
    assert response.json()["code"] == "liveness_failed" and response.json()["reasons"] == ["frames_identical"]
    assert not CardUser.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"live_photo": None}, "live_photo_required"),
        ({"frames": "both"}, "live_photo_required"),
        ({"live_photo": None, "frames": "frames", "challenge": "up"}, "invalid_challenge"),
        ({"live_photo": None, "frames": "frames", "challenge": "left", "timestamps": "0,1"}, "invalid_timestamps"),
    ],
)
def test_a_live_photo_or_frames_and_their_fields_are_checked(world, key_for_card_users, overrides, code):
    frames = overrides.pop("frames", None)
    if frames:
        overrides["frames"] = _frames()
    body = _card_user_body(world, active(world["enterprise"]), **overrides)
    response = _post(_client(key_for_card_users), "/api/v1/card-users/", body)
    assert response.status_code == 400 and response.json()["code"] == code, response.content


@pytest.mark.liveness
@pytest.mark.slow
def test_real_liveness_frames_pass_for_the_move_they_show(world, key_for_card_users, scripted_face_engine):
    from tests.conftest import liveness_testdata_dir  # imported here: only this test reads the frames

    root = liveness_testdata_dir()
    if root is None:
        pytest.skip("the liveness frames (../shared/testdata/liveness) are not here")
    scripted_face_engine("pass")
    files = sorted((root / "turn_left_intel_female").glob("*.jpg"))
    frames = [SimpleUploadedFile(path.name, path.read_bytes(), content_type="image/jpeg") for path in files]
    body = _card_user_body(world, active(world["enterprise"]), live_photo=None, frames=frames, challenge="left")
    response = _post(_client(key_for_card_users), "/api/v1/card-users/", body)
    assert response.status_code == 201, response.content
    verification = Verification.objects.get(public_id=response.json()["verification_url"].rstrip("/").split("/")[-1])
    assert verification.review_required is False
    wrong = _card_user_body(world, active(world["enterprise"]), live_photo=None, frames=frames, challenge="right")
    wrong["frames"] = [SimpleUploadedFile(p.name, p.read_bytes(), content_type="image/jpeg") for p in files]
    refused = _post(_client(key_for_card_users), "/api/v1/card-users/", wrong)
    assert refused.status_code == 400 and refused.json()["code"] == "liveness_failed"


def test_every_api_view_keeps_the_per_key_rate_limit():
    from django.urls import get_resolver  # imported here: only this test walks the URL patterns

    from integrations.throttling import PlatformKeyThrottle  # likewise

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern), pattern.callback

    views = [(path, getattr(cb, "cls", None)) for path, cb in walk(get_resolver().url_patterns)]
    api_views = [(path, cls) for path, cls in views if path.startswith("api/v1/") and cls is not None]
    assert len(api_views) > 30
    dropped = [
        path
        for path, cls in api_views
        if not any(isinstance(throttle, PlatformKeyThrottle) for throttle in cls().get_throttles())
    ]
    assert dropped == []
