"""Issue 11 §2 in Chromium, on a desktop (1366×900) and a phone (390×844): cards are picked, not typed.

The picker finds the enterprise's cards by the first digits, ticks them into the form's own field, and
"select all that match" posts the filter, which the server resolves. The scan button is there on the
phone, the vendored ZXing library loads under the CSP (the page fixture fails on any violation), and its
decode step reads a Code 128 barcode of an ICCID drawn on a canvas. A real camera cannot run headless.
"""

from __future__ import annotations

import pytest

from approvals.models import ExemptionRequest
from tests import factories
from tests.browser.conftest import choose_enterprise, login, screenshot
from tests.images import jpeg_bytes

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}

# Draws a Code 128 (set C, digit pairs) barcode of `digits` from the library's own bar table, then decodes it.
DRAW_AND_DECODE = """async (digits) => {
  await window.CardPicker.loadDecoder();
  const patterns = window.ZXing.Code128Reader.CODE_PATTERNS;
  const codes = [105];
  for (let i = 0; i < digits.length; i += 2) codes.push(parseInt(digits.substr(i, 2), 10));
  let sum = codes[0];
  for (let i = 1; i < codes.length; i++) sum += codes[i] * i;
  codes.push(sum % 103, 106);
  const widths = [];
  codes.forEach((code) => Array.from(patterns[code]).forEach((w) => widths.push(w)));
  widths.push(2); // the stop pattern's last bar
  const unit = 3, quiet = 12 * unit;
  const canvas = document.createElement("canvas");
  canvas.width = widths.reduce((a, b) => a + b, 0) * unit + 2 * quiet;
  canvas.height = 80;
  const context = canvas.getContext("2d");
  context.fillStyle = "#fff";
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.fillStyle = "#000";
  let x = quiet;
  widths.forEach((w, i) => { if (i % 2 === 0) context.fillRect(x, 10, w * unit, 60); x += w * unit; });
  return window.CardPicker.decode(context.getImageData(0, 0, canvas.width, canvas.height));
}"""


def _settled(page, rows: int) -> None:
    """The picker has answered the last search (not busy) with `rows` cards."""
    page.wait_for_function(
        "(rows) => !document.querySelector('[data-card-picker]').hasAttribute('aria-busy')"
        " && document.querySelectorAll('[data-picker-results] li').length === rows",
        arg=rows,
    )


def _no_sideways_scroll(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_issue11_order_cards_are_picked_by_search_and_select_all(page, world, viewport):
    manager, enterprise = world["users"]["account_manager"], world["enterprise"]
    u1 = [factories.order_stock_card(enterprise=enterprise, data="non_directed") for _ in range(3)]
    plain = factories.order_stock_card(enterprise=enterprise)
    factories.order_stock_card(enterprise=world["enterprise_other"], data="non_directed")  # never offered
    page.set_viewport_size(VIEWPORTS[viewport])
    login(page, manager.username, factories.PASSWORD)
    page.goto(f"{page.base_url}/orders/new/")
    page.select_option("select[name=business_type]", "new_installation")
    choose_enterprise(page, enterprise)
    picker = page.locator("[data-card-picker]")
    picker.wait_for(state="visible")
    _settled(page, 4)

    # Search by one card's ICCID (as a scan fills it in), tick it: the textarea names it.
    picker.locator("[data-picker-filter=q]").fill(plain.iccid)
    _settled(page, 1)
    picker.locator(f"[data-picker-results] input[value='{plain.iccid}']").check()
    assert page.locator("textarea[name=cards]").input_value().split() == [plain.iccid]
    assert "1" in picker.locator("[data-picker-count]").inner_text()

    # Then every card under rule U1: "select all that match" posts the filter, not the list.
    picker.locator("[data-picker-filter=q]").fill("")
    picker.locator("[data-picker-filter=rule]").select_option("U1")
    _settled(page, 3)
    picker.locator("[data-picker-select-all]").click()
    assert "3" in picker.locator("[data-picker-count]").inner_text()
    assert page.locator("input[name=picker_all]").input_value() == "1"
    assert page.locator("input[name=picker_rule]").input_value() == "U1"
    assert page.locator("textarea[name=cards]").input_value().split() == [plain.iccid]
    assert _no_sideways_scroll(page)
    screenshot(page, f"issue11-card-picker-order-{viewport}")

    page.click("form.form button[type=submit].button--primary")
    page.wait_for_url("**/orders/new/handler/**")
    summary = page.locator("main").inner_text()
    for card in [plain, *u1]:
        assert card.iccid in summary


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_issue11_exemption_cards_are_picked_with_select_all(page, world, viewport):
    manager, enterprise = world["users"]["account_manager"], world["enterprise"]
    u1 = [factories.order_stock_card(enterprise=enterprise, data="non_directed") for _ in range(2)]
    factories.order_stock_card(enterprise=enterprise, segment_149=True, sms="directed")  # U3: left out by the filter
    page.set_viewport_size(VIEWPORTS[viewport])
    login(page, manager.username, factories.PASSWORD)
    page.goto(f"{page.base_url}/approvals/exemptions/new/?enterprise={enterprise.public_id}")
    picker = page.locator("[data-card-picker]")
    picker.wait_for(state="visible")
    _settled(page, 3)
    picker.locator("[data-picker-filter=rule]").select_option("U1")
    _settled(page, 2)
    picker.locator("[data-picker-select-all]").click()
    assert "2" in picker.locator("[data-picker-count]").inner_text()
    page.fill("textarea[name=reason]", "物联网设备无使用人，申请豁免")
    page.set_input_files(
        "input[name=attachment_province]",
        {"name": "approval.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes()},
    )
    screenshot(page, f"issue11-card-picker-exemption-{viewport}")
    page.click("main form[method=post] button[type=submit].button--primary")
    page.wait_for_url("**/approvals/exemptions/*/")
    exemption = ExemptionRequest.objects.get(enterprise=enterprise)
    assert sorted(exemption.cards.values_list("iccid", flat=True)) == sorted(c.iccid for c in u1)


def test_issue11_the_phone_has_a_scan_button_and_the_decoder_reads_an_iccid_barcode(page, world):
    manager, enterprise = world["users"]["account_manager"], world["enterprise"]
    card = factories.order_stock_card(enterprise=enterprise)
    page.set_viewport_size(VIEWPORTS["phone"])
    login(page, manager.username, factories.PASSWORD)
    page.goto(f"{page.base_url}/orders/new/")
    scan = page.locator("[data-picker-scan]")
    scan.wait_for(state="visible")
    assert scan.bounding_box()["width"] > 40
    assert page.evaluate("document.featurePolicy ? document.featurePolicy.allowsFeature('camera') : null") is True
    assert page.evaluate(DRAW_AND_DECODE, card.iccid) == card.iccid
    assert page.evaluate("() => typeof window.ZXing.BrowserMultiFormatReader") == "function"
    screenshot(page, "issue11-card-picker-scan-phone")
