"""Issue 7 §4.3: card locks take only the card row, and several cards are locked in pk order.

On PostgreSQL with real connections (one per thread, transaction=True), as in
tests/cards/test_one_id_five_cards.py: select_for_update() does nothing on SQLite.
- Two cards of one package change at the same time: neither waits for the other (the second
  runs under a lock_timeout while the first holds its transaction open).
- Two orders that share cards, listed in opposite orders ([1, 2] and [2, 1]), complete at the
  same time: no deadlock, both end correctly.
"""

from __future__ import annotations

import threading

import pytest
from django.db import close_old_connections, connection, connections, transaction

from cards.models import BusinessType, Card, Order, OrderStatus
from cards.orders import selectors as order_selectors
from cards.orders import services as order_services
from tests import factories
from verification.models import Verification

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WAIT = 30  # seconds: an upper bound reached only when something is wrong


@pytest.fixture(autouse=True)
def no_engine(monkeypatch):
    """These tests commit: the face comparison task would run; the handler's result is fed in instead."""
    monkeypatch.setattr("verification.services.enqueue_verification", lambda pk: None)


def _in_thread(target, errors: list):
    def run(*args):
        close_old_connections()
        try:
            target(*args)
        except Exception as exc:  # noqa: BLE001 - reported by the test's assertions
            errors.append(repr(exc))
        finally:
            connections.close_all()

    return run


def _lock_timeout(seconds: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{seconds}s'")


def test_7_4_3_two_cards_of_one_package_change_at_once_without_waiting(world):
    # Two enterprises, so that nothing but the package is shared by the two orders.
    ent_a, ent_b = world["enterprise"], world["enterprise_same_province"]
    card_a = factories.active_card(enterprise=ent_a)
    card_b = factories.active_card(enterprise=ent_b)
    assert card_a.package_id == card_b.package_id
    holding, release = threading.Event(), threading.Event()
    errors: list[str] = []

    def hold_a():
        with transaction.atomic():
            factories.suspend(card_a)  # the order completes; its transaction stays open
            holding.set()
            release.wait(timeout=WAIT)

    def change_b():
        with transaction.atomic():
            _lock_timeout(3)  # waiting on card A's transaction would fail here
            factories.suspend(card_b)

    holder = threading.Thread(target=_in_thread(hold_a, errors))
    holder.start()
    try:
        assert holding.wait(timeout=WAIT), errors
        other = threading.Thread(target=_in_thread(change_b, errors))
        other.start()
        other.join(timeout=WAIT)
        assert not other.is_alive()
        assert not errors, errors  # e.g. "canceling statement due to lock timeout" on the package row
        assert Card.objects.get(pk=card_b.pk).status == "suspended"
    finally:
        release.set()
        holder.join(timeout=WAIT)
    assert not errors, errors
    assert Card.objects.get(pk=card_a.pk).status == "suspended"


def test_7_4_3_a_card_user_registration_does_not_wait_for_an_order_in_progress_on_its_card(world):
    """A row that points at a card (here the card-user registration's cards) is checked against the
    card at commit (Django's foreign keys are deferred) with a KEY SHARE lock; the card lock is NO KEY
    UPDATE, which that check does not wait for."""
    ent = world["enterprise"]
    card = factories.active_card(enterprise=ent)
    holding, release = threading.Event(), threading.Event()
    errors: list[str] = []

    def suspend():
        with transaction.atomic():
            factories.suspend(card)
            holding.set()
            release.wait(timeout=WAIT)

    def register_user():
        with transaction.atomic():
            _lock_timeout(3)
            factories.card_user_registration(actor=world["users"]["account_manager"], enterprise=ent, cards=[card])

    holder = threading.Thread(target=_in_thread(suspend, errors))
    holder.start()
    try:
        assert holding.wait(timeout=WAIT), errors
        worker = threading.Thread(target=_in_thread(register_user, errors))
        worker.start()
        worker.join(timeout=WAIT)
        assert not worker.is_alive() and not errors, errors
    finally:
        release.set()
        holder.join(timeout=WAIT)
    assert not errors, errors
    assert Card.objects.get(pk=card.pk).status == "suspended"
    assert Verification.objects.filter(cards=card).exists()


def _meet_once(barrier: threading.Barrier, seen: set, key) -> None:
    """Wait (once per key) until the other thread is here too, or the barrier's timeout passes."""
    if key in seen:
        return
    seen.add(key)
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        pass


def _run_both(target, items) -> list[str]:
    errors: list[str] = []
    threads = [threading.Thread(target=_in_thread(target, errors), args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT)
    assert not any(thread.is_alive() for thread in threads)
    return errors


def _assert_both_changed(cards) -> None:
    for card in cards:
        card.refresh_from_db()
        assert (card.sms_service, card.voice_service) == ("directed", "directed")


def test_7_4_3_two_orders_with_the_same_cards_in_opposite_orders_filed_at_once_both_complete(world, monkeypatch):
    """The issue's case: service changes for cards [1, 2] and [2, 1] filed at the same moment."""
    ent = world["enterprise"]
    manager = world["users"]["account_manager"]
    first, second = factories.active_card(enterprise=ent), factories.active_card(enterprise=ent)
    # Both filings meet once their lines are written, just before completing (or after 3 s).
    barrier, seen = threading.Barrier(2, timeout=3), set()
    real_complete = order_services.order_complete

    def meet_then_complete(*, order, actor):
        _meet_once(barrier, seen, order.pk)
        return real_complete(order=order, actor=actor)

    monkeypatch.setattr("cards.orders.services.order_complete", meet_then_complete)

    def file(spec):
        cards, parameters = spec
        factories.order(
            actor=manager, enterprise=ent, business_type=BusinessType.SERVICE_CHANGE, cards=cards, parameters=parameters
        )

    errors = _run_both(file, [([first, second], {"sms": "directed"}), ([second, first], {"voice": "directed"})])
    assert not errors, errors  # e.g. "deadlock detected"
    assert list(Order.objects.filter(business_type=BusinessType.SERVICE_CHANGE).values_list("status", flat=True)) == [
        OrderStatus.COMPLETED,
        OrderStatus.COMPLETED,
    ]
    _assert_both_changed([first, second])


def test_7_4_3_two_waiting_orders_with_the_same_cards_in_opposite_orders_complete_at_once(world, monkeypatch):
    """The completions themselves lock every card up front, in pk order (as when two face
    comparisons pass at the same moment on two workers)."""
    ent = world["enterprise"]
    manager = world["users"]["account_manager"]
    first, second = factories.active_card(enterprise=ent), factories.active_card(enterprise=ent)
    with monkeypatch.context() as filing:
        # Filed and left to complete later, as a face-gated order waits for its comparison. The
        # portal files no second order for cards that are in a waiting one; A is hidden from that
        # check while B is filed, to have two waiting orders that share cards.
        filing.setattr("cards.orders.services.order_complete", lambda *, order, actor: order)
        order_a = factories.order(
            actor=manager,
            enterprise=ent,
            business_type=BusinessType.SERVICE_CHANGE,
            cards=[first, second],
            parameters={"sms": "directed"},
        )
        Order.objects.filter(pk=order_a.pk).update(status=OrderStatus.REJECTED)
        order_b = factories.order(
            actor=manager,
            enterprise=ent,
            business_type=BusinessType.SERVICE_CHANGE,
            cards=[second, first],
            parameters={"voice": "directed"},
        )
        Order.objects.filter(pk=order_a.pk).update(status=OrderStatus.AWAITING_VERIFICATION)
    assert [line.card_id for line in order_selectors.order_lines(order_b)] == [second.pk, first.pk]

    # Each completion stops after its first card until the other has done its first card too (or 3 s
    # have passed): without the up-front lock, A would then hold card 1 and B card 2.
    barrier, seen = threading.Barrier(2, timeout=3), set()
    real_apply = order_services._apply

    def apply_then_meet(line, order, actor):
        real_apply(line, order, actor)
        _meet_once(barrier, seen, order.pk)

    monkeypatch.setattr("cards.orders.services._apply", apply_then_meet)
    errors = _run_both(lambda order: order_services.order_complete(order=order, actor=None), [order_a, order_b])
    assert not errors, errors  # e.g. "deadlock detected"
    assert set(Order.objects.filter(pk__in=[order_a.pk, order_b.pk]).values_list("status", flat=True)) == {
        OrderStatus.COMPLETED
    }
    _assert_both_changed([first, second])
