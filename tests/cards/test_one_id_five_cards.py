"""U6 under concurrency, on PostgreSQL with real connections (one per thread).

select_for_update() does nothing on SQLite and a lock "passes" inside a test
transaction anyway, so these tests commit for real (transaction=True) and race
threads that each hold their own database connection.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import close_old_connections, connection, connections, transaction

from accounts.pii import mask_identifier
from cards.card_users.services import _lock_identity, card_user_bind, one_id_card_limit
from cards.errors import CardLimitReached
from cards.models import CardBinding, CardUser
from core.errors import ValidationFailed
from tests import factories, idgen

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 20
WAIT = 30  # seconds: generous upper bounds, only reached when something is wrong


def _in_thread(target):
    """Run `target` on this thread's own connection, and close it at the end."""

    def run(*args):
        close_old_connections()
        try:
            target(*args)
        finally:
            connections.close_all()

    return run


def _card_users(*, count: int, id_number: str, world, scripted_face_engine):
    """`count` registrations of the same ID, each for its own card, in two enterprises; not yet bound.

    The face comparison ends in manual review (scripted), so nothing is bound until the test binds.
    """
    scripted_face_engine("review", distance=0.55)
    manager = world["users"]["account_manager"]
    pairs = []
    for i in range(count):
        ent = world["enterprise"] if i % 2 == 0 else world["enterprise_same_province"]
        card = factories.card(enterprise=ent)
        verification = factories.card_user_registration(
            actor=manager, enterprise=ent, cards=[card], id_number=id_number
        )
        pairs.append((verification.card_user, card))
    assert not CardBinding.objects.exists()
    return pairs


def test_U6_twenty_concurrent_binds_of_one_id_exactly_five_succeed(world, scripted_face_engine):
    number = idgen.resident_id()
    pairs = _card_users(count=THREADS, id_number=number, world=world, scripted_face_engine=scripted_face_engine)
    barrier = threading.Barrier(THREADS)
    results: list[tuple[str, str]] = []
    lock = threading.Lock()

    @_in_thread
    def bind(card_user, card):
        barrier.wait(timeout=WAIT)
        try:
            card_user_bind(actor=None, card_user=card_user, cards=[card])
        except CardLimitReached as exc:
            outcome = ("refused", str(exc.message))
        except Exception as exc:  # noqa: BLE001 - any other failure is reported by the assertions
            outcome = ("error", repr(exc))
        else:
            outcome = ("bound", "")
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=bind, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT)
    assert not any(thread.is_alive() for thread in threads)

    outcomes = [kind for kind, _message in results]
    assert outcomes.count("error") == 0, results
    assert outcomes.count("bound") == one_id_card_limit() == 5
    assert outcomes.count("refused") == THREADS - 5
    index = CardUser.objects.first().id_number_index
    assert CardBinding.objects.filter(id_number_index=index, ended_at__isnull=True).count() == 5
    for kind, message in results:
        if kind == "refused":
            assert mask_identifier(number) in message and number not in message
            assert "5 live cards" in message


def test_U6_binds_of_different_ids_do_not_wait_for_each_other(world, scripted_face_engine):
    ((user_a, card_a),) = _card_users(
        count=1, id_number=idgen.resident_id(), world=world, scripted_face_engine=scripted_face_engine
    )
    ((user_b, card_b),) = _card_users(
        count=1, id_number=idgen.resident_id(), world=world, scripted_face_engine=scripted_face_engine
    )
    holding, release = threading.Event(), threading.Event()
    done: dict[str, float] = {}
    errors: list[str] = []

    @_in_thread
    def hold_a():
        # Another bind of ID A, stopped while it holds A's lock.
        with transaction.atomic():
            _lock_identity(user_a.id_number_index)
            holding.set()
            release.wait(timeout=WAIT)

    @_in_thread
    def bind(name, card_user, card):
        try:
            card_user_bind(actor=None, card_user=card_user, cards=[card])
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))
        done[name] = time.monotonic()

    holder = threading.Thread(target=hold_a)
    holder.start()
    assert holding.wait(timeout=WAIT)
    try:
        # ID B is not held up by the lock on ID A ...
        thread_b = threading.Thread(target=bind, args=("b", user_b, card_b))
        thread_b.start()
        thread_b.join(timeout=10)
        assert not thread_b.is_alive() and "b" in done, "a bind of ID B waited for the lock on ID A"
        # ... while a bind of ID A waits on it, visibly, in PostgreSQL.
        thread_a = threading.Thread(target=bind, args=("a", user_a, card_a))
        thread_a.start()
        deadline = time.monotonic() + 10
        waiting = 0
        while time.monotonic() < deadline and not waiting:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )
                waiting = cursor.fetchone()[0]
            time.sleep(0.05)
        assert waiting == 1 and "a" not in done
        released_at = time.monotonic()
    finally:
        release.set()
    thread_a.join(timeout=WAIT)
    holder.join(timeout=WAIT)
    assert not errors, errors
    assert done["a"] >= released_at and done["b"] < released_at
    assert CardBinding.objects.filter(card__in=[card_a, card_b], ended_at__isnull=True).count() == 2


def test_11_1_3_two_first_registrations_of_one_id_under_two_names_cannot_both_pass(world, scripted_face_engine):
    """Issue 11 §1.3 under concurrency: the name check runs under the ID's slot lock, so of two first
    registrations of one ID under different names exactly one is recorded."""
    scripted_face_engine("review", distance=0.55)
    manager = world["users"]["account_manager"]
    number = idgen.resident_id()
    enterprises = [world["enterprise"], world["enterprise_same_province"]]
    cards = [factories.card(enterprise=ent) for ent in enterprises]
    barrier = threading.Barrier(2)
    results: list[str] = []
    lock = threading.Lock()

    @_in_thread
    def register(name, ent, card):
        barrier.wait(timeout=WAIT)
        try:
            factories.card_user_registration(actor=manager, enterprise=ent, cards=[card], id_number=number, name=name)
        except ValidationFailed as exc:
            outcome = exc.code
        except Exception as exc:  # noqa: BLE001 - any other failure is reported by the assertions
            outcome = repr(exc)
        else:
            outcome = "recorded"
        with lock:
            results.append(outcome)

    threads = [
        threading.Thread(target=register, args=(name, ent, card))
        for name, ent, card in zip(("王芳", "测试"), enterprises, cards, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT)
    assert sorted(results) == ["id_name_mismatch", "recorded"], results
    assert CardUser.objects.filter(id_number_index=CardUser.objects.get().id_number_index).count() == 1
