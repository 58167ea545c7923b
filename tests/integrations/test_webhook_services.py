"""The callback endpoint services (integrations.webhooks.services): each authorises its actor, audits without
the secret or the URL's path, and refuses what the API and the pages must not let through."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from integrations.webhooks import services
from integrations.webhooks.models import Delivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

SECRET_URL = "http://127.0.0.1:9/hook/receiver-token-123?sig=abc"


@pytest.fixture(autouse=True)
def _loopback(settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True


def _create(world, actor="enterprise_admin", **kwargs):
    kwargs.setdefault("url", SECRET_URL)
    return services.endpoint_create(actor=world["users"][actor], enterprise=world["enterprise"], **kwargs)


def test_every_change_is_audited_without_the_secret_or_the_urls_path(world):
    actor = world["users"]["enterprise_admin"]
    endpoint, secret = _create(world, events=["card.activated"])
    endpoint = services.endpoint_update(actor=actor, endpoint=endpoint, description="meters")
    endpoint, rotated = services.endpoint_rotate_secret(actor=actor, endpoint=endpoint, grace_hours=1)
    endpoint = services.endpoint_disable(actor=actor, endpoint=endpoint)
    endpoint = services.endpoint_enable(actor=actor, endpoint=endpoint)
    services.send_test_event(actor=actor, endpoint=endpoint)
    services.endpoint_recover(actor=actor, endpoint=endpoint, since=timezone.now())
    services.endpoint_delete(actor=actor, endpoint=endpoint)
    events = list(AuditEvent.objects.filter(action__startswith="webhook_endpoint.").order_by("pk"))
    assert [event.action.split(".")[1] for event in events] == [
        "created",
        "updated",
        "secret_rotated",
        "disabled",
        "enabled",
        "test_sent",
        "recovered",
        "deleted",
    ]
    for event in events:
        text = str(event.data)
        assert secret not in text and rotated not in text and "receiver-token" not in text and "sig=" not in text
        assert event.actor == actor and event.data["host"] == "127.0.0.1"
    assert not WebhookEndpoint.objects.exists() and not Delivery.objects.exists()


def test_an_update_that_changes_nothing_writes_nothing(world):
    endpoint, _secret = _create(world, description="fleet")
    services.endpoint_update(actor=world["users"]["enterprise_admin"], endpoint=endpoint, description=" fleet ")
    assert not AuditEvent.objects.filter(action="webhook_endpoint.updated").exists()


def test_who_may_and_the_limits(world, monkeypatch):
    for role in ("provincial_approver", "ops", "enterprise_admin_other_enterprise"):
        with pytest.raises(PermissionDenied):
            _create(world, actor=role)
    endpoint, _secret = _create(world)
    with pytest.raises(PermissionDenied):
        services.endpoint_delete(actor=world["users"]["account_manager_other_province"], endpoint=endpoint)
    monkeypatch.setattr(services, "MAX_ENDPOINTS", 2)
    _create(world)
    with pytest.raises(ValidationFailed) as refused:
        _create(world)
    assert refused.value.code == "too_many_endpoints"
    for bad in ({"events": [1]}, {"events": {"a": 1}}, {"description": 5}, {"url": None}, {"url": " "}):
        with pytest.raises(ValidationFailed):
            _create(world, **bad)
    with pytest.raises(ValidationFailed) as naive:
        services.endpoint_recover(
            actor=world["users"]["enterprise_admin"], endpoint=endpoint, since=timezone.now().replace(tzinfo=None)
        )
    assert naive.value.code == "invalid_since"


def test_disabled_endpoints_refuse_test_resend_and_recover(world):
    actor = world["users"]["enterprise_admin"]
    endpoint, _secret = _create(world)
    services.endpoint_disable(actor=actor, endpoint=endpoint)
    for call in (
        lambda: services.send_test_event(actor=actor, endpoint=endpoint),
        lambda: services.endpoint_recover(actor=actor, endpoint=endpoint, since=timezone.now()),
        lambda: services.endpoint_disable(actor=actor, endpoint=endpoint),
    ):
        with pytest.raises(InvalidTransition):
            call()
