"""core.keyset: pages by a signed cursor over an ordering tuple, the jumps, and the capped count."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import signing
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Notice
from cards.models import Card
from core import keyset
from core.errors import ValidationFailed
from core.keyset import DateJump, Keyset, TextJump, list_count
from tests import factories

pytestmark = pytest.mark.django_db

T0 = timezone.make_aware(dt.datetime(2026, 11, 1, 9, 0))


@pytest.fixture
def user(world):
    return world["users"]["account_manager"]


def _notices(user, when: list[dt.datetime]) -> QuerySet[Notice]:
    """Notices of `user` created at these times (ties where a time repeats)."""
    for at in when:
        notice = Notice.objects.create(recipient=user, kind="decision", title="t")
        Notice.objects.filter(pk=notice.pk).update(created_at=at)
    return Notice.objects.filter(recipient=user)


def _walk(ks: Keyset, queryset, params=None):
    """Every page from the first, following next; then back from the last, following previous."""
    forward, page = [], ks.page(queryset, params or {})
    pages = [page]
    while True:
        forward.append([row.pk for row in page])
        if not page.has_next:
            break
        page = ks.page(queryset, {**(params or {}), "cursor": page.next_cursor})
        pages.append(page)
    backward = [[row.pk for row in page]]
    while page.has_previous:
        page = ks.page(queryset, {**(params or {}), "cursor": page.previous_cursor})
        backward.append([row.pk for row in page])
    return forward, backward[::-1], pages


def test_next_and_previous_visit_every_row_once_across_ties(user):
    # Seven rows share one time, so ties straddle page edges (pages of 3).
    times = [T0] * 7 + [T0 - dt.timedelta(hours=h) for h in range(1, 6)] + [T0 - dt.timedelta(hours=3)] * 2
    queryset = _notices(user, times)
    expected = list(queryset.order_by("-created_at", "-pk").values_list("pk", flat=True))
    ks = Keyset("t", ("-created_at", "-pk"), per_page=3)
    forward, backward, pages = _walk(ks, queryset)
    assert [pk for page in forward for pk in page] == expected
    assert all(len(page) == 3 for page in forward[:-1]) and len(forward) == 5
    # Back from the last page: the same pages, in the same order.
    assert backward == forward
    assert not pages[0].has_previous and pages[0].previous_cursor is None
    assert pages[-1].has_previous and not pages[-1].has_next and pages[-1].next_cursor is None


def test_an_ascending_keyset_and_a_row_added_between_pages(user, world):
    ent = world["enterprise"]
    for _ in range(7):
        factories.card(enterprise=ent)
    queryset = Card.objects.filter(enterprise=ent)
    ks = Keyset("cards_t", ("iccid",), per_page=3)
    first = ks.page(queryset, {})
    assert [c.iccid for c in first] == sorted(queryset.values_list("iccid", flat=True))[:3]
    # A card that sorts before the cursor is not shown twice, nor does it shift the next page.
    seen = [c.iccid for c in first]
    second = ks.page(queryset, {"cursor": first.next_cursor})
    assert [c.iccid for c in second] == sorted(queryset.values_list("iccid", flat=True))[3:6]
    assert not set(seen) & {c.iccid for c in second}


def test_going_back_to_the_start_shows_a_full_first_page(user):
    queryset = _notices(user, [T0 - dt.timedelta(minutes=m) for m in range(8)])
    ks = Keyset("t", ("-created_at", "-pk"), per_page=3, jump=DateJump())
    # Jump to the third row (a date jump lands mid-list when dates differ; here by cursor of row 2).
    rows = list(queryset.order_by("-created_at", "-pk"))
    mid = ks.page(queryset, {"cursor": ks._encode(ks._keys(Notice), rows[1], "n")})
    assert [r.pk for r in mid] == [r.pk for r in rows[2:5]]
    back = ks.page(queryset, {"cursor": mid.previous_cursor})
    assert [r.pk for r in back] == [r.pk for r in rows[:3]]
    assert not back.has_previous and back.has_next


def test_date_jump_goes_to_the_first_row_at_or_before_the_day(user):
    days = [T0 - dt.timedelta(days=d) for d in (0, 0, 1, 3, 3, 5)]
    queryset = _notices(user, days)
    ks = Keyset("t", ("-created_at", "-pk"), per_page=2, jump=DateJump())
    day = (T0 - dt.timedelta(days=2)).date().isoformat()  # nothing that day: the next older one
    page = ks.page(queryset, {"jump": day})
    assert [timezone.localtime(n.created_at).date() for n in page] == [(T0 - dt.timedelta(days=3)).date()] * 2
    assert page.has_previous and page.has_next and page.jump_value == day
    # Back from a jump: the two rows before it (pages need not line up with the first page's).
    before = ks.page(queryset, {"cursor": page.previous_cursor})
    assert [timezone.localtime(n.created_at).date() for n in before] == [T0.date(), (T0 - dt.timedelta(days=1)).date()]
    # Oldest first, the jump is to the first row at or after the day.
    asc = Keyset("t_asc", ("created_at", "pk"), per_page=2, jump=DateJump())
    first = asc.page(queryset, {"jump": day})
    assert timezone.localtime(first.object_list[0].created_at).date() == (T0 - dt.timedelta(days=1)).date()


def test_text_jump_finds_the_first_key_at_or_after_it(world):
    ent = world["enterprise"]
    for _ in range(6):
        factories.card(enterprise=ent)
    queryset = Card.objects.filter(enterprise=ent)
    iccids = sorted(queryset.values_list("iccid", flat=True))
    ks = Keyset("cards_t", ("iccid",), per_page=2, jump=TextJump())
    page = ks.page(queryset, {"jump": iccids[3]})
    assert [c.iccid for c in page] == iccids[3:5]
    assert page.has_previous and page.has_next
    # The beginning of an ICCID: the first card at or after it.
    start = iccids[3][:-1]
    assert ks.page(queryset, {"jump": start}).object_list[0].iccid == min(i for i in iccids if i >= start)
    # Past the end: an empty page with nowhere to go, not an error.
    assert ks.page(queryset, {"jump": "9" * 20}).object_list == []


@pytest.mark.parametrize("jump", ["2026-13-01", "yesterday", "2026-11-01T00:00:00", "x" * 5000])
def test_a_bad_date_jump_is_a_validation_error(user, jump):
    ks = Keyset("t", ("-created_at", "-pk"), jump=DateJump())
    with pytest.raises(ValidationFailed) as caught:
        ks.page(Notice.objects.filter(recipient=user), {"jump": jump})
    assert caught.value.code == "invalid_jump"


@pytest.mark.parametrize("jump", ["8986' OR 1=1", "8" * 21, "８９８６"])
def test_a_bad_text_jump_is_a_validation_error(world, jump):
    ks = Keyset("cards_t", ("iccid",), jump=TextJump())
    with pytest.raises(ValidationFailed):
        ks.page(Card.objects.all(), {"jump": jump})


def test_a_cursor_cannot_be_forged_edited_or_carried_to_another_list(user):
    queryset = _notices(user, [T0 - dt.timedelta(minutes=m) for m in range(5)])
    ks = Keyset("t", ("-created_at", "-pk"), per_page=2)
    token = ks.page(queryset, {}).next_cursor
    assert token and "recipient" not in signing.loads(token, salt=ks.salt).__repr__()
    forged = signing.dumps({"d": "n", "k": ["2030-01-01T00:00:00+00:00", 1]}, salt="another")
    unsigned_payload = token.split(":")[0]
    edited = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    other_list = Keyset("other", ("-created_at", "-pk"), per_page=2)
    wrong_shape = signing.dumps({"d": "n", "k": ["2030-01-01"]}, salt=ks.salt)
    wrong_value = signing.dumps({"d": "n", "k": ["not a time", 1]}, salt=ks.salt)
    wrong_direction = signing.dumps({"d": "x", "k": ["2030-01-01T00:00:00+00:00", 1]}, salt=ks.salt)
    for bad in (forged, unsigned_payload, edited, "x" * 5000, "\x00", wrong_shape, wrong_value, wrong_direction):
        with pytest.raises(ValidationFailed) as caught:
            ks.page(queryset, {"cursor": bad})
        assert caught.value.code == "invalid_cursor"
    with pytest.raises(ValidationFailed):
        other_list.page(queryset, {"cursor": token})


def test_a_keyset_must_end_in_a_unique_non_null_column():
    with pytest.raises(Exception, match="unique"):
        Keyset("t", ("-created_at",)).page(Notice.objects.all(), {})
    with pytest.raises(Exception, match="non-null"):
        Keyset("t", ("-read_at", "-pk")).page(Notice.objects.all(), {})


def test_a_page_costs_the_same_queries_wherever_it_is(user):
    queryset = _notices(user, [T0 - dt.timedelta(minutes=m) for m in range(40)])
    ks = Keyset("t", ("-created_at", "-pk"), per_page=5)
    first = ks.page(queryset, {})
    with CaptureQueriesContext(connection) as first_queries:
        ks.page(queryset, {})
    page = first
    for _ in range(5):
        page = ks.page(queryset, {"cursor": page.next_cursor})
    with CaptureQueriesContext(connection) as far:
        ks.page(queryset, {"cursor": page.next_cursor})
    assert len(first_queries) == 1  # the first page knows it is first
    assert len(far) == 2  # the page, and one probe for a row before it
    assert all("OFFSET" not in q["sql"].upper() for q in far.captured_queries)


def test_the_old_page_parameter_is_noted_and_ignored(user):
    queryset = _notices(user, [T0 - dt.timedelta(minutes=m) for m in range(5)])
    ks = Keyset("t", ("-created_at", "-pk"), per_page=2)
    page = ks.page(queryset, {"page": "2000"})
    assert page.stale_page
    assert [n.pk for n in page] == list(queryset.order_by("-created_at", "-pk").values_list("pk", flat=True)[:2])


def test_list_count_is_exact_below_the_cap_and_capped_above(user, monkeypatch):
    queryset = _notices(user, [T0] * 6)
    exact = list_count(queryset, cap=10)
    assert (exact.value, exact.exact, exact.estimated) == (6, True, False)
    monkeypatch.setattr(keyset, "COUNT_CAP", 4)
    capped = list_count(queryset)
    assert capped.capped and capped.value >= 4
    if connection.vendor != "postgresql":
        assert not capped.estimated and capped.value == 4


def test_list_count_takes_an_estimate_far_past_the_cap_without_counting(user, monkeypatch):
    """Counting cap + 1 rows grew with the list up to the cap (issue 12 §1.4); where the estimate was past
    twice the cap the count is not run (None), and the list says "about" the estimate."""
    queryset = _notices(user, [T0] * 6)
    monkeypatch.setattr(keyset, "counted_and_estimated", lambda queryset, cap: (None, 9))
    far = list_count(queryset, cap=4)
    assert (far.value, far.exact, far.estimated) == (9, False, True)
    monkeypatch.setattr(keyset, "counted_and_estimated", lambda queryset, cap: (6, 8))
    near = list_count(queryset, cap=10)
    assert (near.value, near.exact) == (6, True)


@pytest.mark.postgres
def test_past_the_cap_postgresql_gives_an_estimate_without_order_by(user):
    queryset = _notices(user, [T0 - dt.timedelta(seconds=s) for s in range(30)]).order_by("-created_at")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_notice")
    with CaptureQueriesContext(connection) as queries:
        count = list_count(queryset, cap=5)
    assert count.estimated and count.value > 5
    # The capped count and the estimate are one statement, so a list past the cap costs the queries of one
    # below it (the scale benchmark compares them at 1,000 and a million cards).
    (statement,) = queries.captured_queries
    assert "realname_count_estimate" in statement["sql"]
    assert "ORDER BY" not in statement["sql"]
    with CaptureQueriesContext(connection) as queries:
        below = list_count(queryset, cap=100)
    assert (below.value, below.exact, below.estimated) == (30, True, False)
    assert len(queries.captured_queries) == 1


@pytest.mark.postgres
def test_the_estimate_plans_a_filtered_query_with_its_values_quoted(user):
    queryset = _notices(user, [T0 - dt.timedelta(seconds=s) for s in range(30)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_notice")
    # A value with a quote in it reaches the planner as a literal, not as SQL.
    count = list_count(queryset.exclude(title="it's'; DROP TABLE accounts_notice; --"), cap=5)
    assert count.estimated and count.value > 5
    assert _notices(user, []).count() == 30
