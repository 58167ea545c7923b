"""The approver's queue (approvals.views.queue): each of its lists keyset-paged oldest first, the search and
the list kept across pages, counts capped, and queries that do not grow with the rows (issue 12 §1.4)."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from approvals.models import ExemptionRequest
from enterprises.models import ChangeRequest, ChangeTarget
from tests import factories

pytestmark = pytest.mark.django_db

QUEUE = reverse("approvals:queue")


@pytest.fixture
def manager(world):
    return world["users"]["account_manager"]


@pytest.fixture
def approver(client, world):
    client.force_login(world["users"]["provincial_approver"])
    return client


def link(body: str, which: str) -> str | None:
    found = re.search(rf'href="([^"]*)"[^>]*data-page="{which}"', body)
    return html.unescape(found.group(1)) if found else None


def exemption_rows(body: str) -> list[str]:
    return re.findall(r'href="/approvals/exemptions/([0-9a-f-]{36})/"', body)


def change_request_rows(body: str) -> list[str]:
    return re.findall(r'href="/approvals/change-requests/([0-9a-f-]{36})/"', body)


def _exemptions(enterprise, manager, n: int, *, start: dt.datetime | None = None) -> list[ExemptionRequest]:
    """n open requests, filed a minute apart from `start` (oldest first)."""
    start = start or timezone.now() - dt.timedelta(days=10)
    made = []
    for i in range(n):
        request = factories.exemption(
            enterprise=enterprise, cards=[], levels=["province"], submitted_by=manager, status="submitted"
        )
        at = start + dt.timedelta(minutes=i)
        ExemptionRequest.objects.filter(pk=request.pk).update(created_at=at, submitted_at=at)
        made.append(request)
    return made


def _change_requests(manager, n: int) -> list[ChangeRequest]:
    """n open change requests, two a new enterprise (one open request per enterprise and target)."""
    made = []
    while len(made) < n:
        enterprise = factories.enterprise(actor=manager)
        for target in ChangeTarget.values[: n - len(made)]:
            made.append(
                ChangeRequest.objects.create(
                    enterprise=enterprise,
                    target=target,
                    status="submitted",
                    proposed_values_encrypted="{}",
                    submitted_by=manager,
                    submitted_at=timezone.now(),
                )
            )
    return made


def _walk(client, url: str, rows) -> tuple[list[list[str]], list[list[str]]]:
    """The rows of every page following next from `url`, then of every page back following previous."""
    body = client.get(url).content.decode()
    forward = [rows(body)]
    while following := link(body, "next"):
        body = client.get(QUEUE + following).content.decode()
        forward.append(rows(body))
    backward = [rows(body)]
    while preceding := link(body, "previous"):
        body = client.get(QUEUE + preceding).content.decode()
        backward.append(rows(body))
    return forward, backward[::-1]


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_exemptions_page_oldest_first_and_keep_the_search(approver, world, manager):
    ent = world["enterprise"]
    made = _exemptions(ent, manager, 27)
    _exemptions(world["enterprise_same_province"], manager, 3)  # the search leaves these out
    forward, backward = _walk(approver, QUEUE + "?q=科技", exemption_rows)
    expected = [str(request.public_id) for request in made]
    assert [len(page) for page in forward] == [25, 2]
    assert sum(forward, []) == expected and backward == forward
    assert "?q=" in link(approver.get(QUEUE, {"q": "科技"}).content.decode(), "next")


def test_the_jump_goes_to_the_first_request_of_a_day(approver, world, manager):
    ent = world["enterprise"]
    earlier = _exemptions(ent, manager, 2, start=timezone.now() - dt.timedelta(days=5))
    later = _exemptions(ent, manager, 2, start=timezone.now() - dt.timedelta(days=2))
    day = timezone.localtime(ExemptionRequest.objects.get(pk=later[0].pk).created_at).date().isoformat()
    body = approver.get(QUEUE, {"jump": day}).content.decode()
    assert exemption_rows(body) == [str(request.public_id) for request in later]
    assert str(earlier[0].public_id) not in body


def test_change_requests_are_their_own_paged_list(approver, manager):
    made = _change_requests(manager, 27)
    forward, backward = _walk(approver, QUEUE + "?list=change_requests", change_request_rows)
    assert [len(page) for page in forward] == [25, 2]
    assert sum(forward, []) == [str(request.public_id) for request in made] and backward == forward
    body = approver.get(QUEUE, {"list": "change_requests"}).content.decode()
    assert "list=change_requests" in link(body, "next")
    assert 'data-list="change_requests"' in body and "(27)" in body


def test_the_exports_keep_the_search_but_not_which_list_is_shown(approver, world, manager):
    _exemptions(world["enterprise"], manager, 1)
    body = html.unescape(approver.get(QUEUE, {"list": "change_requests", "q": "科技"}).content.decode())
    exports = re.findall(r'href="(/exports/queue_[a-z_]+/\?[^"]*)"', body)
    assert len(exports) == 4
    assert all("q=" in url and "format=" in url and "list=" not in url for url in exports)


def test_a_cursor_of_one_list_is_refused_by_the_other(approver, world, manager):
    _exemptions(world["enterprise"], manager, 27)
    following = link(approver.get(QUEUE).content.decode(), "next")
    assert approver.get(QUEUE + following + "&list=change_requests").status_code == 400


def test_a_group_approver_has_no_change_request_list(client, world, manager):
    _exemptions(world["enterprise"], manager, 1)
    ExemptionRequest.objects.update(required_levels=["group"])
    client.force_login(world["users"]["group_approver"])
    body = client.get(QUEUE, {"list": "change_requests"}).content.decode()
    assert len(exemption_rows(body)) == 1 and 'data-list="change_requests"' not in body


def test_an_exemption_page_costs_the_same_queries_with_more_rows(approver, world, manager):
    ent = world["enterprise"]
    _exemptions(ent, manager, 2)
    few = _queries(approver, QUEUE)
    _exemptions(ent, manager, 28, start=timezone.now() - dt.timedelta(days=1))
    assert _queries(approver, QUEUE) == few
    # A later page costs one probe more (is there a row before it?).
    following = link(approver.get(QUEUE).content.decode(), "next")
    assert _queries(approver, QUEUE + following) == few + 1


def test_a_change_request_page_costs_the_same_queries_with_more_rows(approver, manager):
    url = QUEUE + "?list=change_requests"
    _change_requests(manager, 2)
    few = _queries(approver, url)
    _change_requests(manager, 28)
    assert _queries(approver, url) == few
