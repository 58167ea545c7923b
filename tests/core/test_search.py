"""core.search.digits_prefix: a prefix of digits as a LIKE and a range, so that a (scope, number) index
serves it under any collation (issue 12 §1.6)."""

from __future__ import annotations

import pytest
from django.db import connection

from cards.models import Card
from core.search import digits_prefix
from tests import factories


@pytest.fixture
def ent(world):
    return world["enterprise"]


@pytest.mark.parametrize(
    "digits, upper",
    [("8986", "8987"), ("8986999", "8987"), ("1", "2"), ("8", "9"), ("09", "1")],
)
def test_a_digits_prefix_is_the_range_up_to_the_next_prefix(digits, upper):
    condition = digits_prefix("iccid", digits)
    assert dict(condition.children) == {"iccid__gte": digits, "iccid__lt": upper}


def test_a_prefix_of_nines_has_no_bound_above():
    assert dict(digits_prefix("iccid", "999").children) == {"iccid__startswith": "999", "iccid__gte": "999"}


@pytest.mark.django_db
def test_the_range_keeps_exactly_the_cards_the_like_keeps(ent):
    cards = [factories.card(enterprise=ent) for _ in range(12)]
    mine = Card.objects.filter(enterprise=ent)
    for card in cards[:4]:
        for length in (6, 12, 17, 19):
            digits = card.iccid[:length]
            assert set(mine.filter(digits_prefix("iccid", digits))) == set(mine.filter(iccid__startswith=digits))
    # A prefix ending in 9s: the bound above drops them and raises the digit before.
    nines = cards[0].iccid[:5] + "99"
    assert set(mine.filter(digits_prefix("iccid", nines))) == set(mine.filter(iccid__startswith=nines))


@pytest.mark.postgres
@pytest.mark.django_db
def test_an_enterprises_prefix_search_is_a_range_on_its_own_index(ent):
    for _ in range(3):
        factories.card(enterprise=ent)
    prefix = Card.objects.filter(enterprise=ent).first().iccid[:10]
    queryset = Card.objects.filter(digits_prefix("iccid", prefix), enterprise=ent).order_by("iccid")[:26]
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # Both the enterprise and the ICCID bound the index walk: no reading of the enterprise's other cards.
    assert "card_enterprise_iccid" in plan
    assert "Index Cond: ((enterprise_id = " in plan and "(iccid)::text >= " in plan, plan
