"""Each role's start page shows its everyday tasks and the work waiting in its scope."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests import factories
from tests.approvals import file_for_combo, put_in_review

pytestmark = pytest.mark.django_db


def _home(client, user):
    client.force_login(user)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    return response


def test_home_counts_the_work_waiting_in_each_scope(client, world, no_engine):
    manager = world["users"]["account_manager"]
    file_for_combo(world, "U1")  # a provincial exemption, Beijing
    waiting = factories.card(enterprise=world["enterprise"], data="non_directed")
    factories.activate(waiting, actor=manager)  # a new installation: the card awaits its user's real-name (U5)
    verification = factories.card_user_registration(
        actor=manager, enterprise=world["enterprise"], cards=[factories.card(enterprise=world["enterprise"])]
    )
    put_in_review(verification)

    context = _home(client, manager).context
    # The U1 card in stock (its exemption is not yet approved) and the one at the U5 gate.
    assert (context["lacking_realname"], context["open_exemptions"], context["orders_waiting"]) == (2, 1, 0)
    other = _home(client, world["users"]["account_manager_other_province"]).context
    assert (other["lacking_realname"], other["open_exemptions"]) == (0, 0)

    approver = _home(client, world["users"]["provincial_approver"])
    assert (approver.context["pending_exemptions"], approver.context["pending_reviews"]) == (1, 1)
    html = approver.content.decode()
    assert f'href="{reverse("approvals:review_queue")}"' in html and f'href="{reverse("approvals:queue")}"' in html
    far = _home(client, world["users"]["provincial_approver_other_province"]).context
    assert (far["pending_exemptions"], far["pending_reviews"]) == (0, 0)
    group = _home(client, world["users"]["group_approver"]).context
    assert (group["pending_exemptions"], group["pending_reviews"]) == (0, 0)  # U1 needs the province only


@pytest.mark.parametrize("role", ["account_manager", "enterprise_admin"])
def test_home_offers_the_card_tasks(client, world, role):
    html = _home(client, world["users"][role]).content.decode()
    for url in (
        reverse("orders:new"),
        reverse("cards:card_user_create"),
        reverse("card_imports:new"),
        reverse("approvals:my_requests"),
        f"{reverse('cards:list')}?realname=missing",
    ):
        assert f'href="{url}"' in html, url


def test_issue11_the_real_name_tile_counts_what_it_says_and_links_to_those_cards(client, world, no_engine):
    """Cards that need their user's real-name and lack it: in stock or at the U5 gate, not bound,
    not exempted; the tile's count is the length of the list it links to."""
    manager = world["users"]["account_manager"]
    enterprise = world["enterprise"]
    in_stock = factories.card(enterprise=enterprise, data="non_directed")  # will need it (U1)
    at_gate = factories.card(enterprise=enterprise, data="non_directed")
    factories.activate(at_gate, actor=manager)
    factories.card(enterprise=enterprise)  # needs no real-name
    bound = factories.card(enterprise=enterprise, data="non_directed")
    factories.verified_card_user(actor=manager, enterprise=enterprise, cards=[bound])
    exempted = factories.card(enterprise=enterprise, data="non_directed")
    factories.exemption(enterprise=enterprise, cards=[exempted], levels=["province"], submitted_by=manager)
    pending = factories.card(enterprise=enterprise, data="non_directed")
    factories.exemption(
        enterprise=enterprise, cards=[pending], levels=["province"], submitted_by=manager, status="submitted"
    )
    factories.card(enterprise=world["enterprise_other"], data="non_directed")  # out of scope

    response = _home(client, manager)
    assert response.context["lacking_realname"] == 3
    html = response.content.decode()
    assert f'href="{reverse("cards:list")}?realname=missing"' in html
    listed = client.get(reverse("cards:list"), {"realname": "missing"})
    assert listed.status_code == 200
    assert {card.iccid for card in listed.context["cards"]} == {in_stock.iccid, at_gate.iccid, pending.iccid}


@pytest.mark.zh
def test_issue11_the_real_name_tile_speaks_chinese(client, world):
    html = _home(client, world["users"]["account_manager"]).content.decode()
    assert "需要使用人实名但尚未实名（U5），含库存卡和待实名卡。" in html
