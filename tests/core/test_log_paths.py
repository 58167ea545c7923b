"""Secrets in a path (a self-service link's token, a set-password link) never reach a log line."""

from __future__ import annotations

import logging
import secrets

import pytest
from django.test import Client

from core.http import loggable_path


@pytest.mark.parametrize(
    "path, logged",
    [
        ("/s/abcDEF_123-xyz/", "/s/<token>/"),
        ("/s/abcDEF_123-xyz/qr.png", "/s/<token>/qr.png"),
        ("/accounts/set-password/MQ/c3x-1234abcd/", "/accounts/set-password/<uid>/<token>/"),
        ("GET /s/abcDEF_123-xyz/ HTTP/1.1", "GET /s/<token>/ HTTP/1.1"),
        ("/cards/s/not-a-link/", "/cards/s/not-a-link/"),
        ("/api/v1/cards/", "/api/v1/cards/"),
    ],
)
def test_the_secret_segments_are_masked(path, logged):
    assert loggable_path(path) == logged


@pytest.mark.django_db
def test_a_server_error_on_a_link_page_logs_the_path_without_its_token(monkeypatch, caplog):
    def broken(token):
        raise RuntimeError("boom")

    monkeypatch.setattr("cards.self_service.selectors.link_for_token", broken)
    token = secrets.token_urlsafe(32)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = Client(raise_request_exception=False).get(f"/s/{token}/")
    assert response.status_code == 500
    assert "Internal Server Error: /s/<token>/" in caplog.text
    assert token not in caplog.text


def test_the_development_servers_request_line_is_masked_too():
    # django.server does not propagate to the root logger: listen on it directly.
    token = secrets.token_urlsafe(32)
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    server = logging.getLogger("django.server")
    server.addHandler(handler)
    try:
        server.info('"%s" %s %s', f"GET /s/{token}/ HTTP/1.1", "404", "2229")
    finally:
        server.removeHandler(handler)
    assert seen == ['"GET /s/<token>/ HTTP/1.1" 404 2229']
