"""Issue 7 §2.5: the client address behind trusted proxies, and login throttling by IP and by username.

One function (core.net.client_ip) gives the address to django-axes and to the PII access log. With no
trusted proxy configured, X-Forwarded-For is ignored, so a client cannot choose its address.
"""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.urls import reverse

from accounts.models import PiiAccessLog
from core.net import client_ip
from enterprises import services as enterprise_services
from tests import factories

pytestmark = pytest.mark.django_db


def _request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


# --- the one function -------------------------------------------------------------------


def test_7_2_5_spoofed_forwarded_for_is_ignored_without_trusted_proxies(settings):
    settings.TRUSTED_PROXIES = []
    assert client_ip(_request("198.51.100.9", "203.0.113.66")) == "198.51.100.9"


def test_7_2_5_one_trusted_proxy_gives_the_address_it_saw(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    # The client put a fake entry first; the proxy appended the address it really saw.
    assert client_ip(_request("10.0.0.2", "203.0.113.66, 198.51.100.23")) == "198.51.100.23"
    assert client_ip(_request("10.0.0.2", "198.51.100.23:51234")) == "198.51.100.23"
    # Two proxies in a row, both trusted.
    assert client_ip(_request("10.0.0.2", "198.51.100.23, 10.1.2.3")) == "198.51.100.23"
    # A request that did not come through the proxy: its header is the client's own word.
    assert client_ip(_request("192.0.2.50", "203.0.113.66")) == "192.0.2.50"
    # Garbage from the proxy chain never becomes an address.
    assert client_ip(_request("10.0.0.2", "not-an-ip")) == "10.0.0.2"
    assert client_ip(_request("10.0.0.2", "2001:db8::1")) == "2001:db8::1"


def test_7_2_5_the_pii_access_log_records_the_address_behind_the_proxy(world, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    request = _request("10.0.0.1", "203.0.113.66, 198.51.100.23")
    enterprise_services.enterprise_reveal_field(
        actor=world["users"]["account_manager"],
        enterprise=world["enterprise"],
        field="credential_number",
        request=request,
    )
    assert PiiAccessLog.objects.get().ip_address == "198.51.100.23"


def test_7_2_5_the_pii_access_log_ignores_a_spoofed_header(world, settings):
    settings.TRUSTED_PROXIES = []
    request = _request("198.51.100.9", "203.0.113.66")
    enterprise_services.enterprise_reveal_field(
        actor=world["users"]["account_manager"],
        enterprise=world["enterprise"],
        field="credential_number",
        request=request,
    )
    assert PiiAccessLog.objects.get().ip_address == "198.51.100.9"


# --- login throttling -------------------------------------------------------------------


def _fail(client, username, **extra):
    return client.post(reverse("login"), {"username": username, "password": "wrong-password"}, **extra)


def _login(client, username, **extra):
    return client.post(reverse("login"), {"username": username, "password": factories.PASSWORD}, **extra)


def test_7_2_5_failures_from_one_address_do_not_lock_the_approver_out_elsewhere(client, provinces, settings):
    approver = factories.user(role="provincial_approver", province=provinces["beijing"], username="approver_x")
    for _ in range(settings.AXES_FAILURE_LIMIT + 3):
        _fail(client, approver.username, REMOTE_ADDR="203.0.113.66")
    assert _login(client, approver.username, REMOTE_ADDR="203.0.113.66").status_code == 429
    response = _login(client, approver.username, REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(approver.pk)


def test_7_2_5_spoofed_forwarded_for_does_not_escape_the_lock(client, provinces, settings):
    settings.TRUSTED_PROXIES = []
    approver = factories.user(role="provincial_approver", province=provinces["beijing"], username="approver_y")
    for n in range(settings.AXES_FAILURE_LIMIT):
        _fail(client, approver.username, REMOTE_ADDR="203.0.113.66", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    response = _login(client, approver.username, REMOTE_ADDR="203.0.113.66", HTTP_X_FORWARDED_FOR="192.0.2.200")
    assert response.status_code == 429


def test_7_2_5_behind_one_trusted_proxy_the_lock_follows_the_client(client, provinces, settings):
    from axes.models import AccessAttempt

    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    approver = factories.user(role="provincial_approver", province=provinces["beijing"], username="approver_z")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _fail(client, approver.username, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.66")
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.66"}
    locked = _login(client, approver.username, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.66")
    assert locked.status_code == 429
    # Everybody comes from the proxy's address; another client behind it is not locked.
    ok = _login(client, approver.username, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert ok.status_code == 302


def test_7_2_5_an_address_trying_many_usernames_is_locked(client, provinces, settings):
    settings.LOGIN_IP_FAILURE_LIMIT = 8
    victim = factories.user(role="account_manager", province=provinces["beijing"], username="victim")
    for n in range(8):  # under the per-username limit for each name
        _fail(client, f"guess{n}", REMOTE_ADDR="203.0.113.99")
    assert _login(client, victim.username, REMOTE_ADDR="203.0.113.99").status_code == 429
    assert _login(client, victim.username, REMOTE_ADDR="198.51.100.8").status_code == 302


@pytest.mark.zh
def test_7_2_5_the_lockout_page_says_how_long_the_lock_lasts(client, provinces, settings):
    from django.utils import translation

    settings.AXES_COOLOFF_TIME = 0.25
    user = factories.user(role="account_manager", province=provinces["beijing"], username="lock_page")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _fail(client, user.username)
    response = _login(client, user.username)
    assert response.status_code == 429
    html = response.content.decode()
    with translation.override("zh-hans"):
        assert "15 分钟" in html, html


def test_7_2_5_the_token_endpoint_is_throttled_the_same_way_and_answers_json(provinces, settings):
    from rest_framework.test import APIClient

    user = factories.user(role="account_manager", province=provinces["beijing"], username="api_lock")
    api = APIClient(REMOTE_ADDR="203.0.113.66")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        api.post("/api/v1/auth/token/", {"username": user.username, "password": "wrong"}, format="json")
    locked = api.post("/api/v1/auth/token/", {"username": user.username, "password": factories.PASSWORD}, format="json")
    assert locked.status_code == 429
    assert locked.json()["code"] == "locked_out" and int(locked["Retry-After"]) > 0
    other = APIClient(REMOTE_ADDR="198.51.100.7")
    assert (
        other.post(
            "/api/v1/auth/token/", {"username": user.username, "password": factories.PASSWORD}, format="json"
        ).status_code
        == 200
    )
