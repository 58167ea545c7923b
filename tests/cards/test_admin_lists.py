"""The operations admin's large lists (issue 12 §1.5, §1.6): a capped count and no full count, fixed filter
choices instead of a DISTINCT over the table, search by ICCID or MSISDN (whole or by its start), and the
read-only, PII-safe lists of notices and list exports."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import NoticeKind, User
from accounts.notifications import notify
from cards.models import Card, CardEvent
from core import pagination
from core.pagination import CappedPaginator
from portal.models import ListExport
from tests import factories, idgen

pytestmark = pytest.mark.django_db


@pytest.fixture
def ent(world):
    return world["enterprise"]


@pytest.fixture
def ops_client(client, world):
    client.force_login(User.objects.get(pk=world["users"]["ops"].pk))
    return client


def _counts(queries) -> list[str]:
    return [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]


def test_the_capped_paginator_counts_no_more_than_its_cap(ent):
    for _ in range(4):
        factories.card(enterprise=ent)
    paginator = CappedPaginator(Card.objects.order_by("iccid"), 2)
    paginator.cap = 2
    assert paginator.count == 3 and paginator.capped
    assert CappedPaginator(Card.objects.order_by("iccid"), 2).count == 4


def test_the_capped_paginator_trusts_an_estimate_far_past_its_cap_and_counts_nothing(ent, monkeypatch):
    """Counting cap + 1 rows through a changelist's joins grew with the table (issue 12 §1.5): where the
    count was not run (an estimate past twice the cap), the paginator says "more than the cap"."""
    for _ in range(3):
        factories.card(enterprise=ent)
    monkeypatch.setattr(pagination, "counted_and_estimated", lambda queryset, cap: (None, 5))
    paginator = CappedPaginator(Card.objects.order_by("iccid"), 2)
    paginator.cap = 2
    assert paginator.count == 3 and paginator.capped


@pytest.mark.postgres
def test_past_twice_the_cap_by_estimate_nothing_is_counted(ent):
    """On PostgreSQL the estimate and the count are one statement; the count runs only where the estimate
    is not past twice the cap."""
    # Inside the test: only this test calls the seam itself.
    from core.keyset import counted_and_estimated

    for _ in range(30):
        factories.card(enterprise=ent)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE cards_card")
    cards = Card.objects.filter(enterprise=ent).order_by()
    with CaptureQueriesContext(connection) as queries:
        counted, estimate = counted_and_estimated(cards, 5)
    assert counted is None and estimate > 10
    assert len(queries.captured_queries) == 1
    near, estimate = counted_and_estimated(cards, 20)
    assert near == 21 and estimate <= 40  # counted up to the cap + 1: "more than 20"
    assert counted_and_estimated(cards, 100)[0] == 30


@pytest.mark.parametrize(
    "url, table",
    [
        ("/admin/cards/card/", "cards_card"),
        ("/admin/cards/cardevent/", "cards_cardevent"),
        ("/admin/cards/carduser/", "cards_carduser"),
        ("/admin/cards/cardbinding/", "cards_cardbinding"),
        ("/admin/cards/order/", "cards_order"),
        ("/admin/cards/handler/", "cards_handler"),
        ("/admin/cards/cardimport/", "cards_cardimport"),
        ("/admin/accounts/auditevent/", "accounts_auditevent"),
        ("/admin/accounts/piiaccesslog/", "accounts_piiaccesslog"),
        ("/admin/accounts/notice/", "accounts_notice"),
        ("/admin/verification/verification/", "verification_verification"),
        ("/admin/approvals/exemptionrequest/", "approvals_exemptionrequest"),
        ("/admin/portal/listexport/", "portal_listexport"),
    ],
)
def test_a_large_admin_list_counts_under_a_cap_and_never_the_whole_table(ops_client, ent, url, table):
    factories.card(enterprise=ent)
    with CaptureQueriesContext(connection) as queries:
        response = ops_client.get(url)
    assert response.status_code == 200, url
    # The list's own counts (not the navigation's unread notices of the signed-in user).
    counts = [
        sql for sql in _counts(queries.captured_queries) if f'FROM "{table}"' in sql and '"read_at" IS NULL' not in sql
    ]
    assert counts, url
    # Every count is over a LIMIT subquery: Django's unfiltered "(N total)" count is gone too.
    assert all(re.search(r"LIMIT\s+10001", sql) for sql in counts), counts


def test_the_card_event_list_filters_by_fixed_actions_without_a_distinct(ops_client, ent):
    card = factories.card(enterprise=ent)
    with CaptureQueriesContext(connection) as queries:
        page = ops_client.get("/admin/cards/cardevent/").content.decode()
    assert not [q["sql"] for q in queries.captured_queries if "DISTINCT" in q["sql"].upper()]
    assert "?action=suspended" in page  # offered although no card was ever suspended
    assert card.iccid in page
    assert card.iccid not in ops_client.get("/admin/cards/cardevent/", {"action": "suspended"}).content.decode()
    assert card.iccid in ops_client.get("/admin/cards/cardevent/", {"action": "created"}).content.decode()


def test_the_binding_list_filters_by_fixed_end_reasons_without_a_distinct(ops_client, world, ent):
    card = factories.card(enterprise=ent)
    factories.verified_card_user(actor=world["users"]["account_manager"], enterprise=ent, cards=[card])
    with CaptureQueriesContext(connection) as queries:
        page = ops_client.get("/admin/cards/cardbinding/").content.decode()
    assert not [q["sql"] for q in queries.captured_queries if "DISTINCT" in q["sql"].upper()]
    assert "?end_reason=ownership_transfer" in page  # offered although no binding ever ended so
    assert card.iccid in page
    ended = ops_client.get("/admin/cards/cardbinding/", {"end_reason": "card_cancelled"}).content.decode()
    assert card.iccid not in ended


def test_the_card_event_list_is_ordered_newest_first_on_its_index(ops_client, ent):
    from cards.admin import CardEventAdmin

    assert CardEventAdmin.ordering == ("-at", "-id")
    names = {index.name: index for index in CardEvent._meta.indexes}
    assert names["cardevent_at_desc"].fields == ["-at", "-id"]


@pytest.mark.parametrize("url", ["/admin/cards/card/", "/admin/cards/cardevent/"])
def test_the_admin_finds_a_card_by_its_whole_msisdn_or_its_start(ops_client, ent, url):
    wanted = factories.card(enterprise=ent, number="13912345678")
    other = factories.card(enterprise=ent, number="13987654321")
    for term, found, not_found in [
        ("13912345678", wanted, other),
        ("139 1234", wanted, other),
        ("1398", other, wanted),
        (wanted.iccid[:12], wanted, None),
    ]:
        page = ops_client.get(url, {"q": term}).content.decode()
        assert found.iccid in page, term
        if not_found is not None:
            assert not_found.iccid not in page, term
    for junk in ("abc", "1" * 21, "'; drop"):
        response = ops_client.get(url, {"q": junk})
        assert response.status_code == 200 and wanted.iccid not in response.content.decode()


def test_the_notice_list_is_read_only_and_masks_numbers(ops_client, world):
    number = idgen.resident_id()
    recipient = world["users"]["account_manager"]
    # A notice's text holds no ID number by contract; one that slipped into the text is masked all the same.
    notice = notify(recipient, NoticeKind.DECISION, None, title="Decided", body=f"For {number}", email=False)
    assert notice is not None
    for url in ("/admin/accounts/notice/", f"/admin/accounts/notice/{notice.pk}/change/"):
        response = ops_client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert "Decided" in page and number not in page, url
    assert ops_client.get("/admin/accounts/notice/add/").status_code == 403
    assert ops_client.post(f"/admin/accounts/notice/{notice.pk}/delete/", {"post": "yes"}).status_code == 403


def test_the_list_export_list_shows_no_filters_nor_file(ops_client, world):
    number = idgen.resident_id()
    export = ListExport.objects.create(
        requested_by=world["users"]["account_manager"],
        list_name="cards",
        file_format="csv",
        parameters=f'{{"q": "{number}"}}',
        file="exports/secret-name.csv",
    )
    for url in ("/admin/portal/listexport/", f"/admin/portal/listexport/{export.pk}/change/"):
        response = ops_client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert str(export.public_id) in page or url.endswith("listexport/"), url
        assert number not in page and "secret-name" not in page, url
    assert "?list_name=cards" in ops_client.get("/admin/portal/listexport/").content.decode()
    assert ops_client.get("/admin/portal/listexport/add/").status_code == 403


def test_a_user_without_the_ops_view_sees_neither_list(client, world):
    client.force_login(world["users"]["account_manager"])
    for url in ("/admin/accounts/notice/", "/admin/portal/listexport/"):
        assert client.get(url).status_code in (302, 403), url
