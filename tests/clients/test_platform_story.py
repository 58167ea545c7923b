"""Issue 10, "Done when": the whole platform story, through the Python client, against a live server.

1. Create a key. 2. Register a webhook endpoint on a local receiver. 3. Register a card user.
4. Receive and verify `card_user.registered`. 5. The receiver answers 500 at first and 200 later: the
retry is delivered with the same `webhook-id`. 6. A stale timestamp is refused by the verifier.
7. Revoke the key, and see 401.

The key is created and revoked the way an enterprise admin's own program would: a token login and the
keys API, over HTTP to the live server (a key may not manage keys). Tasks run eagerly in tests, so the
first attempt goes out while the registration's request commits; the retry's time (about 5 s later) is
brought forward by moving `next_attempt_at`, and the sweeper task sends it, as beat would.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from iot_realname_client import AuthenticationError, Client, WebhookVerificationError, sign, verify_webhook

from integrations.webhooks import tasks
from integrations.webhooks.models import Delivery
from tests import factories, idgen
from tests.images import jpeg_bytes


def _call(url: str, body: dict | None = None, token: str | None = None) -> dict:
    """The enterprise admin's own HTTP call (stdlib only, like the client)."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = json.dumps(body or {}).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers, method="POST")) as answer:
        return json.loads(answer.read())


@pytest.mark.slow
def test_the_platform_story(world, live_server, receiver, settings, scripted_face_engine):
    settings.WEBHOOK_ALLOW_LOOPBACK = True  # the receiver is on 127.0.0.1, over http
    enterprise = world["enterprise"]
    admin = world["users"]["enterprise_admin"]
    card = factories.card(enterprise=enterprise, actor=world["users"]["account_manager"])
    started = datetime.now(UTC) - timedelta(seconds=1)

    # 1. Create a key: the enterprise admin logs in and asks the keys API for one.
    token = _call(f"{live_server.url}/api/v1/auth/token/", {"username": admin.username, "password": factories.PASSWORD})
    issued = _call(
        f"{live_server.url}/api/v1/platform/keys/",
        {
            "enterprise": str(enterprise.public_id),
            "name": "fleet platform",
            "scopes": ["cards:read", "card_users:write", "webhooks:manage"],
            "expires_in_days": 30,
        },
        token["token"],
    )
    assert issued["key"].startswith("rnk_live_")
    client = Client(live_server.url, issued["key"], timeout=20)

    # 2. Register a webhook endpoint on the local receiver; its secret is shown this once.
    endpoint = client.webhooks.create(
        enterprise=str(enterprise.public_id), url=receiver.url, events=["card_user.registered"], description="story"
    )
    secret = endpoint["secret"]
    assert secret.startswith("whsec_")
    receiver.statuses = [500]  # 5. the receiver is down at first

    # 3. Register a card user, with an ID photo and a live photo (the face engine is scripted to pass).
    registration = client.card_users.register(
        enterprise=str(enterprise.public_id),
        name="周九",
        id_type="resident_id",
        id_number=idgen.resident_id(),
        id_photo=jpeg_bytes(color=(200, 180, 150), text="证件"),
        live_photo=jpeg_bytes(size=(240, 320), color=(90, 120, 200), text="人"),
        cards=[card.iccid],
        biometric_consent=True,
    )
    card_user_id = registration["card_user"]["public_id"]
    assert client.verifications.wait(registration["verification_url"], timeout=10, interval=0.2)["passed"]

    # 4. The callback arrives and verifies: card_user.registered, thin, naming the card user by id.
    first = receiver.wait_for(1)[0]
    event = verify_webhook(first.headers, first.body, secret)
    assert event["type"] == "card_user.registered"
    assert event["data"]["card_user"] == card_user_id
    assert (
        "周九" not in first.body.decode() and registration["card_user"]["id_number_masked"] not in first.body.decode()
    )
    webhook_id = first.headers["webhook-id"]

    # 5. The first attempt got 500; the retry is due in about 5 s. Bring it forward, let the sweeper send it.
    delivery = Delivery.objects.get(event__public_id=webhook_id)
    assert delivery.status == "failed" and delivery.next_attempt_at is not None
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.next_attempt_at - timedelta(seconds=10))
    assert tasks.send_due_deliveries() == 1
    second = receiver.wait_for(2)[1]
    assert second.headers["webhook-id"] == webhook_id  # the same id on every retry: dedupe on it
    assert verify_webhook(second.headers, second.body, secret) == event
    attempts = client.webhooks.deliveries(endpoint["id"])
    assert [(a["attempt"], a["status_code"], a["succeeded"]) for a in attempts] == [(2, 200, True), (1, 500, False)]
    assert {a["event_id"] for a in attempts} == {webhook_id}
    # The events feed has it too, under the same id, for a platform that catches up after downtime.
    feed = list(client.events.iter(since=started, type="card_user.registered"))
    assert [(e["id"], e["data"]["card_user"]) for e in feed] == [(webhook_id, card_user_id)]

    # 6. Replay protection: the captured callback, replayed 10 minutes later, is refused.
    signed_at = int(second.headers["webhook-timestamp"])
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify_webhook(second.headers, second.body, secret, now=signed_at + 600)
    stale = signed_at - 600  # and a stale timestamp, even correctly signed, is refused now
    stale_headers = {**second.headers, "webhook-timestamp": str(stale)}
    stale_headers["webhook-signature"] = sign(secret, webhook_id, stale, second.body)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify_webhook(stale_headers, second.body, secret)

    # 7. Revoke the key: from now on it answers 401.
    assert client.cards.get(card.iccid)["iccid"] == card.iccid
    _call(f"{live_server.url}/api/v1/platform/keys/{issued['id']}/revoke/", token=token["token"])
    with pytest.raises(AuthenticationError) as refused:
        client.cards.get(card.iccid)
    assert refused.value.status == 401
