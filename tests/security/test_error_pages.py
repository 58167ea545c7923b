"""Issue 7 §5: under `make run` (DEBUG on) people see the portal's own 403, 404 and 500 pages.

Before: Django's technical pages, in English, with the URL list (404) and the settings and
traceback (500). The development conveniences stay (DEBUG, the console log with tracebacks);
DEBUG_TECHNICAL_ERROR_PAGES=1 brings Django's pages back for whoever wants them.
"""

from __future__ import annotations

import logging

import pytest
from django.test import Client

pytestmark = [pytest.mark.django_db, pytest.mark.zh]

TECHNICAL = ("URLconf", "Django tried these URL patterns", "Traceback", "Request information", "DEBUG = True")


@pytest.fixture
def debug_client(settings):
    settings.DEBUG = True  # as `make run` has it
    settings.ROOT_URLCONF = "tests.security.urls_boom"
    return Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="zh-hans")


def _assert_portal_page(response, status: int, text: str):
    body = response.content.decode()
    assert response.status_code == status
    assert text in body, body[:2000]
    assert 'class="site-header"' in body or status == 500
    for leak in TECHNICAL:
        assert leak not in body


def test_7_5_unknown_url_shows_the_portals_404_page_in_chinese(debug_client):
    _assert_portal_page(debug_client.get("/no-such-page/"), 404, "页面不存在")


def test_7_5_a_view_raising_404_shows_the_portals_page(debug_client):
    response = debug_client.get("/enterprises/00000000-0000-0000-0000-000000000000/")
    # Anonymous: the login redirect; logged in, the scoped lookup answers 404.
    assert response.status_code == 302
    from tests import factories

    debug_client.force_login(factories.user(role="ops", username="ops_pages", is_staff=True))
    _assert_portal_page(debug_client.get("/enterprises/00000000-0000-0000-0000-000000000000/"), 404, "页面不存在")


def test_a_refused_page_shows_the_portals_403_page(debug_client, world):
    """Django renders 403.html under DEBUG too; kept so the three pages are tested together."""
    debug_client.force_login(world["users"]["account_manager"])
    _assert_portal_page(debug_client.get("/approvals/"), 403, "仅审批人拥有待审批列表。")


def test_7_5_a_failing_view_shows_the_portals_500_page_and_logs_the_traceback(debug_client, caplog):
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = debug_client.get("/boom/")
    _assert_portal_page(response, 500, "服务器错误")
    assert any(record.exc_info and "an unexpected failure" in str(record.exc_info[1]) for record in caplog.records)


def test_technical_pages_come_back_on_request(debug_client, settings):
    settings.DEBUG_TECHNICAL_ERROR_PAGES = True
    assert "URLconf" in debug_client.get("/no-such-page/").content.decode()
