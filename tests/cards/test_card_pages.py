"""The card and card-user pages (cards.inventory.views) driven through the test client.

Who may open which page is in test_card_access_matrix.py; this file checks
what the pages show and do.
"""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from accounts.models import PiiAccessLog
from accounts.pii import mask_identifier
from cards.models import CardBinding, CardStatus, CardUser
from cards.rules import REASONS
from core.identity import mask_name
from tests import factories, idgen
from tests.images import jpeg_upload
from verification.capture import challenge_sign
from verification.models import Verification

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


def rows(response) -> list[str]:
    """The ICCIDs listed on a card list page, in order."""
    return re.findall(r'class="mono"><a href="/cards/(\d+)/"', response.content.decode())


def page_link(response, which: str) -> str | None:
    """The href of a list page's "next" or "previous" link (includes/pagination.html), if it has one."""
    found = re.search(rf'href="([^"]*)"[^>]*data-page="{which}"', response.content.decode())
    return html.unescape(found.group(1)) if found else None


# --- the list -----------------------------------------------------------------------


def test_list_is_scoped_ordered_and_paginated_by_25(am, world, ent):
    own = sorted(factories.card(enterprise=ent).iccid for _ in range(27))
    same_province = factories.card(enterprise=world["enterprise_same_province"]).iccid
    factories.card(enterprise=world["enterprise_other"])
    first = am.get(reverse("cards:list"))
    assert first.status_code == 200
    listed = rows(first)
    assert len(listed) == 25
    assert listed == sorted(own + [same_province])[:25]
    assert page_link(first, "previous") is None
    second = am.get(reverse("cards:list") + page_link(first, "next"))
    assert rows(second) == sorted(own + [same_province])[25:]
    assert "28 cards match" in second.content.decode()
    assert page_link(second, "next") is None
    assert rows(am.get(reverse("cards:list") + page_link(second, "previous"))) == listed


def test_list_filters(am, world, ent):
    active = factories.card(enterprise=ent, iccid=idgen.iccid(prefix="8986031"))
    factories.activate(active)
    needs = factories.card(enterprise=ent, data="non_directed", iccid=idgen.iccid(prefix="8986032"))
    on_test = factories.card(enterprise=ent, test=True, iccid=idgen.iccid(prefix="8986033"))
    other = factories.card(enterprise=world["enterprise_same_province"], iccid=idgen.iccid(prefix="8986034"))
    url = reverse("cards:list")
    assert rows(am.get(url, {"status": "active"})) == [active.iccid]
    assert rows(am.get(url, {"realname": "yes"})) == [needs.iccid]
    assert rows(am.get(url, {"package": "IOT-TEST"})) == [on_test.iccid]
    assert rows(am.get(url, {"iccid": "8986032"})) == [needs.iccid]
    assert rows(am.get(url, {"iccid": needs.iccid})) == [needs.iccid]
    assert rows(am.get(url, {"enterprise": str(other.enterprise.public_id)})) == [other.iccid]
    assert set(rows(am.get(url, {"realname": "no", "iccid": "898603"}))) == {active.iccid, on_test.iccid, other.iccid}


@pytest.mark.parametrize(
    "params",
    [
        {"status": "bogus"},
        {"iccid": "89abc"},
        {"package": "NOPE"},
        {"enterprise": "not-a-uuid"},
        {"page": "x"},
        {"page": "9999"},
    ],
)
def test_list_bad_filters_never_500(am, ent, params):
    factories.card(enterprise=ent)
    response = am.get(reverse("cards:list"), params)
    assert response.status_code == 200
    if "page" not in params:
        assert rows(response) == []
        assert "field-error" in response.content.decode()


def test_enterprise_admin_sees_own_cards_without_an_enterprise_filter(client, world, ent):
    mine = factories.card(enterprise=ent)
    factories.card(enterprise=world["enterprise_same_province"])
    client.force_login(world["users"]["enterprise_admin"])
    response = client.get(reverse("cards:list"))
    assert rows(response) == [mine.iccid]
    assert 'name="enterprise"' not in response.content.decode()


def _list_queries(client, django_assert_num_queries, url, expected):
    with django_assert_num_queries(expected):
        response = client.get(url)
    assert response.status_code == 200
    return response


def test_list_page_query_count_is_pinned_and_does_not_grow(am, ent, django_assert_num_queries):
    url = reverse("cards:list") + "?status=in_stock&package=IOT-STD"
    for _ in range(3):
        factories.card(enterprise=ent)
    # session, user, the package of the filter, the capped count, the user's province (page header),
    # the unread notifications (the header's bell), package choices, the page of cards with package and
    # enterprise (the enterprise filter is a text box now: no query for its choices, issue 12 §1.2); on
    # PostgreSQL the planner's estimate is in the count's statement (core.keyset.counted_and_estimated)
    _list_queries(am, django_assert_num_queries, url, 8)
    for _ in range(40):
        factories.card(enterprise=ent)
    response = _list_queries(am, django_assert_num_queries, url, 8)
    assert len(rows(response)) == 25


def test_list_count_is_capped(am, ent, monkeypatch):
    from core import keyset

    monkeypatch.setattr(keyset, "COUNT_CAP", 3)
    # Past the cap PostgreSQL's planner estimate is shown instead (test_list_keyset); it varies with the
    # table's statistics, so this test pins the plain "more than" wording that has no estimate.
    counted = keyset.counted_and_estimated
    monkeypatch.setattr(keyset, "counted_and_estimated", lambda queryset, cap: (counted(queryset, cap)[0], None))
    for _ in range(5):
        factories.card(enterprise=ent)
    response = am.get(reverse("cards:list"))
    assert "More than 3 cards match" in response.content.decode()
    # The count is capped, not the list: every card can still be paged to.
    assert len(rows(response)) == 5


# --- the detail: the rule decision --------------------------------------------------------


def test_detail_shows_why_a_149_card_with_non_directed_sms_needs_realname_and_no_exemption(am, ent):
    card = factories.card(enterprise=ent, segment_149=True, sms="non_directed")
    page = am.get(reverse("cards:detail", args=[card.iccid]), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert REASONS["U2"].zh in page
    no_exemption = re.search(r'id="no-exemption"[^>]*>(.*?)</p>', page, re.S).group(1)
    assert "不可豁免" in no_exemption and "U2" in no_exemption
    assert 'id="realname-basis"' in page
    english = am.get(reverse("cards:detail", args=[card.iccid]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert REASONS["U2"].en in english and REASONS["U2"].zh not in english


@pytest.mark.parametrize(
    "facts, rules, approver_text",
    [
        ({"data": "non_directed"}, ["U1"], "provincial company"),
        ({"segment_149": True, "voice": "directed"}, ["U3"], "group approval"),
        ({"segment_149": True, "data": "non_directed", "sms": "directed"}, ["U1", "U3"], "both approvals"),
    ],
)
def test_detail_names_who_could_approve_an_exemption(am, ent, facts, rules, approver_text):
    card = factories.card(enterprise=ent, **facts)
    page = am.get(reverse("cards:detail", args=[card.iccid]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for rule in rules:
        assert REASONS[rule].en in page
    assert approver_text in page
    assert 'id="no-exemption"' not in page


def test_detail_of_a_plain_and_a_test_card(am, ent):
    plain = factories.card(enterprise=ent)
    page = am.get(reverse("cards:detail", args=[plain.iccid]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert REASONS["U0"].en in page and "does not need user real-name" in page
    test = factories.card(enterprise=ent, test=True, segment_149=True, sms="non_directed")
    page = am.get(reverse("cards:detail", args=[test.iccid]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert REASONS["U4"].en in page and REASONS["U2"].en not in page


def test_detail_shows_services_history_and_the_masked_user(am, manager, ent):
    number = idgen.resident_id()
    card = factories.card(enterprise=ent, data="non_directed", actor=manager)
    factories.verified_card_user(actor=manager, enterprise=ent, cards=[card], id_number=number, name="赵六")
    factories.activate(card, actor=manager)
    page = am.get(reverse("cards:detail", args=[card.iccid]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "赵六" in page and mask_identifier(number) in page and number not in page
    assert "Complete: the card user" in page
    for label in ("Put in stock", "Card user registered", "Activated"):
        assert label in page
    assert "am_bj" in page or str(manager) in page
    assert "Non-directed" in page


# --- business on the card: through orders (H2) --------------------------------------------------


def wizard_query(response) -> dict:
    from urllib.parse import parse_qs, urlsplit

    assert response.status_code == 302, response.status_code
    parts = urlsplit(response["Location"])
    assert parts.path == reverse("orders:new")
    return {key: values[0] for key, values in parse_qs(parts.query).items()}


def test_an_activation_that_needs_realname_shows_the_reasons_on_the_card_and_the_order(am, manager, ent):
    card = factories.card(enterprise=ent, segment_149=True, sms="non_directed")
    order = factories.activate(card, actor=manager)
    card.refresh_from_db()
    assert card.status == CardStatus.AWAITING_REALNAME
    page = am.get(reverse("cards:detail", args=[card.iccid]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert REASONS["U2"].en in page and "No exemption is possible" in page
    page = am.get(reverse("orders:detail", args=[order.public_id]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert (
        "Awaiting the card user&#x27;s real-name (U5) "
        '(149 number, non-directed voice or SMS <span class="rule-tag">U2</span>)' in page
    )


def test_the_former_actions_send_the_manager_into_the_order_wizard(am, ent):
    card = factories.card(enterprise=ent)
    for action, business_type in [
        ("activate", "new_installation"),
        ("suspend", "suspend_resume"),
        ("resume", "suspend_resume"),
        ("cancel", "cancellation"),
    ]:
        query = wizard_query(am.post(reverse("cards:action", args=[card.iccid, action])))
        assert query["business_type"] == business_type and query["cards"] == card.iccid
        card.refresh_from_db()
        assert card.status == CardStatus.IN_STOCK


def test_an_order_from_the_wrong_state_is_refused_in_the_wizard_not_500(am, ent):
    card = factories.card(enterprise=ent)
    response = am.post(
        reverse("orders:new"),
        {"business_type": "suspend_resume", "enterprise": str(ent.public_id), "cards": card.iccid, "action": "resume"},
    )
    assert response.status_code == 200
    assert "alert--error" in response.content.decode() or "errorlist" in response.content.decode()


def test_unknown_action_and_get_are_refused(am, ent):
    card = factories.card(enterprise=ent)
    assert am.post(reverse("cards:action", args=[card.iccid, "explode"])).status_code == 404
    assert am.get(reverse("cards:action", args=[card.iccid, "activate"])).status_code == 405


def test_business_buttons_only_for_managers(client, world, ent):
    card = factories.card(enterprise=ent)
    client.force_login(world["users"]["provincial_approver"])
    page = client.get(reverse("cards:detail", args=[card.iccid])).content.decode()
    assert reverse("orders:new") not in page and "/activate/" not in page and "/services/" not in page
    client.force_login(world["users"]["enterprise_admin"])
    page = client.get(reverse("cards:detail", args=[card.iccid])).content.decode()
    assert f"{reverse('orders:new')}?business_type=new_installation&amp;enterprise={ent.public_id}" in page


def test_the_services_route_opens_a_service_change_order_and_never_changes_the_card(am, ent):
    card = factories.card(enterprise=ent)
    url = reverse("cards:services", args=[card.iccid])
    assert wizard_query(am.get(url))["business_type"] == "service_change"
    for body in (
        {"data": "directed", "voice": "none", "sms": "none", "package": "IOT-STD"},
        {"data": "loads", "voice": "none", "sms": "none", "package": "NOPE"},
    ):
        assert wizard_query(am.post(url, body))["business_type"] == "service_change"
    card.refresh_from_db()
    assert card.data_service == "none"


# --- card users ------------------------------------------------------------------------------


def register_form(ent, cards, **overrides):
    data = {
        "enterprise": str(ent.public_id),
        "iccids": "\n".join(card.iccid for card in cards),
        "name": "钱七",
        "id_type": "resident_id",
        "id_number": idgen.resident_id(),
        "id_photo": jpeg_upload("id.jpg"),
        "live_photo": jpeg_upload("live.jpg"),
        "biometric_consent": "on",
    }
    data.update(overrides)
    return data


def test_register_page_uses_the_camera_and_asks_for_consent(am, ent):
    card = factories.card(enterprise=ent, data="non_directed")
    page = am.get(reverse("cards:card_user_create"), {"card": card.iccid}).content.decode()
    named = ((re.search(r'name="(\w+)"', tag), tag) for tag in re.findall(r"<input[^>]*>", page))
    inputs = {match.group(1): tag for match, tag in named if match}
    assert 'accept="image/*"' in inputs["live_photo"] and 'capture="user"' in inputs["live_photo"]
    assert 'accept="image/*"' in inputs["id_photo"] and 'capture="environment"' in inputs["id_photo"]
    assert 'name="biometric_consent"' in page and "biometric data" in page
    assert card.iccid in page  # preselected


def test_register_flow_records_the_user_and_polls_the_comparison(am, ent, monkeypatch):
    from tests.cards.test_card_user_live_capture import frames, stand_in

    card = factories.card(enterprise=ent, data="non_directed")
    # A passed live capture (one photo alone would go to a reviewer: tests/cards/test_card_user_live_capture.py).
    stand_in(monkeypatch, {"outcome": "pass", "reasons": [], "best_frame": 0})
    form = register_form(ent, [card], live_photo=frames(), challenge=challenge_sign(["left", "right"]))
    form["frames"] = form.pop("live_photo")
    response = am.post(reverse("cards:card_user_create"), form)
    assert response.status_code == 302
    card_user = CardUser.objects.get()
    assert response["Location"] == reverse("cards:card_user_detail", args=[card_user.public_id])
    assert card_user.biometric_consent_at is not None and card_user.created_by.username == "am_bj"
    verification = Verification.objects.get(card_user=card_user)
    page = am.get(response["Location"]).content.decode()
    assert form["id_number"] not in page and mask_identifier(form["id_number"]) in page
    assert f'data-poll-url="{reverse("api:verification-detail", args=[verification.public_id])}"' in page
    factories.face_result(verification, "pass")
    page = am.get(response["Location"]).content.decode()
    assert "data-poll-url=" not in page  # final: nothing more to poll
    assert CardBinding.objects.filter(card=card, card_user=card_user).exists()
    assert card.iccid in page


def test_register_without_consent_writes_nothing(am, ent):
    card = factories.card(enterprise=ent)
    form = register_form(ent, [card])
    del form["biometric_consent"]
    response = am.post(reverse("cards:card_user_create"), form)
    assert response.status_code == 400
    assert "explicit consent" in response.content.decode()
    assert CardUser.objects.count() == 0 and Verification.objects.count() == 0


def test_register_unknown_or_foreign_iccids_are_named(am, world, ent):
    foreign = factories.card(enterprise=world["enterprise_same_province"])
    response = am.post(reverse("cards:card_user_create"), register_form(ent, [foreign]))
    assert response.status_code == 400
    assert foreign.iccid in response.content.decode()
    assert CardUser.objects.count() == 0


def test_register_a_sixth_card_shows_the_refusal_with_the_id_masked(am, manager, ent):
    number = idgen.resident_id()
    # The same person (one ID, one name: issue 11 §1.3) asks for a sixth card.
    factories.verified_card_user(
        actor=manager,
        enterprise=ent,
        id_number=number,
        name="钱七",
        cards=[factories.card(enterprise=ent) for _ in range(5)],
    )
    response = am.post(
        reverse("cards:card_user_create"),
        register_form(ent, [factories.card(enterprise=ent)], id_number=number),
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert mask_identifier(number) in page and number not in page
    assert "5 live cards" in page and "limit is 5" in page
    assert CardUser.objects.count() == 1


def test_card_user_list_is_masked(am, manager, ent):
    number = idgen.resident_id()
    factories.verified_card_user(
        actor=manager, enterprise=ent, id_number=number, cards=[factories.card(enterprise=ent) for _ in range(2)]
    )
    page = am.get(reverse("cards:card_user_list")).content.decode()
    assert mask_identifier(number) in page and number not in page
    assert re.search(r"Live cards.*?<td[^>]*>2</td>", page, re.S)


def test_reveal_logs_and_is_not_cached(am, manager, ent):
    number = idgen.resident_id()
    card_user = factories.verified_card_user(
        actor=manager, enterprise=ent, id_number=number, cards=[factories.card(enterprise=ent)]
    )
    response = am.post(reverse("cards:card_user_reveal", args=[card_user.public_id]))
    assert response.status_code == 200
    assert number in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    log = PiiAccessLog.objects.get()
    assert (log.actor, log.object_id, log.field) == (manager, str(card_user.pk), "id_number")


def test_reveal_is_throttled(am, manager, ent, monkeypatch):
    from accounts.throttling import PiiRevealThrottle

    monkeypatch.setattr(PiiRevealThrottle, "THROTTLE_RATES", {"pii_reveal": "1/hour"})
    number = idgen.resident_id()
    card_user = factories.verified_card_user(
        actor=manager, enterprise=ent, id_number=number, cards=[factories.card(enterprise=ent)]
    )
    url = reverse("cards:card_user_reveal", args=[card_user.public_id])
    assert am.post(url).status_code == 200

    response = am.post(url)

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert number not in response.content.decode()
    assert "Too many full views of personal data" in response.content.decode()
    assert PiiAccessLog.objects.count() == 1


def test_photos_are_served_privately_and_logged(am, manager, ent):
    card_user = factories.verified_card_user(actor=manager, enterprise=ent, cards=[factories.card(enterprise=ent)])
    response = am.get(reverse("cards:card_user_photo", args=[card_user.public_id, "live_photo"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert "no-store" in response["Cache-Control"]
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
    assert PiiAccessLog.objects.filter(field="live_photo", actor=manager).count() == 1
    assert am.get(reverse("cards:card_user_photo", args=[card_user.public_id, "selfie"])).status_code == 404


def test_a_missing_photo_file_is_404_not_500(am, manager, ent):
    card_user = factories.verified_card_user(actor=manager, enterprise=ent, cards=[factories.card(enterprise=ent)])
    card_user.id_photo.storage.delete(card_user.id_photo.name)
    assert am.get(reverse("cards:card_user_photo", args=[card_user.public_id, "id_photo"])).status_code == 404


def test_navigation_has_cards_and_card_users(am):
    page = am.get(reverse("home")).content.decode()
    assert f'href="{reverse("cards:list")}"' in page and f'href="{reverse("cards:card_user_list")}"' in page


# --- Django admin for ops -----------------------------------------------------------------


@pytest.fixture
def ops_client(client, world):
    from accounts.models import User

    client.force_login(User.objects.get(pk=world["users"]["ops"].pk))
    return client


def test_admin_card_list_is_read_only_and_searchable_by_iccid_prefix(ops_client, ent):
    wanted = factories.card(enterprise=ent, iccid=idgen.iccid(prefix="8986051"))
    other = factories.card(enterprise=ent, iccid=idgen.iccid(prefix="8986052"))
    response = ops_client.get("/admin/cards/card/", {"q": "8986051"})
    assert response.status_code == 200
    page = response.content.decode()
    assert wanted.iccid in page and other.iccid not in page
    assert ops_client.get("/admin/cards/card/", {"q": wanted.iccid}).content.decode().count(wanted.iccid) >= 1
    assert ops_client.get("/admin/cards/card/", {"q": "abc"}).status_code == 200
    assert ops_client.get("/admin/cards/card/add/").status_code == 403
    change = ops_client.get(f"/admin/cards/card/{wanted.pk}/change/")
    assert change.status_code == 200 and 'name="status"' not in change.content.decode()


def test_admin_card_users_are_masked_without_photos(ops_client, manager, ent):
    number = idgen.resident_id()
    card_user = factories.verified_card_user(
        actor=manager, enterprise=ent, id_number=number, cards=[factories.card(enterprise=ent)]
    )
    for url in ("/admin/cards/carduser/", f"/admin/cards/carduser/{card_user.pk}/change/", "/admin/cards/cardbinding/"):
        response = ops_client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert number not in page and card_user.id_number_index not in page
        assert card_user.live_photo.name not in page and card_user.id_photo.name not in page
    assert mask_identifier(number) in ops_client.get("/admin/cards/carduser/").content.decode()


def test_admin_orders_handlers_and_imports_are_read_only_and_masked(ops_client, manager, ent):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from cards.imports import services as import_services
    from cards.management.commands.make_card_file import card_csv

    number = idgen.resident_id()
    order = factories.order(
        actor=manager,
        enterprise=ent,
        business_type="new_installation",
        cards=[factories.card(enterprise=ent)],
        handler=factories.handler_data(id_number=number),
    )
    package = factories.package(code="IOT-ADMIN")
    job = import_services.card_import_create(
        actor=manager,
        enterprise=ent,
        upload=SimpleUploadedFile("cards.csv", card_csv(3, package_code=package.code), content_type="text/csv"),
    )
    pages = {
        "/admin/cards/order/": order.number,
        f"/admin/cards/order/{order.pk}/change/": order.number,
        # The handler's name is personal data: masked in the admin too.
        "/admin/cards/handler/": mask_name(order.handler.name),
        f"/admin/cards/handler/{order.handler.pk}/change/": mask_name(order.handler.name),
        "/admin/cards/cardimport/": ent.name,
        f"/admin/cards/cardimport/{job.pk}/change/": str(job.public_id),
    }
    for url, expected in pages.items():
        response = ops_client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert expected in page, url
        assert number not in page and order.handler.id_number_index not in page, url
        assert order.handler_id_photo.name not in page and order.handler_live_photo.name not in page, url
    assert mask_identifier(number) in ops_client.get("/admin/cards/order/").content.decode()
    assert mask_identifier(number) in ops_client.get("/admin/cards/handler/").content.decode()
    card_iccid = order.cards.get().iccid
    assert card_iccid in ops_client.get(f"/admin/cards/order/{order.pk}/change/").content.decode()
    for model in ("order", "handler", "cardimport"):
        assert ops_client.get(f"/admin/cards/{model}/add/").status_code == 403
    assert ops_client.post(f"/admin/cards/order/{order.pk}/delete/", {"post": "yes"}).status_code == 403


def test_admin_packages_are_editable_but_the_test_flag_is_fixed_once_used(ops_client, ent):
    from accounts.models import AuditEvent
    from cards.models import Package

    response = ops_client.post(
        "/admin/cards/package/add/", {"code": "IOT-NEW", "name": "新套餐", "is_test_package": "", "is_active": "on"}
    )
    assert response.status_code == 302
    package = Package.objects.get(code="IOT-NEW")
    assert AuditEvent.objects.filter(action="package.created", object_id=str(package.pk)).exists()
    factories.card(enterprise=ent, pkg=package)
    page = ops_client.get(f"/admin/cards/package/{package.pk}/change/").content.decode()
    assert 'name="code"' not in page and 'name="name"' in page
    # Issue 7 §1.3 / U4: the flag is refused with a reason rather than hidden.
    response = ops_client.post(
        f"/admin/cards/package/{package.pk}/change/",
        {
            "name": "新套餐",
            "is_test_package": "on",
            "is_active": "on",
            "test_period_days": "30",
            "data_service": "none",
            "voice_service": "none",
            "sms_service": "none",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200 and "holds cards" in response.content.decode()
    package.refresh_from_db()
    assert package.is_test_package is False
    response = ops_client.post(f"/admin/cards/package/{package.pk}/change/", {"name": "新名称套餐", "is_active": "on"})
    assert response.status_code == 302
    package.refresh_from_db()
    assert package.name == "新名称套餐"
    assert AuditEvent.objects.filter(action="package.changed", object_id=str(package.pk)).exists()


# seed_demo names provinces; a flush by an earlier transactional test on the worker removes them.
def test_seed_demo_adds_packages_and_cards_once(provinces):
    from django.core.management import call_command

    from cards.models import Card, Package

    call_command("seed_demo", stdout=open("/dev/null", "w"))
    assert Package.objects.filter(code="IOT-TEST", is_test_package=True, name="物联测试卡套餐").exists()
    count = Card.objects.count()
    assert count >= 60
    assert Card.objects.filter(
        msisdn__startswith="149", sms_service="non_directed", realname_rules__contains="U2"
    ).exists()
    assert set(Card.objects.values_list("realname_rules", flat=True)) >= {"U0", "U1", "U2", "U3", "U1,U3", "U4"}
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    assert Card.objects.count() == count


@pytest.mark.faces
# seed_demo names provinces; a flush by an earlier transactional test on the worker removes them.
@pytest.mark.slow
def test_seed_demo_leaves_work_in_every_queue_once(
    provinces, faces_dir, monkeypatch, django_capture_on_commit_callbacks
):
    """The demo's approvers find requests to decide and a comparison to review; the face
    comparisons are real ones, on the face test photos. Issue 7 §1.2 / H2: the demo's cards are
    activated through new-installation orders, never directly."""
    from django.core.management import call_command

    from approvals.models import ExemptionRequest
    from cards.models import Card, CardEvent, Order
    from enterprises.models import ChangeRequest
    from verification.models import VerificationStatus

    monkeypatch.setenv("FACE_TESTDATA", str(faces_dir))
    with django_capture_on_commit_callbacks(execute=True):  # the comparisons start after commit
        call_command("seed_demo", stdout=open("/dev/null", "w"))
    assert sorted(tuple(e.required_levels) for e in ExemptionRequest.objects.filter(status="submitted")) == [
        ("group",),
        ("province",),
        ("province", "group"),
    ]
    assert ChangeRequest.objects.filter(status="submitted").count() == 1
    # One activation order per demo enterprise, and the order whose cards wait for their users.
    assert sorted(Order.objects.values_list("business_type", "status")) == [("new_installation", "completed")] * 4
    statuses = sorted(Verification.objects.values_list("status", flat=True))
    assert statuses == sorted([VerificationStatus.PASSED] * 5 + [VerificationStatus.IN_REVIEW])
    assert not Verification.objects.filter(replay_of__isnull=False).exists()
    # Every card that needs no user real-name is active, each state change under an order (H2).
    assert not Card.objects.filter(realname_required=False).exclude(status="active").exists()
    changes = CardEvent.objects.exclude(action__in=["created", "user_bound"])
    assert changes.exists() and not changes.filter(order__isnull=True).exists()
    # The verified card user's card waited (U5) and activated under the order that left it waiting.
    card_10 = Card.objects.get(iccid="89861101000000000106")
    assert card_10.status == "active"
    assert CardEvent.objects.get(card=card_10, action="activated").order.cards.count() == 3

    call_command("seed_demo", stdout=open("/dev/null", "w"))
    assert (
        ExemptionRequest.objects.count(),
        ChangeRequest.objects.count(),
        Order.objects.count(),
        Verification.objects.count(),
    ) == (3, 1, 4, 6)


@pytest.mark.parametrize(("language", "label"), [("en", "C1: staff pages"), ("zh-hans", "C1：工作人员页面")])
def test_issue11_the_card_user_page_names_the_channel_in_words(am, manager, ent, language, label):
    card = factories.card(enterprise=ent)
    verification = factories.card_user_registration(actor=manager, enterprise=ent, cards=[card])
    card_user = verification.card_user
    raw = card_user.channel  # the stored value ("internal", or "counter" since issue 9's renaming)
    page = am.get(reverse("cards:card_user_detail", args=[card_user.public_id]), HTTP_ACCEPT_LANGUAGE=language)
    after = page.content.decode().split(">Channel<" if language == "en" else ">渠道<", 1)[1]
    channel = re.search(r"<dd>([^<]*)</dd>", after)
    # The label in words, never the stored value on its own (English labels may contain the word).
    assert channel and channel.group(1).startswith(label) and channel.group(1).strip() != raw
