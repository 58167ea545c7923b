"""Two first calls of test keys at once (issue 10 §5) make one sandbox with one set of cards, on PostgreSQL with
a real connection per thread (a test transaction would hide the row lock that serialises them)."""

from __future__ import annotations

import threading

import pytest
from django.db import close_old_connections, connections

from cards.inventory.sandbox import SANDBOX_CARDS
from cards.models import Card
from enterprises.models import Enterprise
from enterprises.sandbox import sandbox_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 4
WAIT = 30


def test_concurrent_first_calls_create_one_sandbox(world):
    real = world["enterprise"]
    start = threading.Barrier(THREADS)
    found: list[int] = []
    errors: list[BaseException] = []

    def run():
        close_old_connections()
        try:
            start.wait(WAIT)
            found.append(sandbox_for(Enterprise.objects.get(pk=real.pk)).pk)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert not errors, errors
    assert len(found) == THREADS and len(set(found)) == 1
    assert Enterprise.objects.filter(sandbox_of=real).count() == 1
    assert Card.objects.filter(enterprise_id=found[0]).count() == SANDBOX_CARDS
