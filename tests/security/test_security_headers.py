"""Issue 7 §5: a Content-Security-Policy (django-csp) on every page, no inline script or style left
for it to refuse, and a Permissions-Policy that allows the camera only where a live photo is taken."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.conftest import REPO

pytestmark = pytest.mark.django_db


def _directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in header.split(";")) if part}


def _camera(response) -> str:
    policy = dict(item.strip().split("=", 1) for item in response["Permissions-Policy"].split(","))
    return policy["camera"]


def test_7_5_pages_send_a_strict_content_security_policy(client):
    response = client.get("/accounts/login/")
    directives = _directives(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"] and directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"] and directives["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]


def test_7_5_the_api_sends_the_policy_too(client):
    assert "default-src 'self'" in client.get("/api/v1/cards/")["Content-Security-Policy"]


def test_7_5_swagger_ui_loads_its_start_up_script_as_a_file(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline script the policy would refuse"
    script = re.search(r'<script src="(/api/docs/\?[^"]*script[^"]*)"', html).group(1)
    started = client.get(script.replace("&amp;", "&"))
    assert started.status_code == 200 and "SwaggerUIBundle" in started.content.decode()
    # Its own policy: the UI styles elements inline and shows data: images, nothing more.
    directives = _directives(page)
    assert directives["script-src"] == ["'self'"]
    assert "'unsafe-inline'" in directives["style-src"] and "data:" in directives["img-src"]


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>"), "inline <script>"),
    (re.compile(r"<style\b"), "inline <style>"),
    (re.compile(r"\sstyle=\""), "style attribute"),
    (re.compile(r"\son[a-z]+=\""), "event handler attribute"),
    (re.compile(r"javascript:"), "javascript: URL"),
]


def test_7_5_templates_hold_no_inline_script_or_style():
    found = []
    for path in sorted((REPO / "templates").rglob("*.html")):
        text = path.read_text()
        for pattern, what in INLINE:
            if pattern.search(text):
                found.append(f"{path.relative_to(REPO)}: {what}")
    assert not found, found


def test_7_5_the_camera_is_denied_on_ordinary_pages(client, world):
    assert _camera(client.get("/accounts/login/")) == "()"
    client.force_login(world["users"]["account_manager"])
    for url in ("/", "/enterprises/", "/cards/", "/orders/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert _camera(response) == "()", url
        policy = response["Permissions-Policy"]
        for feature in ("microphone=()", "geolocation=()", "payment=()"):
            assert feature in policy, (url, feature)


def test_7_5_the_camera_is_allowed_where_the_live_photo_is_taken(world, no_engine):
    from tests import factories

    client = Client()
    manager = world["users"]["account_manager"]
    client.force_login(manager)
    page = client.get("/cards/card-users/new/")
    assert page.status_code == 200 and 'capture="user"' in page.content.decode()
    assert _camera(page) == "(self)"
    assert "microphone=()" in page["Permissions-Policy"]

    # The order page, where a declined comparison's live photo is retaken (H3).
    order = factories.order(
        actor=manager,
        enterprise=world["enterprise"],
        business_type="new_installation",
        cards=[factories.order_stock_card(enterprise=world["enterprise"])],
    )
    detail = client.get(f"/orders/{order.public_id}/")
    assert detail.status_code == 200
    assert _camera(detail) == "(self)"
