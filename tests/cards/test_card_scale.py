"""Card lists stay correct and indexed with 1,000,000 cards (PostgreSQL): keyset-paginated API, capped page count,
plans on an index.

How fast they are is the scale benchmark's (`python -m bench --only scale`, bench/scale.py): it times these
lists, filters and later pages at 1,000 and at 1,000,000 cards, and fails when their query counts grow.
The cards are written with one INSERT ... SELECT generate_series (a few seconds), inside the
test's transaction, so they are gone afterwards.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from cards.inventory import selectors as card_selectors
from cards.models import Card
from tests import factories

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db]

TOTAL = 1_000_000


INSERT_SQL = """
INSERT INTO cards_card (iccid, msisdn, imsi, enterprise_id, province_id, package_id, data_service, voice_service,
                        sms_service, status, realname_required, realname_rules, exemption_needed,
                        created_at, updated_at)
SELECT '8986' || lpad(i::text, 15, '0'),
       '1' || lpad(i::text, 12, '0'),
       '',
       CASE WHEN i %% 10 = 0 THEN %(small)s ELSE %(big)s END,
       %(province)s,
       CASE WHEN i %% 7 = 0 THEN %(test)s ELSE %(std)s END,
       CASE WHEN i %% 3 = 0 THEN 'non_directed' ELSE 'directed' END,
       'none',
       'none',
       (ARRAY['in_stock', 'awaiting_realname', 'active', 'suspended', 'cancelled'])[i %% 5 + 1],
       i %% 3 = 0 AND i %% 7 <> 0,
       CASE WHEN i %% 7 = 0 THEN 'U4' WHEN i %% 3 = 0 THEN 'U1' ELSE 'U0' END,
       CASE WHEN i %% 3 = 0 AND i %% 7 <> 0 THEN 'province' ELSE '' END,
       now(), now()
FROM generate_series(1, %(total)s) AS i
"""


@pytest.fixture
def million(world):
    """1,000,000 cards: 900,000 of the Beijing enterprise, 100,000 of the other, every 7th on the test package.

    Loaded like a bulk load: the secondary indexes are dropped, the rows inserted, and the very same
    indexes (their definitions read from pg_indexes) built again, all inside the test's transaction.
    The foreign-key triggers are skipped for the insert (the ids are the fixture's own).
    """
    std = factories.package(code="IOT-STD")
    test = factories.iot_test_package()
    big, small = world["enterprise"], world["enterprise_same_province"]
    assert big.province_id == small.province_id  # the one province_id the INSERT writes
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'cards_card' AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = 'cards_card'::regclass)"
        )
        indexes = cursor.fetchall()
        assert {"card_enterprise_iccid", "card_enterprise_status", "card_enterprise_package"} <= {n for n, _ in indexes}
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        cursor.execute(
            INSERT_SQL,
            {
                "small": small.pk,
                "big": big.pk,
                "province": big.province_id,
                "test": test.pk,
                "std": std.pk,
                "total": TOTAL,
            },
        )
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")
        for _name, definition in indexes:
            cursor.execute(definition)
        cursor.execute("ANALYZE cards_card")
    assert Card.objects.count() == TOTAL
    return {"big": big, "small": small, "std": std, "test": test}


def _ok(client, url, params):
    response = client.get(url, params)
    assert response.status_code == 200, response.content[:500]
    return response


def _plan(queryset) -> str:
    return queryset.explain()


def test_card_lists_with_a_million_cards(world, million):
    admin = world["users"]["enterprise_admin"]  # of the enterprise with 900,000 cards
    manager = world["users"]["account_manager"]  # of the province: all 1,000,000
    api = APIClient()
    api.force_authenticate(admin)

    for name, params in {
        "all": {},
        "status": {"status": "active"},
        "prefix": {"iccid__startswith": "898600000000005"},
        "status+prefix": {"status": "active", "iccid__startswith": "89860000000009"},
        "package": {"package": "IOT-TEST"},
        "needs real-name": {"realname_required": "true"},
    }.items():
        response = _ok(api, "/api/v1/cards/", params)
        body = response.json()
        assert body["results"], name
        iccids = [row["iccid"] for row in body["results"]]
        assert iccids == sorted(iccids)
        if name in ("all", "status", "package", "needs real-name"):
            assert len(iccids) == 50
            # The next page, by cursor, follows on.
            following = api.get(body["next"])
            assert following.json()["results"][0]["iccid"] > iccids[-1]

    api.force_authenticate(manager)
    for params in ({}, {"status": "suspended"}):
        assert len(_ok(api, "/api/v1/cards/", params).json()["results"]) == 50

    # The page: the capped count and the first and a far page (by a jump: keyset, no OFFSET).
    client = Client()
    client.force_login(admin)
    for params in (
        {"status": "active"},
        {"status": "active", "jump": "89860000000050000"},
        {},
        {"q": "898600000000005"},
        {"q": "89860000000", "jump": "898600000000300"},
    ):
        _ok(client, reverse("cards:list"), params)

    # The plans use the indexes, never a sequential scan of the card table.
    scoped = card_selectors.cards_visible_to(admin)
    for queryset in (
        scoped.filter(status="active").order_by("iccid")[:51],
        scoped.filter(iccid__startswith="898600000000005").order_by("iccid")[:51],
        scoped.filter(package_id=million["test"].pk).order_by("iccid")[:51],
        scoped.filter(status="active", iccid__gt="89860000000050000").order_by("iccid")[:51],
        card_selectors.cards_visible_to(manager).filter(status="suspended").order_by("iccid")[:51],
    ):
        plan = _plan(queryset)
        assert "Index" in plan, plan
        assert "Seq Scan on cards_card" not in plan, plan


def test_the_card_picker_with_a_million_cards(world, million):
    """Issue 11 §2: the picker's pages and its capped count read along the (enterprise, ...) indexes, never
    a sequential scan of the card table, for every form's eligibility and every filter."""
    from cards.inventory import picker

    manager = world["users"]["account_manager"]
    client = Client()
    client.force_login(manager)
    for name, params in {
        "order": {"purpose": "order"},
        "order, business": {"purpose": "order", "business_type": "suspend_resume"},
        "card user, status": {"purpose": "card_user", "status": "in_stock"},
        "exemption, rule": {"purpose": "exemption", "rule": "U1"},
        "self-service, prefix": {"purpose": "self_service", "q": "898600000000005"},
        "order, rule U4": {"purpose": "order", "rule": "U4"},
        "order (again)": {"purpose": "order"},
    }.items():
        response = client.get(reverse("cards:picker"), {"enterprise": str(million["big"].public_id), **params})
        body = response.json()
        assert response.status_code == 200 and len(body["results"]) == picker.PAGE_SIZE, (name, body)
        assert body["matching"] <= body["limit"]

    for purpose_name, filters in (
        ("order", picker.PickerFilter(status="active")),
        ("card_user", picker.PickerFilter()),
        ("exemption", picker.PickerFilter(rule="U1")),
        ("self_service", picker.PickerFilter(q="898600000000005")),
    ):
        queryset = picker.picker_cards(
            manager, enterprise=million["big"], purpose=picker.purpose_for(purpose_name), filters=filters
        )
        for sliced in (queryset[: picker.PAGE_SIZE + 1], queryset.filter(iccid__gt="89860000000050000")[:51]):
            plan = _plan(sliced)
            assert "Seq Scan on cards_card" not in plan, (purpose_name, plan)
