"""The operations admin's large lists page by keyset (core.pagination.KeysetChangeList, issue 12 §1.4):
Next and Previous walk every row exactly once, at a constant query count, keeping the search and the
filters; a broken cursor or a stale numbered page is a note on the first page, never a 500; a sort the
keyset cannot follow falls back to the capped, numbered pager; the default orderings are on indexes."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.contrib import admin
from django.db import connection, models
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from cards.models import Card, CardEvent
from core import keyset
from core.keyset import Keyset
from tests import factories, idgen

pytestmark = pytest.mark.django_db

CARDS = "/admin/cards/card/"
PREFIX = "8986077"


@pytest.fixture
def ent(world):
    return world["enterprise"]


@pytest.fixture
def ops_client(client, world):
    client.force_login(User.objects.get(pk=world["users"]["ops"].pk))
    return client


@pytest.fixture
def pages_of_ten(monkeypatch):
    monkeypatch.setattr(admin.site._registry[Card], "list_per_page", 10)


def _cards(ent, n: int, pkg=None) -> list[str]:
    return [factories.card(enterprise=ent, iccid=idgen.iccid(prefix=PREFIX), pkg=pkg).iccid for _ in range(n)]


def _iccids(page: str) -> list[str]:
    return re.findall(r'class="field-iccid"><a href="[^"]*">(\d+)</a>', page)


def _link(page: str, which: str) -> str | None:
    found = re.search(rf'<a href="([^"]*)"[^>]*data-page="{which}"', page)
    return html.unescape(found.group(1)) if found else None


def _walk(client, start: str, which: str) -> tuple[list[list[str]], list[int], str]:
    """Follows `which` links from `start`: each page's ICCIDs, each page's query count, the last page."""
    pages, queries, url = [], [], start
    while url:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url if url.startswith("/") else CARDS + url)
        assert response.status_code == 200
        page = response.content.decode()
        pages.append(_iccids(page))
        queries.append(len(captured.captured_queries))
        url = _link(page, which)
    return pages, queries, page


@pytest.mark.parametrize("rows", [2, 30])
def test_next_and_previous_walk_every_row_exactly_once(ops_client, ent, pages_of_ten, rows):
    wanted = sorted(_cards(ent, rows))
    start = f"{CARDS}?q={PREFIX}"
    forward, _, last = _walk(ops_client, start, "next")
    assert [iccid for page in forward for iccid in page] == wanted
    assert [len(page) for page in forward] == ([2] if rows == 2 else [10, 10, 10])
    assert _link(last, "next") is None
    backward, _, first = _walk(ops_client, _link(last, "previous") or start, "previous")
    if rows == 2:
        assert backward == forward and _link(first, "previous") is None
    else:
        assert backward == forward[-2::-1]  # from the second last page back to the first
        assert _link(first, "first") is None and _link(first, "previous") is None


def test_the_query_count_of_a_page_does_not_grow_with_its_depth(ops_client, ent, pages_of_ten):
    _cards(ent, 2)
    _, small, _ = _walk(ops_client, f"{CARDS}?q={PREFIX}", "next")
    _cards(ent, 48)
    _, deep, _ = _walk(ops_client, f"{CARDS}?q={PREFIX}", "next")
    assert len(deep) == 5
    # The first page knows it has nothing before it; every later page asks with one index probe.
    assert deep[0] == small[0]
    assert set(deep[1:]) == {small[0] + 1}


def test_search_and_filters_stay_applied_across_pages(ops_client, ent, pages_of_ten):
    other = factories.package(code="IOT-OTHER", name="Other")
    on_other = set(_cards(ent, 12, pkg=other))
    standard = set(_cards(ent, 5))
    elsewhere = factories.card(enterprise=ent, pkg=other).iccid  # the filter's, not the search's
    start = f"{CARDS}?q={PREFIX}&package__id__exact={other.pk}"
    forward, _, last = _walk(ops_client, start, "next")
    seen = [iccid for page in forward for iccid in page]
    assert sorted(seen) == sorted(on_other) and not standard & set(seen) and elsewhere not in seen
    assert len(forward) == 2
    for link in (_link(last, "previous"), _link(last, "first")):
        assert link and f"q={PREFIX}" in link and f"package__id__exact={other.pk}" in link
    # A new filter or sort starts at its first page: no link on the page keeps the cursor but the pager's.
    assert 'name="cursor"' not in last  # the search form's hidden fields
    links = re.findall(r'href="(\?[^"]*)"', last)
    assert [link for link in links if "cursor=" in link] == [
        html.escape(_link(last, "previous") or "", quote=True).replace("&#x27;", "'")
    ]


def test_a_tampered_cursor_is_a_clear_note_on_the_first_page(ops_client, ent, pages_of_ten):
    wanted = sorted(_cards(ent, 15))
    page = ops_client.get(f"{CARDS}?q={PREFIX}").content.decode()
    cursor = (_link(page, "next") or "").split("cursor=")[1].split("&")[0]
    for broken in (cursor[:-2] + "xx", "nonsense", "x" * 2000):
        response = ops_client.get(CARDS, {"q": PREFIX, "cursor": broken})
        assert response.status_code == 200
        text = response.content.decode()
        assert "This page link is broken or belongs to another list: this is the list&#x27;s first page." in text
        assert _iccids(text) == wanted[:10]
    # A cursor of another sort of the same list is another list's.
    sorted_by_msisdn = ops_client.get(CARDS, {"q": PREFIX, "o": "1", "cursor": cursor}).content.decode()
    assert "This page link is broken" in sorted_by_msisdn


def test_a_stale_numbered_page_gets_the_first_page_and_a_note(ops_client, ent, pages_of_ten):
    wanted = sorted(_cards(ent, 15))
    response = ops_client.get(CARDS, {"q": PREFIX, "p": "2"})
    text = response.content.decode()
    assert response.status_code == 200 and "Pages are no longer numbered" in text
    assert _iccids(text) == wanted[:10]
    assert "Pages are no longer numbered" not in ops_client.get(CARDS, {"q": PREFIX}).content.decode()


def test_the_count_says_more_than_its_cap(ops_client, ent, pages_of_ten, monkeypatch):
    _cards(ent, 4)
    monkeypatch.setattr(keyset, "COUNT_CAP", 3)
    monkeypatch.setattr(keyset, "counted_and_estimated", lambda queryset, cap: (cap + 1, None))
    assert 'data-count="capped">More than 3 cards' in ops_client.get(CARDS, {"q": PREFIX}).content.decode()
    monkeypatch.setattr(keyset, "counted_and_estimated", lambda queryset, cap: (cap + 1, 123456))
    assert "About 123456 cards (an estimate)" in ops_client.get(CARDS, {"q": PREFIX}).content.decode()


def test_a_sort_the_keyset_cannot_follow_falls_back_to_the_numbered_pager(ops_client, ent, pages_of_ten):
    _cards(ent, 15)
    # Column 3 is the package, a relation: its order is the package's, not a key of the card.
    page = ops_client.get(CARDS, {"q": PREFIX, "o": "3"}).content.decode()
    assert "data-keyset" not in page and "?o=3&amp;p=2&amp;q=" in page
    second = ops_client.get(CARDS, {"q": PREFIX, "o": "3", "p": "2"}).content.decode()
    assert len(_iccids(second)) == 5 and "Pages are no longer numbered" not in second
    # A direct column's sort (the status) pages by keyset.
    assert "data-keyset" in ops_client.get(CARDS, {"q": PREFIX, "o": "4"}).content.decode()


def test_an_action_applies_to_the_rows_ticked_on_a_keyset_page(ops_client, ent, pages_of_ten, monkeypatch):
    wanted = sorted(_cards(ent, 15))
    applied: list[list[str]] = []

    @admin.action(description="Note the cards")
    def note(model_admin, request, queryset):
        applied.append(sorted(queryset.values_list("iccid", flat=True)))

    # The operations admin's lists are read-only and offer no action of their own; the desk's have some.
    monkeypatch.setattr(admin.site._registry[Card], "actions", [note])
    first = ops_client.get(CARDS, {"q": PREFIX}).content.decode()
    url = CARDS + (_link(first, "next") or "")
    page = ops_client.get(url).content.decode()
    assert page.count('name="_selected_action"') == 5 and 'data-actions-icnt="5"' in page
    ticked = Card.objects.filter(iccid__in=wanted[11:13]).values_list("pk", flat=True)
    response = ops_client.post(url, {"action": "note", "index": "0", "_selected_action": [str(pk) for pk in ticked]})
    assert response.status_code == 302 and response["Location"] == url
    assert applied == [wanted[11:13]]


# Every large list of the operations admin, and the index its default order walks.
BIG_ADMINS = {
    "cards.Card": "cards_card_iccid",
    "cards.CardEvent": "cardevent_at_desc",
    "cards.CardUser": "card_user_created",
    "cards.CardBinding": "pk",
    "cards.Order": "order_created",
    "verification.Verification": "verification_created",
    "accounts.AuditEvent": "at",
    "accounts.PiiAccessLog": "at",
    "accounts.Notice": "notice_created",
}


@pytest.mark.parametrize("label, index", list(BIG_ADMINS.items()))
def test_each_large_admin_orders_on_a_keyset_with_an_index(label, index):
    model_admin = next(ma for model, ma in admin.site._registry.items() if model._meta.label == label)
    model = model_admin.model
    ordering = tuple(model_admin.get_ordering(None) or model._meta.ordering)
    assert Keyset(label, ordering).fits(model), ordering
    columns = [item.lstrip("-") for item in ordering]
    if index == "pk":
        assert columns in (["id"], ["pk"])
    elif index == "at" or index.endswith("_iccid"):
        # A unique or indexed column leads the order: PostgreSQL walks its index, sorting only ties.
        field = model._meta.get_field(columns[0])
        assert field.db_index or field.unique
    else:
        (named,) = [i for i in model._meta.indexes if i.name == index]
        assert [f.lstrip("-") for f in named.fields] == [c.replace("pk", "id") for c in columns]
        assert [f.startswith("-") for f in named.fields] == [c.startswith("-") for c in ordering]


def test_a_keyset_refuses_a_relation_a_nullable_column_or_no_unique_end():
    assert Keyset("t", ("iccid",)).fits(Card)
    assert not Keyset("t", ("enterprise", "iccid")).fits(Card)
    assert not Keyset("t", ("first_activated_at", "iccid")).fits(Card)
    assert not Keyset("t", ("status",)).fits(Card)
    assert not Keyset("t", ("enterprise__name", "iccid")).fits(Card)
    assert Keyset("t", ("-at", "-id")).fits(CardEvent)


def _plan_nodes(plan: dict) -> list[str]:
    return [plan["Node Type"], *(node for child in plan.get("Plans", []) for node in _plan_nodes(child))]


@pytest.mark.postgres
@pytest.mark.parametrize("label", list(BIG_ADMINS))
def test_postgresql_walks_each_large_admins_page_on_its_index_without_a_sort(label):
    model_admin = next(ma for model, ma in admin.site._registry.items() if model._meta.label == label)
    model = model_admin.model
    ordering = tuple(model_admin.get_ordering(None) or model._meta.ordering)
    list_keyset = Keyset(label, ordering, per_page=10)
    keys = list_keyset._keys(model)
    # A page after some position: a cursor for a row that need not exist (the plan is what is looked at).
    samples = {models.DateTimeField: timezone.now(), models.CharField: "8986", models.BigAutoField: 1}
    edge = model(**{key.attname: samples[type(key.model_field)] for key in keys})
    cursor = list_keyset._encode(keys, edge, "n")
    with CaptureQueriesContext(connection) as captured:
        list_keyset.page(model.objects.all(), {"cursor": cursor})
    page_sql = captured.captured_queries[0]["sql"]
    with connection.cursor() as cursor_:
        # The test tables are near empty, where a sequential scan wins: what is asked is whether an index
        # gives the list's order, so that a large table needs no sort of its rows.
        cursor_.execute("SET LOCAL enable_seqscan = off")
        cursor_.execute("SET LOCAL enable_bitmapscan = off")
        cursor_.execute(f"EXPLAIN (FORMAT JSON) {page_sql}")
        (plan,) = cursor_.fetchone()
    nodes = _plan_nodes((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"])
    # An incremental sort orders only the ties of an indexed leading column (a time's events, by id).
    assert "Sort" not in nodes, nodes
    assert any(node.startswith("Index") for node in nodes), nodes
