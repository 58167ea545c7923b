"""Issue 2 browser test: an account manager registers an enterprise and sees the number masked."""

from __future__ import annotations

from urllib.parse import urljoin

import pytest

from accounts.models import PiiAccessLog
from enterprises.models import Document, Enterprise
from tests import factories, idgen
from tests.browser.conftest import login, screenshot
from tests.images import jpeg_bytes

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_E1_account_manager_registers_enterprise_in_the_browser(page, provinces, tmp_path):
    manager = factories.user(role="account_manager", province=provinces["beijing"], username="am_browser")
    licence = tmp_path / "licence.jpg"
    licence.write_bytes(jpeg_bytes(size=(640, 420)))
    id_photo = tmp_path / "id.jpg"
    id_photo.write_bytes(jpeg_bytes(size=(428, 270)))
    number = idgen.uscc()
    person_id = idgen.resident_id()

    login(page, manager.username, factories.PASSWORD)
    page.goto(f"{page.base_url}/enterprises/new/")
    page.fill("input[name=name]", "北京浏览器测试物联有限公司")
    page.select_option("select[name=credential_type]", "business_licence")
    page.fill("input[name=credential_number]", number)
    page.fill("input[name=credential_address]", "北京市东城区长安街1号")
    page.set_input_files("input[name=credential_files]", str(licence))
    page.fill("input[name=responsible_name]", "李四")
    page.select_option("select[name=responsible_id_type]", "resident_id")
    page.fill("input[name=responsible_id_number]", person_id)
    page.fill("input[name=responsible_id_address]", "北京市东城区长安街2号")
    page.set_input_files("input[name=responsible_id_files]", str(id_photo))
    page.click("main form[enctype] [type=submit]")
    page.wait_for_load_state()

    enterprise = Enterprise.objects.get()
    assert page.url.rstrip("/").endswith(str(enterprise.public_id))
    html = page.content()
    assert "北京浏览器测试物联有限公司" in html
    assert enterprise.credential_number_masked in html
    assert number not in html and person_id not in html
    assert Document.objects.filter(enterprise=enterprise, kind="credential").count() == 1
    # The licence opens through the permission-checking view; the page loads no thumbnail (each opening
    # is a counted full view, issue 7 §2.2).
    assert page.locator("img[src*='/documents/']").count() == 0
    href = page.locator("a[href*='/documents/'][href*='inline=1']").first.get_attribute("href")
    opened = page.request.get(urljoin(page.url, href))
    assert opened.status == 200 and opened.headers["content-type"] == "image/jpeg"
    screenshot(page, "enterprise-registered")

    # A full view is a deliberate, logged act.
    page.locator("form[action*='reveal'] button").first.click()
    page.wait_for_load_state()
    assert number in page.content()
    assert PiiAccessLog.objects.filter(actor=manager, field="credential_number").count() == 1
