"""Playwright driving Debian's chromium against pytest-django's live server.

No browser is downloaded: the executable is /usr/bin/chromium (DESIGN §5).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture(scope="session")
def browser():
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still sync.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, live_server):
    """A page on the live server. A Content-Security-Policy violation fails the test (issue 7 §5):
    chromium reports each refused script, style or request as a console error."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.base_url = live_server.url
    page.csp_violations = []
    page.on(
        "console",
        lambda message: (
            page.csp_violations.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    yield page
    context.close()
    assert not page.csp_violations, page.csp_violations


def login(page, username: str, password: str) -> None:
    page.goto(f"{page.base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("main form[action*=login] [type=submit]")
    page.wait_for_load_state()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def choose_enterprise(page, enterprise) -> None:
    """Pick `enterprise` in the page's enterprise picker (enterprises.autocomplete) as a person does: type
    its name, then click it in the suggestions."""
    box = page.locator("input[name=enterprise_q]").first
    box.click()
    box.fill("")
    box.press_sequentially(enterprise.name, delay=20)
    option = page.locator(".autocomplete__list [role=option]", has_text=enterprise.name).first
    option.wait_for()
    option.click()
    hidden = page.locator("[data-autocomplete-value][name=enterprise]").first
    assert hidden.input_value() == str(enterprise.public_id)
