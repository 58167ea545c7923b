"""Issue 7 §5 in the browser: pages work under the Content-Security-Policy (no violation at all,
the page fixture fails the test on one), and the camera is allowed only where a live photo is taken."""

from __future__ import annotations

import pytest

from tests import factories
from tests.browser.conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _camera_allowed(page) -> bool:
    return page.evaluate("document.featurePolicy ? document.featurePolicy.allowsFeature('camera') : null")


def test_7_5_swagger_ui_still_works_under_its_policy(page):
    page.goto(f"{page.base_url}/api/docs/")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() > 10
    screenshot(page, "api-docs-csp")


def test_7_5_the_card_user_page_polls_its_comparison_from_a_static_script(page, world, scripted_face_engine):
    """The polling script was inline, which the policy refuses: now a static file, and it still updates."""
    manager, enterprise = world["users"]["account_manager"], world["enterprise"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("verification.services.enqueue_verification", lambda pk: True)  # stays pending
        verification = factories.card_user_registration(
            actor=manager, enterprise=enterprise, cards=[factories.card(enterprise=enterprise)]
        )
    login(page, manager.username, factories.PASSWORD)
    page.goto(f"{page.base_url}/cards/card-users/{verification.card_user.public_id}/")
    badge = page.locator("#verification-status [data-status]")
    assert "pending" in badge.get_attribute("class")
    factories.face_result(verification, "pass")
    page.wait_for_function(
        "() => document.querySelector('#verification-status [data-status]').className.includes('passed')",
        timeout=20_000,
    )
    assert _camera_allowed(page) is False


def test_7_5_the_camera_is_allowed_on_the_live_photo_page_only(page, world):
    login(page, world["users"]["account_manager"].username, factories.PASSWORD)
    page.goto(f"{page.base_url}/cards/card-users/new/")
    assert page.locator("input[type=file][capture=user]").count() == 1
    assert _camera_allowed(page) is True
    page.goto(f"{page.base_url}/enterprises/")
    assert _camera_allowed(page) is False


def test_7_5_redoc_still_works_under_its_policy(page):
    """And it asks no other host for anything (issue 11 §5): no Google Fonts, no CDN logo."""
    from urllib.parse import urlparse

    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlparse(request.url).netloc))
    page.goto(f"{page.base_url}/api/redoc/")
    page.locator("[role=menuitem], li[data-item-id]").first.wait_for(timeout=30_000)
    assert "IoT card real-name portal API" in page.content()
    page.wait_for_load_state("networkidle")
    assert hosts <= {urlparse(page.base_url).netloc, ""}, hosts


def test_7_5_the_admin_sites_work_under_the_policy(page, world):
    """Django admin (ops) and the approver desk: every list page opens without a policy violation."""
    ops = world["users"]["ops"]
    page.goto(f"{page.base_url}/admin/login/")
    page.fill("input[name=username]", ops.username)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_load_state()
    links = page.eval_on_selector_all("#content-main a[href$='/']", "links => links.map(a => a.href)")
    lists = sorted({link for link in links if link.count("/") >= 6 and "/add/" not in link})
    assert lists, "ops sees no admin pages"
    for link in lists:
        page.goto(link)
        assert page.locator("#changelist, #content-main").count(), link
    login(page, world["users"]["provincial_approver"].username, factories.PASSWORD)
    page.goto(f"{page.base_url}/approvals/admin/")
    assert page.locator("#content-main").count() == 1
