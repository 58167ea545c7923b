"""The portal's lists page by cursor (core.keyset): links round trip, jumps, a bad cursor's 400, per-page
counts of the card users' live cards and the orders' cards, and queries that do not grow with the rows."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cards.models import CardBinding, CardUser, Order
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(world):
    return world["users"]["account_manager"]


@pytest.fixture
def ent(world):
    return world["enterprise"]


@pytest.fixture
def am(client, manager):
    client.force_login(manager)
    return client


def link(body: str, which: str) -> str | None:
    found = re.search(rf'href="([^"]*)"[^>]*data-page="{which}"', body)
    return html.unescape(found.group(1)) if found else None


def card_user_rows(body: str) -> list[str]:
    return re.findall(r'href="/cards/card-users/([0-9a-f-]{36})/"', body)


def _walk(client, url: str, rows) -> tuple[list[list[str]], list[list[str]]]:
    """The rows of every page following next from `url`, then of every page back following previous."""
    body = client.get(url).content.decode()
    forward = [rows(body)]
    while following := link(body, "next"):
        body = client.get(url.split("?")[0] + following).content.decode()
        forward.append(rows(body))
    backward = [rows(body)]
    while preceding := link(body, "previous"):
        body = client.get(url.split("?")[0] + preceding).content.decode()
        backward.append(rows(body))
    return forward, backward[::-1]


def _card_users(manager, ent, n: int) -> list[CardUser]:
    return [
        factories.verified_card_user(actor=manager, enterprise=ent, cards=[factories.card(enterprise=ent)])
        for _ in range(n)
    ]


def test_card_users_page_through_ties_and_count_live_cards_for_the_page(am, manager, ent):
    people = _card_users(manager, ent, 27)
    # Ten share one creation time, across the page edge at 25.
    same = timezone.now() - dt.timedelta(days=1)
    CardUser.objects.filter(pk__in=[p.pk for p in people[10:20]]).update(created_at=same)
    # One has a second live card, one has none left.
    CardBinding.objects.create(
        card=factories.card(enterprise=ent), card_user=people[3], id_number_index=people[3].id_number_index
    )
    CardBinding.objects.filter(card_user=people[5]).update(ended_at=timezone.now(), end_reason="test")
    url = reverse("cards:card_user_list")
    forward, backward = _walk(am, url, card_user_rows)
    listed = CardUser.objects.filter(enterprise=ent).order_by("-created_at", "-pk").values_list("public_id", flat=True)
    expected = [str(public_id) for public_id in listed]
    assert [row for page in forward for row in page] == expected
    assert [len(page) for page in forward] == [25, 2]
    assert backward == forward
    body = am.get(url).content.decode()
    cells = dict(re.findall(r'href="/cards/card-users/([0-9a-f-]{36})/".*?data-label="Live cards">(\d+)<', body, re.S))
    for person in people:
        if str(person.public_id) in cells:
            live = CardBinding.objects.filter(card_user=person, ended_at__isnull=True).count()
            assert int(cells[str(person.public_id)]) == live
    assert cells[str(people[3].public_id)] == "2" and cells[str(people[5].public_id)] == "0"


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_a_card_user_page_costs_the_same_queries_with_more_rows(am, manager, ent):
    _card_users(manager, ent, 27)
    url = reverse("cards:card_user_list")
    second = link(am.get(url).content.decode(), "next")
    before = (_queries(am, url), _queries(am, url + second))
    _card_users(manager, ent, 30)
    second = link(am.get(url).content.decode(), "next")
    assert (_queries(am, url), _queries(am, url + second)) == before
    # A later page costs one probe more than the first (is there a row before it?).
    assert before[1] == before[0] + 1


def test_a_far_card_page_costs_what_the_first_costs_plus_one_probe(am, ent):
    for _ in range(60):
        factories.card(enterprise=ent)
    url = reverse("cards:list")
    body = am.get(url).content.decode()
    first = _queries(am, url)
    body = am.get(url + link(body, "next")).content.decode()
    third = link(body, "next")
    assert _queries(am, url + third) == first + 1


def test_orders_jump_to_a_date_and_count_their_cards_for_the_page(am, manager, ent):
    for days in (0, 2, 5):
        factories.suspend([factories.active_card(enterprise=ent), factories.active_card(enterprise=ent)])
        Order.objects.filter(pk=Order.objects.order_by("-pk").first().pk).update(
            created_at=timezone.now() - dt.timedelta(days=days)
        )
    day = (timezone.localtime() - dt.timedelta(days=1)).date().isoformat()
    body = am.get(reverse("orders:list"), {"business_type": "suspend_resume", "jump": day}).content.decode()
    listed = re.findall(r'href="/orders/([0-9a-f-]{36})/"', body)
    start = timezone.make_aware(dt.datetime.fromisoformat(day)) + dt.timedelta(days=1)
    expected = [
        str(public_id)
        for public_id in Order.objects.filter(enterprise=ent, business_type="suspend_resume", created_at__lt=start)
        .order_by("-created_at", "-pk")
        .values_list("public_id", flat=True)
    ]
    assert listed == expected and len(expected) == 2
    assert 'data-label="Cards">2<' in body


@pytest.mark.parametrize(
    "name, who",
    [
        ("cards:list", "account_manager"),
        ("cards:card_user_list", "account_manager"),
        ("orders:list", "account_manager"),
        ("approvals:my_requests", "account_manager"),
        ("approvals:review_queue", "provincial_approver"),
        ("approvals:queue", "provincial_approver"),
        ("enterprises:list", "account_manager"),
        ("notices", "account_manager"),
    ],
)
@pytest.mark.parametrize("params", [{"cursor": "junk"}, {"cursor": "eyJkIjoibiJ9:x"}, {"jump": "2026-02-30"}])
def test_a_bad_cursor_or_jump_is_a_clear_400_on_every_list(client, world, name, who, params):
    if name == "cards:list" and "jump" in params:
        params = {"jump": "not an iccid"}
    client.force_login(world["users"][who])
    response = client.get(reverse(name), params)
    assert response.status_code == 400
    body = response.content.decode()
    assert "This page link is broken" in body or "Enter the" in body


def test_a_cursor_from_another_list_is_refused(am, ent):
    for _ in range(27):
        factories.card(enterprise=ent)
    following = link(am.get(reverse("cards:list")).content.decode(), "next")
    assert am.get(reverse("orders:list") + following).status_code == 400


def test_the_export_takes_the_filters_not_the_cursor(am, ent):
    for _ in range(27):
        factories.card(enterprise=ent)
    following = link(am.get(reverse("cards:list"), {"status": "in_stock"}).content.decode(), "next")
    export = am.get(reverse("exports:list", args=["cards"]) + following + "&format=csv")
    assert export.status_code == 200
    text = b"".join(export.streaming_content) if export.streaming else export.content
    exported = text.decode("utf-8").splitlines()[1:]
    assert len(exported) == ent.cards.filter(status="in_stock").count()


@pytest.mark.parametrize(
    "name, text",
    [("cards:list", "cards match"), ("cards:card_user_list", "card users match"), ("orders:list", "orders match")],
)
def test_past_the_cap_the_list_says_its_count_is_an_estimate(am, manager, ent, monkeypatch, name, text):
    from core import keyset

    _card_users(manager, ent, 3)
    for _ in range(3):
        factories.suspend([factories.active_card(enterprise=ent)])
    monkeypatch.setattr(keyset, "COUNT_CAP", 2)
    # SQLite has no estimate: "more than" the cap.
    monkeypatch.setattr(keyset, "counted_and_estimated", lambda queryset, cap: (cap + 1, None))
    assert f"More than 2 {text}" in am.get(reverse(name)).content.decode()
    # Where the database estimates (PostgreSQL's EXPLAIN), the page says "about" and that it is an estimate.
    monkeypatch.setattr(keyset, "counted_and_estimated", lambda queryset, cap: (cap + 1, 123456))
    assert f"About 123456 {text} (an estimate)" in am.get(reverse(name)).content.decode()
