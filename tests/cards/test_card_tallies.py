"""The card counters (cards.inventory.tallies, issue 12 §1.3): whatever the services do, the counters say what a
fresh count of the cards says, and the home page's figure is cards_lacking_realname's.

The property test runs random sequences of the businesses that move a card between counters (creation,
import, activation, binding, exemption approval, suspension, resumption, cancellation, service and package
changes, transfer) and checks the counters against a fresh aggregate after every step, a refused step
included. The PostgreSQL tests commit for real, from several threads at once.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import close_old_connections, connections
from django.db.models import Count

from approvals import services as approval_services
from cards.card_users.services import card_user_bind
from cards.imports import services as import_services
from cards.inventory.selectors import cards_lacking_realname, cards_visible_to
from cards.inventory.tallies import (
    lacking_realname_count,
    lacking_tallies_by_enterprise,
    lacking_tallies_by_province,
    realname_state_expression,
    tallies_by_status,
    tallies_compact,
    tallies_recount,
    tallies_visible_to,
)
from cards.models import LIVE_CARD_STATUSES, Card, CardStatus, CardTally, Package, RealnameState
from core.errors import DomainError
from enterprises.sandbox import sandbox_for, sandbox_reset
from tests import factories
from tests.approvals import COMBO_LEVELS, COMBOS, file_request
from tests.cards.import_files import csv_bytes, row, upload

SCOPE_ROLES = ("account_manager", "account_manager_other_province", "enterprise_admin", "group_approver", "ops")


def counted() -> Counter:
    """A fresh count of the cards per (enterprise, status, real-name state), the state decided as
    cards_lacking_realname decides it (not read from the stored column)."""
    rows = (
        Card.objects.order_by()
        .annotate(state=realname_state_expression())
        .values("enterprise_id", "status", "state")
        .annotate(n=Count("pk"))
    )
    return Counter({(r["enterprise_id"], r["status"], r["state"]): r["n"] for r in rows})


def tallied() -> Counter:
    sums: Counter = Counter()
    for enterprise_id, status, realname, count in CardTally.objects.values_list(
        "enterprise_id", "status", "realname", "count"
    ):
        sums[(enterprise_id, status, realname)] += count
    return Counter({key: n for key, n in sums.items() if n})


def assert_counters_true(users) -> None:
    assert tallied() == counted()
    stored = Counter(Card.objects.values_list("realname_state", flat=True))
    assert stored == Counter(Card.objects.annotate(state=realname_state_expression()).values_list("state", flat=True))
    for role in SCOPE_ROLES:
        user = users[role]
        assert lacking_realname_count(user) == cards_lacking_realname(cards_visible_to(user)).count(), role


# --- the property: random sequences of services ------------------------------------------------------

RECIPES = ("U0", "U1", "U3", "U1+U3", "U2", "U4")


class Walk:
    """One random sequence of businesses on a few cards of two enterprises of one province."""

    def __init__(self, world, seed: int):
        self.random = random.Random(seed)
        self.world = world
        self.users = world["users"]
        self.enterprises = [world["enterprise"], world["enterprise_same_province"]]
        self.serial = seed * 1000
        self.steps: list[str] = []

    def cards(self, *statuses: str) -> list[Card]:
        queryset = Card.objects.filter(enterprise__in=self.enterprises).order_by("pk")
        if statuses:
            queryset = queryset.filter(status__in=statuses)
        return list(queryset)

    def pick(self, *statuses: str) -> Card | None:
        found = self.cards(*statuses)
        return self.random.choice(found) if found else None

    # each step returns a label (for the failure message), or None when it had nothing to act on

    def create(self):
        recipe = self.random.choice(RECIPES)
        factories.card(enterprise=self.random.choice(self.enterprises), **COMBOS[recipe])
        return f"create {recipe}"

    def import_file(self):
        rows = []
        for _ in range(self.random.randint(1, 3)):
            self.serial += 1
            data = self.random.choice(("none", "directed", "non_directed"))
            rows.append(row(self.serial, data=data))
        job = import_services.card_import_create(
            actor=self.users["account_manager"],
            enterprise=self.random.choice(self.enterprises),
            upload=upload(csv_bytes(rows)),
        )
        import_services.card_import_run(import_id=job.pk)
        return f"import {len(rows)}"

    def activate(self):
        card = self.pick(CardStatus.IN_STOCK, CardStatus.AWAITING_REALNAME)
        if card is None:
            return None
        factories.activate(card)
        return f"activate {card.pk}"

    def bind(self):
        candidates = [c for c in self.cards(*LIVE_CARD_STATUSES) if not c.bindings.filter(ended_at__isnull=True)]
        if not candidates:
            return None
        card = self.random.choice(candidates)
        factories.verified_card_user(actor=self.users["account_manager"], enterprise=card.enterprise, cards=[card])
        return f"bind {card.pk}"

    def exemption(self):
        candidates = [
            c for c in self.cards(*LIVE_CARD_STATUSES) if c.exemption_needed and c.exemption_needed != "none_possible"
        ]
        if not candidates:
            return None
        card = self.random.choice(candidates)
        levels = sorted(set(card.realname_decision.approvers))
        request = file_request(
            actor=self.users["account_manager"], enterprise=card.enterprise, cards=[card], levels=levels
        )
        deciders = {"province": self.users["provincial_approver"], "group": self.users["group_approver"]}
        for level in levels:
            approval_services.exemption_decide(request=request, actor=deciders[level], level=level, approve=True)
        return f"exemption {card.pk} {levels}"

    def suspend(self):
        card = self.pick(CardStatus.ACTIVE)
        if card is None:
            return None
        factories.suspend(card)
        return f"suspend {card.pk}"

    def resume(self):
        card = self.pick(CardStatus.SUSPENDED)
        if card is None:
            return None
        factories.resume(card)
        return f"resume {card.pk}"

    def cancel(self):
        card = self.pick(*LIVE_CARD_STATUSES)
        if card is None:
            return None
        factories.cancel(card)
        return f"cancel {card.pk}"

    def change_services(self):
        card = self.pick(*LIVE_CARD_STATUSES)
        if card is None:
            return None
        if self.random.random() < 0.3:
            target = factories.package(code=self.random.choice(("IOT-A", "IOT-B")))
            factories.change_services(card, package=target)
            return f"package {card.pk} {target.code}"
        field = self.random.choice(("data", "voice", "sms"))
        level = self.random.choice(("none", "directed", "non_directed"))
        factories.change_services(card, **{field: level})
        return f"services {card.pk} {field}={level}"

    def transfer(self):
        card = self.pick(*LIVE_CARD_STATUSES)
        if card is None:
            return None
        target = next(e for e in self.enterprises if e.pk != card.enterprise_id)
        factories.order_done(
            business_type="ownership_transfer", cards=[card], parameters={"target_enterprise": str(target.public_id)}
        )
        return f"transfer {card.pk}"

    def compact(self):
        tallies_compact()
        return "compact"

    STEPS = (
        ("create", 4),
        ("import_file", 2),
        ("activate", 4),
        ("bind", 3),
        ("exemption", 2),
        ("suspend", 2),
        ("resume", 2),
        ("cancel", 1),
        ("change_services", 3),
        ("transfer", 1),
        ("compact", 1),
    )

    def step(self) -> None:
        names = [name for name, _weight in self.STEPS]
        weights = [weight for _name, weight in self.STEPS]
        name = self.random.choices(names, weights)[0]
        try:
            label = getattr(self, name)()
        except DomainError as refused:  # a refused business must leave the counters as they were, too
            label = f"{name} refused ({refused.code})"
        if label:
            self.steps.append(label)


def _packages():
    for code in ("IOT-BASIC", "IOT-A", "IOT-B"):
        Package.objects.get_or_create(code=code, defaults={"name": code})


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_businesses_keep_the_counters_equal_to_a_fresh_count(world, seed):
    _packages()
    walk = Walk(world, seed)
    for _ in range(4):
        walk.create()
    assert_counters_true(world["users"])
    for _ in range(28):
        walk.step()
        assert tallied() == counted(), walk.steps
    assert_counters_true(world["users"])
    # The walk went through the businesses that move counters, not only creations.
    kinds = {label.split()[0] for label in walk.steps}
    assert len(kinds) >= 6, walk.steps


# --- single paths, said plainly --------------------------------------------------------------------


@pytest.mark.django_db
def test_a_binding_moves_an_awaiting_card_from_lacking_to_covered_and_active(world):
    users = world["users"]
    ent = world["enterprise"]
    card = factories.card(enterprise=ent, **COMBOS["U1"])
    factories.activate(card)
    card.refresh_from_db()
    assert (card.status, card.realname_state) == (CardStatus.AWAITING_REALNAME, RealnameState.LACKING)
    assert lacking_realname_count(users["account_manager"]) == 1
    factories.verified_card_user(actor=users["account_manager"], enterprise=ent, cards=[card])
    card.refresh_from_db()
    assert (card.status, card.realname_state) == (CardStatus.ACTIVE, RealnameState.COVERED)
    assert lacking_realname_count(users["account_manager"]) == 0
    assert tallied() == Counter({(ent.pk, CardStatus.ACTIVE.value, RealnameState.COVERED.value): 1})


@pytest.mark.django_db
def test_an_approved_exemption_covers_an_in_stock_card_without_changing_its_status(world):
    users = world["users"]
    ent = world["enterprise"]
    card = factories.card(enterprise=ent, **COMBOS["U1"])
    request = file_request(actor=users["account_manager"], enterprise=ent, cards=[card], levels=COMBO_LEVELS["U1"])
    assert lacking_realname_count(users["enterprise_admin"]) == 1
    approval_services.exemption_decide(
        request=request, actor=users["provincial_approver"], level="province", approve=True
    )
    card.refresh_from_db()
    assert (card.status, card.realname_state) == (CardStatus.IN_STOCK, RealnameState.COVERED)
    assert lacking_realname_count(users["enterprise_admin"]) == 0
    assert_counters_true(users)


@pytest.mark.django_db
def test_the_import_counts_its_batch_in_its_transaction(world):
    _packages()
    ent = world["enterprise"]
    job = import_services.card_import_create(
        actor=world["users"]["account_manager"],
        enterprise=ent,
        upload=upload(csv_bytes([row(1, data="non_directed"), row(2), row(3, data="non_directed")])),
    )
    import_services.card_import_run(import_id=job.pk)
    assert tallied() == Counter(
        {
            (ent.pk, CardStatus.IN_STOCK.value, RealnameState.LACKING.value): 2,
            (ent.pk, CardStatus.IN_STOCK.value, RealnameState.NOT_REQUIRED.value): 1,
        }
    )
    assert_counters_true(world["users"])


@pytest.mark.django_db
def test_a_refused_import_counts_nothing(world):
    _packages()
    job = import_services.card_import_create(
        actor=world["users"]["account_manager"],
        enterprise=world["enterprise"],
        upload=upload(csv_bytes([row(1), row(2, package="NO-SUCH")])),
    )
    import_services.card_import_run(import_id=job.pk)
    assert not Card.objects.exists() and not CardTally.objects.exists()


@pytest.mark.django_db
def test_the_counters_are_scoped_like_the_cards(world):
    users = world["users"]
    ent, same_province, other = world["enterprise"], world["enterprise_same_province"], world["enterprise_other"]
    for enterprise, n in ((ent, 1), (same_province, 2), (other, 3)):
        for _ in range(n):
            factories.card(enterprise=enterprise, **COMBOS["U1"])
    assert lacking_realname_count(users["enterprise_admin"]) == 1
    assert lacking_realname_count(users["account_manager"]) == 3
    assert lacking_realname_count(users["account_manager_other_province"]) == 3
    assert lacking_realname_count(users["group_approver"]) == 6
    assert lacking_realname_count(users["anonymous"]) == 0
    rows = list(tallies_visible_to(users["account_manager"]))
    assert sorted((r["enterprise_id"], r["province_id"], r["status"], r["realname"], r["count"]) for r in rows) == [
        (ent.pk, ent.province_id, "in_stock", "lacking", 1),
        (same_province.pk, same_province.province_id, "in_stock", "lacking", 2),
    ]


@pytest.mark.django_db
def test_the_grouped_reads_are_a_count_of_the_cards(world):
    """The dashboard's reads (per status and state; the enterprises and provinces lacking real-name) say
    what a plain count of each role's cards says, the ledger unfolded (a key's +1 and -1 rows) and a
    sandbox's cards left out."""
    users = world["users"]
    manager = users["account_manager"]
    ent, same_province, other = world["enterprise"], world["enterprise_same_province"], world["enterprise_other"]
    for enterprise, lacking in ((ent, 3), (same_province, 1), (other, 2)):
        for _index in range(lacking):
            factories.card(enterprise=enterprise, **COMBOS["U1"])
        factories.card(enterprise=enterprise)  # real-name not needed
    factories.activate([Card.objects.filter(enterprise=ent).first()], actor=manager)  # to the U5 gate
    bound = factories.card(enterprise=ent, **COMBOS["U1"])
    with mock.patch("verification.services.enqueue_verification"):
        factories.verified_card_user(actor=manager, enterprise=ent, cards=[bound])
    sandbox_for(ent)  # its seeded cards have counters too
    assert CardTally.objects.count() > len(tallied())  # moves left more than one row for some keys
    for role in SCOPE_ROLES:
        user = users[role]
        cards = cards_visible_to(user).order_by()
        by_status = Counter(
            {
                (r["status"], r["state"]): r["n"]
                for r in cards.annotate(state=realname_state_expression())
                .values("status", "state")
                .annotate(n=Count("pk"))
            }
        )
        assert {(r["status"], r["realname"]): r["count"] for r in tallies_by_status(user)} == by_status, role
        lacking = cards_lacking_realname(cards)
        per_enterprise = sorted(
            (-r["n"], r["enterprise__name"], r["enterprise_id"])
            for r in lacking.values("enterprise_id", "enterprise__name").annotate(n=Count("pk"))
        )
        top = lacking_tallies_by_enterprise(user, top=2)
        assert [(-r["count"], r["name"], r["enterprise_id"]) for r in top] == per_enterprise[:2], role
        assert all(r["enterprises"] == len(per_enterprise) for r in top), role
        per_province = {
            r["enterprise__province__code"]: r["n"]
            for r in lacking.values("enterprise__province__code").annotate(n=Count("pk"))
        }
        assert {r["code"]: r["count"] for r in lacking_tallies_by_province(user)} == per_province, role


@pytest.mark.django_db
def test_a_sandbox_has_counters_that_no_person_counts_and_its_reset_keeps_them_right(
    world, django_capture_on_commit_callbacks
):
    users = world["users"]
    real = world["enterprise"]
    factories.card(enterprise=real, **COMBOS["U1"])
    sandbox = sandbox_for(real)  # seeded with its cards through card_create
    assert Card.objects.filter(enterprise=sandbox).exists()
    assert CardTally.objects.filter(enterprise=sandbox).exists()
    assert_counters_true(users)
    for role in ("account_manager", "enterprise_admin", "group_approver", "ops"):
        assert sandbox.pk not in {r["enterprise_id"] for r in tallies_visible_to(users[role])}, role
    with django_capture_on_commit_callbacks(execute=True):
        sandbox_reset(actor=users["enterprise_admin"], enterprise=real)
    assert tallied() == counted()


@pytest.mark.django_db
def test_compaction_folds_rows_and_keeps_the_sums(world):
    ent = world["enterprise"]
    cards = [factories.card(enterprise=ent, **COMBOS["U1"]) for _ in range(3)]
    factories.activate(cards)
    before = tallied()
    assert CardTally.objects.count() > len(before)
    removed = tallies_compact()
    assert removed > 0
    assert tallied() == before == counted()
    assert CardTally.objects.count() == len(before)
    assert tallies_compact() == 0


@pytest.mark.django_db
def test_recount_repairs_drift_and_says_what_it_was(world):
    ent = world["enterprise"]
    card = factories.card(enterprise=ent, **COMBOS["U1"])
    factories.card(enterprise=ent)
    # A write that went around the services: the state column and the counters are both wrong now.
    Card.objects.filter(pk=card.pk).update(status=CardStatus.SUSPENDED, realname_state=RealnameState.COVERED)
    out = StringIO()
    call_command("recount_cards", stdout=out)
    text = out.getvalue()
    assert "repaired: 1" in text
    assert f"enterprise {ent.pk} in_stock lacking: -1" in text
    assert f"enterprise {ent.pk} suspended lacking: +1" in text
    assert tallied() == counted()
    assert tallies_recount().clean


@pytest.mark.django_db
def test_recount_check_fails_on_drift(world):
    card = factories.card(enterprise=world["enterprise"])
    CardTally.objects.filter(enterprise_id=card.enterprise_id).delete()
    with pytest.raises(CommandError):
        call_command("recount_cards", "--check", stdout=StringIO())
    call_command("recount_cards", "--check", stdout=StringIO())  # rebuilt: clean now


@pytest.mark.django_db
def test_the_home_tile_reads_the_counters(world, client):
    users = world["users"]
    for _ in range(3):
        factories.card(enterprise=world["enterprise"], **COMBOS["U1"])
    client.force_login(users["enterprise_admin"])
    response = client.get("/")
    assert response.status_code == 200
    assert response.context["lacking_realname"] == 3
    # Drift the counters on purpose: the tile shows their figure, so it reads them and not the cards.
    CardTally.objects.create(enterprise=world["enterprise"], status="in_stock", realname="lacking", count=4)
    assert client.get("/").context["lacking_realname"] == 7


# --- PostgreSQL: concurrent bindings -----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_bindings_keep_the_counters_right(world, scripted_face_engine):
    """Twelve binds at once, each of two cards (one awaiting its user, which goes active, one in stock): every
    transaction moves counts between the same four keys of one enterprise, in differing orders."""
    users = world["users"]
    ent = world["enterprise"]
    awaiting = [factories.card(enterprise=ent, **COMBOS["U1"]) for _ in range(12)]
    in_stock = [factories.card(enterprise=ent, **COMBOS["U1"]) for _ in range(12)]
    factories.activate(awaiting)  # they await their users now
    scripted_face_engine("review", distance=0.55)  # registered, not bound, until the threads bind
    work = []
    for i, (first, second) in enumerate(zip(awaiting, in_stock, strict=True)):
        cards = [first, second] if i % 2 else [second, first]
        verification = factories.card_user_registration(actor=users["account_manager"], enterprise=ent, cards=cards)
        work.append((verification.card_user, cards))
    assert lacking_realname_count(users["account_manager"]) == 24
    barrier = threading.Barrier(len(work))
    errors: list[BaseException] = []

    def bind(card_user, cards):
        close_old_connections()
        try:
            barrier.wait(timeout=30)
            card_user_bind(actor=None, card_user=card_user, cards=cards)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=bind, args=item) for item in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors, errors
    assert Card.objects.filter(status=CardStatus.ACTIVE).count() == 12
    assert (
        tallied()
        == counted()
        == Counter(
            {
                (ent.pk, CardStatus.ACTIVE.value, RealnameState.COVERED.value): 12,
                (ent.pk, CardStatus.IN_STOCK.value, RealnameState.COVERED.value): 12,
            }
        )
    )
    assert lacking_realname_count(users["account_manager"]) == 0
    tallies_compact()
    assert tallied() == counted()
    assert CardTally.objects.count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_compactions_at_once_never_count_a_row_twice(world):
    ent = world["enterprise"]
    for _ in range(5):
        factories.card(enterprise=ent, **COMBOS["U1"])
    expected = counted()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def fold():
        try:
            barrier.wait(timeout=30)
            tallies_compact()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=fold) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert tallied() == expected
