"""Issue 3 browser test: import a card file, watch the progress bar finish, then see why a
149 card with non-directed SMS needs user real-name and that no exemption is possible (U2).

The import runs in a real Celery worker through Redis, so the page really has to poll.
"""

from __future__ import annotations

import pytest

from cards.models import Card, CardImport, ImportStatus
from tests import factories, idgen
from tests.browser.conftest import choose_enterprise, login, screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

ROWS = 3000


def _card_file(path, package_code: str):
    lines = ["iccid,msisdn,imsi,package_code,data,voice,sms"]
    for n in range(ROWS):
        sms = "non_directed" if n == 0 else "none"
        number = f"1490{n:07d}" if n == 0 else f"1440{n:09d}"
        lines.append(f"{idgen.iccid()},{number},460110{n:09d},{package_code},directed,none,{sms}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_U2_import_then_card_page_explains_no_exemption(page, world, tmp_path, start_worker):
    start_worker("browser")
    manager = world["users"]["account_manager"]
    enterprise = world["enterprise"]
    package = factories.package(code="IOT-149")
    card_file = _card_file(tmp_path / "cards.csv", package.code)

    login(page, manager.username, factories.PASSWORD)
    page.goto(f"{page.base_url}/cards/imports/")
    choose_enterprise(page, enterprise)
    page.set_input_files("input[name=file]", str(card_file))
    page.click("main form[enctype] [type=submit]")
    page.wait_for_selector("#import-progress")
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    # A function, not an expression: Playwright evaluates a bare expression with eval, which the CSP refuses.
    page.wait_for_function("() => document.querySelector('#import-progress').value >= 100", timeout=90_000)
    page.wait_for_selector("#import-cards-link")
    assert page.evaluate("window.sameDocument === true"), "the page reloaded to show the result"
    job = CardImport.objects.get()
    assert job.status == ImportStatus.SUCCEEDED and job.imported_rows == ROWS
    assert Card.objects.filter(enterprise=enterprise).count() == ROWS
    screenshot(page, "card-import-finished")

    card = Card.objects.get(msisdn="14900000000")
    page.goto(f"{page.base_url}/cards/{card.iccid}/")
    decision = page.locator("#realname-decision")
    text = decision.inner_text()
    assert "U2" in text
    assert page.locator("#no-exemption").is_visible()
    assert "U2" in page.locator("#no-exemption").inner_text()
    screenshot(page, "card-149-non-directed-sms")
