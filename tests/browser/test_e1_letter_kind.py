"""Issue 7 §1.4 / E1 in the browser: the official-letter choice appears only with a kind of unit
that cannot hold a credential (portal.js; the service is the check, tests/security/test_e1_letter_path.py)."""

from __future__ import annotations

import pytest

from tests import factories
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_7_1_4_the_letter_choice_follows_the_kind_of_unit(page, provinces):
    manager = factories.user(role="account_manager", province=provinces["beijing"], username="am_browser_kind")
    login(page, manager.username, factories.PASSWORD)
    page.goto(f"{page.base_url}/enterprises/new/")
    letter = page.locator("select[name=credential_type] option[value=official_letter]")

    page.select_option("select[name=unit_kind]", "enterprise")
    assert letter.evaluate("option => option.disabled && option.hidden")

    page.select_option("select[name=unit_kind]", "party_government")
    assert letter.evaluate("option => !option.disabled && !option.hidden")
    page.select_option("select[name=credential_type]", "official_letter")
    assert page.locator("input[name=credential_number]").is_hidden()

    # Back to a kind that holds a credential: the letter is withdrawn, the number asked for again.
    page.select_option("select[name=unit_kind]", "enterprise")
    assert page.locator("select[name=credential_type]").input_value() != "official_letter"
    assert page.locator("input[name=credential_number]").is_visible()
