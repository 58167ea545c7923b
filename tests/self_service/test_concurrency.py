"""U6 across channels at once (issue 9 §5): a phone-flow submit (C2, through its real views) and a counter
registration (C1, the staff service) of the same ID number race each other, on PostgreSQL with a real
connection per thread (select_for_update does nothing on SQLite, and a test transaction hides locks).

The ID already holds 3 live cards; each side asks for 2 more, so either alone fits and both together do not.
Two ways to lose exist, and both must leave exactly five live cards:
- refused at registration (the winner was already bound): no card user row, the link's use rolled back;
- refused at binding (both registrations saw 3 held): the loser is "verified, but not bound: one ID, five
  cards", with no binding, and the phone's status page says refused.
The first test lets the threads race freely; the second forces the binding-time race by holding the ID's
lock while both register, so that path is proven every run, not only when the scheduler happens on it.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import close_old_connections, connection, connections, transaction

from cards.card_users.services import _lock_identity, one_id_card_limit
from cards.errors import CardLimitReached
from cards.models import CardBinding, CardStatus, CardUser, Channel, RegistrationStatus, SelfServiceLink
from cards.self_service import services
from tests import factories, idgen
from tests.images import jpeg_upload
from verification.models import Verification

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WAIT = 30  # seconds: generous upper bounds, only reached when something is wrong
HELD = 3  # live cards the ID holds before the race
EACH = 2  # cards each side asks for: HELD + EACH fits the limit, HELD + 2 * EACH does not


def _in_thread(target):
    """Run `target` on this thread's own connection, and close it at the end."""

    def run(*args):
        close_old_connections()
        try:
            target(*args)
        finally:
            connections.close_all()

    return run


def _awaiting(enterprise, n):
    cards = [factories.card(enterprise=enterprise) for _ in range(n)]
    type(cards[0]).objects.filter(pk__in=[c.pk for c in cards]).update(status=CardStatus.AWAITING_REALNAME)
    return list(type(cards[0]).objects.filter(pk__in=[c.pk for c in cards]).order_by("pk"))


def _fake_liveness_pass(monkeypatch):
    """The live step's check passes (its real check has its own tests): presence proven, no reviewer."""

    class Passed:
        def as_dict(self):
            return {"outcome": "pass", "reasons": [], "best_frame": 0, "passed": True}

    monkeypatch.setattr("verification.tasks.check_liveness", lambda frames, times, challenge: Passed())


def _step(token, step):
    return f"/s/{token}/step/{step}/"


def _phone_up_to_review(client, token, cards, number):
    """Every step of the phone flow through its views, up to the review page (not submitted)."""
    assert client.post(f"/s/{token}/", {"consent": "on"}).status_code == 302
    assert client.post(_step(token, "cards"), {"typed": " ".join(c.iccid for c in cards)}).status_code == 302
    identity = {"name": "李四", "id_type": "resident_id", "id_number": number}
    assert client.post(_step(token, "identity"), identity).status_code == 302
    assert client.post(_step(token, "id_photo"), {"photo": jpeg_upload("id.jpg")}).status_code == 302
    frames = [jpeg_upload(f"f{i:04d}_t{i / 4:07.3f}.jpg") for i in range(8)]
    live = client.post(_step(token, "live"), {"frames": frames, "timestamps": ""})
    assert live.status_code == 200 and live.json()["done"] is True
    assert client.get(f"/s/{token}/")["Location"] == _step(token, "review")


def _setup(client, world, monkeypatch, scripted_face_engine):
    scripted_face_engine("pass")
    _fake_liveness_pass(monkeypatch)
    number = idgen.resident_id()
    manager = world["users"]["account_manager"]
    held = _awaiting(world["enterprise"], HELD)
    first = factories.verified_card_user(actor=manager, enterprise=world["enterprise"], cards=held, id_number=number)
    phone_cards = _awaiting(world["enterprise"], EACH)
    counter_cards = _awaiting(world["enterprise_same_province"], EACH)
    link, token = services.link_create(
        actor=manager,
        enterprise=world["enterprise"],
        label="Site A",
        identifiers=[c.iccid for c in phone_cards],
        max_uses=10,
    )
    _phone_up_to_review(client, token, phone_cards, number)
    index = CardUser.objects.get().id_number_index
    assert CardBinding.objects.filter(id_number_index=index, ended_at__isnull=True).count() == HELD
    return {
        "number": number,
        "first": first.pk,  # a counter (C1) registration too: excluded where the race's own rows are counted
        "index": index,
        "manager": manager,
        "link": link,
        "token": token,
        "phone_cards": phone_cards,
        "counter_cards": counter_cards,
    }


def _race(client, world, race, *, before=None):
    """The phone submit and the counter registration, released together by a barrier; returns both outcomes."""
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    @_in_thread
    def phone_submit():
        barrier.wait(timeout=WAIT)
        try:
            outcomes["phone"] = client.post(_step(race["token"], "review")).status_code
        except Exception as exc:  # noqa: BLE001 - reported by the assertions
            outcomes["phone"] = repr(exc)

    @_in_thread
    def counter_register():
        barrier.wait(timeout=WAIT)
        try:
            factories.card_user_registration(
                actor=race["manager"],
                enterprise=world["enterprise_same_province"],
                cards=race["counter_cards"],
                id_number=race["number"],
                channel=Channel.COUNTER,
            )
        except CardLimitReached as exc:
            outcomes["counter"] = exc
        except Exception as exc:  # noqa: BLE001
            outcomes["counter"] = repr(exc)
        else:
            outcomes["counter"] = "registered"

    threads = [threading.Thread(target=phone_submit), threading.Thread(target=counter_register)]
    for thread in threads:
        thread.start()
    if before is not None:
        before()
    for thread in threads:
        thread.join(timeout=WAIT)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def _bound(cards):
    return CardBinding.objects.filter(card__in=cards, ended_at__isnull=True).count()


def _phone_status(client, token):
    page = client.get(f"/s/{token}/status/")
    assert page.status_code == 200
    return page.content.decode()


def _assert_exactly_the_limit(race, client):
    """Five live cards for the ID, one side fully bound, the other with none and the U6 reason."""
    assert one_id_card_limit() == HELD + EACH == 5
    assert CardBinding.objects.filter(id_number_index=race["index"], ended_at__isnull=True).count() == 5
    phone_bound, counter_bound = _bound(race["phone_cards"]), _bound(race["counter_cards"])
    assert sorted((phone_bound, counter_bound)) == [0, EACH]  # never split: a side binds all its cards or none
    status = _phone_status(client, race["token"])
    if phone_bound:
        assert 'data-status="registered"' in status
        assert CardUser.objects.get(channel=Channel.SELF_SERVICE).registration_status == RegistrationStatus.REGISTERED
    else:
        assert 'data-status="refused"' in status and "one id, five cards" in status.lower()
    return "phone" if phone_bound else "counter"


def test_U6_a_phone_submit_and_a_counter_registration_at_once_bind_exactly_five(
    client, world, monkeypatch, scripted_face_engine
):
    race = _setup(client, world, monkeypatch, scripted_face_engine)
    outcomes = _race(client, world, race)
    assert outcomes["phone"] == 302, outcomes  # a refusal is a status page, never an error
    assert outcomes["counter"] == "registered" or isinstance(outcomes["counter"], CardLimitReached), outcomes
    winner = _assert_exactly_the_limit(race, client)
    link = SelfServiceLink.objects.get(pk=race["link"].pk)
    loser_rows = CardUser.objects.filter(
        channel=Channel.COUNTER if winner == "phone" else Channel.SELF_SERVICE
    ).exclude(pk=race["first"])
    if not loser_rows.exists():
        # Refused at registration: nothing of the loser stays, and a refused phone submit uses up nothing.
        assert link.uses == (1 if winner == "phone" else 0)
        if winner == "phone":
            assert isinstance(outcomes["counter"], CardLimitReached)
            assert "One ID, five cards" in str(outcomes["counter"].message)
            assert race["number"] not in str(outcomes["counter"].message)
    else:
        # Refused at binding: verified, but not bound, with the reason.
        (loser,) = loser_rows
        assert loser.registration_status == RegistrationStatus.NOT_BOUND_CARD_LIMIT
        assert not loser.bindings.exists()
    assert CardUser.objects.count() in (2, 3)  # the first registration, the winner, and the loser at most


def test_U6_when_both_registrations_saw_three_held_the_bind_lock_lets_exactly_one_through(
    client, world, monkeypatch, scripted_face_engine
):
    race = _setup(client, world, monkeypatch, scripted_face_engine)
    holding, release = threading.Event(), threading.Event()

    @_in_thread
    def hold_the_id():
        # Another bind of this ID, stopped while it holds the ID's lock: both registrations wait for it, then
        # both get through their check (3 held + 2 fits), both comparisons pass, and the binds decide.
        with transaction.atomic():
            _lock_identity(race["index"])
            holding.set()
            release.wait(timeout=WAIT)

    holder = threading.Thread(target=hold_the_id)
    holder.start()
    assert holding.wait(timeout=WAIT)

    def both_binds_wait():
        deadline, waiting = time.monotonic() + WAIT, 0
        try:
            while time.monotonic() < deadline and waiting < 2:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                    )
                    waiting = cursor.fetchone()[0]
                time.sleep(0.05)
            # Both wait on the ID's lock: registration itself takes it now (one ID, one person: the name is
            # checked under it, issue 11 §1.3), so neither card user exists yet and nothing is bound.
            assert waiting == 2, "both registrations should wait on the ID's lock"
            assert CardUser.objects.count() == 1 and _bound(race["phone_cards"] + race["counter_cards"]) == 0
        finally:
            release.set()

    outcomes = _race(client, world, race, before=both_binds_wait)
    holder.join(timeout=WAIT)
    assert outcomes == {"phone": 302, "counter": "registered"}, outcomes
    winner = _assert_exactly_the_limit(race, client)
    loser = CardUser.objects.exclude(pk=race["first"]).get(
        channel=Channel.COUNTER if winner == "phone" else Channel.SELF_SERVICE
    )
    assert loser.registration_status == RegistrationStatus.NOT_BOUND_CARD_LIMIT and not loser.bindings.exists()
    reasons = Verification.objects.get(card_user=loser).reasons
    refusal = [r for r in reasons if r.get("code") == CardLimitReached.default_code]
    assert refusal and "One ID, five cards" in refusal[0]["message"] and race["number"] not in str(reasons)
    assert SelfServiceLink.objects.get(pk=race["link"].pk).uses == 1  # the phone submit was taken, then settled


# --- C1: the counter's take-back and the phone's submit at once -----------------------------


@pytest.mark.parametrize("attempt", range(3))
def test_a_handover_completes_on_one_side_only_when_both_act_at_once(world, monkeypatch, scripted_face_engine, attempt):
    """Exactly one side wins the atomic change from open, the other gets 409 (desk) or the refusal page
    (phone), and nothing of the loser stays: no card user from a taken-back handover, no revoked link for a
    phone that won."""
    from django.test import Client

    from cards.models import HandoverStatus

    scripted_face_engine("pass")
    _fake_liveness_pass(monkeypatch)
    manager = world["users"]["account_manager"]
    cards = _awaiting(world["enterprise"], 1)
    link, token = services.handover_create(
        actor=manager, enterprise=world["enterprise"], identifiers=[c.iccid for c in cards]
    )
    phone, desk = Client(), Client()
    desk.force_login(manager)
    _phone_up_to_review(phone, token, cards, idgen.resident_id())
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    @_in_thread
    def phone_submit():
        barrier.wait(timeout=WAIT)
        outcomes["phone"] = phone.post(_step(token, "review")).status_code

    @_in_thread
    def desk_take_back():
        barrier.wait(timeout=WAIT)
        url = f"/cards/self-service/handover/{link.public_id}/take-back/"
        outcomes["desk"] = desk.post(url, HTTP_ACCEPT="application/json").status_code

    threads = [threading.Thread(target=phone_submit), threading.Thread(target=desk_take_back)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT)
    assert not any(thread.is_alive() for thread in threads)

    link.refresh_from_db()
    if link.handover_status == HandoverStatus.PHONE:
        assert outcomes == {"phone": 302, "desk": 409}, outcomes
        assert CardUser.objects.filter(channel=Channel.SELF_SERVICE).count() == 1
        assert link.revoked_at is None and link.uses == 1
    else:
        assert link.handover_status == HandoverStatus.COUNTER, link.handover_status
        assert outcomes["desk"] == 200 and outcomes["phone"] in (302, 410), outcomes
        assert not CardUser.objects.filter(channel=Channel.SELF_SERVICE).exists()
        assert link.uses == 0 and link.revoked_at is not None
