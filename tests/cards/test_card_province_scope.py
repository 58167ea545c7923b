"""Cards carry their enterprise's province and sandbox flag (issue 12 §1.4): a province's and the nation's card
lists are scoped on the card's own columns, with no join to enterprises, and still show nothing out of scope."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from cards.inventory.selectors import cards_visible_to
from cards.models import Card
from enterprises.sandbox import sandbox_for
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def cards(world):
    return {
        "own": factories.card(enterprise=world["enterprise"]),
        "same_province": factories.card(enterprise=world["enterprise_same_province"]),
        "other_province": factories.card(enterprise=world["enterprise_other"]),
    }


def _where(sql: str) -> str:
    return sql.split(" WHERE ", 1)[1] if " WHERE " in sql else ""


def test_a_card_copies_its_enterprises_province_and_sandbox_flag(world, cards):
    for card in cards.values():
        card.refresh_from_db()
        assert card.province_id == card.enterprise.province_id
        assert card.in_sandbox is False
    sandbox = sandbox_for(world["enterprise"])  # seeded with its cards through card_create
    seeded = Card.objects.filter(enterprise=sandbox)
    assert seeded.exists()
    assert set(seeded.values_list("province_id", "in_sandbox")) == {(world["enterprise"].province_id, True)}


@pytest.mark.parametrize("role", ["provincial_approver", "account_manager", "group_approver"])
def test_the_scope_of_province_and_nationwide_roles_reads_the_cards_own_columns(world, cards, role):
    user = world["users"][role]
    sql = str(cards_visible_to(user).select_related(None).query)
    assert "enterprises_enterprise" not in sql, sql
    assert '"cards_card"."in_sandbox"' in _where(sql)
    if role != "group_approver":
        assert '"cards_card"."province_id"' in _where(sql)


def test_a_provincial_approvers_card_list_page_filters_on_the_card_with_no_join_for_the_scope(client, world, cards):
    sandbox = sandbox_for(world["enterprise"])
    client.force_login(world["users"]["provincial_approver"])
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("cards:list"))
    assert response.status_code == 200
    listed = [q["sql"] for q in captured.captured_queries if re.search(r'FROM "cards_card"', q["sql"])]
    assert listed, [q["sql"] for q in captured.captured_queries]
    for sql in listed:
        where = _where(sql)
        assert '"cards_card"."province_id" = ' in where, sql
        # The enterprise is joined only to show its name (select_related), never to decide the scope.
        assert "enterprises_enterprise" not in where, sql
    shown = response.content.decode()
    assert cards["own"].iccid in shown
    assert cards["same_province"].iccid in shown
    assert cards["other_province"].iccid not in shown
    for iccid in Card.objects.filter(enterprise=sandbox).values_list("iccid", flat=True):
        assert iccid not in shown


@pytest.mark.parametrize(
    ("role", "visible"),
    [
        ("provincial_approver", {"own", "same_province"}),
        ("provincial_approver_other_province", {"other_province"}),
        ("group_approver", {"own", "same_province", "other_province"}),
        ("enterprise_admin", {"own"}),
    ],
)
def test_the_card_api_lists_the_scope_and_never_another_provinces_or_a_sandboxs_cards(world, cards, role, visible):
    sandbox = sandbox_for(world["enterprise"])
    api = APIClient()
    api.force_authenticate(world["users"][role])
    response = api.get("/api/v1/cards/")
    assert response.status_code == 200, response.content
    listed = {row["iccid"] for row in response.json()["results"]}
    assert listed == {cards[name].iccid for name in visible}
    assert not listed & set(Card.objects.filter(enterprise=sandbox).values_list("iccid", flat=True))


def test_a_nationwide_lists_province_filter_reads_the_cards_own_province(client, world, cards):
    client.force_login(world["users"]["group_approver"])
    other = world["enterprise_other"].province
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("cards:list"), {"province": other.code})
    assert response.status_code == 200
    shown = response.content.decode()
    assert cards["other_province"].iccid in shown
    assert cards["own"].iccid not in shown
    assert cards["same_province"].iccid not in shown
    listed = [q["sql"] for q in captured.captured_queries if 'FROM "cards_card"' in q["sql"]]
    assert listed
    assert all('"cards_card"."province_id" = ' in _where(sql) for sql in listed), listed
