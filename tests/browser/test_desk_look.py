"""Issue 11 §4 in the browser: the approval desk wears the portal's look, in Chinese, on desktop and phone."""

from __future__ import annotations

import pytest

from tests import factories
from tests.approvals import file_for_combo
from tests.browser.conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("viewport", [{"width": 1366, "height": 900}, {"width": 390, "height": 844}])
def test_11_4_the_desk_looks_like_the_portal(page, world, viewport):
    file_for_combo(world, "U1")
    approver = world["users"]["provincial_approver"]
    approver.full_name = "李审批"
    approver.save(update_fields=["full_name"])
    page.set_viewport_size(viewport)
    login(page, approver.username, factories.PASSWORD)
    page.goto(f"{page.base_url}/approvals/admin/approvals/exemptionrequest/")
    header = page.locator("#header")
    # The portal's navy header (portal.css .site-header), not the admin's teal.
    assert header.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(13, 44, 79)"
    assert "李审批" in header.inner_text() and approver.username not in header.inner_text()
    assert page.locator("h1").inner_text() == "豁免申请"
    heads = page.locator("#result_list thead th").all_inner_texts()
    assert "提交时间" in " ".join(heads)
    assert not [head for head in heads if any(word in head.upper() for word in ("SUBMITTED", "PUBLIC ID", " AT"))]
    screenshot(page, f"desk-list-{viewport['width']}")
    page.locator("#result_list tbody a").first.click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().startswith("审批 ")
    assert page.get_by_role("button", name="批准").is_visible()
    screenshot(page, f"desk-decide-{viewport['width']}")
