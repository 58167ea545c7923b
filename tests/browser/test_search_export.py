"""Issue 11 §3 in Chromium, on a desktop and a phone: the account manager searches card users by an ID
number (which never reaches the address bar), pages on, and exports a large list that is built in
the background and downloaded from its progress page."""

from __future__ import annotations

import pytest

from portal.models import ExportStatus, ListExport
from tests import factories, idgen
from tests.browser.conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(autouse=True)
def no_engine(monkeypatch):
    monkeypatch.setattr("verification.services.enqueue_verification", lambda pk: None)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_search_by_id_number_page_jump_and_a_background_export(page, world, settings, viewport):
    settings.EXPORT_SYNC_MAX_ROWS = 5
    page.set_viewport_size(VIEWPORTS[viewport])
    manager = world["users"]["account_manager"]
    ent = world["enterprise"]
    number = idgen.resident_id()
    for _ in range(26):
        factories.card_user_registration(actor=manager, enterprise=ent, cards=[factories.card(enterprise=ent)])
    factories.card_user_registration(
        actor=manager, enterprise=ent, cards=[factories.card(enterprise=ent)], name="王芳", id_number=number
    )
    login(page, manager.username, factories.PASSWORD)

    page.goto(f"{page.base_url}/cards/card-users/")
    page.fill("input[name=q]", number)
    page.click("form[role=search] [type=submit]")
    page.wait_for_load_state()
    assert number not in page.url
    assert "s=" in page.url
    body = page.content()
    assert number not in body
    assert "王芳" in body
    screenshot(page, f"card-user-search-{viewport}")

    page.goto(f"{page.base_url}/cards/card-users/")
    page.click(".pagination a[data-page=next]")
    page.wait_for_load_state()
    assert "cursor=" in page.url
    assert page.locator("table tbody tr").count() == 2

    page.goto(f"{page.base_url}/cards/")
    page.click("a[href*='/exports/cards/'][href*='format=csv']")
    page.wait_for_load_state()
    job = ListExport.objects.get()
    assert job.status == ExportStatus.DONE
    assert f"/exports/{job.public_id}/" in page.url
    link = page.locator("#export-download")
    link.wait_for()
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename.endswith(".csv")
    screenshot(page, f"export-ready-{viewport}")
