"""Issue 7 §1.8 (U5, U6): a registration that lost the one-ID-five-cards race.

The person's face comparison passed (or a reviewer approved it), but the ID's
five slots were taken meanwhile, so no card was bound. The card user's
registration then says "verified, but not bound: one-ID-five-cards", on the
page and in the API, instead of looking passed.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from cards.models import CardBinding, CardUser, RegistrationStatus
from tests import factories, idgen
from verification.models import VerificationStatus
from verification.services import verification_review

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def manager(world):
    return world["users"]["account_manager"]


@pytest.fixture
def ent(world):
    return world["enterprise"]


@pytest.fixture
def approver(world):
    return world["users"]["provincial_approver"]


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def lost_race(*, manager, ent, approver, first_cards: int = 3, second_cards: int = 3):
    """Registration A waits in review; registration B of the same ID passes and takes the slots;
    the reviewer then approves A. Returns (A's verification, B's verification)."""
    number = idgen.resident_id()
    first = factories.card_user_registration(
        actor=manager,
        enterprise=ent,
        id_number=number,
        cards=[factories.card(enterprise=ent) for _ in range(first_cards)],
    )
    second = factories.card_user_registration(
        actor=manager,
        enterprise=ent,
        id_number=number,
        cards=[factories.card(enterprise=ent) for _ in range(second_cards)],
    )
    first = factories.face_result(first, "review", distance=0.52)
    assert first.status == VerificationStatus.IN_REVIEW
    second = factories.face_result(second, "pass")
    assert CardBinding.objects.filter(card_user=second.card_user, ended_at__isnull=True).count() == second_cards
    first = verification_review(verification=first, actor=approver, approve=True, comment="")
    return first, second


def test_7_1_8_a_registration_that_lost_the_five_card_race_is_verified_but_not_bound(manager, ent, approver):
    first, second = lost_race(manager=manager, ent=ent, approver=approver)
    # The comparison itself stays approved: "passed" keeps meaning the person's comparison passed.
    assert first.status == VerificationStatus.APPROVED
    assert not CardBinding.objects.filter(card_user=first.card_user).exists()
    card_user = CardUser.objects.get(pk=first.card_user_id)
    assert card_user.registration_status == RegistrationStatus.NOT_BOUND_CARD_LIMIT
    assert CardUser.objects.get(pk=second.card_user_id).registration_status == RegistrationStatus.REGISTERED
    # An explicit transition, with its audit row.
    events = AuditEvent.objects.filter(action="card_user.registration_status", object_id=str(card_user.pk))
    event = events.order_by("pk").last()
    assert event is not None
    assert event.data["from"] == "in_review" and event.data["to"] == "not_bound_card_limit"
    assert event.data["code"] == "one_id_five_cards"


def test_7_1_8_the_api_says_verified_not_bound_with_the_free_slots(manager, ent, approver):
    first, _second = lost_race(manager=manager, ent=ent, approver=approver)
    api = api_for(manager)
    for url in (f"{API}/verifications/{first.public_id}/", f"{API}/card-users/{first.card_user.public_id}/"):
        body = api.get(url, HTTP_ACCEPT_LANGUAGE="en").json()
        # The existing fields keep their meaning ...
        if "passed" in body:
            assert (body["status"], body["passed"], body["final"]) == ("approved", True, True)
        # ... and the registration says what happened and what to do.
        status = body["registration_status"]
        assert status["code"] == "not_bound_card_limit", body
        assert status["final"] is True
        assert status["cards_requested"] == 3
        assert status["slots_free"] == 2
        assert status["label"] == "Verified, but not bound: one ID, five cards"
        assert "2" in status["detail"] and "3" in status["detail"]
    card_user_body = api.get(f"{API}/card-users/{first.card_user.public_id}/").json()
    assert card_user_body["verifications"][0]["registration_status"]["code"] == "not_bound_card_limit"


def test_7_1_8_slots_free_follows_the_cards_freed_since(manager, ent, approver):
    first, second = lost_race(manager=manager, ent=ent, approver=approver)
    factories.cancel(second.cards.order_by("pk").first(), actor=manager)
    body = api_for(manager).get(f"{API}/card-users/{first.card_user.public_id}/").json()
    assert body["registration_status"]["slots_free"] == 3


@pytest.mark.zh
def test_7_1_8_the_card_user_page_says_it_in_one_chinese_sentence(client, manager, ent, approver):
    first, _second = lost_race(manager=manager, ent=ent, approver=approver)
    client.force_login(manager)
    page = client.get(reverse("cards:card_user_detail", args=[first.card_user.public_id])).content.decode()
    assert "已核验，未绑定" in page and "一证五卡" in page
    assert 'data-registration="not_bound_card_limit"' in page


def test_7_1_8_a_card_bound_to_someone_else_meanwhile_is_not_bound(manager, ent, approver):
    card = factories.card(enterprise=ent)
    first = factories.card_user_registration(actor=manager, enterprise=ent, cards=[card])
    second = factories.card_user_registration(actor=manager, enterprise=ent, cards=[card])
    factories.face_result(first, "pass")
    second = factories.face_result(second, "pass")
    card_user = CardUser.objects.get(pk=second.card_user_id)
    assert card_user.registration_status == RegistrationStatus.NOT_BOUND
    body = api_for(manager).get(f"{API}/verifications/{second.public_id}/").json()
    assert body["registration_status"]["code"] == "not_bound"
    assert body["registration_status"]["slots_free"] is None


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (None, RegistrationStatus.SUBMITTED),
        ("pass", RegistrationStatus.REGISTERED),
        ("review", RegistrationStatus.IN_REVIEW),
        ("fail", RegistrationStatus.IN_REVIEW),
        ("rejected", RegistrationStatus.NEEDS_NEW_PHOTO),
    ],
)
def test_7_1_8_every_comparison_result_moves_the_registration(manager, ent, outcome, expected):
    verification = factories.card_user_registration(
        actor=manager, enterprise=ent, cards=[factories.card(enterprise=ent)]
    )
    if outcome:
        factories.face_result(verification, outcome)
    assert CardUser.objects.get(pk=verification.card_user_id).registration_status == expected


def test_7_1_8_a_declined_review_is_declined(manager, ent, approver):
    verification = factories.card_user_registration(
        actor=manager, enterprise=ent, cards=[factories.card(enterprise=ent)]
    )
    factories.face_result(verification, "review")
    verification_review(verification=verification, actor=approver, approve=False, comment="不是本人")
    card_user = CardUser.objects.get(pk=verification.card_user_id)
    assert card_user.registration_status == RegistrationStatus.DECLINED
    body = api_for(manager).get(f"{API}/card-users/{card_user.public_id}/").json()
    assert body["registration_status"]["code"] == "declined" and body["registration_status"]["final"] is True


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_7_1_8_concurrent_approvals_of_one_id_bind_five_cards_and_say_not_bound_for_the_rest(
    world, scripted_face_engine
):
    """Four registrations of one ID, two cards each, approved at once by reviewers on four connections:
    two bind (four cards), and the others end as verified-not-bound, each with its own transition."""
    import threading

    from django.db import close_old_connections, connections

    scripted_face_engine("review", distance=0.52)
    manager, approver = world["users"]["account_manager"], world["users"]["provincial_approver"]
    number = idgen.resident_id()
    pending = []
    for _ in range(4):
        verification = factories.card_user_registration(
            actor=manager,
            enterprise=world["enterprise"],
            id_number=number,
            cards=[factories.card(enterprise=world["enterprise"]) for _ in range(2)],
        )
        pending.append(factories.face_result(verification, "review", distance=0.52))
    barrier = threading.Barrier(len(pending))
    errors: list[str] = []

    def approve(verification):
        close_old_connections()
        try:
            barrier.wait(timeout=30)
            verification_review(verification=verification, actor=approver, approve=True, comment="")
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=approve, args=(v,)) for v in pending]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    states = sorted(CardUser.objects.values_list("registration_status", flat=True))
    assert states == ["not_bound_card_limit", "not_bound_card_limit", "registered", "registered"]
    assert CardBinding.objects.filter(ended_at__isnull=True).count() == 4
    assert (
        AuditEvent.objects.filter(action="card_user.registration_status", data__to="not_bound_card_limit").count() == 2
    )


@pytest.mark.django_db(transaction=True)
def test_7_1_8_the_data_migration_gives_existing_registrations_their_state(world, monkeypatch):
    """Rows made before the field existed: the migration reads their comparison and bindings."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    monkeypatch.setattr("verification.services.enqueue_verification", lambda pk: None)  # results set below

    manager, ent = world["users"]["account_manager"], world["enterprise"]
    number = idgen.resident_id()
    made = {}
    for name, outcome in [("pending", None), ("review", "review"), ("rejected", "rejected"), ("bound", "pass")]:
        verification = factories.card_user_registration(
            actor=manager, enterprise=ent, cards=[factories.card(enterprise=ent)]
        )
        if outcome:
            factories.face_result(verification, outcome)
        made[name] = verification.card_user_id
    first = factories.card_user_registration(
        actor=manager, enterprise=ent, id_number=number, cards=[factories.card(enterprise=ent) for _ in range(3)]
    )
    second = factories.card_user_registration(
        actor=manager, enterprise=ent, id_number=number, cards=[factories.card(enterprise=ent) for _ in range(3)]
    )
    factories.face_result(first, "pass")
    factories.face_result(second, "pass")
    made["lost"] = second.card_user_id

    executor = MigrationExecutor(connection)
    executor.migrate([("cards", "0008_card_import_queued_at_and_task")])
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([("cards", "0009_card_user_registration_status")])
    states = dict(CardUser.objects.filter(pk__in=made.values()).values_list("pk", "registration_status"))
    # Going back to 0008 also unapplied cards' later migrations (and what stands on them): migrate
    # everything forward again, or the next test on this worker finds their tables gone.
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert {name: states[pk] for name, pk in made.items()} == {
        "pending": "submitted",
        "review": "in_review",
        "rejected": "needs_new_photo",
        "bound": "registered",
        "lost": "not_bound_card_limit",
    }
