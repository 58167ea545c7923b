"""The Python client, iot-realname-client (issue 10 §4): every method against pytest-django's live server,
the error mapping, retries and backoff (against a local stub: the only tests that do not hit the live
server), and verify_webhook cross-checked with the spec's reference library, standardwebhooks."""

from __future__ import annotations

import email.parser
import email.policy
import json
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import standardwebhooks
from django.db import transaction
from iot_realname_client import (
    ApiError,
    AuthenticationError,
    Client,
    Conflict,
    ConnectionFailed,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    ValidationError,
    WebhookVerificationError,
    sign,
    verify_webhook,
)

from cards.inventory.api import CardCursorPagination
from cards.models import CardUser
from enterprises.models import Enterprise
from integrations import keys
from integrations.webhooks import signing
from integrations.webhooks.events import emit
from integrations.webhooks.models import WebhookEndpoint
from tests import factories, idgen
from tests.cards import import_files
from tests.conftest import liveness_testdata_dir
from tests.images import jpeg_bytes

ID_PHOTO = jpeg_bytes(color=(200, 180, 150), text="证件")
LIVE_PHOTO = jpeg_bytes(size=(240, 320), color=(90, 120, 200), text="人")


def _uuid4(value: str) -> bool:
    return uuid.UUID(value).version == 4


# --- against the live server ------------------------------------------------------------


@pytest.fixture
def ent(world):
    return world["enterprise"]


@pytest.fixture
def manager(world):
    return world["users"]["account_manager"]


def test_cards_list_filters_pages_and_get(world, ent, manager, make_key, make_client, monkeypatch):
    monkeypatch.setattr(CardCursorPagination, "page_size", 2)  # the live server runs in this process
    own = sorted((factories.card(enterprise=ent, actor=manager) for _ in range(3)), key=lambda c: c.iccid)
    foreign = factories.card(enterprise=world["enterprise_same_province"], actor=manager)
    client = make_client(make_key(["cards:read"])[1])

    first = client.cards.list()
    assert [c["iccid"] for c in first.results] == [c.iccid for c in own[:2]] and first.next
    assert [c["iccid"] for c in client.cards.list(cursor_url=first.next).results] == [own[2].iccid]
    assert [c["iccid"] for c in client.cards.iter()] == [c.iccid for c in own]
    assert [c["iccid"] for c in client.cards.iter(iccid_startswith=own[1].iccid)] == [own[1].iccid]
    assert list(client.cards.iter(status="active")) == []
    assert [c["iccid"] for c in client.cards.iter(status="in_stock", enterprise=str(ent.public_id))] == [
        c.iccid for c in own
    ]
    card = client.cards.get(own[0].iccid)
    assert card["iccid"] == own[0].iccid and card["status"] == "in_stock" and card["enterprise"] == str(ent.public_id)
    with pytest.raises(NotFound) as missing:
        client.cards.get(foreign.iccid)  # another enterprise's card does not exist for this key
    assert missing.value.status == 404 and missing.value.code == "not_found" and missing.value.detail


def test_an_order_is_created_and_read_back(ent, manager, make_key, make_client, scripted_face_engine):
    card = factories.card(enterprise=ent, actor=manager)
    client = make_client(make_key(["cards:read", "orders:write"])[1])
    order = client.orders.create(
        enterprise=str(ent.public_id),
        business_type="new_installation",
        cards=[card.iccid],
        handler_id_type="resident_id",
        handler_id_number=idgen.resident_id(),
        handler_name="王五",
        handler_id_address="北京市西城区金融街3号",
        handler_id_photo=("handler-id.jpg", ID_PHOTO),
        handler_live_photo=LIVE_PHOTO,
    )
    assert order["business_type"] == "new_installation" and order["face_gated"] is True
    assert [line["iccid"] for line in order["cards"]] == [card.iccid]
    again = client.orders.get(order["public_id"])
    assert again["public_id"] == order["public_id"] and again["status"] == "completed", again
    assert client.cards.get(card.iccid)["status"] == "active"
    assert [o["public_id"] for o in client.orders.list(business_type="new_installation").results] == [
        order["public_id"]
    ]


def test_a_card_user_is_registered_with_an_id_photo_and_a_live_photo(
    ent, manager, make_key, make_client, scripted_face_engine
):
    card = factories.card(enterprise=ent, actor=manager)
    number = idgen.resident_id()
    client = make_client(make_key(["cards:read", "card_users:write"])[1])
    registration = client.card_users.register(
        enterprise=str(ent.public_id),
        name="周九",
        id_type="resident_id",
        id_number=number,
        id_photo=ID_PHOTO,
        live_photo=LIVE_PHOTO,
        cards=[card.iccid],
        biometric_consent=True,
    )
    card_user = registration["card_user"]
    assert number not in json.dumps(registration) and card_user["id_number_masked"].count("*") >= 8
    status = client.verifications.wait(registration["verification_url"], timeout=10, interval=0.2)
    assert status["final"] and status["passed"], status
    assert status["registration_status"]["code"] == "registered"
    assert client.verifications.get(status["public_id"])["public_id"] == status["public_id"]
    detail = client.card_users.get(card_user["public_id"])
    assert [b["iccid"] for b in detail["bindings"]] == [card.iccid]
    assert [u["public_id"] for u in client.card_users.iter()] == [card_user["public_id"]]


def test_a_registration_sent_twice_with_one_idempotency_key_is_made_once(
    ent, manager, make_key, make_client, scripted_face_engine
):
    card = factories.card(enterprise=ent, actor=manager)
    client = make_client(make_key(["cards:read", "card_users:write"])[1])
    body = dict(
        enterprise=str(ent.public_id),
        name="周九",
        id_type="resident_id",
        id_number=idgen.resident_id(),
        id_photo=ID_PHOTO,
        live_photo=LIVE_PHOTO,
        cards=[card.iccid],
        biometric_consent=True,
    )
    first = client.card_users.register(**body, idempotency_key="platform-order-1")
    again = client.card_users.register(**body, idempotency_key="platform-order-1")  # e.g. after our restart
    assert again["card_user"]["public_id"] == first["card_user"]["public_id"]
    assert CardUser.objects.count() == 1
    with pytest.raises(ValidationError) as reused:
        client.card_users.register(**{**body, "cards": [card.iccid, card.iccid]}, idempotency_key="platform-order-1")
    assert (reused.value.status, reused.value.code) == (422, "idempotency_key_reused")


class _LivenessCheck:
    """run_liveness_check's stand-in (a Celery task's delay().get()): passes, and records what it was sent."""

    def __init__(self):
        self.sent = []

    def delay(self, names, times, moves):
        self.sent.append((list(names), times, moves))
        return self

    def get(self, **kwargs):
        return {"outcome": "pass", "reasons": [], "best_frame": 2}


def test_a_card_user_is_registered_with_liveness_frames_and_their_challenge(
    ent, manager, make_key, make_client, scripted_face_engine, monkeypatch
):
    check = _LivenessCheck()
    monkeypatch.setattr("verification.capture.run_liveness_check", check)
    card = factories.card(enterprise=ent, actor=manager)
    client = make_client(make_key(["cards:read", "card_users:write"])[1])
    frames = [jpeg_bytes(color=(150 + n, 120, 100)) for n in range(8)]
    registration = client.card_users.register(
        enterprise=str(ent.public_id),
        name="周九",
        id_type="resident_id",
        id_number=idgen.resident_id(),
        id_photo=ID_PHOTO,
        liveness_frames=frames,
        challenge=["left", "right"],
        frame_timestamps=[n * 0.25 for n in range(8)],
        cards=[card.iccid],
        biometric_consent=True,
    )
    [(names, times, moves)] = check.sent
    assert len(names) == 8 and moves == ["left", "right"] and times == pytest.approx([n * 0.25 for n in range(8)])
    assert client.verifications.wait(registration["verification_url"], timeout=10, interval=0.2)["passed"]


@pytest.mark.liveness
@pytest.mark.slow
def test_real_liveness_frames_pass_for_their_move_and_fail_for_another(
    ent, manager, make_key, make_client, scripted_face_engine
):
    root = liveness_testdata_dir()
    if root is None:
        pytest.skip("the liveness frames (../shared/testdata/liveness) are not here")
    frames = sorted((root / "turn_left_intel_female").glob("*.jpg"))  # paths; the names carry the times
    client = make_client(make_key(["cards:read", "card_users:write"])[1])

    def register(challenge: str):
        return client.card_users.register(
            enterprise=str(ent.public_id),
            name="周九",
            id_type="resident_id",
            id_number=idgen.resident_id(),
            id_photo=ID_PHOTO,
            liveness_frames=frames,
            challenge=challenge,
            cards=[factories.card(enterprise=ent, actor=manager).iccid],
            biometric_consent=True,
        )

    assert register("left")["verification"]["public_id"]
    with pytest.raises(ValidationError) as refused:
        register("right")
    assert refused.value.code == "liveness_failed"


def test_register_needs_exactly_one_of_live_photo_and_frames():
    client = Client("http://127.0.0.1:9", "rnk_test_unused")  # refused before anything is sent
    common = dict(enterprise="e", name="n", id_type="resident_id", id_number="1", id_photo=b"x", cards=["1"])
    with pytest.raises(ValueError):
        client.card_users.register(**common, biometric_consent=True)
    with pytest.raises(ValueError):
        client.card_users.register(**common, live_photo=b"x", liveness_frames=[b"y"], biometric_consent=True)


def test_a_card_import_is_started_from_a_file_and_its_status_read(ent, make_key, make_client):
    factories.package(code="IOT-BASIC")
    content = import_files.csv_bytes([import_files.row(1), import_files.row(2)])
    client = make_client(make_key(["cards:read", "cards:write"])[1])
    job = client.imports.create(enterprise=str(ent.public_id), file=("cards.csv", content, "text/csv"))
    assert job["id"] and job["status"] in {"pending", "running", "succeeded"}
    done = client.imports.wait(job["id"], timeout=10, interval=0.2)
    assert (done["status"], done["imported_rows"], done["error_count"]) == ("succeeded", 2, 0), done
    assert {c["iccid"] for c in client.cards.iter()} == {import_files.iccid(1), import_files.iccid(2)}


def test_a_bad_file_is_a_validation_error_with_its_code(ent, make_key, make_client):
    client = make_client(make_key(["cards:read", "cards:write"])[1])
    with pytest.raises(ValidationError) as refused:
        client.imports.create(enterprise=str(ent.public_id), file=("cards.csv", b"not,the,columns\r\n1,2,3\r\n"))
    assert refused.value.status == 400 and refused.value.code and refused.value.detail


def test_400_carries_the_code_and_the_field(ent, manager, make_key, make_client):
    card = factories.card(enterprise=ent, actor=manager)
    client = make_client(make_key()[1])
    with pytest.raises(ValidationError) as refused:
        client.card_users.register(
            enterprise=str(ent.public_id),
            name="周九",
            id_type="resident_id",
            id_number=idgen.resident_id(),
            id_photo=ID_PHOTO,
            live_photo=LIVE_PHOTO,
            cards=[card.iccid],
            biometric_consent=False,
        )
    assert (refused.value.status, refused.value.code, refused.value.field) == (
        400,
        "consent_required",
        "biometric_consent",
    )
    with pytest.raises(ValidationError) as bad_filter:
        client.cards.list(status="no-such-status")
    assert bad_filter.value.field == "status" and bad_filter.value.code


def test_403_for_a_scope_the_key_lacks(ent, manager, make_key, make_client):
    card = factories.card(enterprise=ent, actor=manager)
    client = make_client(make_key(["cards:read"])[1])
    with pytest.raises(PermissionDenied) as refused:
        client.orders.create(
            enterprise=str(ent.public_id),
            business_type="new_installation",
            cards=[card.iccid],
            handler_id_type="resident_id",
            handler_id_number=idgen.resident_id(),
            handler_id_photo=ID_PHOTO,
        )
    assert refused.value.status == 403 and refused.value.code == "permission_denied"
    with pytest.raises(PermissionDenied):
        make_client(make_key(["orders:write"])[1]).cards.list()  # no cards:read, no list


def test_404_for_an_unknown_or_malformed_id(make_key, make_client):
    client = make_client(make_key()[1])
    for call in (
        lambda: client.orders.get(uuid.uuid4()),
        lambda: client.card_users.get("not-a-uuid"),
        lambda: client.imports.get(uuid.uuid4()),
    ):
        with pytest.raises(NotFound) as missing:
            call()
        assert missing.value.code == "not_found"


def test_401_after_the_key_is_revoked_and_for_an_unknown_key(world, make_key, make_client, sleeps):
    record, key = make_key(["cards:read"])
    client = make_client(key)
    assert client.cards.list().results == []
    keys.key_revoke(actor=world["users"]["enterprise_admin"], key=record)
    with pytest.raises(AuthenticationError) as refused:
        client.cards.list()
    assert refused.value.status == 401 and refused.value.code == "authentication_failed"
    assert refused.value.headers.get("www-authenticate")  # the challenge comes through
    with pytest.raises(AuthenticationError):
        make_client("rnk_live_" + "x" * 40).cards.list()
    assert sleeps == []  # a 401 is never retried


def test_the_clients_repr_and_errors_never_show_the_key(make_key, make_client):
    key = make_key(["cards:read"])[1]
    client = make_client(key)
    with pytest.raises(NotFound) as missing:
        client.cards.get("89860000000000000000")
    assert key not in repr(client) and key not in str(missing.value) and key not in repr(missing.value)


# --- retries and backoff, against a local stub -------------------------------------------


def _stub_client(stub, sleeps, **kwargs) -> Client:
    return Client(stub.url, "rnk_test_stub", sleep=sleeps.append, **kwargs)


def _create_order(client: Client, **kwargs):
    return client.orders.create(
        enterprise="e",
        business_type="new_installation",
        cards=["8986", "8987"],
        handler_id_type="resident_id",
        handler_id_number="1",
        handler_id_photo=("id.jpg", ID_PHOTO),
        parameters={"action": "x"},
        **kwargs,
    )


def test_5xx_is_retried_with_growing_jittered_backoff_and_one_idempotency_key(stub, sleeps):
    stub.answer(503).answer(502).answer(500).answer(201, {"public_id": "o1"})
    order = _create_order(_stub_client(stub, sleeps, backoff=0.5))
    assert order == {"public_id": "o1"}
    keys_sent = {seen.headers["idempotency-key"] for seen in stub.seen}
    assert len(stub.seen) == 4 and len(keys_sent) == 1 and _uuid4(keys_sent.pop())
    assert {seen.body for seen in stub.seen} != set()  # the same body each time, boundary included
    assert len({seen.body for seen in stub.seen}) == 1
    assert all(seen.headers["authorization"] == "Api-Key rnk_test_stub" for seen in stub.seen)
    assert len(sleeps) == 3
    for number, slept in enumerate(sleeps):
        base = 0.5 * 2**number
        assert base / 2 <= slept <= base, sleeps


def test_each_create_gets_its_own_idempotency_key_unless_one_is_given(stub, sleeps):
    client = _stub_client(stub, sleeps)
    _create_order(client)
    _create_order(client)
    _create_order(client, idempotency_key="order-42")
    sent = [seen.headers["idempotency-key"] for seen in stub.seen]
    assert sent[0] != sent[1] and sent[2] == "order-42"
    client.cards.list()
    assert "idempotency-key" not in stub.seen[-1].headers  # reads carry none


def test_429_honours_retry_after_in_seconds_and_as_a_date(stub, sleeps):
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    stub.answer(429, {"code": "throttled", "detail": "slow down"}, Retry_After="3")
    stub.answer(429, {"code": "throttled", "detail": "slow down"}, Retry_After=later)
    stub.answer(200, {"results": [{"iccid": "1"}], "next": None})
    page = _stub_client(stub, sleeps).cards.list()
    assert [c["iccid"] for c in page.results] == ["1"]
    assert sleeps[0] == 3.0 and 25 <= sleeps[1] <= 30


def test_a_long_retry_after_is_raised_at_once_as_rate_limited(stub, sleeps):
    stub.answer(429, {"code": "throttled", "detail": "Request was throttled."}, Retry_After="3600")
    with pytest.raises(RateLimited) as limited:
        _stub_client(stub, sleeps).cards.list()
    assert (limited.value.retry_after, limited.value.code, len(stub.seen), sleeps) == (3600.0, "throttled", 1, [])


def test_retries_end_with_the_typed_error_of_the_last_answer(stub, sleeps):
    for _ in range(3):
        stub.answer(503, {"code": "service_unavailable", "detail": "Try again later."})
    with pytest.raises(ServerError) as failed:
        _stub_client(stub, sleeps, max_retries=2).cards.get("8986")
    assert (failed.value.status, failed.value.code, len(stub.seen), len(sleeps)) == (503, "service_unavailable", 3, 2)
    stub.answer(502, b"<html>Bad gateway</html>", Content_Type="text/html")
    with pytest.raises(ServerError) as proxy:
        _stub_client(stub, sleeps, max_retries=0).cards.get("8986")
    assert proxy.value.code is None and "Bad gateway" in proxy.value.detail


def test_a_post_that_creates_nothing_is_not_retried_on_5xx_but_is_on_429(stub, sleeps):
    client = _stub_client(stub, sleeps)
    stub.answer(503)
    with pytest.raises(ServerError):
        client.webhooks.recover("w1", since="2026-01-01T00:00:00+00:00")
    assert len(stub.seen) == 1 and _uuid4(stub.seen[0].headers["idempotency-key"])  # sent, not relied on
    stub.answer(429, Retry_After="1").answer(200, {"recovered": 0})
    assert client.webhooks.recover("w1", since=datetime(2026, 1, 1, tzinfo=UTC)) == {"recovered": 0}
    assert json.loads(stub.seen[-1].body) == {"since": "2026-01-01T00:00:00+00:00"}
    with pytest.raises(ValueError):
        client.webhooks.recover("w1", since=datetime(2026, 1, 1))  # naive: which instant?


def test_a_create_still_running_on_the_server_is_waited_for_then_replayed(stub, sleeps):
    busy = {"code": "idempotency_request_in_progress", "detail": "The first request with this key still runs."}
    stub.answer(409, busy, Retry_After="2").answer(201, {"public_id": "o1"}, Idempotent_Replayed="true")
    assert _create_order(_stub_client(stub, sleeps)) == {"public_id": "o1"}
    assert sleeps == [2.0] and len({seen.headers["idempotency-key"] for seen in stub.seen}) == 1
    stub.answer(409, {"code": "card_in_pending_order", "detail": "A card is in a pending order."})
    with pytest.raises(Conflict) as conflict:
        _create_order(_stub_client(stub, sleeps))
    assert conflict.value.code == "card_in_pending_order" and sleeps == [2.0]  # other conflicts are final


def test_connection_errors_are_retried_then_raised(sleeps):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    client = Client(f"http://127.0.0.1:{port}", "rnk_test_x", sleep=sleeps.append, max_retries=2, timeout=2)
    with pytest.raises(ConnectionFailed):
        client.cards.list()
    assert len(sleeps) == 2


def test_redirects_are_not_followed_and_next_links_stay_on_our_origin(stub, sleeps):
    client = _stub_client(stub, sleeps)
    stub.answer(302, Location="http://attacker.example/steal")
    with pytest.raises(ApiError) as moved:
        client.cards.list()
    assert moved.value.status == 302 and len(stub.seen) == 1
    stub.answer(200, {"results": [{"iccid": "1"}], "next": "http://attacker.example/api/v1/cards/?cursor=abc"})
    stub.answer(200, {"results": [{"iccid": "2"}], "next": None})
    assert [c["iccid"] for c in client.cards.iter(status="in_stock")] == ["1", "2"]
    assert [seen.path for seen in stub.seen[-2:]] == ["/api/v1/cards/?status=in_stock", "/api/v1/cards/?cursor=abc"]


def test_multipart_body_repeats_lists_and_names_files(stub, sleeps):
    _create_order(_stub_client(stub, sleeps))
    seen = stub.seen[0]
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {seen.headers['content-type']}\r\n\r\n".encode() + seen.body
    )
    parts = [(part.get_param("name", header="content-disposition"), part) for part in message.iter_parts()]
    fields = {name: part.get_content() for name, part in parts if not part.get_filename()}
    assert [part.get_content() for name, part in parts if name == "cards"] == ["8986", "8987"]
    assert json.loads(fields["parameters"]) == {"action": "x"} and fields["handler_id_type"] == "resident_id"
    photo = next(part for name, part in parts if name == "handler_id_photo")
    assert photo.get_filename() == "id.jpg" and photo.get_content_type() == "image/jpeg"
    assert photo.get_content() == ID_PHOTO


def test_base_url_may_name_the_api_root_and_must_be_http():
    assert Client("https://portal.example/api/v1/", "k").transport.api_root == "https://portal.example/api/v1/"
    assert Client("https://portal.example", "k").transport.api_root == "https://portal.example/api/v1/"
    with pytest.raises(ValueError):
        Client("ftp://portal.example", "k")
    with pytest.raises(ValueError):
        Client("https://portal.example", "")


# --- verify_webhook, cross-checked with standardwebhooks ------------------------------------

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_" + "C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
BODY = '{"type":"card_user.registered","timestamp":"2026-12-03T09:00:00+00:00","data":{"card_user":"u1"}}'


def _headers(signature: str, timestamp: int | None = None, msg_id: str = "evt_1") -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(time.time()) if timestamp is None else timestamp),
        "webhook-signature": signature,
    }


def test_a_callback_signed_by_the_reference_library_verifies():
    now = datetime.now(UTC)
    signature = standardwebhooks.Webhook(SECRET).sign("evt_1", now, BODY)
    payload = verify_webhook(_headers(signature, int(now.timestamp())), BODY.encode(), SECRET)
    assert payload["data"] == {"card_user": "u1"}


def test_our_signature_verifies_with_the_reference_library_and_the_portal_signs_alike():
    timestamp = int(time.time())
    ours = sign(SECRET, "evt_1", timestamp, BODY)
    assert ours == signing.signature(SECRET, "evt_1", timestamp, BODY)
    assert standardwebhooks.Webhook(SECRET).verify(BODY, _headers(ours, timestamp))["type"] == "card_user.registered"


@pytest.mark.parametrize("offset", [-301, 301])
def test_stale_and_future_timestamps_are_refused_by_both(offset):
    timestamp = int(time.time()) + offset
    headers = _headers(sign(SECRET, "evt_1", timestamp, BODY), timestamp)
    with pytest.raises(WebhookVerificationError, match="too (old|new)"):
        verify_webhook(headers, BODY, SECRET)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(SECRET).verify(BODY, headers)
    assert verify_webhook(headers, BODY, SECRET, tolerance=400)  # within a wider window it verifies


def test_a_tampered_body_id_or_timestamp_is_refused_by_both():
    timestamp = int(time.time())
    headers = _headers(sign(SECRET, "evt_1", timestamp, BODY), timestamp)
    tampered = [
        (headers, BODY.replace("u1", "u2")),
        ({**headers, "webhook-id": "evt_2"}, BODY),
        ({**headers, "webhook-timestamp": str(timestamp - 1)}, BODY),
    ]
    for changed_headers, body in tampered:
        with pytest.raises(WebhookVerificationError, match="signature"):
            verify_webhook(changed_headers, body, SECRET)
        with pytest.raises(standardwebhooks.WebhookVerificationError):
            standardwebhooks.Webhook(SECRET).verify(body, changed_headers)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(headers, BODY, OTHER_SECRET)


def test_during_a_secret_rotation_either_secret_verifies_the_two_signatures():
    timestamp = int(time.time())
    header = signing.signature_header([OTHER_SECRET, SECRET], "evt_1", timestamp, BODY)  # what deliver.py sends
    assert len(header.split(" ")) == 2
    for secret in (SECRET, OTHER_SECRET):
        assert verify_webhook(_headers(header, timestamp), BODY, secret)
        assert standardwebhooks.Webhook(secret).verify(BODY, _headers(header, timestamp))
    third = "whsec_" + "A" * 32
    with pytest.raises(WebhookVerificationError):
        verify_webhook(_headers(header, timestamp), BODY, third)
    assert verify_webhook(_headers(header, timestamp), BODY, [third, SECRET])  # the receiver's own rotation


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"webhook-id": "evt_1", "webhook-timestamp": "now", "webhook-signature": "v1,x"},
        {"webhook-id": "evt_1", "webhook-timestamp": "1", "webhook-signature": ""},
    ],
)
def test_missing_or_malformed_headers_are_refused(headers):
    with pytest.raises(WebhookVerificationError):
        verify_webhook(headers, BODY, SECRET)


def test_headers_in_any_case_or_as_a_wsgi_environ_and_other_schemes_skipped():
    timestamp = int(time.time())
    signature = sign(SECRET, "evt_1", timestamp, BODY)
    upper = {"Webhook-Id": "evt_1", "Webhook-Timestamp": str(timestamp), "Webhook-Signature": signature}
    environ = {
        "HTTP_WEBHOOK_ID": "evt_1",
        "HTTP_WEBHOOK_TIMESTAMP": str(timestamp),
        "HTTP_WEBHOOK_SIGNATURE": signature,
    }
    assert verify_webhook(upper, BODY, SECRET) == verify_webhook(environ, BODY, SECRET)
    with_asymmetric = f"v1a,c2lnbmF0dXJl {signature}"
    assert verify_webhook(_headers(with_asymmetric, timestamp), BODY, SECRET)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(_headers("v1a,c2lnbmF0dXJl", timestamp), BODY, SECRET)


def test_secrets_unpadded_raw_or_broken():
    timestamp = int(time.time())
    unpadded = "whsec_" + "dGVzdHNlY3JldA"  # "testsecret", base64 without its padding
    signature = standardwebhooks.Webhook(unpadded).sign("evt_1", datetime.fromtimestamp(timestamp, UTC), BODY)
    assert verify_webhook(_headers(signature, timestamp), BODY, unpadded)
    assert verify_webhook(_headers(signature, timestamp), BODY, b"testsecret")
    for broken in ("whsec_!!!", "whsec_", b""):
        with pytest.raises(WebhookVerificationError):
            verify_webhook(_headers(signature, timestamp), BODY, broken)


# --- the events feed and webhook endpoints, against the live server ------------------------


def test_the_events_feed_pages_since_and_by_type(ent, make_key, make_client):
    with transaction.atomic():
        emit(ent, "card.activated", {"card": "89860000000000000001", "status": "active"})
    since = datetime.now(UTC)
    with transaction.atomic():
        wanted = [
            emit(ent, "card.activated", {"card": f"8986000000000000001{n}", "status": "active"}) for n in range(3)
        ]
        emit(ent, "order.completed", {"order": str(uuid.uuid4()), "status": "completed"})
    client = make_client(make_key(["cards:read", "webhooks:manage"])[1])
    first = client.events.list(since=since, type="card.activated", page_size=2)
    assert len(first.results) == 2 and first.next
    feed = list(client.events.iter(since=since, type="card.activated", page_size=2))
    assert [e["id"] for e in feed] == [str(e.public_id) for e in wanted]
    assert set(feed[0]) >= {"id", "type", "timestamp", "data"} and feed[0]["data"]["status"] == "active"
    assert {e["type"] for e in client.events.iter(since=since)} == {"card.activated", "order.completed"}
    with pytest.raises(ValidationError) as bad:
        client.events.list(since="yesterday")
    assert (bad.value.code, bad.value.field) == ("invalid_since", "since")
    with pytest.raises(PermissionDenied):
        make_client(make_key(["cards:read"])[1]).events.list()


def test_a_webhook_endpoints_life_through_the_client(ent, make_key, make_client, receiver, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    client = make_client(make_key(["webhooks:manage"])[1])
    endpoint = client.webhooks.create(enterprise=str(ent.public_id), url=receiver.url, description="fleet")
    first_secret = endpoint["secret"]
    assert first_secret.startswith("whsec_") and endpoint["events"] == []
    assert [e["id"] for e in client.webhooks.list().results] == [endpoint["id"]]
    assert "secret" not in client.webhooks.get(endpoint["id"])
    changed = client.webhooks.update(endpoint["id"], events=["card.activated"], description="fleet v2")
    assert (changed["events"], changed["description"]) == (["card.activated"], "fleet v2")

    rotated = client.webhooks.rotate_secret(endpoint["id"], grace_hours=1)
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != first_secret
    client.webhooks.send_test(endpoint["id"])
    test_call = receiver.wait_for(1)[0]
    for secret in (rotated["secret"], first_secret):  # both signatures during the grace period
        assert verify_webhook(test_call.headers, test_call.body, secret)["type"] == "webhook.test"

    [attempt] = client.webhooks.deliveries(endpoint["id"])
    assert (attempt["attempt"], attempt["status_code"], attempt["succeeded"]) == (1, 200, True)
    assert attempt["event_id"] == test_call.headers["webhook-id"]
    client.webhooks.resend(endpoint["id"], attempt["id"])
    assert receiver.wait_for(2)[1].headers["webhook-id"] == attempt["event_id"]
    assert client.webhooks.recover(endpoint["id"], since=datetime.now(UTC) - timedelta(hours=1)) == {"resent": 0}

    assert client.webhooks.disable(endpoint["id"])["enabled"] is False
    assert client.webhooks.enable(endpoint["id"])["enabled"] is True
    client.webhooks.delete(endpoint["id"])
    with pytest.raises(NotFound):
        client.webhooks.get(endpoint["id"])


def test_webhook_registration_refuses_what_the_ssrf_guard_refuses(ent, make_key, make_client, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    client = make_client(make_key(["webhooks:manage"])[1])
    with pytest.raises(ValidationError) as refused:
        client.webhooks.create(enterprise=str(ent.public_id), url="http://127.0.0.1:9/hook")
    assert refused.value.field == "url" and refused.value.code
    with pytest.raises(PermissionDenied):
        make_client(make_key(["cards:read"])[1]).webhooks.create(enterprise=str(ent.public_id), url="https://x.test/")


# --- the sandbox, with a test key -------------------------------------------------------------


def test_a_test_key_works_on_the_sandbox_with_its_documented_outcomes(ent, make_key, make_client, receiver, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    record, key = make_key(test=True)
    assert key.startswith("rnk_test_")
    client = make_client(key)
    cards = [c["iccid"] for c in client.cards.iter()]
    assert len(cards) == 20 and all(iccid.startswith("898699") for iccid in cards)  # the seeded sandbox cards
    # The real enterprise's id, as everywhere: the test key's endpoint belongs to the sandbox.
    sandbox = Enterprise.objects.get(sandbox_of=ent)
    endpoint = client.webhooks.create(enterprise=str(ent.public_id), url=receiver.url, events=["card_user.registered"])
    assert WebhookEndpoint.objects.get(public_id=endpoint["id"]).enterprise == sandbox

    def register(id_number: str, card: str):
        return client.card_users.register(
            enterprise=str(ent.public_id),  # the real enterprise's id: the test key finds its sandbox
            name="周九",
            id_type="resident_id",
            id_number=id_number,
            id_photo=ID_PHOTO,
            live_photo=LIVE_PHOTO,
            cards=[card],
            biometric_consent=True,
        )

    registered = register("110101199001010015", cards[0])
    status = client.verifications.wait(registered["verification_url"], timeout=10, interval=0.2)
    assert status["registration_status"]["code"] == "registered"
    callback = receiver.wait_for(1)[0]
    assert callback.headers.get("webhook-sandbox") == "true"
    assert verify_webhook(callback.headers, callback.body, endpoint["secret"])["type"] == "card_user.registered"

    mismatch = register("11010119900101004X", cards[1])
    status = client.verifications.wait(mismatch["verification_url"], timeout=10, interval=0.2)
    assert status["registration_status"]["code"] == "declined" and "face_mismatch" in status["reason_codes"]
    with pytest.raises(Conflict) as five_cards:
        register("110101199001010031", cards[2])
    assert five_cards.value.code == "one_id_five_cards"
