"""Issue 11 §5: on a phone the header was 217 of 844 px on every page. The navigation now collapses behind
a menu button (portal.js, no inline script); on a desktop it stays in the header row."""

from __future__ import annotations

import pytest

from tests import factories
from tests.browser.conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


def _header_height(page) -> float:
    return page.evaluate("document.querySelector('.site-header').getBoundingClientRect().height")


def test_11_5_the_phone_header_collapses_into_a_menu(page, world):
    manager = world["users"]["account_manager"]
    login(page, manager.username, factories.PASSWORD)
    page.set_viewport_size(PHONE)
    for path in ("/", "/cards/"):
        page.goto(f"{page.base_url}{path}")
        nav = page.locator(".site-nav")
        toggle = page.locator(".menu-toggle")
        assert toggle.is_visible() and not nav.is_visible(), path
        assert _header_height(page) <= 80, (path, _header_height(page))
    screenshot(page, "phone-header-closed")

    toggle.click()
    assert nav.is_visible() and toggle.get_attribute("aria-expanded") == "true"
    assert page.locator(".site-nav a").count() >= 3
    screenshot(page, "phone-header-open")
    toggle.click()
    assert not nav.is_visible() and toggle.get_attribute("aria-expanded") == "false"


def test_11_5_the_desktop_header_shows_the_navigation(page, world):
    manager = world["users"]["account_manager"]
    login(page, manager.username, factories.PASSWORD)
    page.set_viewport_size(DESKTOP)
    page.goto(f"{page.base_url}/")
    assert page.locator(".site-nav").is_visible()
    assert not page.locator(".menu-toggle").is_visible()
    assert page.locator(".site-nav a").first.is_visible()
    assert _header_height(page) <= 120
    screenshot(page, "desktop-header")


def test_11_3_on_a_phone_the_menu_button_shows_the_unread_notices(page, world):
    from accounts.models import NoticeKind
    from accounts.notifications import notify

    manager = world["users"]["account_manager"]
    notify(manager, NoticeKind.DECISION, None, title="决定已出", body="", link="/")
    login(page, manager.username, factories.PASSWORD)
    page.set_viewport_size(PHONE)
    page.goto(f"{page.base_url}/")
    badge = page.locator(".menu-toggle [data-menu-unread]")
    # The bell itself is inside the collapsed menu; its count is on the button that opens it.
    assert not page.locator(".bell").is_visible()
    assert badge.is_visible() and badge.inner_text() == "1"
    assert _header_height(page) <= 80
