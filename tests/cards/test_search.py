"""Search on the lists (issue 11 §3): cards by ICCID or MSISDN, orders by number or ICCID, card users by
name or an exact ID number through the blind index, exemption and change requests by number or
enterprise. Scoped as the lists are; an ID number never reaches a URL, a log line or the page."""

from __future__ import annotations

import logging
import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from cards.models import BusinessType, CardUser
from core.search import masked_id_candidates, stash_search, stashed_search
from tests import factories, idgen

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_engine(monkeypatch):
    monkeypatch.setattr("verification.services.enqueue_verification", lambda pk: None)


@pytest.fixture
def manager(world):
    return world["users"]["account_manager"]


@pytest.fixture
def am(client, manager):
    client.force_login(manager)
    return client


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def listed_iccids(response) -> list[str]:
    return re.findall(r'class="mono"><a href="/cards/(\d+)/"', response.content.decode())


# --- cards ---------------------------------------------------------------------------


def test_card_search_matches_a_whole_iccid_or_msisdn_exactly_and_fewer_digits_as_a_prefix(am, world):
    ent = world["enterprise"]
    first = factories.card(enterprise=ent)
    second = factories.card(enterprise=ent)
    url = reverse("cards:list")
    assert listed_iccids(am.get(url, {"q": first.iccid})) == [first.iccid]
    assert listed_iccids(am.get(url, {"q": second.msisdn})) == [second.iccid]
    # Spaces and dashes as pasted are dropped.
    spaced = " ".join(first.iccid[i : i + 4] for i in range(0, len(first.iccid), 4))
    assert listed_iccids(am.get(url, {"q": spaced})) == [first.iccid]
    prefix = first.iccid[:8]
    assert set(listed_iccids(am.get(url, {"q": prefix}))) >= {first.iccid, second.iccid}
    assert second.iccid in listed_iccids(am.get(url, {"q": second.msisdn[:-1]}))
    full_width = first.iccid.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})
    assert listed_iccids(am.get(url, {"q": full_width})) == [first.iccid]


def test_card_search_stays_in_scope(am, world):
    other = factories.card(enterprise=world["enterprise_other"])
    response = am.get(reverse("cards:list"), {"q": other.iccid})
    assert response.status_code == 200
    assert listed_iccids(response) == []
    assert f"/cards/{other.iccid}/" not in response.content.decode()


@pytest.mark.parametrize("value", ["abc", "8986'--", "1" * 25, "٣٤٥"])
def test_a_card_search_that_is_not_digits_is_a_form_error_not_a_500(am, value):
    response = am.get(reverse("cards:list"), {"q": value})
    assert response.status_code == 200
    assert "field--error" in response.content.decode()
    assert listed_iccids(response) == []


def test_card_api_search(manager, world):
    ent = world["enterprise"]
    card = factories.card(enterprise=ent)
    factories.card(enterprise=ent)
    other = factories.card(enterprise=world["enterprise_other"])
    api = api_for(manager)
    found = api.get("/api/v1/cards/", {"search": card.msisdn}).json()["results"]
    assert [row["iccid"] for row in found] == [card.iccid]
    assert api.get("/api/v1/cards/", {"search": other.iccid}).json()["results"] == []
    refused = api.get("/api/v1/cards/", {"search": "x1"})
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid_card_search"


# --- orders --------------------------------------------------------------------------


def test_order_search_by_number_or_card_iccid_in_scope(am, manager, world):
    ent = world["enterprise"]
    card = factories.active_card(enterprise=ent)
    order = factories.suspend([card])
    other_card = factories.active_card(enterprise=world["enterprise_other"])
    other_order = factories.suspend([other_card])
    url = reverse("orders:list")

    def numbers(params) -> set[str]:
        page = am.get(url, params).content.decode()
        return set(re.findall(r'/orders/[0-9a-f-]{36}/">(ORD[0-9A-Z]+)<', page))

    assert numbers({"q": order.number}) == {order.number}
    assert numbers({"q": order.number.lower()}) == {order.number}
    assert order.number in numbers({"q": card.iccid})
    assert numbers({"q": card.iccid[:-3]}) >= {order.number}
    assert other_order.number not in numbers({"q": other_order.number})
    assert other_order.number not in numbers({"q": other_card.iccid})
    rows = api_for(manager).get("/api/v1/orders/", {"search": card.iccid}).json()["results"]
    assert order.number in {row["number"] for row in rows}
    assert api_for(manager).get("/api/v1/orders/", {"search": other_order.number}).json()["results"] == []
    assert BusinessType.SUSPEND_RESUME == order.business_type


# --- card users ----------------------------------------------------------------------


@pytest.fixture
def registered(world, manager):
    ent = world["enterprise"]
    number = idgen.resident_id()
    wang = factories.card_user_registration(
        actor=manager, enterprise=ent, cards=[factories.card(enterprise=ent)], name="王芳", id_number=number
    ).card_user
    li = factories.card_user_registration(
        actor=manager, enterprise=ent, cards=[factories.card(enterprise=ent)], name="李四"
    ).card_user
    other_manager = world["users"]["account_manager_other_province"]
    other = factories.card_user_registration(
        actor=other_manager,
        enterprise=world["enterprise_other"],
        cards=[factories.card(enterprise=world["enterprise_other"])],
        name="王芳",
        id_number=number,
    ).card_user
    return {"number": number, "wang": wang, "li": li, "other": other}


def listed_card_users(response) -> list[str]:
    return re.findall('href="/cards/card-users/([0-9a-f-]{36})/"', response.content.decode())


def test_card_user_search_by_name_is_a_get(am, registered):
    response = am.get(reverse("cards:card_user_list"), {"q": "王"})
    assert listed_card_users(response) == [str(registered["wang"].public_id)]


def test_card_user_search_by_id_number_posts_and_never_shows_the_number(am, registered, caplog):
    number = registered["number"]
    url = reverse("cards:card_user_list")
    caplog.set_level(logging.DEBUG)
    posted = am.post(url, {"q": number})
    assert posted.status_code == 302
    location = posted["Location"]
    assert number not in location
    assert re.fullmatch(r"/cards/card-users/\?s=[A-Za-z0-9_-]+", location)
    page = am.get(location)
    body = page.content.decode()
    # The exact match through the blind index, and only in scope (not the other province's 王芳).
    assert listed_card_users(page) == [str(registered["wang"].public_id)]
    assert number not in body
    assert number[:6] + "********" + number[-4:] in body  # shown back masked
    # Pagination links keep the token, not the number.
    assert number not in page2_links(body)
    assert all(number not in record.getMessage() for record in caplog.records)
    # Spaces around it, as pasted, find the same person.
    assert listed_card_users(am.get(am.post(url, {"q": f" {number} "})["Location"])) == [
        str(registered["wang"].public_id)
    ]


def page2_links(body: str) -> str:
    return " ".join(re.findall(r'href="([^"]*)"', body))


def test_an_id_number_in_the_query_string_is_not_searched(am, registered):
    response = am.get(reverse("cards:card_user_list"), {"q": registered["number"]})
    assert response.status_code == 302
    assert response["Location"] == reverse("cards:card_user_list")
    page = am.get(response["Location"])
    # The whole list, unsearched; and nothing echoes the number.
    assert len(listed_card_users(page)) == 2
    assert registered["number"] not in page.content.decode()


def test_a_search_token_is_of_this_session_only_and_expires(am, client, registered, world, monkeypatch):
    location = am.post(reverse("cards:card_user_list"), {"q": registered["number"]})["Location"]
    stranger = type(client)()
    stranger.force_login(world["users"]["account_manager"])
    response = stranger.get(location)
    assert "That search has expired" in response.content.decode()
    assert listed_card_users(response) == []  # an unknown token searches nothing, it does not list all

    class FakeRequest:
        session: dict = {}

    request = FakeRequest()
    token = stash_search(request, "x")  # type: ignore[arg-type]
    assert stashed_search(request, token) == "x"  # type: ignore[arg-type]
    monkeypatch.setattr("core.search.time.time", lambda: 10**12)
    assert stashed_search(request, token) is None  # type: ignore[arg-type]


def test_card_user_api_search_by_name_and_refuses_an_id_number(manager, registered):
    api = api_for(manager)
    rows = api.get("/api/v1/card-users/", {"search": "李"}).json()["results"]
    assert [row["public_id"] for row in rows] == [str(registered["li"].public_id)]
    refused = api.get("/api/v1/card-users/", {"search": registered["number"]})
    assert refused.status_code == 400
    assert refused.json()["code"] == "id_number_in_url"
    assert registered["number"] not in refused.content.decode()


# --- exemption and change requests ------------------------------------------------------


def test_exemption_search_by_enterprise_or_number(client, world):
    manager = world["users"]["account_manager"]
    ent, ent2 = world["enterprise"], world["enterprise_same_province"]
    first = factories.exemption(
        enterprise=ent, cards=[factories.card(enterprise=ent)], levels=["province"], submitted_by=manager
    )
    second = factories.exemption(
        enterprise=ent2, cards=[factories.card(enterprise=ent2)], levels=["province"], submitted_by=manager
    )
    client.force_login(manager)
    url = reverse("approvals:my_requests")

    def found(q) -> set[str]:
        return set(re.findall(r"/approvals/exemptions/([0-9a-f-]{36})/", client.get(url, {"q": q}).content.decode()))

    assert found("第二") == {str(second.public_id)}
    assert found(str(first.public_id)) == {str(first.public_id)}
    assert found("no such enterprise") == set()


def test_approver_queue_search(client, world):
    manager = world["users"]["account_manager"]
    ent, ent2 = world["enterprise"], world["enterprise_same_province"]
    first = factories.exemption(
        enterprise=ent,
        cards=[factories.card(enterprise=ent)],
        levels=["province"],
        submitted_by=manager,
        status="submitted",
    )
    second = factories.exemption(
        enterprise=ent2,
        cards=[factories.card(enterprise=ent2)],
        levels=["province"],
        submitted_by=manager,
        status="submitted",
    )
    client.force_login(world["users"]["provincial_approver"])
    url = reverse("approvals:queue")
    page = client.get(url, {"q": "第二"}).content.decode()
    assert str(second.public_id) in page
    assert str(first.public_id) not in page
    assert 'value="第二"' in page


# --- pagination ------------------------------------------------------------------------


def test_pages_have_counts_and_links_and_a_jump_that_keep_the_filters(am, world):
    ent = world["enterprise"]
    cards = [factories.card(enterprise=ent) for _ in range(27)]
    prefix = cards[0].iccid[:10]
    response = am.get(reverse("cards:list"), {"q": prefix, "status": ""})
    body = response.content.decode()
    matching = sorted(card.iccid for card in cards if card.iccid.startswith(prefix))
    assert f"{len(matching)} cards match" in body
    assert "Page 2 of 2" not in body  # pages are not numbered
    following = re.search(r'href="([^"]*)"[^>]*data-page="next"', body).group(1)
    assert f"q={prefix}" in following and "cursor=" in following
    jump = re.search(r'<form method="get" class="pagination__jump">(.*?)</form>', body, re.S).group(1)
    assert f'<input type="hidden" name="q" value="{prefix}">' in jump
    assert 'name="jump"' in jump and 'type="hidden" name="jump"' not in jump
    assert 'name="cursor"' not in jump
    # The jump goes to the first card at or after the ICCID typed, within the search.
    landed = am.get(reverse("cards:list"), {"q": prefix, "jump": matching[5]}).content.decode()
    assert re.findall(r'href="/cards/(\d+)/"', landed)[0] == matching[5]
    assert 'data-page="previous"' in landed
    # A stale numbered link gets the first page and a note, never a wrong page.
    stale = am.get(reverse("cards:list"), {"q": prefix, "page": "999"}).content.decode()
    assert "Pages are no longer numbered" in stale
    assert re.findall(r'href="/cards/(\d+)/"', stale)[0] == matching[0]


def test_the_card_user_page_jump_carries_the_token_not_the_number(am, manager, world):
    ent = world["enterprise"]
    number = idgen.resident_id()
    for _ in range(26):
        factories.card_user_registration(
            actor=manager, enterprise=ent, cards=[factories.card(enterprise=ent)], id_number=idgen.resident_id()
        )
    factories.card_user_registration(
        actor=manager, enterprise=ent, cards=[factories.card(enterprise=ent)], name="张三", id_number=number
    )
    page = am.get(reverse("cards:card_user_list")).content.decode()
    assert "27 card users match" in page
    assert 'data-page="next"' in page
    # A search's pages carry its token (the 26 others are all 李四), never what was searched.
    location = am.post(reverse("cards:card_user_list"), {"q": "李四"})["Location"]
    searched = am.get(location).content.decode()
    token = location.split("s=")[1]
    assert f'<input type="hidden" name="s" value="{token}">' in searched
    following = re.search(r'href="([^"]*)"[^>]*data-page="next"', searched).group(1)
    assert f"s={token}" in following and "q=" not in following
    location = am.post(reverse("cards:card_user_list"), {"q": number})["Location"]
    searched = am.get(location).content.decode()
    assert "1 card user matches" in searched
    assert number not in searched


def test_order_and_exemption_lists_show_their_counts(am, manager, world):
    ent = world["enterprise"]
    factories.suspend([factories.active_card(enterprise=ent)])
    assert "1 order matches" in am.get(reverse("orders:list"), {"business_type": "suspend_resume"}).content.decode()
    factories.exemption(
        enterprise=ent, cards=[factories.card(enterprise=ent)], levels=["province"], submitted_by=manager
    )
    assert "1 request matches" in am.get(reverse("approvals:my_requests")).content.decode()


@pytest.mark.parametrize("value", ["\x00", "王\x00芳", "ORD\x00", "%_", "' OR 1=1 --", "x" * 5000])
def test_odd_searches_answer_without_a_server_error(am, manager, value):
    client = api_for(manager)
    assert am.get(reverse("orders:list"), {"q": value}).status_code == 200
    assert am.get(reverse("cards:card_user_list"), {"q": value}).status_code == 200
    assert am.get(reverse("approvals:my_requests"), {"q": value}).status_code == 200
    assert am.get(reverse("cards:list"), {"q": value}).status_code == 200
    # The API's own field checks may refuse a NUL or a very long search (400); never a 500.
    assert client.get("/api/v1/orders/", {"search": value}).status_code in (200, 400)
    assert client.get("/api/v1/card-users/", {"search": value}).status_code in (200, 400)
    assert client.get("/api/v1/cards/", {"search": value}).status_code == 400
    assert am.post(reverse("cards:card_user_list"), {"q": value}).status_code == 302
    assert am.get(reverse("exports:list", args=["orders"]), {"format": "csv", "q": value}).status_code == 200


def test_card_user_search_by_the_masked_number_as_shown(am, registered):
    number = registered["number"]
    masked = CardUser.objects.get(pk=registered["wang"].pk).id_number_masked
    assert masked == number[:6] + "*" * 8 + number[-4:]
    # The hidden birth date leaves some four thousand numbers to match through the blind index, not every
    # number of the area (a bound on the work, instead of a timing that a busy machine fails).
    assert 3_000 < len(masked_id_candidates(masked)) < 5_000
    response = am.get(reverse("cards:card_user_list"), {"q": masked})
    # In scope only: the other province's registration of the same number is not found.
    assert listed_card_users(response) == [str(registered["wang"].public_id)]
    assert number not in response.content.decode()
    # Another sequence number finds no one.
    other = number[:6] + "*" * 8 + ("000" if number[-4:-1] != "000" else "001") + number[-1]
    assert listed_card_users(am.get(reverse("cards:card_user_list"), {"q": other})) == []


def test_exemption_api_search(manager, world):
    ent, ent2 = world["enterprise"], world["enterprise_same_province"]
    first = factories.exemption(
        enterprise=ent, cards=[factories.card(enterprise=ent)], levels=["province"], submitted_by=manager
    )
    second = factories.exemption(
        enterprise=ent2, cards=[factories.card(enterprise=ent2)], levels=["province"], submitted_by=manager
    )
    api = api_for(manager)
    found = api.get("/api/v1/exemptions/", {"search": "第二"}).json()["results"]
    assert [row["public_id"] for row in found] == [str(second.public_id)]
    found = api.get("/api/v1/exemptions/", {"search": str(first.public_id)}).json()["results"]
    assert [row["public_id"] for row in found] == [str(first.public_id)]
