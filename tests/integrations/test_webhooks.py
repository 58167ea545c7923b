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
