"""Issue 11 §1.1, §1.6, §1.7 in Chromium, on a desktop (1366×900) and a phone (390×844)."""

from __future__ import annotations

import pytest

from cards.models import Package
from tests import factories, idgen
from tests.browser.conftest import login, screenshot
from tests.images import jpeg_upload, pdf_upload

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


def _no_sideways_scroll(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_issue11_the_import_page_shows_real_codes_and_a_valid_example(page, world, viewport):
    page.set_viewport_size(VIEWPORTS[viewport])
    Package.objects.create(code="IOT-STD", name="物联网标准套餐")
    login(page, world["users"]["account_manager"].username, factories.PASSWORD)
    page.goto(f"{page.base_url}/cards/imports/")
    example = page.locator("#import-example")
    assert example.is_visible()
    lines = example.inner_text().strip().splitlines()
    assert lines[0] == "iccid,msisdn,imsi,package_code,data,voice,sms"
    assert ",IOT-STD," in lines[1] and "IOT-BASIC" not in page.content()
    assert page.locator("#import-packages td.mono", has_text="IOT-STD").count() == 1
    assert _no_sideways_scroll(page)
    screenshot(page, f"issue11-import-page-{viewport}")


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_issue11_a_rejected_change_leaves_the_current_documents_and_the_tile_counts_stock(page, world, viewport):
    from approvals.services import change_request_decide
    from enterprises.services import change_request_submit

    page.set_viewport_size(VIEWPORTS[viewport])
    manager, enterprise = world["users"]["account_manager"], world["enterprise"]
    person = enterprise.responsible_person
    request = change_request_submit(
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
        change_request=request, actor=world["users"]["provincial_approver"], approve=False, comment="照片不清晰"
    )
    rejected = {str(document.public_id) for document in request.documents.all()}
    factories.card(enterprise=enterprise, data="non_directed")  # in stock, will need real-name (U1)

    login(page, manager.username, factories.PASSWORD)
    page.goto(f"{page.base_url}/enterprises/{enterprise.public_id}/")
    documents = page.locator("ul.documents").first.inner_html() + "".join(
        page.locator("ul.documents").nth(i).inner_html() for i in range(1, page.locator("ul.documents").count())
    )
    assert not any(public_id in documents for public_id in rejected)
    assert page.locator("text=不计入登记记录").count() == 1
    assert _no_sideways_scroll(page)
    screenshot(page, f"issue11-enterprise-after-rejection-{viewport}")

    page.goto(f"{page.base_url}/")
    tile = page.locator("a.tile[href$='realname=missing']")
    count = int(tile.locator(".tile__count").inner_text())
    assert count >= 1 and "含库存卡" in tile.inner_text()
    tile.click()
    page.wait_for_load_state()
    assert page.locator("tbody tr").count() == count
    screenshot(page, f"issue11-cards-lacking-realname-{viewport}")
