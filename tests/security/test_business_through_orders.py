"""Issue 7 §1.2 / H2: every business on a card goes through an order with its handler.

每次业务办理时系统均需录入经办人信息: a card changes state or services only under an order
that records its handler (and, for the four H3 businesses, the handler's face comparison).
The card transitions refuse to run without their order; the direct card actions of the API
answer with a pointer to the order API; the portal's buttons open the order wizard.
"""

from __future__ import annotations

import inspect
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from cards.inventory import services as card_services
from cards.models import CardEvent, CardStatus, Order
from tests import factories

pytestmark = pytest.mark.django_db

API = "/api/v1"
TRANSITIONS = {
    "card_activate": {},
    "card_suspend": {},
    "card_resume": {},
    "card_cancel": {},
    "card_change_services": {"data": "directed"},
    "card_transfer": {"target_enterprise": None},  # filled in per test
    "card_replace": {"new_iccid": None},
}


@pytest.fixture
def manager(world):
    return world["users"]["account_manager"]


@pytest.fixture
def ent(world):
    return world["enterprise"]


def _kwargs(name, world):
    kwargs = dict(TRANSITIONS[name])
    if name == "card_transfer":
        kwargs["target_enterprise"] = world["enterprise_same_province"]
    if name == "card_replace":
        kwargs["new_iccid"] = factories.iccid()
    return kwargs


@pytest.mark.parametrize("name", sorted(TRANSITIONS))
def test_7_1_2_every_card_transition_requires_its_order_as_a_keyword_without_default(name):
    parameter = inspect.signature(getattr(card_services, name)).parameters.get("order")
    assert parameter is not None and parameter.kind is inspect.Parameter.KEYWORD_ONLY
    assert parameter.default is inspect.Parameter.empty, f"{name}(order=...) has a default"


@pytest.mark.parametrize("name", sorted(TRANSITIONS))
def test_7_1_2_a_card_transition_without_an_order_is_refused_and_changes_nothing(world, manager, ent, name):
    card = factories.card(enterprise=ent) if name == "card_activate" else factories.active_card(enterprise=ent)
    if name == "card_resume":
        factories.suspend(card)
    before = (card.__class__.objects.get(pk=card.pk).status, CardEvent.objects.filter(card=card).count())
    with pytest.raises(Exception) as caught:
        getattr(card_services, name)(actor=manager, card=card, order=None, **_kwargs(name, world))
    assert getattr(caught.value, "code", None) == "order_required", caught.value
    card.refresh_from_db()
    assert (card.status, CardEvent.objects.filter(card=card).count()) == before


def test_7_1_2_a_transition_refuses_an_order_of_another_business_without_the_card_or_already_done(ent, manager):
    card = factories.active_card(enterprise=ent)
    other = factories.active_card(enterprise=ent)
    service_change = factories.change_services(other, data="directed")
    suspension = factories.suspend(other)
    factories.resume(other)
    attempts = [
        (card, suspension),  # the card is not one of the order's cards
        (other, service_change),  # an order of another business
        (other, suspension),  # a completed order does not run again
    ]
    for target, order in attempts:
        with pytest.raises(Exception) as caught:
            card_services.card_suspend(actor=manager, card=target, order=order)
        assert getattr(caught.value, "code", None) == "order_required"
    for target in (card, other):
        target.refresh_from_db()
        assert target.status == CardStatus.ACTIVE


def test_7_1_2_the_order_business_records_the_handler_on_every_card_event(ent, manager):
    card = factories.card(enterprise=ent)
    factories.activate(card, actor=manager)
    factories.suspend(card, actor=manager)
    factories.resume(card, actor=manager)
    factories.change_services(card, actor=manager, data="directed")
    factories.cancel(card, actor=manager)
    events = CardEvent.objects.filter(card=card).exclude(action="created")
    assert [e.action for e in events.order_by("at", "id")] == [
        "activated",
        "suspended",
        "resumed",
        "services_changed",
        "cancelled",
    ]
    for event in events:
        assert event.order is not None and event.order.handler_id is not None, event.action


# --- the API -------------------------------------------------------------------------------

API_ACTIONS = [
    ("activate", "stock", {}, "new_installation", None),
    ("suspend", "active", {}, "suspend_resume", "suspend"),
    ("resume", "suspended", {}, "suspend_resume", "resume"),
    ("cancel", "active", {}, "cancellation", None),
    ("services", "active", {"data": "directed"}, "service_change", None),
]


def _card_in(state, ent):
    if state == "stock":
        return factories.card(enterprise=ent)
    card = factories.active_card(enterprise=ent)
    if state == "suspended":
        factories.suspend(card)
    card.refresh_from_db()
    return card


@pytest.mark.parametrize("action, state, body, business_type, order_action", API_ACTIONS)
def test_7_1_2_direct_card_actions_of_the_api_answer_order_required(
    ent, manager, action, state, body, business_type, order_action
):
    card = _card_in(state, ent)
    events = CardEvent.objects.filter(card=card).count()
    api = APIClient()
    api.force_authenticate(manager)
    response = api.post(f"{API}/cards/{card.iccid}/{action}/", body, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 410, response.content
    payload = response.json()
    assert payload["code"] == "order_required"
    assert "POST /api/v1/orders/" in payload["detail"] and business_type in payload["detail"]
    assert payload["business_type"] == business_type
    assert payload.get("parameters", {}).get("action") == order_action
    assert payload["orders_url"].endswith("/api/v1/orders/")
    card.refresh_from_db()
    assert card.status == state.replace("stock", "in_stock")
    assert CardEvent.objects.filter(card=card).count() == events


def test_7_1_2_the_direct_actions_still_answer_404_for_a_card_out_of_scope(world):
    card = factories.card(enterprise=world["enterprise_other"])
    api = APIClient()
    api.force_authenticate(world["users"]["account_manager"])
    assert api.post(f"{API}/cards/{card.iccid}/activate/").status_code == 404


def test_7_1_2_the_openapi_schema_documents_order_required(db):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    for action in ("activate", "suspend", "resume", "cancel", "services"):
        operation = schema["paths"][f"/api/v1/cards/{{iccid}}/{action}/"]["post"]
        assert operation.get("deprecated") is True, action
        assert "410" in operation["responses"], action
        assert "/api/v1/orders/" in operation["description"], action


# --- the portal ----------------------------------------------------------------------------


def _portal(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _wizard_query(url: str) -> dict:
    parts = urlsplit(url)
    assert parts.path == reverse("orders:new"), url
    return {key: values[0] for key, values in parse_qs(parts.query).items()}


def test_7_1_2_the_card_page_opens_orders_instead_of_changing_the_card(ent, manager):
    card = factories.active_card(enterprise=ent)
    page = _portal(manager).get(reverse("cards:detail", args=[card.iccid])).content.decode()
    # No form posts to a direct card action any more ...
    assert 'method="post" action="{}'.format(reverse("cards:action", args=[card.iccid, "suspend"])) not in page
    assert reverse("cards:services", args=[card.iccid]) not in page
    # ... the buttons are links into the order wizard, pre-filled.
    wizard = reverse("orders:new")
    assert (
        f"{wizard}?business_type=suspend_resume&amp;enterprise={ent.public_id}&amp;cards={card.iccid}&amp;action=suspend"
        in page
    )
    assert f"{wizard}?business_type=service_change&amp;enterprise={ent.public_id}&amp;cards={card.iccid}" in page
    assert f"{wizard}?business_type=cancellation&amp;enterprise={ent.public_id}&amp;cards={card.iccid}" in page


@pytest.mark.parametrize(
    "action, state, business_type, order_action",
    [
        ("activate", "stock", "new_installation", None),
        ("suspend", "active", "suspend_resume", "suspend"),
        ("resume", "suspended", "suspend_resume", "resume"),
        ("cancel", "active", "cancellation", None),
    ],
)
def test_7_1_2_a_stale_post_to_a_card_action_opens_the_order_wizard_and_changes_nothing(
    ent, manager, action, state, business_type, order_action
):
    card = _card_in(state, ent)
    events = CardEvent.objects.filter(card=card).count()
    response = _portal(manager).post(reverse("cards:action", args=[card.iccid, action]))
    assert response.status_code in (302, 303)
    query = _wizard_query(response["Location"])
    assert query["business_type"] == business_type and query["cards"] == card.iccid
    assert query["enterprise"] == str(ent.public_id) and query.get("action") == order_action
    card.refresh_from_db()
    assert card.status == state.replace("stock", "in_stock")
    assert CardEvent.objects.filter(card=card).count() == events


def test_7_1_2_the_services_page_opens_a_service_change_order(ent, manager):
    card = factories.active_card(enterprise=ent)
    client = _portal(manager)
    for response in (
        client.get(reverse("cards:services", args=[card.iccid])),
        client.post(reverse("cards:services", args=[card.iccid]), {"data": "non_directed"}),
    ):
        assert response.status_code in (302, 303)
        assert _wizard_query(response["Location"])["business_type"] == "service_change"
    card.refresh_from_db()
    assert card.data_service == "none"


def test_7_1_2_the_wizard_takes_the_suspend_action_from_the_card_page_link(ent, manager):
    card = factories.active_card(enterprise=ent)
    client = _portal(manager)
    link = (
        f"{reverse('orders:new')}?business_type=suspend_resume&enterprise={ent.public_id}"
        f"&cards={card.iccid}&action=suspend"
    )
    page = client.get(link).content.decode()
    assert card.iccid in page
    response = client.post(
        link,
        {"business_type": "suspend_resume", "enterprise": str(ent.public_id), "cards": card.iccid, "action": "suspend"},
    )
    assert response.status_code == 302
    client.post(
        reverse("orders:new_handler"),
        {"handler_id_type": "resident_id", "handler_id_number": factories.handler_data().id_number},
    )
    page = client.get(reverse("orders:new_details")).content.decode()
    suspend_input = re.search(r'<input[^>]*value="suspend"[^>]*>', page).group(0)
    assert "checked" in suspend_input


# --- U5: a card the order left awaiting its user's real-name --------------------------------


def test_7_1_2_a_card_awaiting_realname_activates_under_its_order_once_its_user_is_verified(ent, manager):
    card = factories.card(enterprise=ent, data="non_directed")
    order = factories.activate(card, actor=manager)
    assert factories.order_line(order, card).outcome == "awaiting_realname"
    card.refresh_from_db()
    assert card.status == CardStatus.AWAITING_REALNAME
    factories.verified_card_user(actor=manager, enterprise=ent, cards=[card])
    card.refresh_from_db()
    assert card.status == CardStatus.ACTIVE
    event = CardEvent.objects.filter(card=card, action="activated").get()
    assert event.order == order and event.data["basis"] == "user_realname_complete"
    line = factories.order_line(order, card)
    assert line.outcome == "activated_after_realname" and line.outcome_detail["status"] == CardStatus.ACTIVE
    assert Order.objects.filter(enterprise=ent).count() == 1  # no second order was needed


def test_7_1_2_a_card_awaiting_realname_activates_under_its_order_once_its_exemption_is_approved(world, ent):
    from approvals.services import exemption_decide
    from tests.approvals import file_request

    manager = world["users"]["account_manager"]
    card = factories.card(enterprise=ent, data="non_directed")
    order = factories.activate(card, actor=manager)
    request = file_request(actor=manager, enterprise=ent, cards=[card], levels=["province"])
    exemption_decide(
        request=request, actor=world["users"]["provincial_approver"], level="province", approve=True, comment="同意"
    )
    card.refresh_from_db()
    assert card.status == CardStatus.ACTIVE
    event = CardEvent.objects.filter(card=card, action="activated").get()
    assert event.order == order and event.data["basis"] == "exemption_approved"


def test_7_1_2_a_verified_user_does_not_activate_a_card_in_stock(ent, manager):
    card = factories.card(enterprise=ent, data="non_directed")
    factories.verified_card_user(actor=manager, enterprise=ent, cards=[card])
    card.refresh_from_db()
    assert card.status == CardStatus.IN_STOCK  # activation is the business of a new-installation order


def test_7_1_2_a_transferred_card_waits_and_returns_to_its_state_under_the_transfer_order(world, ent, manager):
    target = world["enterprise_same_province"]
    card = factories.card(enterprise=ent, data="non_directed")
    factories.verified_card_user(actor=manager, enterprise=ent, cards=[card])
    factories.activate(card, actor=manager)
    transfer = factories.order_done(
        business_type="ownership_transfer",
        cards=card,
        actor=manager,
        parameters={"target_enterprise": str(target.public_id)},
    )
    card.refresh_from_db()
    assert (card.enterprise, card.status) == (target, CardStatus.AWAITING_REALNAME)
    factories.verified_card_user(actor=manager, enterprise=target, cards=[card])
    card.refresh_from_db()
    assert card.status == CardStatus.ACTIVE
    assert CardEvent.objects.filter(card=card, action="activated", order=transfer).exists()
