"""Issue 11, "Done when": each role walks its daily work in Chromium, on a desktop (1366×900) and a phone
(390×844), and every page it opens is checked for what the issue found wrong: a status other than 200,
sideways scroll on the phone, the navigation left open on the phone, ASCII punctuation after Chinese text,
and Django's boilerplate on the approvers' pages. The page fixture fails a test on any CSP violation."""

from __future__ import annotations

import csv
import io
import re

import pytest

from cards.models import BusinessType, Card, CardStatus, Package
from tests import factories, idgen
from tests.approvals import file_for_combo, put_in_review
from tests.approvals.test_change_requests import submit_enterprise_change
from tests.approvals.test_desk_chinese import BOILERPLATE
from tests.browser.conftest import login, screenshot
from tests.images import jpeg_bytes, jpeg_upload, pdf_upload
from tests.punctuation import ascii_punctuation_after_chinese

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
# The ops admin and the desk name objects by their __str__, never "CardBinding object (3)".
OBJECT_NUMBER = re.compile(r"\bobject \(\d+\)")


class Walk:
    """One role's walk on one viewport: opens pages and checks each one the same way."""

    def __init__(self, page, viewport: str, role: str, *, desk: bool = False):
        self.page, self.viewport, self.role, self.desk = page, viewport, role, desk
        page.set_viewport_size(VIEWPORTS[viewport])

    def open(self, path: str, name: str) -> str:
        response = self.page.goto(f"{self.page.base_url}{path}")
        assert response is not None and response.status == 200, (path, response and response.status)
        return self.check(name)

    def follow(self, locator, name: str, *, status: int = 200) -> str:
        """Click a link or a submit button and check the page it leads to (after any redirect). A form that
        comes back with errors answers 400."""
        with self.page.expect_navigation() as navigation:
            locator.click()
        response = navigation.value
        assert response is not None and response.status == status, (name, self.page.url, response and response.status)
        return self.check(name)

    def check(self, name: str) -> str:
        page = self.page
        page.wait_for_load_state()
        text = page.locator("body").inner_text()
        where = f"{self.role}/{name} {page.url}"
        assert not ascii_punctuation_after_chinese(text), (where, ascii_punctuation_after_chinese(text))
        assert not OBJECT_NUMBER.search(text), where
        if self.desk:
            for phrase in BOILERPLATE:
                assert phrase not in text, (where, phrase)
            assert not re.search(r"选择.{0,20}来修改", text), where
            assert not re.search(r"\b(SUBMITTED|COMPLETED|CREATED) AT\b|Public id", text, re.I), where
        if self.viewport == "phone":
            sideways = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert sideways <= 1, (where, sideways)
            if page.locator(".site-header").count():
                assert page.locator(".menu-toggle").is_visible(), where
                assert not page.locator(".site-nav").is_visible(), where  # collapsed behind the menu
        screenshot(page, f"walk-{self.role}-{name}-{self.viewport}")
        return text


def _dashboard(walk) -> None:
    """The compliance dashboard, reached from its home tile: its charts fit the screen (issue 11 §3)."""
    walk.open("/", "home-for-dashboard")
    walk.follow(walk.page.locator("#tile-dashboard"), "dashboard")
    charts = walk.page.locator("svg.chart")
    for index in range(charts.count()):
        box = charts.nth(index).bounding_box()
        assert box and 0 < box["width"] <= VIEWPORTS[walk.viewport]["width"], (walk.role, index, box)


def _no_browser_checks(page) -> None:
    # The browser's required-field checks would stop the submit first; the server's errors are what is walked.
    page.eval_on_selector("main form[enctype]", "form => { form.noValidate = true; }")


def _rows(page) -> list[str]:
    return page.locator("main tbody tr").all_inner_texts()


@pytest.fixture
def photos(tmp_path):
    id_photo, live_photo = tmp_path / "id.jpg", tmp_path / "live.jpg"
    id_photo.write_bytes(jpeg_bytes(size=(428, 270)))
    live_photo.write_bytes(jpeg_bytes(size=(480, 640)))
    return {"id": str(id_photo), "live": str(live_photo)}


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_account_managers_day(page, world, scripted_face_engine, settings, photos, viewport):
    from cards.inventory.selectors import cards_lacking_realname, cards_visible_to

    settings.FACE_RETAKE_LIMIT = 2
    manager, enterprise = world["users"]["account_manager"], world["enterprise"]
    stock = [factories.card(enterprise=enterprise, data="non_directed") for _ in range(3)]
    awaiting = factories.card(enterprise=enterprise, data="non_directed")
    Card.objects.filter(pk=awaiting.pk).update(status=CardStatus.AWAITING_REALNAME)
    plain = factories.card(enterprise=enterprise)  # needs no user real-name (U0)
    exemption, _card = file_for_combo(world, "U1")  # its decision lands in the manager's bell
    walk = Walk(page, viewport, "account-manager")
    login(page, manager.username, factories.PASSWORD)

    # Home: the tile counts what it says, stock included (issue 11 §1.7), and leads to those cards.
    walk.open("/", "home")
    tile = page.locator("a.tile[href$='realname=missing']")
    lacking = cards_lacking_realname(cards_visible_to(manager))
    assert int(tile.locator(".tile__count").inner_text()) == lacking.count() >= 5
    walk.follow(tile, "cards-lacking-realname")
    assert len(_rows(page)) == lacking.count()
    assert not any(plain.iccid in row for row in _rows(page))

    # The dashboard counts the same cards, and its tile leads to the same list.
    _dashboard(walk)
    assert page.locator("svg.chart").count() >= 1
    assert int(page.locator("[data-figure=lacking]").inner_text()) == lacking.count()
    walk.follow(page.locator("a.tile[href$='realname=missing']"), "dashboard-lacking")
    assert len(_rows(page)) == lacking.count()

    # The card list, searched by an ICCID prefix and by a full MSISDN.
    target = stock[1]
    walk.open("/cards/", "cards")
    page.fill("form[role=search] input[name=q]", target.iccid[:-3])
    walk.follow(page.locator("form[role=search] [type=submit]"), "cards-by-iccid-prefix")
    rows = _rows(page)
    assert any(target.iccid in row for row in rows) and all(target.iccid[:-3] in row for row in rows)
    page.fill("form[role=search] input[name=q]", target.msisdn)
    walk.follow(page.locator("form[role=search] [type=submit]"), "cards-by-msisdn")
    assert len(_rows(page)) == 1 and target.iccid in _rows(page)[0]
    walk.follow(page.locator(f"main tbody a[href*='{target.iccid}']"), "card-detail")
    assert target.iccid in page.locator("main").inner_text()
    assert page.locator("#apply-exemption").count() == 1  # U1, in stock: an exemption is possible

    # The counter: a card user with an ID and a live photo, sent first without the consent.
    walk.open(f"/cards/card-users/new/?card={target.iccid}", "counter")
    if page.locator("select[name=enterprise]").count():
        page.select_option("select[name=enterprise]", str(enterprise.public_id))
    # The card is picked from the enterprise's stock, not typed; a phone may scan its barcode (§2).
    picker = page.locator("[data-card-picker]")
    picker.wait_for(state="visible")
    picker.locator("[data-picker-filter=q]").fill(stock[0].iccid)
    picker.locator(f"[data-picker-results] input[value='{stock[0].iccid}']").wait_for()
    if viewport == "phone":
        assert page.locator("[data-picker-scan]").is_visible()
    page.fill("input[name=name]", "王芳")
    page.select_option("select[name=id_type]", "resident_id")
    number = idgen.resident_id()
    page.fill("input[name=id_number]", number)
    page.set_input_files("input[name=id_photo]", photos["id"])
    page.set_input_files("input[name=live_photo]", photos["live"])
    _no_browser_checks(page)
    walk.follow(page.locator("main form[enctype] button[type=submit].button--primary"), "counter-errors", status=400)
    # Said at once, at the top and next to its field, in view; the two photos are kept.
    assert page.locator("[data-error-summary] a[data-error-link='biometric_consent']").count() == 1
    assert page.locator(".field--error").count() >= 1
    top = page.eval_on_selector("[data-error-summary]", "e => e.getBoundingClientRect().top")
    assert -2 <= top < VIEWPORTS[viewport]["height"]
    assert page.locator("[data-kept-upload]").count() == 2
    # A live photo of another person (distance 0.815): the counter says so at once and offers a retake.
    scripted_face_engine("fail", distance=0.815)
    page.check("input[name=biometric_consent]")
    page.fill("input[name=id_number]", number)  # never sent back to the page (privacy), so typed again
    _no_browser_checks(page)
    walk.follow(page.locator("main form[enctype] button[type=submit].button--primary"), "counter-mismatch")
    assert "/cards/card-users/" in page.url
    mismatch = page.locator("#face-mismatch")
    assert mismatch.is_visible() and mismatch.get_attribute("data-retakes-left") == "2"
    assert "0.815" in page.locator("main").inner_text()  # the distance, said in the outcome above it
    assert page.locator("#face-mismatch input[name=live_photo][capture=user]").count() == 1

    # An order whose handler's live photo is of another person: the order says so.
    order = factories.order(
        actor=manager, enterprise=enterprise, business_type=BusinessType.NEW_INSTALLATION, cards=[stock[2]]
    )
    walk.open(f"/orders/?q={order.number}", "orders-search")
    assert len(_rows(page)) == 1 and order.number in _rows(page)[0]
    walk.follow(page.locator(f"main tbody a[href*='{order.public_id}']"), "order-mismatch")
    assert "现场照片与证件照不是同一人" in page.locator("[data-verification-reasons]").inner_text()

    # The card list exported as CSV, with its filter, masked as on screen.
    walk.open("/cards/?realname=missing", "cards-to-export")
    with page.expect_download() as download:
        page.click("a[href*='/exports/cards/'][href*='format=csv']")
    content = open(download.value.path(), encoding="utf-8-sig").read()
    exported = list(csv.reader(io.StringIO(content)))
    assert len(exported) - 1 == lacking.count()
    assert plain.iccid not in content

    # The bell: a decision on the manager's exemption request.
    from approvals.services import exemption_decide

    exemption_decide(
        request=exemption, actor=world["users"]["provincial_approver"], level="province", approve=True, comment="同意"
    )
    walk.open("/", "home-with-notice")
    assert page.locator(".bell .bell__count").inner_text() == "1"
    if viewport == "phone":  # the bell sits in the collapsed menu on a phone
        page.click(".menu-toggle")
    walk.follow(page.locator(".bell"), "notifications")
    assert page.locator(".notice--unread").count() == 1


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_enterprise_admins_day(page, world, scripted_face_engine, viewport):
    from approvals.services import change_request_decide
    from enterprises.services import change_request_submit

    manager, enterprise = world["users"]["account_manager"], world["enterprise"]
    admin = world["users"]["enterprise_admin"]
    Package.objects.create(code="IOT-STD", name="物联网标准套餐")
    person = enterprise.responsible_person
    rejected = change_request_submit(
        actor=manager,
        enterprise=enterprise,
        target="responsible_person",
        values={
            "name": "王五",
            "id_type": person.id_type,
            "id_number": idgen.resident_id(),
            "id_address": person.id_address,
            "is_legal_representative": False,
        },
        files=[jpeg_upload("new-id.jpg")],
        authorisation_letter_files=[pdf_upload("letter.pdf")],
    )
    change_request_decide(
        change_request=rejected, actor=world["users"]["provincial_approver"], approve=False, comment="照片不清晰"
    )
    number = idgen.resident_id()
    held = [factories.card(enterprise=enterprise, data="non_directed") for _ in range(2)]
    wang = factories.verified_card_user(actor=manager, enterprise=enterprise, cards=held, name="王芳", id_number=number)
    factories.verified_card_user(
        actor=manager, enterprise=enterprise, cards=[factories.card(enterprise=enterprise)], name="李四"
    )
    exemption, _card = file_for_combo(world, "U1")
    walk = Walk(page, viewport, "enterprise-admin")
    login(page, admin.username, factories.PASSWORD)

    _dashboard(walk)
    walk.open("/", "home")
    walk.follow(page.locator("a.tile--primary"), "own-enterprise")
    assert str(enterprise.public_id) in page.url and enterprise.name in page.locator("main").inner_text()
    # A rejected change's documents are not the current ones (issue 11 §1.1).
    documents = "".join(
        page.locator("ul.documents").nth(i).inner_html() for i in range(page.locator("ul.documents").count())
    )
    assert not any(str(document.public_id) in documents for document in rejected.documents.all())

    # The import page: its example passes its own checks, on a real package code (§1.6).
    walk.open("/cards/imports/", "imports")
    header, example = page.locator("#import-example").inner_text().strip().splitlines()[:2]
    cells = dict(zip(header.split(","), example.split(","), strict=True))
    from stdnum import luhn

    assert luhn.is_valid(cells["iccid"]) and len(cells["iccid"]) == 20
    assert cells["package_code"] == "IOT-STD" and "IOT-BASIC" not in page.content()
    assert page.locator("#import-packages td.mono", has_text="IOT-STD").count() == 1

    # Card users, searched by name; the per-person page counts the ID's cards (§1.3).
    walk.open("/cards/card-users/", "card-users")
    assert len(_rows(page)) == 2
    page.fill("form[role=search] input[name=q]", "王芳")
    walk.follow(page.locator("form[role=search] [type=submit]"), "card-users-search")
    assert len(_rows(page)) == 1 and "王芳" in _rows(page)[0]
    assert number not in page.content()
    walk.open(f"/cards/card-users/{wang.public_id}/person/", "person")
    slots = page.locator("#person-slots")
    assert (slots.get_attribute("data-used"), slots.get_attribute("data-limit")) == ("2", "5")
    assert page.locator("#person-cards tbody tr").count() == 2

    # The enterprise's exemption requests.
    walk.open("/approvals/exemptions/", "exemptions")
    assert page.locator(f"main a[href*='{exemption.public_id}']").count() >= 1


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_provincial_approvers_day(page, world, scripted_face_engine, viewport):
    from approvals.models import RequestStatus
    from enterprises.models import ChangeRequest, ChangeRequestStatus
    from verification.models import VerificationStatus

    manager, enterprise = world["users"]["account_manager"], world["enterprise"]
    approver = world["users"]["provincial_approver"]
    approver.full_name = "李审批"
    approver.save(update_fields=["full_name"])
    scripted_face_engine("review", distance=0.55)
    review = put_in_review(
        factories.card_user_registration(
            actor=manager, enterprise=enterprise, cards=[factories.card(enterprise=enterprise, data="non_directed")]
        )
    )
    change, values = submit_enterprise_change(world)
    exemption, _card = file_for_combo(world, "U1")
    walk = Walk(page, viewport, "provincial-approver", desk=True)
    login(page, approver.username, factories.PASSWORD)

    _dashboard(walk)
    walk.open("/", "home")
    assert int(page.locator("a.tile[href$='/approvals/reviews/'] .tile__count").inner_text()) >= 1

    # The review queue, and a decision.
    walk.open("/approvals/reviews/", "review-queue")
    walk.follow(page.locator(f"main a[href*='{review.public_id}']").first, "review")
    page.fill("textarea[name=comment]", "证件照与现场照片为同一人")
    walk.follow(page.locator("button[name=decision][value=approve]"), "review-decided")
    review.refresh_from_db()
    assert review.status == VerificationStatus.APPROVED

    # The change request: old → new of what changes, in words (§1.5).
    walk.open("/approvals/", "queue")
    # The queue shows one list at a time: the change requests are behind their own tab.
    walk.follow(page.locator("[data-list='change_requests'] a").first, "queue-change-requests")
    walk.follow(page.locator(f"main a[href*='{change.public_id}']").first, "change-request")
    comparison = page.locator("table.change-comparison").inner_text()
    assert enterprise.name in comparison and values["name"] in comparison
    assert "business_licence" not in page.content() and "姓名" not in comparison
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", comparison), comparison
    page.fill("textarea[name=comment]", "材料齐全")
    walk.follow(page.locator("button[name=decision][value=approve]"), "change-request-decided")
    assert ChangeRequest.objects.get(pk=change.pk).status == ChangeRequestStatus.APPROVED

    # The exemption (U1, provincial).
    walk.open(f"/approvals/exemptions/{exemption.public_id}/", "exemption")
    page.fill("textarea[name=comment]", "同意豁免")
    walk.follow(page.locator("button[name=decision][value=approve]"), "exemption-decided")
    exemption.refresh_from_db()
    assert exemption.status == RequestStatus.APPROVED

    # The desk: Chinese, no Django boilerplate, the person's name in the header.
    walk.open("/approvals/admin/", "desk")
    assert "李审批" in page.locator("#header").inner_text()
    for model in ("approvals/exemptionrequest", "enterprises/changerequest", "verification/verification"):
        walk.open(f"/approvals/admin/{model}/", f"desk-{model.split('/')[1]}")


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_group_approvers_day(page, world, viewport):
    from approvals.models import RequestStatus

    group = world["users"]["group_approver"]
    exemption, _card = file_for_combo(world, "U3")
    provincial, _other = file_for_combo(world, "U1")
    walk = Walk(page, viewport, "group-approver", desk=True)
    login(page, group.username, factories.PASSWORD)

    _dashboard(walk)
    walk.open("/", "home")
    walk.follow(page.locator("a.tile[href$='/approvals/']"), "queue")
    assert page.locator(f"main a[href*='{exemption.public_id}']").count() >= 1
    assert page.locator(f"main a[href*='{provincial.public_id}']").count() == 0  # a provincial decision
    walk.follow(page.locator(f"main a[href*='{exemption.public_id}']").first, "exemption")
    page.fill("textarea[name=comment]", "集团同意")
    walk.follow(page.locator("button[name=decision][value=approve]"), "exemption-decided")
    exemption.refresh_from_db()
    assert exemption.status == RequestStatus.APPROVED
    walk.open("/approvals/admin/", "desk")
    walk.open("/approvals/admin/approvals/exemptionrequest/", "desk-exemptions")


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_ops_day(page, world, viewport):
    ops = world["users"]["ops"]
    ops.full_name = "赵运维"
    ops.save(update_fields=["full_name"])
    factories.card(enterprise=world["enterprise"])
    walk = Walk(page, viewport, "ops", desk=True)
    login(page, ops.username, factories.PASSWORD)

    _dashboard(walk)
    walk.open("/admin/", "admin")
    header = page.locator("#header").inner_text()
    assert "赵运维" in header and ops.username not in header
    for model in (
        "accounts/user",
        "enterprises/enterprise",
        "cards/card",
        "cards/carduser",
        "approvals/exemptionrequest",
    ):
        text = walk.open(f"/admin/{model}/", f"admin-{model.split('/')[1]}")
        assert re.search(r"[\u4e00-\u9fff]", page.locator("#content h1").inner_text()), model
        heads = page.locator("#result_list thead th").all_inner_texts()
        assert not [h for h in heads if re.search(r"[A-Z]{3,} [A-Z]{2,}", h)], (model, heads)
        assert "选择" not in text, model


def test_an_orders_clear_handler_mismatch_offers_a_retake(page, world, scripted_face_engine):
    scripted_face_engine("fail", distance=0.815)
    manager, enterprise = world["users"]["account_manager"], world["enterprise"]
    order = factories.order(
        actor=manager,
        enterprise=enterprise,
        business_type=BusinessType.NEW_INSTALLATION,
        cards=[factories.card(enterprise=enterprise, data="non_directed")],
        retake_offered=True,  # filed at the counter, as the order wizard does
    )
    walk = Walk(page, "desktop", "account-manager")
    login(page, manager.username, factories.PASSWORD)
    walk.open(f"/orders/{order.public_id}/", "order-mismatch-retake")
    assert "0.815" in page.locator("main").inner_text()
    assert page.locator(f"form[action$='/orders/{order.public_id}/live-photo/']").count() == 1
