"""The enterprise admin's callback pages (issue 10 §3): list and add (the secret shown once), the endpoint's
deliveries with resend, the test event, rotation, disable, enable and delete; 403 and 404 for others."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent
from integrations.webhooks import services
from integrations.webhooks.models import Delivery, DeliveryAttempt, Event, EventType, WebhookEndpoint
from tests.integrations.test_webhooks import _Receiver as Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _loopback(settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True


@pytest.fixture
def hook():
    receiver = Receiver([500])
    yield receiver
    receiver.close()


def _client(world, role="enterprise_admin"):
    client = Client()
    client.force_login(world["users"][role])
    return client


def _endpoint(world, url="http://127.0.0.1:9/hook"):
    endpoint, _secret = services.endpoint_create(
        actor=world["users"]["enterprise_admin"], enterprise=world["enterprise"], url=url, events=[]
    )
    return endpoint


def _attempted(world, endpoint, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.send_test_event(actor=world["users"]["enterprise_admin"], endpoint=endpoint)
    return DeliveryAttempt.objects.filter(delivery__endpoint=endpoint).latest("pk")


def test_the_enterprise_page_links_to_the_endpoints(world):
    page = _client(world).get(reverse("enterprises:detail", args=[world["enterprise"].public_id]))
    assert reverse("webhooks:list", args=[world["enterprise"].public_id]) in page.content.decode()
    approver = _client(world, "provincial_approver").get(
        reverse("enterprises:detail", args=[world["enterprise"].public_id])
    )
    assert approver.status_code == 200 and b"/platform/webhooks/" not in approver.content


@pytest.mark.parametrize("role", ["enterprise_admin", "account_manager"])
def test_list_and_add_shows_the_secret_once(world, role):
    client = _client(world, role)
    url = reverse("webhooks:list", args=[world["enterprise"].public_id])
    assert client.get(url).status_code == 200
    response = client.post(url, {"url": "http://127.0.0.1:9/hook", "events": ["card.activated"], "description": "x"})
    assert response.status_code == 200 and response["Cache-Control"].startswith("no-store")
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["card.activated"]
    assert endpoint.secret in response.content.decode()
    listing = client.get(url)
    assert endpoint.url in listing.content.decode() and endpoint.secret not in listing.content.decode()
    detail = client.get(reverse("webhooks:detail", args=[endpoint.public_id]))
    assert detail.status_code == 200 and endpoint.secret not in detail.content.decode()


def test_add_refuses_what_the_service_refuses(world, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    url = reverse("webhooks:list", args=[world["enterprise"].public_id])
    response = _client(world).post(url, {"url": "https://10.0.0.1/hook"})
    assert response.status_code == 400
    assert "may not reach" in response.content.decode() and not WebhookEndpoint.objects.exists()
    assert _client(world).post(url, {"url": "http://example.com/", "events": ["nope"]}).status_code == 400


def test_others_get_403_or_404_on_every_page(world, django_capture_on_commit_callbacks):
    endpoint = _endpoint(world)
    attempt = _attempted(world, endpoint, django_capture_on_commit_callbacks)
    pages = [
        ("get", reverse("webhooks:list", args=[world["enterprise"].public_id])),
        ("get", reverse("webhooks:detail", args=[endpoint.public_id])),
        ("post", reverse("webhooks:detail", args=[endpoint.public_id])),
        ("post", reverse("webhooks:disable", args=[endpoint.public_id])),
        ("post", reverse("webhooks:enable", args=[endpoint.public_id])),
        ("post", reverse("webhooks:test", args=[endpoint.public_id])),
        ("post", reverse("webhooks:resend", args=[endpoint.public_id, attempt.public_id])),
        ("post", reverse("webhooks:delete", args=[endpoint.public_id])),
    ]
    for role, expected in (
        ("enterprise_admin_other_enterprise", 404),
        ("account_manager_other_province", 404),
        ("provincial_approver", 403),
        ("ops", 403),
    ):
        client = _client(world, role)
        for method, url in pages:
            assert getattr(client, method)(url, {"grace_hours": 1}).status_code == expected, (role, url)
    assert Client().get(pages[1][1]).status_code == 302  # to the login page
    assert WebhookEndpoint.objects.get().enabled and DeliveryAttempt.objects.count() == 1
    assert not AuditEvent.objects.filter(action__in=["webhook_endpoint.disabled", "webhook_endpoint.deleted"])


def test_deliveries_newest_first_with_resend(world, hook, django_capture_on_commit_callbacks):
    endpoint = _endpoint(world, url=hook.url)
    failed = _attempted(world, endpoint, django_capture_on_commit_callbacks)
    assert failed.status_code == 500
    client = _client(world)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("webhooks:resend", args=[endpoint.public_id, failed.public_id]))
    assert response.status_code == 302 and response["Location"] == reverse("webhooks:detail", args=[endpoint.public_id])
    assert [h["webhook-id"] for h, _body in hook.received] == [failed.delivery.event.public_id] * 2
    page = client.get(reverse("webhooks:detail", args=[endpoint.public_id]))
    content = page.content.decode()
    rows = content.split('<tr data-succeeded="')[1:]
    assert [row.split('"')[0] for row in rows] == ["true", "false"]  # newest first
    assert "is sent again" in content
    assert client.get(reverse("webhooks:detail", args=[endpoint.public_id]), {"page": "junk"}).status_code == 200


def test_send_a_test_event(world, hook, django_capture_on_commit_callbacks):
    endpoint = _endpoint(world, url=hook.url)
    client = _client(world)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("webhooks:test", args=[endpoint.public_id]))
    assert response.status_code == 302
    event = Event.objects.get(type=EventType.TEST)
    assert hook.received[0][0]["webhook-id"] == event.public_id
    assert Delivery.objects.get().endpoint == endpoint


def test_rotate_shows_the_new_secret_once(world):
    endpoint = _endpoint(world)
    old = endpoint.secret
    client = _client(world)
    url = reverse("webhooks:detail", args=[endpoint.public_id])
    assert client.post(url, {"grace_hours": "999"}).status_code == 400
    response = client.post(url, {"grace_hours": "2"})
    assert response.status_code == 200 and response["Cache-Control"].startswith("no-store")
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.previous_secret == old
    assert endpoint.secret in response.content.decode() and old not in response.content.decode()


def test_disable_enable_delete(world):
    endpoint = _endpoint(world)
    client = _client(world)
    detail = reverse("webhooks:detail", args=[endpoint.public_id])
    assert client.post(reverse("webhooks:disable", args=[endpoint.public_id])).status_code == 302
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    again = client.post(reverse("webhooks:disable", args=[endpoint.public_id]), follow=True)
    assert "already disabled" in again.content.decode()
    refused = client.post(reverse("webhooks:test", args=[endpoint.public_id]), follow=True)
    assert "enable it first" in refused.content.decode() and not Event.objects.exists()
    assert client.post(reverse("webhooks:enable", args=[endpoint.public_id])).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.enabled
    assert client.get(reverse("webhooks:disable", args=[endpoint.public_id])).status_code == 405
    deleted = client.post(reverse("webhooks:delete", args=[endpoint.public_id]))
    assert deleted["Location"] == reverse("webhooks:list", args=[world["enterprise"].public_id])
    assert not WebhookEndpoint.objects.exists() and client.get(detail).status_code == 404


def test_edit_changes_through_the_service_and_checks_the_url_again(world, settings):
    endpoint = _endpoint(world)
    client = _client(world)
    url = reverse("webhooks:edit", args=[endpoint.public_id])
    page = client.get(url)
    assert page.status_code == 200 and endpoint.url in page.content.decode()
    changed = client.post(url, {"url": endpoint.url, "events": ["order.refused"], "description": "meters"})
    assert changed.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.events == ["order.refused"] and endpoint.description == "meters"
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    refused = client.post(url, {"url": "https://192.168.1.1/hook"})
    assert refused.status_code == 400 and "may not reach" in refused.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.url == "http://127.0.0.1:9/hook"
    assert _client(world, "enterprise_admin_other_enterprise").get(url).status_code == 404
    assert _client(world, "provincial_approver").post(url, {"url": "x"}).status_code == 403
