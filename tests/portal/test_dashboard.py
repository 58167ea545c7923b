"""The compliance dashboard (issue 11 §3): each role's figures in its scope, right on a small world, each
figure equal to the rows of the list it links to, and a query count that does not grow with the data."""

from __future__ import annotations

import copy
import datetime
import re
from unittest import mock
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from approvals.models import ExemptionRequest, RequestStatus
from cards.models import CardImport, CardStatus, ImportStatus
from portal import dashboard
from tests import factories
from tests.approvals import file_for_combo, put_in_review

pytestmark = pytest.mark.django_db

HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)


def make_data(world):
    """Cards of every real-name state in the three enterprises, exemptions, reviews and imports."""
    manager, manager_gd = world["users"]["account_manager"], world["users"]["account_manager_other_province"]
    bj, bj2, gd = world["enterprise"], world["enterprise_same_province"], world["enterprise_other"]
    now = timezone.now()
    with mock.patch("verification.services.enqueue_verification"):
        # Beijing, enterprise 1: two lacking (in stock; at the U5 gate), one not needing it, one bound,
        # one exempted, and one whose exemption is still open (lacking).
        factories.card(enterprise=bj, data="non_directed")
        at_gate = factories.card(enterprise=bj, data="non_directed")
        factories.activate(at_gate, actor=manager)
        factories.card(enterprise=bj)
        bound = factories.card(enterprise=bj, data="non_directed")
        factories.verified_card_user(actor=manager, enterprise=bj, cards=[bound])
        exempted = factories.card(enterprise=bj, data="non_directed")
        factories.exemption(enterprise=bj, cards=[exempted], levels=["province"], submitted_by=manager)
        open_request, _card = file_for_combo(world, "U1")  # one more lacking card, its request submitted
        ExemptionRequest.objects.filter(pk=open_request.pk).update(submitted_at=now - 2 * DAY)
        # A face comparison waiting for review, past the 24 h target.
        review = factories.card_user_registration(
            actor=manager, enterprise=bj, cards=[factories.card(enterprise=bj, data="non_directed")]
        )
        # Each result is recorded at the time it completed (not backdated with .update() afterwards), so that
        # the face-match rates' counters, which the result's service moves, count it in its week.
        with mock.patch("django.utils.timezone.now", return_value=now - 30 * HOUR):
            put_in_review(review)
        # A clear mismatch a week ago (Guangdong, so Beijing's rates leave it out).
        mismatch = factories.card_user_registration(
            actor=manager_gd, enterprise=gd, cards=[factories.card(enterprise=gd, data="non_directed")]
        )
        with mock.patch("django.utils.timezone.now", return_value=now - 7 * DAY):
            factories.face_result(mismatch, "fail", distance=0.8)
        # Beijing, enterprise 2: one lacking.
        factories.card(enterprise=bj2, data="non_directed")
        # Guangdong: two lacking (with the mismatch's card, above), one U3 request (group level).
        factories.card(enterprise=gd, data="non_directed")
        file_for_combo({**world, "enterprise": gd}, "U3", actor=manager_gd)
    # Imports: two today in Beijing, one three days ago in Guangdong.
    for enterprise, age in ((bj, HOUR), (bj, 2 * HOUR), (gd, 3 * DAY)):
        job = CardImport.objects.create(enterprise=enterprise, file_format="csv", status=ImportStatus.SUCCEEDED)
        CardImport.objects.filter(pk=job.pk).update(created_at=now - age)
    return {"now": now}


@pytest.fixture(scope="module")
def module_made(module_data):
    return module_data.build(make_data, module_data.world)


@pytest.fixture
def made(module_made):
    return copy.deepcopy(module_made)


def _context(client, user):
    client.force_login(user)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    return response.context


def _states(context) -> dict[str, int]:
    return {state.state: state.total for state in context["states"]}


def _rows_behind(client, href: str) -> int:
    """The number of rows the list at `href` shows (its exact count: these lists are far below the cap)."""
    response = client.get(href)
    assert response.status_code == 200, href
    count = response.context["count"]
    assert count.exact, href
    return count.value


def test_the_card_figures_are_right_for_an_account_manager(client, world, made):
    context = _context(client, world["users"]["account_manager"])
    # Beijing: 3 + 1 lacking (the open request's card, the review's card), bound and exempted cover.
    assert _states(context) == {"lacking": 5, "covered": 2, "not_required": 1}
    by_status = {f.key: f.count for state in context["states"] if state.state == "lacking" for f in state.by_status}
    assert by_status[CardStatus.AWAITING_REALNAME] == 1 and by_status[CardStatus.IN_STOCK] == 4
    assert [(f.label, f.count) for f in context["by_enterprise"]] == [
        (world["enterprise"].name, 4),
        (world["enterprise_same_province"].name, 1),
    ]
    assert not context["sections"].by_province  # one province: no province chart


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("enterprise_admin", {"lacking": 4, "covered": 2, "not_required": 1}),
        ("enterprise_admin_other_enterprise", {"lacking": 1, "covered": 0, "not_required": 0}),
        ("provincial_approver", {"lacking": 5, "covered": 2, "not_required": 1}),
        ("provincial_approver_other_province", {"lacking": 3, "covered": 0, "not_required": 0}),
        ("account_manager_other_province", {"lacking": 3, "covered": 0, "not_required": 0}),
        ("group_approver", {"lacking": 8, "covered": 2, "not_required": 1}),
        ("ops", {"lacking": 8, "covered": 2, "not_required": 1}),
    ],
)
def test_each_role_counts_only_its_scope(client, world, made, role, expected):
    context = _context(client, world["users"][role])
    assert _states(context) == expected
    names = {f.label for f in context.get("by_enterprise", [])}
    if role.startswith("enterprise_admin"):
        assert "by_enterprise" not in context  # their own enterprise only: nothing to compare
    elif role.endswith("other_province"):
        assert names == {world["enterprise_other"].name}
    elif role == "provincial_approver":
        assert world["enterprise_other"].name not in names


def test_a_nationwide_viewer_sees_lacking_cards_by_province(client, world, made):
    context = _context(client, world["users"]["group_approver"])
    assert [(f.label, f.count) for f in context["by_province"]] == [("北京市", 5), ("广东省", 3)]


def test_an_enterprise_admin_never_sees_another_enterprise_s_numbers(client, world, made):
    admin = world["users"]["enterprise_admin_other_enterprise"]
    client.force_login(admin)
    html = client.get(reverse("dashboard")).content.decode()
    assert world["enterprise"].name not in html and world["enterprise_other"].name not in html
    context = _context(client, admin)
    assert sum(f.count for f in context["imports"]) == 0  # the imports were Beijing 1's and Guangdong's
    assert all(f.count == 0 for _rule, figures in context["exemptions_by_rule"] for f in figures)


def test_exemptions_reviews_and_imports_are_counted_in_scope(client, world, made):
    context = _context(client, world["users"]["provincial_approver"])
    by_rule = {rule: {f.key: f.count for f in figures} for rule, figures in context["exemptions_by_rule"]}
    # The provincial approver's desk: the U1 request of Beijing; the U3 one is Guangdong's and the group's.
    assert by_rule["U1"][RequestStatus.SUBMITTED] == 1 and sum(by_rule["U3"].values()) == 0
    assert {f.key: f.count for f in context["exemptions_by_age"]}["1-3d"] == 1
    assert {f.key: f.count for f in context["reviews"]} == {"early": 0, "due": 0, "late": 1, "very_late": 0}
    assert (context["reviews_waiting"], context["reviews_late"]) == (1, 1)
    assert sum(f.count for f in context["imports"]) == 2
    group = _context(client, world["users"]["group_approver"])
    assert not group["sections"].reviews
    assert {rule: sum(f.count for f in figures) for rule, figures in group["exemptions_by_rule"]} == {"U1": 0, "U3": 1}
    assert sum(f.count for f in group["imports"]) == 3


def test_face_rates_by_week(client, world, made):
    weeks = _context(client, world["users"]["account_manager"])["weeks"]
    assert len(weeks) == dashboard.WEEKS
    # The borderline review completed 30 h ago: this week, unless this week began less than 30 h ago (a
    # Monday morning in the portal's time zone), when it is last week's.
    today = timezone.localdate(made["now"])
    review_this_week = timezone.localdate(made["now"] - 30 * HOUR) >= today - datetime.timedelta(days=today.weekday())
    # Beijing: two matches this week (the handler of the new installation, the bound card user) and the
    # borderline review; nothing before.
    if review_this_week:
        assert weeks[-1]["total"] == 3 and weeks[-1]["rates"] == [66.7, 33.3, 0.0]
        assert all(week["rates"] == [None, None, None] for week in weeks[:-1])
    else:
        assert weeks[-1]["total"] == 2 and weeks[-1]["rates"] == [100.0, 0.0, 0.0]
        assert weeks[-2]["total"] == 1 and weeks[-2]["rates"] == [0.0, 100.0, 0.0]
        assert all(week["rates"] == [None, None, None] for week in weeks[:-2])
    nationwide = _context(client, world["users"]["ops"])["weeks"]
    # Last week nationwide: the Guangdong mismatch of 7 days ago (and the review, on a Monday morning).
    expected = (1, [0.0, 0.0, 100.0]) if review_this_week else (2, [0.0, 50.0, 50.0])
    assert (nationwide[-2]["total"], nationwide[-2]["rates"]) == expected


def _figures(context):
    """Every linked figure of the dashboard (the "other enterprises" one links to all lacking cards)."""
    for state in context["states"]:
        yield state.label, state.total, state.href
        for figure in state.by_status:
            yield figure.label, figure.count, figure.href
    for key in ("by_enterprise", "by_province", "exemptions_by_age", "reviews", "imports"):
        for figure in context.get(key, []):
            if figure.key != "others":
                yield figure.label, figure.count, figure.href
    for _rule, figures in context["exemptions_by_rule"]:
        for figure in figures:
            yield figure.label, figure.count, figure.href


ROLES = ["account_manager", "enterprise_admin", "provincial_approver", "group_approver", "ops"]


@pytest.mark.parametrize("role", ROLES)
def test_every_figure_is_the_number_of_rows_of_the_list_it_links_to(client, world, made, role):
    context = _context(client, world["users"][role])
    checked = 0
    for label, count, href in _figures(context):
        if count or checked % 4 == 0:  # every non-zero figure, and some zero ones
            assert _rows_behind(client, href) == count, (label, href)
        checked += 1
    assert checked > 20


def test_the_charts_link_every_bar_to_its_list(client, world, made):
    client.force_login(world["users"]["group_approver"])
    html = client.get(reverse("dashboard")).content.decode()
    assert html.count('<svg class="chart"') == 7
    hrefs = set(re.findall(r'<a href="([^"]+)"', html))
    for path in ("/cards/?realname=missing&amp;province=11", "/cards/?realname=covered&amp;status=in_stock"):
        assert path in hrefs, path
    assert any(urlsplit(href).path == reverse("card_imports:list") and "day=" in href for href in hrefs)
    assert 'role="img"' in html and "<desc id=" in html


def test_the_query_count_does_not_grow_with_enterprises_or_cards(client, world, made):
    ops = world["users"]["ops"]
    client.force_login(ops)
    client.get(reverse("dashboard"))  # warm what is cached per process (content types, the session)
    with CaptureQueriesContext(connection) as before:
        assert client.get(reverse("dashboard")).status_code == 200
    manager = world["users"]["account_manager"]
    for _index in range(dashboard.TOP_ENTERPRISES + 2):
        enterprise = factories.enterprise(actor=manager)
        factories.card(enterprise=enterprise, data="non_directed")
        factories.card(enterprise=enterprise)
    with CaptureQueriesContext(connection) as after:
        response = client.get(reverse("dashboard"))
    assert len(after) == len(before) <= 15, [q["sql"][:120] for q in after.captured_queries]
    others = response.context["by_enterprise"][-1]
    # 15 enterprises lack real-name somewhere (the world's three and twelve new ones): the ten largest, then 5.
    assert others.key == "others" and others.count == 5 and len(response.context["by_enterprise"]) == 11


def test_the_lists_refuse_bad_filter_values_without_a_500(client, world, made):
    client.force_login(world["users"]["group_approver"])
    for url in (
        f"{reverse('cards:list')}?realname=bogus",
        f"{reverse('cards:list')}?province=99",
        f"{reverse('card_imports:list')}?day=2026-13-45",
        f"{reverse('approvals:my_requests')}?age=forever&rule=U9",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
    assert client.get(f"{reverse('card_imports:list')}?day=yesterday").context["count"].value == 0
    assert client.get(f"{reverse('cards:list')}?province=99").context["form"].errors
    # An approver's exemption list is their desk (any status); an unknown rule or age filters nothing.
    assert client.get(f"{reverse('approvals:my_requests')}?age=x&rule=x").context["count"].value == 1
    client.force_login(world["users"]["provincial_approver"])
    assert client.get(f"{reverse('approvals:review_queue')}?age=bogus").context["count"].value == 1


def test_an_account_manager_has_no_province_filter_but_the_home_page_links_the_dashboard(client, world):
    client.force_login(world["users"]["account_manager"])
    assert "province" not in client.get(reverse("cards:list")).context["form"].fields
    assert f'href="{reverse("dashboard")}"' in client.get(reverse("home")).content.decode()
