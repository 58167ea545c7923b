"""The card picker (issue 11 §2): its JSON endpoint is scoped to the one enterprise the user may act on for
the form, filters by search, status and the rule that fires, pages by keyset, and "select all that match"
is resolved on the server under the same scope and the form's own limit."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cards.inventory import picker
from cards.models import CardStatus
from tests import factories

pytestmark = pytest.mark.django_db

URL = reverse("cards:picker")


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


def ask(client, enterprise, **params):
    params.setdefault("purpose", "order")
    response = client.get(URL, {"enterprise": str(enterprise.public_id), **params})
    return response.status_code, response.json()


def iccids(body) -> list[str]:
    return [row["iccid"] for row in body["results"]]


def test_picker_lists_only_the_enterprises_own_cards_in_iccid_order(am, world):
    own = [factories.card(enterprise=world["enterprise"]) for _ in range(3)]
    factories.card(enterprise=world["enterprise_same_province"])  # visible to the manager, another enterprise
    status, body = ask(am, world["enterprise"])
    assert status == 200
    assert iccids(body) == sorted(c.iccid for c in own)
    assert body["matching"] == 3 and body["more_than_limit"] is False and body["next"] == ""
    assert body["results"][0]["status"] == CardStatus.IN_STOCK


def test_another_provinces_enterprise_is_not_found_as_an_unknown_one_is(am, world):
    factories.card(enterprise=world["enterprise_other"])
    status, body = ask(am, world["enterprise_other"])
    assert status == 404 and body["code"] == "unknown_enterprise" and "results" not in body
    unknown = am.get(URL, {"purpose": "order", "enterprise": "00000000-0000-0000-0000-000000000000"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_enterprise"


def test_an_enterprise_admin_cannot_pick_another_enterprises_cards(client, world):
    factories.card(enterprise=world["enterprise_same_province"])
    client.force_login(world["users"]["enterprise_admin"])
    status, body = ask(client, world["enterprise_same_province"])
    assert status == 404 and "results" not in body


def test_a_role_without_the_forms_capability_gets_no_cards(client, world):
    """A provincial approver sees the enterprise's cards but files no orders: the picker offers none."""
    factories.card(enterprise=world["enterprise"])
    client.force_login(world["users"]["provincial_approver"])
    status, _body = ask(client, world["enterprise"])
    assert status == 404


def test_anonymous_is_sent_to_log_in(client, world):
    response = client.get(URL, {"purpose": "order", "enterprise": str(world["enterprise"].public_id)})
    assert response.status_code == 302 and "/login" in response["Location"]


def test_search_by_iccid_or_number_prefix(am, world):
    cards = [factories.card(enterprise=world["enterprise"]) for _ in range(3)]
    target = cards[1]
    _status, body = ask(am, world["enterprise"], q=target.iccid)
    assert iccids(body) == [target.iccid]
    _status, body = ask(am, world["enterprise"], q=target.msisdn)
    assert iccids(body) == [target.iccid]
    _status, body = ask(am, world["enterprise"], q=target.iccid[:-3])
    assert target.iccid in iccids(body)


@pytest.mark.parametrize("params", [{"q": "89ab"}, {"status": "lost"}, {"rule": "U9"}, {"after": "x"}])
def test_a_filter_that_is_not_one_is_refused_not_ignored(am, world, params):
    status, body = ask(am, world["enterprise"], **params)
    assert status == 400 and "results" not in body


def test_unknown_purpose_is_refused(am, world):
    status, body = ask(am, world["enterprise"], purpose="everything")
    assert status == 404 and body["code"] == "unknown_picker"


def test_filter_by_the_rule_that_fires(am, world):
    enterprise = world["enterprise"]
    u1 = factories.order_stock_card(enterprise=enterprise, data="non_directed")
    u1_u3 = factories.order_stock_card(enterprise=enterprise, segment_149=True, data="non_directed", voice="directed")
    u3 = factories.order_stock_card(enterprise=enterprise, segment_149=True, sms="directed")
    u0 = factories.order_stock_card(enterprise=enterprise)
    assert u1_u3.realname_rules == "U1,U3"
    _status, body = ask(am, enterprise, rule="U1")
    assert set(iccids(body)) == {u1.iccid, u1_u3.iccid}
    _status, body = ask(am, enterprise, rule="U3")
    assert set(iccids(body)) == {u3.iccid, u1_u3.iccid}
    _status, body = ask(am, enterprise, rule="u0")
    assert iccids(body) == [u0.iccid]
    assert [rule["id"] for rule in ask(am, enterprise, q=u1_u3.iccid)[1]["results"][0]["rules"]] == ["U1", "U3"]


def test_filter_by_status_and_by_what_the_business_takes(am, world, manager):
    enterprise = world["enterprise"]
    stock = factories.card(enterprise=enterprise)
    active = factories.active_card(enterprise=enterprise, actor=manager)
    _status, body = ask(am, enterprise, status=CardStatus.ACTIVE)
    assert iccids(body) == [active.iccid]
    # A suspension takes active cards only; a new installation cards in stock only.
    _status, body = ask(am, enterprise, business_type="suspend_resume")
    assert iccids(body) == [active.iccid]
    _status, body = ask(am, enterprise, business_type="new_installation")
    assert iccids(body) == [stock.iccid]


def test_pages_are_keyset_pages(am, world, monkeypatch):
    monkeypatch.setattr(picker, "PAGE_SIZE", 2)
    cards = sorted(factories.card(enterprise=world["enterprise"]).iccid for _ in range(5))
    _status, first = ask(am, world["enterprise"])
    assert iccids(first) == cards[:2] and first["next"] == cards[1] and first["matching"] == 5
    _status, second = ask(am, world["enterprise"], after=first["next"])
    assert iccids(second) == cards[2:4] and "matching" not in second
    _status, last = ask(am, world["enterprise"], after=second["next"])
    assert iccids(last) == cards[4:] and last["next"] == ""


def test_the_matching_count_stops_at_the_forms_limit(am, world, monkeypatch):
    from cards.card_users.forms import CARD_USER_PICKER

    small = picker.PickerPurpose(capability=CARD_USER_PICKER.capability, limit=2, eligible=CARD_USER_PICKER.eligible)
    monkeypatch.setitem(picker._PURPOSES, "card_user", small)
    for _ in range(4):
        factories.card(enterprise=world["enterprise"])
    _status, body = ask(am, world["enterprise"], purpose="card_user")
    assert body["matching"] == 2 and body["more_than_limit"] is True and body["limit"] == 2


def test_exemption_picker_offers_only_cards_an_exemption_can_be_filed_for(am, world):
    enterprise = world["enterprise"]
    needs = factories.order_stock_card(enterprise=enterprise, data="non_directed")
    factories.order_stock_card(enterprise=enterprise)  # U0: nothing to exempt
    _status, body = ask(am, enterprise, purpose="exemption")
    assert iccids(body) == [needs.iccid]


def test_card_user_picker_leaves_out_cards_that_have_a_registered_user(am, world, manager):
    enterprise = world["enterprise"]
    bound, free = factories.card(enterprise=enterprise), factories.card(enterprise=enterprise)
    factories.verified_card_user(actor=manager, enterprise=enterprise, cards=[bound])
    _status, body = ask(am, enterprise, purpose="card_user")
    assert iccids(body) == [free.iccid]


def test_a_page_is_never_more_than_fifty_cards(am, world):
    from cards.models import Card, card_scope_columns

    template = factories.card(enterprise=world["enterprise"])
    Card.objects.bulk_create(
        Card(
            iccid=f"8986099{n:013d}",
            msisdn=f"1449{n:09d}",
            enterprise=world["enterprise"],
            **card_scope_columns(world["enterprise"]),
            package=template.package,
        )
        for n in range(60)
    )
    _status, body = ask(am, world["enterprise"])
    assert len(body["results"]) == 50 and body["next"] == body["results"][-1]["iccid"] and body["matching"] == 61


# --- "select all that match", resolved on the server ------------------------------------------------


def test_select_all_resolves_the_filter_under_the_same_scope(rf, world, manager):
    from django.http import QueryDict

    enterprise = world["enterprise"]
    u1 = [factories.order_stock_card(enterprise=enterprise, data="non_directed") for _ in range(2)]
    factories.order_stock_card(enterprise=enterprise)  # U0: not matched
    factories.order_stock_card(enterprise=world["enterprise_other"], data="non_directed")  # not in scope
    data = QueryDict(mutable=True)
    data.update({"cards": "", "picker_all": "1", "picker_rule": "U1", "enterprise": str(enterprise.public_id)})
    posted = picker.with_picked_all(
        manager, data, field="cards", purpose_name="order", enterprise_id=enterprise.public_id
    )
    assert sorted(posted["cards"].split()) == sorted(c.iccid for c in u1)
    # Another province's enterprise: the data stays as posted, and the form checks what was typed.
    data["enterprise"] = str(world["enterprise_other"].public_id)
    same = picker.with_picked_all(
        manager, data, field="cards", purpose_name="order", enterprise_id=world["enterprise_other"].public_id
    )
    assert same["cards"] == ""


def test_order_wizard_select_all_posts_the_filter_not_the_list(am, world):
    enterprise = world["enterprise"]
    u1 = [factories.order_stock_card(enterprise=enterprise, data="non_directed") for _ in range(3)]
    factories.order_stock_card(enterprise=enterprise)
    response = am.post(
        reverse("orders:new"),
        {
            "business_type": "new_installation",
            "enterprise": str(enterprise.public_id),
            "cards": "",
            "picker_all": "1",
            "picker_rule": "U1",
            "picker_q": "",
            "picker_status": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert sorted(am.session["order_wizard"]["iccids"]) == sorted(c.iccid for c in u1)


def test_order_wizard_select_all_over_the_limit_is_refused_by_the_forms_own_check(am, world, monkeypatch):
    from cards.orders.forms import ORDER_PICKER

    monkeypatch.setitem(
        picker._PURPOSES,
        "order",
        picker.PickerPurpose(capability=ORDER_PICKER.capability, limit=2, eligible=ORDER_PICKER.eligible),
    )
    monkeypatch.setattr("cards.orders.forms.ORDER_MAX_CARDS", 2)
    enterprise = world["enterprise"]
    for _ in range(3):
        factories.order_stock_card(enterprise=enterprise)
    response = am.post(
        reverse("orders:new"),
        {"business_type": "new_installation", "enterprise": str(enterprise.public_id), "cards": "", "picker_all": "1"},
    )
    assert response.status_code == 200
    assert response.context["form"].has_error("cards", "too_many")


def test_without_script_the_textarea_still_works(am, world):
    card = factories.order_stock_card(enterprise=world["enterprise"])
    response = am.post(
        reverse("orders:new"),
        {"business_type": "new_installation", "enterprise": str(world["enterprise"].public_id), "cards": card.iccid},
    )
    assert response.status_code == 302 and am.session["order_wizard"]["iccids"] == [card.iccid]


def test_the_pages_with_the_picker_allow_the_camera_for_its_scan(am, world):
    for url in (
        reverse("orders:new"),
        reverse("approvals:exemption_new") + f"?enterprise={world['enterprise'].public_id}",
    ):
        response = am.get(url)
        assert response.status_code == 200
        assert b"data-card-picker" in response.content
        assert "camera=(self)" in response["Permissions-Policy"]
    assert "camera=()" in am.get(reverse("cards:list"))["Permissions-Policy"]


def test_self_service_link_select_all_covers_the_matching_cards_without_a_registered_user(am, world, manager):
    from cards.models import SelfServiceLink

    enterprise = world["enterprise"]
    u1 = [factories.order_stock_card(enterprise=enterprise, data="non_directed") for _ in range(2)]
    bound = factories.order_stock_card(enterprise=enterprise, data="non_directed")
    factories.verified_card_user(actor=manager, enterprise=enterprise, cards=[bound])
    factories.order_stock_card(enterprise=enterprise)  # U0: not matched
    response = am.post(
        reverse("self_service:list", kwargs={"public_id": enterprise.public_id}),
        {"label": "一号仓", "cards": "", "expires_in_days": 7, "max_uses": 10, "picker_all": "1", "picker_rule": "U1"},
    )
    assert response.status_code == 200 and b"data-card-picker" not in response.content  # the issued page
    link = SelfServiceLink.objects.get(enterprise=enterprise, label="一号仓")
    assert sorted(link.cards.values_list("iccid", flat=True)) == sorted(c.iccid for c in u1)


def test_handover_select_all_is_resolved_like_the_registration_form(am, world):
    from cards.models import SelfServiceLink

    enterprise = world["enterprise"]
    u1 = [factories.order_stock_card(enterprise=enterprise, data="non_directed") for _ in range(2)]
    factories.order_stock_card(enterprise=enterprise)
    response = am.post(
        reverse("self_service:handover_create"),
        {"enterprise": str(enterprise.public_id), "iccids": "", "picker_all": "1", "picker_rule": "U1"},
    )
    assert response.status_code == 200
    link = SelfServiceLink.objects.get(enterprise=enterprise)
    assert sorted(link.cards.values_list("iccid", flat=True)) == sorted(c.iccid for c in u1)
