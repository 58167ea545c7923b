"""Issue 12 §1.4 in Chromium, on a desktop and a phone: the card list pages forward and back by its
cursor links, and jumps to an ICCID, keeping the filter; the pagination fits the phone's width."""

from __future__ import annotations

import pytest

from cards.models import Card
from tests import factories
from tests.browser.conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


def _listed(page) -> list[str]:
    return [text.strip() for text in page.locator("table tbody tr td:first-child a").all_inner_texts()]


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_card_list_pages_forward_and_back_and_jumps_to_an_iccid(page, world, viewport):
    page.set_viewport_size(VIEWPORTS[viewport])
    manager = world["users"]["account_manager"]
    ent = world["enterprise"]
    for _ in range(60):
        factories.card(enterprise=ent)
    iccids = sorted(Card.objects.filter(enterprise=ent, status="in_stock").values_list("iccid", flat=True))
    login(page, manager.username, factories.PASSWORD)

    page.goto(f"{page.base_url}/cards/?status=in_stock")
    assert _listed(page) == iccids[:25]
    assert page.locator(".pagination a[data-page=previous]").count() == 0
    page.click(".pagination a[data-page=next]")
    page.wait_for_load_state()
    assert "cursor=" in page.url and "status=in_stock" in page.url
    assert _listed(page) == iccids[25:50]
    page.click(".pagination a[data-page=next]")
    page.wait_for_load_state()
    assert _listed(page) == iccids[50:75]
    assert page.locator(".pagination a[data-page=next]").count() == 0
    screenshot(page, f"card-list-last-page-{viewport}")
    page.click(".pagination a[data-page=previous]")
    page.wait_for_load_state()
    assert _listed(page) == iccids[25:50]
    page.click(".pagination a[data-page=previous]")
    page.wait_for_load_state()
    assert _listed(page) == iccids[:25]

    # Jump to a card by its ICCID: it heads the page, the filter stays.
    page.fill("input#page-jump", iccids[40])
    page.click(".pagination__jump [type=submit]")
    page.wait_for_load_state()
    assert "status=in_stock" in page.url
    assert _listed(page)[0] == iccids[40]
    assert page.locator(".pagination a[data-page=previous]").count() == 1
    screenshot(page, f"card-list-jump-{viewport}")
    # Nothing spills sideways on the phone.
    nav_right = page.evaluate("document.querySelector('.pagination').getBoundingClientRect().right")
    assert nav_right <= VIEWPORTS[viewport]["width"] + 1
