"""The webhooks API and the events feed (issue 10 §3): the contract, who manages endpoints (roles and
keys' scopes), the SSRF guard at registration, rotation's two signatures checked by the spec's reference
library, the deliveries list, resend, recover, the test event and the cursor-paginated feed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from accounts.models import AuditEvent
from integrations.keys import key_create
from integrations.webhooks.deliver import attempt_delivery
from integrations.webhooks.events import emit
from integrations.webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, Event, WebhookEndpoint
from tests.integrations.test_webhooks import _Receiver as Receiver

pytestmark = pytest.mark.django_db

URL = "/api/v1/platform/webhooks/"
EVENTS = "/api/v1/platform/events/"
ATTEMPT_FIELDS = {
    "id",
    "event_id",
    "event_type",
    "attempt",
    "status_code",
    "succeeded",
    "latency_ms",
    "response_excerpt",
    "error",
    "attempted_at",
    "next_attempt_at",
}


@pytest.fixture(autouse=True)
def _loopback(settings):
    # The receivers of these tests listen on 127.0.0.1; the SSRF tests turn it off again.
    settings.WEBHOOK_ALLOW_LOOPBACK = True


@pytest.fixture
def receiver():
    made = []

    def make(statuses=()):
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for one in made:
        one.close()


def _client(user=None, key=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    if key is not None:
        # Platform keys must send Idempotency-Key on creates (issue 10 §2).
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}", HTTP_IDEMPOTENCY_KEY=str(timezone.now().timestamp()))
    return client


def _create(world, user="enterprise_admin", of=None, client=None, **body):
    payload = {"enterprise": str((of or world["enterprise"]).public_id), "url": "http://127.0.0.1:9/hook", **body}
    return (client or _client(world["users"][user])).post(URL, payload, format="json")


def _endpoint(world, url="http://127.0.0.1:9/hook", **body):
    response = _create(world, url=url, **body)
    assert response.status_code == 201, response.content
    return response.json()


def _key(world, scopes):
    _record, key = key_create(
        actor=world["users"]["enterprise_admin"], enterprise=world["enterprise"], name="platform", scopes=scopes
    )
    return key


def _emit(world, django_capture_on_commit_callbacks, event_type="card.activated", enterprise=None, **data):
    with django_capture_on_commit_callbacks(execute=True):
        return emit(enterprise or world["enterprise"], event_type, data or {"card": "c1", "status": "active"})


def _verifies(secret, headers, body) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


# --- create, the secret, the SSRF guard ---------------------------------------------------------


def test_create_answers_the_secret_once_and_lists_without_it(world):
    body = _endpoint(world, events=["card.activated", "order.completed", "card.activated"], description=" fleet ")
    assert body["id"].startswith("ep_") and body["secret"].startswith("whsec_")
    assert body["events"] == ["card.activated", "order.completed"] and body["description"] == "fleet"
    assert body["enabled"] is True and body["enterprise"] == str(world["enterprise"].public_id)
    record = WebhookEndpoint.objects.get(public_id=body["id"])
    assert record.secret == body["secret"]
    event = AuditEvent.objects.get(action="webhook_endpoint.created")
    assert body["secret"] not in str(event.data) and event.data["host"] == "127.0.0.1"
    client = _client(world["users"]["enterprise_admin"])
    listing = client.get(URL, {"enterprise": str(world["enterprise"].public_id)})
    assert listing.status_code == 200
    assert [row["id"] for row in listing.json()["results"]] == [body["id"]]
    assert "secret" not in listing.json()["results"][0]
    detail = client.get(f"{URL}{body['id']}/")
    assert (
        detail.status_code == 200 and "secret" not in detail.json() and detail["Cache-Control"].startswith("no-store")
    )


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://127.0.0.1:8000/hook", "url_not_https"),
        ("http://203.0.113.7/hook", "url_not_https"),
        ("https://127.0.0.1/hook", "url_not_allowed"),
        ("https://10.1.2.3/hook", "url_not_allowed"),
        ("https://192.168.0.1/hook", "url_not_allowed"),
        ("https://169.254.169.254/latest/meta-data/", "url_not_allowed"),
        ("https://[::1]/hook", "url_not_allowed"),
        ("https://user:pw@203.0.113.7/hook", "invalid_url"),
        ("https:///nohost", "invalid_url"),
        ("https://" + "a" * 2001, "invalid_url"),
    ],
)
def test_ssrf_guard_refuses_at_registration_without_the_loopback_setting(world, settings, url, code):
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    response = _create(world, url=url)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code and response.json()["field"] == "url"
    assert not WebhookEndpoint.objects.exists()


def test_bad_events_and_description_are_refused(world):
    for bad, code in (
        ({"events": ["card.exploded"]}, "invalid_events"),
        ({"events": ["webhook.test"]}, "invalid_events"),
        ({"events": "card.activated"}, "not_a_list"),
        ({"description": "x" * 201}, "invalid_description"),
        ({"url": ""}, "blank"),
        ({"enterprise": "not-a-uuid"}, "not_found"),
    ):
        response = _create(world, **bad)
        assert response.status_code in (400, 404), bad
        assert response.json()["code"] == code, (bad, response.json())
    assert not WebhookEndpoint.objects.exists()


# --- who manages endpoints --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "target", "expected"),
    [
        ("enterprise_admin", "enterprise", 201),
        ("account_manager", "enterprise", 201),
        ("enterprise_admin", "enterprise_same_province", 404),
        ("account_manager_other_province", "enterprise", 404),
        ("provincial_approver", "enterprise", 403),
        ("group_approver", "enterprise", 403),
        ("ops", "enterprise", 403),
    ],
)
def test_who_registers_endpoints(world, user, target, expected):
    assert _create(world, user=user, of=world[target]).status_code == expected


def test_another_enterprises_endpoint_is_404_and_a_role_without_the_capability_403(world):
    endpoint = _endpoint(world)
    other = _client(world["users"]["enterprise_admin_other_enterprise"])
    approver = _client(world["users"]["provincial_approver"])
    for path in ("", "deliveries/"):
        assert other.get(f"{URL}{endpoint['id']}/{path}").status_code == 404
        assert approver.get(f"{URL}{endpoint['id']}/{path}").status_code == 403
    for action in ("disable/", "rotate-secret/", "test/"):
        assert other.post(f"{URL}{endpoint['id']}/{action}").status_code == 404
    assert other.delete(f"{URL}{endpoint['id']}/").status_code == 404
    assert other.get(URL).json()["results"] == []
    assert approver.get(URL).status_code == 403 and approver.get(EVENTS).status_code == 403
    assert WebhookEndpoint.objects.get(public_id=endpoint["id"]).enabled


def test_a_key_needs_the_webhooks_manage_scope(world):
    endpoint = _endpoint(world)
    reader = _client(key=_key(world, ["cards:read"]))
    for path in (URL, f"{URL}{endpoint['id']}/", f"{URL}{endpoint['id']}/deliveries/", EVENTS):
        response = reader.get(path)
        assert response.status_code == 403, path
        assert response.json()["code"] == "permission_denied"
    assert _create(world, client=reader).status_code == 403
    manager = _client(key=_key(world, ["webhooks:manage"]))
    created = _create(world, client=manager)
    assert created.status_code == 201, created.content
    assert manager.get(f"{URL}{endpoint['id']}/deliveries/").status_code == 200
    assert manager.get(EVENTS).status_code == 200
    event = AuditEvent.objects.filter(action="webhook_endpoint.created").latest("pk")
    assert event.actor is None and "platform_key" in event.data


# --- change, disable, enable, delete ------------------------------------------------------------


def test_patch_disable_enable_delete(world, settings):
    endpoint = _endpoint(world)
    client = _client(world["users"]["enterprise_admin"])
    path = f"{URL}{endpoint['id']}/"
    changed = client.patch(path, {"events": ["order.refused"], "description": "meters"}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["events"] == ["order.refused"] and changed.json()["url"] == endpoint["url"]
    assert client.patch(path, {"events": []}, format="json").json()["events"] == []
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    refused = client.patch(path, {"url": "https://10.0.0.8/hook"}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "url_not_allowed"
    assert WebhookEndpoint.objects.get(public_id=endpoint["id"]).url == endpoint["url"]
    settings.WEBHOOK_ALLOW_LOOPBACK = True

    disabled = client.post(f"{path}disable/")
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    assert disabled.json()["disabled_reason"] == "manual"
    again = client.post(f"{path}disable/")
    assert again.status_code == 409 and again.json()["code"] == "already_disabled"
    assert client.post(f"{path}test/").json()["code"] == "endpoint_disabled"
    enabled = client.post(f"{path}enable/")
    assert enabled.status_code == 200 and enabled.json()["enabled"] is True and enabled.json()["disabled_at"] is None
    assert client.post(f"{path}enable/").json()["code"] == "already_enabled"

    assert client.delete(path).status_code == 204
    assert client.get(path).status_code == 404
    actions = set(AuditEvent.objects.filter(action__startswith="webhook_endpoint.").values_list("action", flat=True))
    assert {"webhook_endpoint.updated", "webhook_endpoint.disabled", "webhook_endpoint.enabled"} <= actions
    assert "webhook_endpoint.deleted" in actions


def test_enable_starts_the_run_of_failures_afresh(world):
    endpoint = _endpoint(world)
    WebhookEndpoint.objects.filter(public_id=endpoint["id"]).update(
        enabled=False, disabled_reason="failing", failing_since=timezone.now() - timedelta(days=6)
    )
    client = _client(world["users"]["enterprise_admin"])
    assert client.post(f"{URL}{endpoint['id']}/enable/").status_code == 200
    assert WebhookEndpoint.objects.get(public_id=endpoint["id"]).failing_since is None


# --- rotation: both signatures during the grace period -------------------------------------------


def test_rotation_sends_both_signatures_during_the_grace_period(world, receiver, django_capture_on_commit_callbacks):
    hook = receiver()
    endpoint = _endpoint(world, url=hook.url)
    old = endpoint["secret"]
    client = _client(world["users"]["enterprise_admin"])
    rotated = client.post(f"{URL}{endpoint['id']}/rotate-secret/", {"grace_hours": 2}, format="json")
    assert rotated.status_code == 201, rotated.content
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != old and rotated.json()["previous_secret_until"]
    assert "secret" not in client.get(f"{URL}{endpoint['id']}/").json()

    _emit(world, django_capture_on_commit_callbacks)
    headers, body = hook.received[-1]
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert _verifies(old, headers, body) and _verifies(new, headers, body)

    WebhookEndpoint.objects.filter(public_id=endpoint["id"]).update(
        previous_secret_until=timezone.now() - timedelta(seconds=1)
    )
    _emit(world, django_capture_on_commit_callbacks)
    headers, body = hook.received[-1]
    assert _verifies(new, headers, body) and not _verifies(old, headers, body)


def test_rotation_without_grace_and_bad_grace(world, receiver, django_capture_on_commit_callbacks):
    hook = receiver()
    endpoint = _endpoint(world, url=hook.url)
    client = _client(world["users"]["enterprise_admin"])
    for bad in (-1, 24 * 7 + 1, "soon"):
        response = client.post(f"{URL}{endpoint['id']}/rotate-secret/", {"grace_hours": bad}, format="json")
        assert response.status_code == 400 and response.json()["code"] in ("invalid_grace_hours", "invalid"), bad
    rotated = client.post(f"{URL}{endpoint['id']}/rotate-secret/", {"grace_hours": 0}, format="json").json()
    _emit(world, django_capture_on_commit_callbacks)
    headers, body = hook.received[-1]
    assert _verifies(rotated["secret"], headers, body) and not _verifies(endpoint["secret"], headers, body)
    assert AuditEvent.objects.filter(action="webhook_endpoint.secret_rotated").count() == 1


# --- deliveries: the list, resend, recover ----------------------------------------------------------


def test_deliveries_list_every_attempt_newest_first_in_the_contract_shape(
    world, receiver, django_capture_on_commit_callbacks
):
    hook = receiver([500])
    endpoint = _endpoint(world, url=hook.url)
    event = _emit(world, django_capture_on_commit_callbacks)
    Delivery.objects.filter(event=event).update(next_attempt_at=timezone.now())
    attempt_delivery(Delivery.objects.get(event=event).pk)
    client = _client(world["users"]["enterprise_admin"])
    response = client.get(f"{URL}{endpoint['id']}/deliveries/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [set(row) for row in rows] == [ATTEMPT_FIELDS, ATTEMPT_FIELDS]
    newest, first = rows
    assert (newest["attempt"], first["attempt"]) == (2, 1)
    assert first["status_code"] == 500 and first["succeeded"] is False and first["next_attempt_at"]
    assert newest["status_code"] == 200 and newest["succeeded"] is True and newest["next_attempt_at"] is None
    assert newest["event_id"] == first["event_id"] == event.public_id == hook.received[0][0]["webhook-id"]
    assert newest["event_type"] == "card.activated" and newest["response_excerpt"] == "ok"
    assert isinstance(newest["latency_ms"], int) and newest["error"] == ""


def test_an_unanswered_attempt_has_a_null_status_code(world, django_capture_on_commit_callbacks):
    endpoint = _endpoint(world, url="http://127.0.0.1:9/hook")  # discard port: nothing listens
    _emit(world, django_capture_on_commit_callbacks)
    [row] = _client(world["users"]["enterprise_admin"]).get(f"{URL}{endpoint['id']}/deliveries/").json()["results"]
    assert row["status_code"] is None and row["succeeded"] is False and row["error"].startswith("connection_error")


def test_resend_sends_the_same_event_again_now(world, receiver, django_capture_on_commit_callbacks):
    hook = receiver([503])
    endpoint = _endpoint(world, url=hook.url)
    event = _emit(world, django_capture_on_commit_callbacks)
    failed = DeliveryAttempt.objects.get()
    assert not failed.succeeded
    client = _client(world["users"]["enterprise_admin"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{URL}{endpoint['id']}/deliveries/{failed.public_id}/resend/")
    assert response.status_code == 202, response.content
    assert response.json()["event_id"] == event.public_id
    assert [h["webhook-id"] for h, _body in hook.received] == [event.public_id, event.public_id]
    assert Delivery.objects.get().status == DeliveryStatus.SUCCEEDED
    assert DeliveryAttempt.objects.count() == 2
    other = _client(world["users"]["enterprise_admin_other_enterprise"])
    assert other.post(f"{URL}{endpoint['id']}/deliveries/{failed.public_id}/resend/").status_code == 404
    assert client.post(f"{URL}{endpoint['id']}/deliveries/att_missing/resend/").status_code == 404


def test_recover_resends_the_failed_deliveries_since_a_time(world, receiver, django_capture_on_commit_callbacks):
    hook = receiver([500, 500, 500])
    endpoint = _endpoint(world, url=hook.url)
    old, recent, newer = (_emit(world, django_capture_on_commit_callbacks, card=f"c{i}") for i in range(3))
    Event.objects.filter(pk=old.pk).update(timestamp=timezone.now() - timedelta(days=2))
    Delivery.objects.filter(event=newer).update(status=DeliveryStatus.GAVE_UP, next_attempt_at=None)
    client = _client(world["users"]["enterprise_admin"])
    path = f"{URL}{endpoint['id']}/recover/"
    for bad in ({"since": "yesterday"}, {"since": "2026-13-01T00:00:00Z"}, {}):
        response = client.post(path, bad, format="json")
        assert response.status_code == 400 and response.json()["code"] in ("invalid_since", "required"), bad
    since = (timezone.now() - timedelta(days=1)).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(path, {"since": since}, format="json")
    assert response.status_code == 202 and response.json() == {"resent": 2}
    resent_ids = [h["webhook-id"] for h, _body in hook.received[3:]]
    assert sorted(resent_ids) == sorted([recent.public_id, newer.public_id])
    assert Delivery.objects.get(event=old).status == DeliveryStatus.FAILED
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    assert client.post(path, {"since": future}, format="json").json() == {"resent": 0}


def test_recover_sends_what_was_emitted_while_the_endpoint_was_disabled(
    world, receiver, django_capture_on_commit_callbacks
):
    before = _emit(world, django_capture_on_commit_callbacks, card="before")
    hook = receiver()
    endpoint = _endpoint(world, url=hook.url, events=["card.activated"])
    client = _client(world["users"]["enterprise_admin"])
    assert client.post(f"{URL}{endpoint['id']}/disable/").status_code == 200
    missed = _emit(world, django_capture_on_commit_callbacks, card="missed")
    _emit(world, django_capture_on_commit_callbacks, "order.completed", order="o1")
    assert hook.received == [] and not Delivery.objects.filter(event=missed).exists()
    refused = client.post(f"{URL}{endpoint['id']}/recover/", {"since": before.timestamp.isoformat()}, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "endpoint_disabled"
    assert client.post(f"{URL}{endpoint['id']}/enable/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"{URL}{endpoint['id']}/recover/", {"since": before.timestamp.isoformat()}, format="json"
        )
    # Not the event from before the endpoint existed, nor the type it does not subscribe to.
    assert response.json() == {"resent": 1}
    assert [h["webhook-id"] for h, _body in hook.received] == [missed.public_id]
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(f"{URL}{endpoint['id']}/recover/", {"since": before.timestamp.isoformat()}, format="json")
    assert again.json() == {"resent": 0}


# --- the test event --------------------------------------------------------------------------------


def test_the_test_event_goes_to_that_endpoint_only(world, receiver, django_capture_on_commit_callbacks):
    hook, bystander = receiver(), receiver()
    endpoint = _endpoint(world, url=hook.url)
    _endpoint(world, url=bystander.url)
    client = _client(world["users"]["enterprise_admin"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{URL}{endpoint['id']}/test/")
    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) == {"id", "type", "timestamp", "data"} and body["type"] == "webhook.test"
    [(headers, payload)] = hook.received
    assert headers["webhook-id"] == body["id"] and _verifies(endpoint["secret"], headers, payload)
    assert bystander.received == []
    assert client.get(EVENTS).json()["results"] == []


# --- the events feed ----------------------------------------------------------------------------------


def test_events_feed_pages_with_a_cursor_and_filters(world, django_capture_on_commit_callbacks):
    base = timezone.now() - timedelta(hours=10)
    made = []
    for index in range(5):
        kind = "order.completed" if index % 2 else "card.activated"
        event = _emit(world, django_capture_on_commit_callbacks, kind, card=f"c{index}")
        Event.objects.filter(pk=event.pk).update(timestamp=base + timedelta(hours=index))
        made.append(event.public_id)
    _emit(world, django_capture_on_commit_callbacks, enterprise=world["enterprise_same_province"], card="x")
    client = _client(world["users"]["enterprise_admin"])

    seen, url, pages = [], EVENTS + "?page_size=2", 0
    while url:
        response = client.get(url)
        assert response.status_code == 200 and set(response.json()) == {"results", "next"}
        seen += [row["id"] for row in response.json()["results"]]
        url, pages = response.json()["next"], pages + 1
    assert seen == made and pages == 3
    first = client.get(EVENTS).json()["results"][0]
    assert set(first) == {"id", "type", "timestamp", "data"} and first["data"] == {"card": "c0"}

    since = (base + timedelta(hours=2, minutes=30)).isoformat()
    assert [row["id"] for row in client.get(EVENTS, {"since": since}).json()["results"]] == made[3:]
    by_type = client.get(EVENTS, {"type": "order.completed"}).json()["results"]
    assert [row["id"] for row in by_type] == [made[1], made[3]]
    both = client.get(EVENTS, {"type": "order.completed,card.activated", "since": since}).json()["results"]
    assert [row["id"] for row in both] == made[3:]
    # An unencoded "+" of a UTC offset arrives as a space.
    spaced = client.get(EVENTS + "?since=" + since.replace("+", " ")).json()["results"]
    assert [row["id"] for row in spaced] == made[3:]

    for bad in ({"since": "yesterday"}, {"since": "2026-02-30T00:00:00"}, {"type": "card.exploded"}):
        response = client.get(EVENTS, bad)
        assert response.status_code == 400 and response.json()["code"] in ("invalid_since", "invalid_type"), bad
    assert client.get(EVENTS, {"cursor": "junk"}).status_code == 404

    manager = _client(world["users"]["account_manager"])
    assert len(manager.get(EVENTS).json()["results"]) == 6
    only = manager.get(EVENTS, {"enterprise": str(world["enterprise_same_province"].public_id)}).json()["results"]
    assert len(only) == 1
    other = _client(world["users"]["account_manager_other_province"])
    assert other.get(EVENTS).json()["results"] == []
