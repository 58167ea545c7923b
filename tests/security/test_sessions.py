"""Issue 7 §2.4: sessions end after idle time and after an absolute lifetime; a password-change page for
every role, and changing the password ends the user's other sessions and revokes their API tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Fresh-pass-2027!"


def _logged_in(user) -> Client:
    client = Client()
    assert client.post(reverse("login"), {"username": user.username, "password": factories.PASSWORD}).status_code == 302
    return client


def _travel(monkeypatch, minutes: float):
    later = timezone.now() + timedelta(minutes=minutes)
    monkeypatch.setattr(timezone, "now", lambda: later)


def test_7_2_4_an_idle_session_ends_and_the_login_page_says_why(world, monkeypatch, settings):
    settings.SESSION_IDLE_TIMEOUT_MINUTES = 30
    client = _logged_in(world["users"]["account_manager"])
    assert client.get(reverse("home")).status_code == 200
    _travel(monkeypatch, 31)
    response = client.get(reverse("home"), follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("login"))
    assert "_auth_user_id" not in client.session
    assert any("inactivity" in str(m) for m in response.context["messages"])


def test_7_2_4_activity_keeps_the_session(world, monkeypatch, settings):
    settings.SESSION_IDLE_TIMEOUT_MINUTES = 30
    client = _logged_in(world["users"]["account_manager"])
    real_now = timezone.now
    start = real_now()
    for step in (20, 40, 60):  # a request every 20 minutes
        monkeypatch.setattr(timezone, "now", lambda step=step: start + timedelta(minutes=step))
        assert client.get(reverse("home")).status_code == 200, step


def test_7_2_4_a_session_ends_after_its_absolute_lifetime(world, monkeypatch, settings):
    settings.SESSION_IDLE_TIMEOUT_MINUTES = 30
    settings.SESSION_ABSOLUTE_TIMEOUT_HOURS = 12
    client = _logged_in(world["users"]["account_manager"])
    start = timezone.now()
    for minutes in range(25, 12 * 60, 25):
        monkeypatch.setattr(timezone, "now", lambda m=minutes: start + timedelta(minutes=m))
        assert client.get(reverse("home")).status_code == 200, minutes
    monkeypatch.setattr(timezone, "now", lambda: start + timedelta(hours=12, minutes=1))
    assert client.get(reverse("home")).status_code == 302


def test_7_2_4_the_idle_timeout_applies_to_the_api_with_a_session_too(world, monkeypatch):
    client = _logged_in(world["users"]["account_manager"])
    assert client.get("/api/v1/me/").status_code == 200
    _travel(monkeypatch, 31)
    assert client.get("/api/v1/me/").status_code == 401


@pytest.mark.parametrize(
    "role", ["account_manager", "enterprise_admin", "provincial_approver", "group_approver", "ops"]
)
def test_7_2_4_every_role_has_a_password_change_page_linked_in_the_header(world, role):
    client = _logged_in(world["users"][role])
    home = client.get(reverse("home")).content.decode()
    assert f'href="{reverse("password_change")}"' in home
    page = client.get(reverse("password_change"))
    assert page.status_code == 200
    assert "base.html" in [t.name for t in page.templates]


def test_7_2_4_changing_the_password_ends_the_other_sessions_and_revokes_tokens(world):
    user = world["users"]["provincial_approver"]
    here, elsewhere = _logged_in(user), _logged_in(user)
    _instance, token = AuthToken.objects.create(user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/me/").status_code == 200

    response = here.post(
        reverse("password_change"),
        {
            "old_password": factories.PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert here.get(reverse("home")).status_code == 200  # this session goes on
    assert elsewhere.get(reverse("home")).status_code == 302  # the other one is over
    assert api.get("/api/v1/me/").status_code == 401
    assert not AuthToken.objects.filter(user=user).exists()
    assert AuditEvent.objects.filter(action="user.password_changed", object_id=str(user.pk), actor=user).exists()
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_7_2_4_the_admin_password_change_is_the_portal_one(world):
    """The Django admin's and the approval desk's own password pages would skip the token revocation."""
    client = _logged_in(world["users"]["ops"])
    response = client.get(reverse("admin:password_change"))
    assert response.status_code == 302 and response["Location"] == reverse("password_change")
    response = client.get(reverse("approvals_admin:password_change"))
    assert response.status_code == 302 and response["Location"] == reverse("password_change")
