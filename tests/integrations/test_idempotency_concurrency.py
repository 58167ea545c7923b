"""Idempotency-Key under concurrency (issue 10 §2), on PostgreSQL with a connection per thread.

The claim is an INSERT under a unique constraint, committed before the work: two requests with the same key
at once must give one create and one 409 (or the replay, if the first finished first), never two rows.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import close_old_connections, connections
from rest_framework.test import APIClient

from integrations import keys
from integrations.key_models import IdempotencyRecord, PlatformKey

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WAIT = 30  # seconds: only reached when something is wrong
URL = "/api/v1/platform/keys/"


def test_the_same_request_twice_at_once_creates_once(world, monkeypatch):
    real_create = keys.key_create

    def slow_create(**kwargs):
        time.sleep(0.5)  # the first request still runs when the second arrives
        return real_create(**kwargs)

    monkeypatch.setattr("integrations.api.keys.key_create", slow_create)
    admin = world["users"]["enterprise_admin"]
    body = {"enterprise": str(world["enterprise"].public_id), "name": "fleet", "scopes": ["cards:read"]}
    barrier = threading.Barrier(2)
    answers: list[tuple[int, str | None, str]] = []
    lock = threading.Lock()

    def post():
        close_old_connections()
        try:
            client = APIClient()
            client.force_authenticate(admin)
            barrier.wait(timeout=WAIT)
            response = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="fleet-once")
            with lock:
                answers.append((response.status_code, response.get("Idempotent-Replayed"), response.json().get("code")))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT)
    assert len(answers) == 2, answers
    created = [a for a in answers if a[0] == 201 and a[1] is None]
    others = [a for a in answers if a not in created]
    assert len(created) == 1, answers
    assert others[0] in [(409, None, "idempotency_request_in_progress"), (201, "true", None)], answers
    assert PlatformKey.objects.count() == 1
    record = IdempotencyRecord.objects.get()
    assert record.status_code == 201
    # Once the first has answered, a retry gets its answer.
    client = APIClient()
    client.force_authenticate(admin)
    retry = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="fleet-once")
    assert retry.status_code == 201 and retry["Idempotent-Replayed"] == "true"
    assert PlatformKey.objects.count() == 1
