"""Callbacks (issue 10 §3): Standard Webhooks signatures checked by an independent verifier, the outbox's
rollback, and the SSRF guard."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from django.db import transaction

from core.errors import ValidationFailed
from integrations.webhooks import signing, ssrf
from integrations.webhooks.events import emit
from integrations.webhooks.models import Delivery, Event, WebhookEndpoint

pytestmark = pytest.mark.django_db


def verify(secret: str, msg_id: str, timestamp: str, body: str, header: str) -> bool:
    """Written from the spec, not from signing.py."""
    key = base64.b64decode(secret.split("_", 1)[1])
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest())
    return any(
        part.startswith("v1,") and hmac.compare_digest(part[3:].encode(), expected) for part in header.split(" ")
    )


def test_signature_verifies_with_an_independent_verifier_and_both_during_rotation():
    old, new = signing.new_secret(), signing.new_secret()
    assert new.startswith("whsec_") and len(signing.secret_bytes(new)) >= 24
    header = signing.signature_header([new, old], "msg_1", 1700000000, '{"a":1}')
    assert verify(new, "msg_1", "1700000000", '{"a":1}', header)
    assert verify(old, "msg_1", "1700000000", '{"a":1}', header)
    assert not verify(new, "msg_1", "1700000001", '{"a":1}', header)


def test_a_rolled_back_change_emits_nothing(world, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    enterprise = world["enterprise"]
    WebhookEndpoint.objects.create(enterprise=enterprise, url="http://127.0.0.1:9/", secret=signing.new_secret())
    with pytest.raises(RuntimeError), transaction.atomic():
        emit(enterprise, "card.activated", {"card": "c1", "status": "active"})
        raise RuntimeError
    assert not Event.objects.exists() and not Delivery.objects.exists()


def test_thin_payloads_refuse_personal_keys(world):
    with pytest.raises(ValueError):
        emit(world["enterprise"], "card_user.registered", {"card_user": "u1", "id_number": "x"})


@pytest.mark.parametrize(
    "url", ["http://example.com/", "https://127.0.0.1/", "https://10.0.0.1/", "https://169.254.169.254/latest/"]
)
def test_ssrf_refusals_without_the_setting(url, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    with pytest.raises(ValidationFailed):
        ssrf.check_url(url)


def test_the_setting_allows_loopback_and_nothing_else(settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    assert ssrf.check_url("http://127.0.0.1:8000/hook").address == "127.0.0.1"
    with pytest.raises(ValidationFailed):
        ssrf.check_url("http://10.0.0.1/")


class _Receiver:
    """A tiny http.server on 127.0.0.1 in a thread; answers the scripted statuses in turn."""

    def __init__(self, statuses):
        import http.server
        import threading

        received = self.received = []
        script = list(statuses)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"])).decode()
                received.append((dict(self.headers), body))
                self.send_response(script.pop(0) if script else 200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_retry_keeps_the_id_and_is_signed_afresh_and_410_disables(world, settings):
    from django.utils import timezone

    from integrations.webhooks.deliver import attempt_delivery

    settings.WEBHOOK_ALLOW_LOOPBACK = True
    receiver = _Receiver([500, 200])
    try:
        secret = signing.new_secret()
        endpoint = WebhookEndpoint.objects.create(enterprise=world["enterprise"], url=receiver.url, secret=secret)
        event = emit(world["enterprise"], "card.activated", {"card": "c1", "status": "active"})
        delivery = Delivery.objects.get(event=event)
        first = attempt_delivery(delivery.pk)
        assert first is not None and first.status_code == 500 and not first.succeeded and first.next_attempt_at
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        second = attempt_delivery(delivery.pk)
        assert second is not None and second.succeeded and second.attempt == 2
        (h1, b1), (h2, b2) = receiver.received
        assert h1["webhook-id"] == h2["webhook-id"] == event.public_id and b1 == b2
        for headers, body in receiver.received:
            assert verify(
                secret, headers["webhook-id"], headers["webhook-timestamp"], body, headers["webhook-signature"]
            )
        receiver.received.clear()
        gone = _Receiver([410])
        endpoint.url = gone.url
        endpoint.save()
        event = emit(world["enterprise"], "card.activated", {"card": "c2", "status": "active"})
        attempt_delivery(Delivery.objects.get(event=event).pk)
        gone.close()
        endpoint.refresh_from_db()
        assert not endpoint.enabled and endpoint.disabled_reason == "gone"
    finally:
        receiver.close()
