"""Issue 11 §2 in Chromium, on a desktop (1366×900) and a phone (390×844): every error at once with the first
in view, photos that survive a failed submit, their previews, and the card page's "Apply for an exemption"."""

from __future__ import annotations

import pytest

from enterprises.models import Document, DocumentKind, Enterprise
from tests import factories, idgen
from tests.browser.conftest import login, screenshot
from tests.images import jpeg_bytes

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


def _in_view(page, selector: str) -> bool:
    top = page.eval_on_selector(selector, "e => e.getBoundingClientRect().top")
    height = page.evaluate("() => window.innerHeight")
    assert -2 <= top < height, (selector, top, height, page.evaluate("() => window.scrollY"))
    return True


def _loaded(page, selector: str) -> bool:
    """Every image of `selector` has been decoded (a blob: or the server's preview)."""
    page.wait_for_function(
        "s => [...document.querySelectorAll(s)].length > 0 && [...document.querySelectorAll(s)].every(i => i.complete)",
        arg=selector,
    )
    return page.eval_on_selector_all(selector, "images => images.every(i => i.naturalWidth > 0)")


def _no_browser_checks(page) -> None:
    # The browser's own required-field checks would stop the submit first; the server's errors are tested.
    page.eval_on_selector("main form[enctype]", "form => { form.noValidate = true; }")


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_a_failed_registration_shows_every_error_and_keeps_its_photos(page, world, tmp_path, viewport):
    page.set_viewport_size(VIEWPORTS[viewport])
    licence, id_photo = tmp_path / "licence.jpg", tmp_path / "id.jpg"
    licence.write_bytes(jpeg_bytes(size=(640, 420)))
    id_photo.write_bytes(jpeg_bytes(size=(428, 270)))
    login(page, world["users"]["account_manager"].username, factories.PASSWORD)
    page.goto(f"{page.base_url}/enterprises/new/")

    page.fill("input[name=name]", "北京保留照片物联有限公司")
    page.fill("input[name=credential_number]", idgen.uscc())
    page.set_input_files("input[name=credential_files]", str(licence))
    page.fill("input[name=responsible_name]", "李四")
    page.fill("input[name=responsible_id_number]", idgen.resident_id())
    page.set_input_files("input[name=responsible_id_files]", str(id_photo))
    # The preview of each chosen photo, made in the browser.
    assert page.locator(".upload-preview img[src^='blob:']").count() == 2
    assert _loaded(page, ".upload-preview img[src^='blob:']")
    # Two addresses left empty: two errors.
    _no_browser_checks(page)
    page.click("main form[enctype] [type=submit]")
    page.wait_for_load_state()

    summary = page.locator("[data-error-summary]")
    assert summary.locator("a[data-error-link]").count() == 2
    assert page.evaluate("() => document.activeElement.hasAttribute('data-error-summary')")
    assert _in_view(page, "[data-error-summary]")
    assert page.locator(".field--error").count() == 2
    # The photos are kept: named, previewed from the server, and sent again by token.
    assert page.locator("[data-kept-upload]").count() == 2
    assert _loaded(page, "[data-kept-upload] img")
    screenshot(page, f"issue11-forms-kept-{viewport}")
    # A summary link takes the reader to its field.
    summary.locator("a[data-error-link='responsible_id_address']").click()
    assert page.evaluate("() => document.activeElement.name") == "responsible_id_address"
    assert Enterprise.objects.filter(name="北京保留照片物联有限公司").count() == 0

    page.fill("input[name=credential_address]", "北京市东城区长安街1号")
    page.fill("input[name=responsible_id_address]", "北京市东城区长安街2号")
    page.fill("input[name=credential_number]", idgen.uscc())
    page.fill("input[name=responsible_id_number]", idgen.resident_id())
    page.click("main form[enctype] [type=submit]")
    page.wait_for_load_state()

    enterprise = Enterprise.objects.get(name="北京保留照片物联有限公司")
    assert page.url.rstrip("/").endswith(str(enterprise.public_id))
    assert Document.objects.filter(enterprise=enterprise, kind=DocumentKind.CREDENTIAL).count() == 1
    assert Document.objects.filter(enterprise=enterprise, kind=DocumentKind.RESPONSIBLE_ID).count() == 1


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_card_page_leads_to_the_exemption_form_and_its_errors_are_in_view(page, world, viewport):
    page.set_viewport_size(VIEWPORTS[viewport])
    enterprise = world["enterprise"]
    # A long list of cards above the form's fields, as on the page of issue 11.
    for _ in range(40):
        factories.card(enterprise=enterprise, data="non_directed")
    card = factories.card(enterprise=enterprise, data="non_directed")
    login(page, world["users"]["account_manager"].username, factories.PASSWORD)
    page.goto(f"{page.base_url}/cards/{card.iccid}/")

    page.click("#apply-exemption")
    page.wait_for_load_state()
    assert "/approvals/" in page.url
    assert page.locator(f"input[name=cards][value='{card.iccid}']").is_checked()

    _no_browser_checks(page)
    page.click("main form[enctype] [type=submit]")
    page.wait_for_load_state()
    # No reason: said at the top, in view, not below the card table; its link leads to the field.
    summary = page.locator("[data-error-summary]")
    assert summary.locator("a[data-error-link='reason']").count() == 1
    assert _in_view(page, "[data-error-summary]")
    summary.locator("a[data-error-link='reason']").click()
    assert page.evaluate("() => document.activeElement.name") == "reason"

    # With a reason, the service refuses the missing provincial form (U1): said at the top as well.
    page.fill("textarea[name=reason]", "设备安装在无人值守的机房内，使用人无法到场")
    page.click("main form[enctype] [type=submit]")
    page.wait_for_load_state()
    summary = page.locator("[data-error-summary]")
    assert summary.locator("a[data-error-link='attachment_province']").count() == 1
    assert _in_view(page, "[data-error-summary]")
    screenshot(page, f"issue11-exemption-errors-{viewport}")
    summary.locator("a[data-error-link='attachment_province']").click()
    assert _in_view(page, "[data-field='attachment_province']")
