"""U6's limit is the declared setting ONE_ID_CARD_LIMIT, read when a card is bound (not at import)."""

from __future__ import annotations

import pytest

from cards.card_users.services import card_user_bind
from cards.errors import CardLimitReached
from cards.models import CardBinding
from tests import factories, idgen

pytestmark = pytest.mark.django_db


def _registrations_of_one_id(world, count: int):
    number = idgen.resident_id()
    pairs = []
    for _ in range(count):
        card = factories.card(enterprise=world["enterprise"])
        verification = factories.card_user_registration(
            actor=world["users"]["account_manager"], enterprise=world["enterprise"], cards=[card], id_number=number
        )
        pairs.append((verification.card_user, card))
    return pairs


def test_U6_a_changed_limit_applies_at_the_next_bind(world, scripted_face_engine, settings):
    scripted_face_engine("review", distance=0.55)  # nothing is bound until the test binds
    (first_user, first_card), (second_user, second_card) = _registrations_of_one_id(world, 2)
    settings.ONE_ID_CARD_LIMIT = 1
    card_user_bind(actor=None, card_user=first_user, cards=[first_card])
    with pytest.raises(CardLimitReached):
        card_user_bind(actor=None, card_user=second_user, cards=[second_card])

    settings.ONE_ID_CARD_LIMIT = 2
    card_user_bind(actor=None, card_user=second_user, cards=[second_card])
    assert CardBinding.objects.filter(card__in=[first_card, second_card]).count() == 2
