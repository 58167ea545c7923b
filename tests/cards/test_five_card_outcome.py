"""Issue 11 §1.4: a registration verified but not bound by one-ID-five-cards says one thing.

Registration A waits for review; B of the same ID passes and takes the slots; the reviewer then approves A.
A's card user page and the approver's review page both say: verified, not bound, N cards asked, M slots free,
and what to do; none of "approved", the raw refusal, or "they are bound once it passes" contradicts it.
"""

from __future__ import annotations

import html

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from cards.models import CardUser, RegistrationStatus
from tests import factories, idgen
from tests.security.test_registration_outcome import lost_race
from verification.models import VerificationStatus

pytestmark = pytest.mark.django_db

ONE_SENTENCE = (
    "Verified, but not bound (one ID, five cards): this registration asked for 3 cards and 2 of the ID's 5 slots "
    "are free now"
)
CONTRADICTIONS = (
    "they are once the face comparison passes",  # the cards section, while the comparison has passed
    "is already the registered user of",  # the bind's refusal, repeated among the comparison's reasons
)


@pytest.fixture
def manager(world):
    return world["users"]["account_manager"]


@pytest.fixture
def ent(world):
    return world["enterprise"]


@pytest.fixture
def approver(world):
    return world["users"]["provincial_approver"]


def test_the_card_user_page_says_one_thing(client, manager, ent, approver):
    first, _second = lost_race(manager=manager, ent=ent, approver=approver)
    client.force_login(manager)
    page = html.unescape(
        client.get(reverse("cards:card_user_detail", args=[first.card_user.public_id])).content.decode()
    )
    assert page.count(ONE_SENTENCE) == 1
    assert 'data-registration="not_bound_card_limit"' in page
    assert "None of the 3 cards asked for was bound." in page
    for text in CONTRADICTIONS:
        assert text not in page


def test_the_bind_refusal_stays_in_the_api_reasons(client, manager, ent, approver):
    """The page drops the repeated refusal; the API keeps its reason codes as they were."""
    first, _second = lost_race(manager=manager, ent=ent, approver=approver)
    client.force_login(manager)
    body = client.get(f"/api/v1/verifications/{first.public_id}/").json()
    assert "one_id_five_cards" in body["reason_codes"]


def test_the_approver_sees_the_same_on_the_review_page(client, manager, ent, approver):
    first, _second = lost_race(manager=manager, ent=ent, approver=approver)
    client.force_login(approver)
    page = html.unescape(client.get(reverse("approvals:review_detail", args=[first.public_id])).content.decode())
    assert 'data-registration="not_bound_card_limit"' in page and ONE_SENTENCE in page
    assert "Cards asked for, not bound" in page and "Cards bound when approved" not in page


def test_approving_on_the_page_flashes_the_outcome_not_an_open_gate(client, manager, ent, approver):
    number = idgen.resident_id()
    waiting = factories.card_user_registration(
        actor=manager, enterprise=ent, id_number=number, cards=[factories.card(enterprise=ent) for _ in range(3)]
    )
    waiting = factories.face_result(waiting, "review", distance=0.52)
    taker = factories.card_user_registration(
        actor=manager, enterprise=ent, id_number=number, cards=[factories.card(enterprise=ent) for _ in range(3)]
    )
    factories.face_result(taker, "pass")
    client.force_login(approver)
    response = client.post(
        reverse("approvals:review_detail", args=[waiting.public_id]), {"decision": "approve", "comment": ""}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    waiting.refresh_from_db()
    assert waiting.status == VerificationStatus.APPROVED
    card_user = CardUser.objects.get(pk=waiting.card_user_id)
    assert card_user.registration_status == RegistrationStatus.NOT_BOUND_CARD_LIMIT
    flashed = [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]
    assert flashed == [("warning", flashed[0][1])] and ONE_SENTENCE in flashed[0][1]
    assert "gate is open" not in flashed[0][1]


def test_an_approval_that_bound_the_cards_still_says_the_gate_is_open(client, manager, ent, approver):
    waiting = factories.card_user_registration(actor=manager, enterprise=ent, cards=[factories.card(enterprise=ent)])
    waiting = factories.face_result(waiting, "review", distance=0.52)
    client.force_login(approver)
    response = client.post(
        reverse("approvals:review_detail", args=[waiting.public_id]), {"decision": "approve", "comment": ""}
    )
    assert response.status_code == 302
    flashed = [str(m) for m in get_messages(response.wsgi_request)]
    assert flashed == ["The comparison was approved: the real-name gate is open."]
