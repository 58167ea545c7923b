"""Issue 11 §3: the compliance dashboard in Chromium, on a desktop and on a phone. Its SVG charts show
(no script, no CDN, no CSP violation: the page fixture fails on one), the phone does not scroll sideways,
and a bar opens the list behind it with the same number."""

from __future__ import annotations

import pytest

from tests import factories
from tests.browser.conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


def _cards(world):
    manager = world["users"]["account_manager"]
    for enterprise, lacking in ((world["enterprise"], 3), (world["enterprise_same_province"], 1)):
        for _index in range(lacking):
            factories.card(enterprise=enterprise, data="non_directed")
        factories.card(enterprise=enterprise)
    at_gate = factories.card(enterprise=world["enterprise"], data="non_directed")
    factories.activate(at_gate, actor=manager)
    return manager


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_11_3_the_dashboard_shows_its_charts_and_links_to_the_lists(page, world, viewport):
    manager = _cards(world)
    page.set_viewport_size(viewport)
    login(page, manager.username, factories.PASSWORD)
    page.goto(f"{page.base_url}/dashboard/")
    charts = page.locator("svg.chart")
    assert charts.count() == 6  # states, by enterprise, exemptions by rule and age, face rates, imports
    for index in range(charts.count()):
        box = charts.nth(index).bounding_box()
        assert box and box["width"] > 200 and box["height"] > 30, index
    assert page.locator("[data-figure=lacking]").inner_text() == "5"
    # Nothing wider than the screen: no sideways scroll on a phone.
    scroll, client = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert scroll <= client, (scroll, client)
    assert "北京物联科技有限公司" in page.locator("#lacking-by-enterprise svg").inner_html()
    screenshot(page, f"dashboard-{viewport['width']}")

    # The enterprise's bar opens the card list filtered to its lacking cards: as many rows as the bar says.
    page.locator("#lacking-by-enterprise svg a").first.click()
    page.wait_for_load_state()
    assert "realname=missing" in page.url and "enterprise=" in page.url
    assert page.locator("main table tbody tr").count() == 4
