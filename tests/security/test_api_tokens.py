"""Issue 7 §2.3: API tokens expire, are stored hashed, are revoked on logout and password change, and a
user lists and revokes their own (django-rest-knox behind the same `POST /api/v1/auth/token/`)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests import factories

pytestmark = pytest.mark.django_db

API = "/api/v1"


def _obtain(user) -> dict:
    response = APIClient().post(
        f"{API}/auth/token/", {"username": user.username, "password": factories.PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def _api(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_7_2_3_a_token_expires(world, settings, monkeypatch):
    user = world["users"]["account_manager"]
    body = _obtain(user)
    expires_at = timezone.datetime.fromisoformat(body["expires_at"])
    assert timedelta(hours=9, minutes=59) < expires_at - timezone.now() <= timedelta(hours=10)
    api = _api(body["token"])
    assert api.get(f"{API}/me/").status_code == 200
    later = timezone.now() + timedelta(hours=10, minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    expired = api.get(f"{API}/me/")
    assert expired.status_code == 401 and expired["WWW-Authenticate"] == "Token"


def test_7_2_3_the_token_is_stored_hashed(world):
    token = _obtain(world["users"]["account_manager"])["token"]
    stored = AuthToken.objects.get()
    assert token not in {stored.digest, stored.token_key}
    assert len(stored.digest) == 128  # a SHA-512 digest, not the token
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    assert "authtoken_token" not in tables  # DRF's plain-text token table is gone


def test_7_2_3_the_api_logout_revokes_the_token(world):
    user = world["users"]["account_manager"]
    keep = _obtain(user)["token"]
    api = _api(_obtain(user)["token"])
    assert api.post(f"{API}/auth/logout/").status_code == 204
    assert api.get(f"{API}/me/").status_code == 401
    assert _api(keep).get(f"{API}/me/").status_code == 200  # only the token that logged out


def test_7_2_3_the_portal_logout_revokes_the_users_tokens(world):
    user = world["users"]["account_manager"]
    api = _api(_obtain(user)["token"])
    browser = Client()
    browser.post(reverse("login"), {"username": user.username, "password": factories.PASSWORD})
    assert browser.post(reverse("logout")).status_code == 302
    assert api.get(f"{API}/me/").status_code == 401


def test_7_2_3_a_password_change_revokes_the_tokens(world):
    from accounts.users import user_password_change

    user = world["users"]["account_manager"]
    api = _api(_obtain(user)["token"])
    user_password_change(user=user, password="Brand-new-2027!", request=None)
    assert api.get(f"{API}/me/").status_code == 401


def test_7_2_3_users_list_and_revoke_their_own_tokens(world):
    user, other = world["users"]["account_manager"], world["users"]["provincial_approver"]
    first = _obtain(user)["token"]
    second = _obtain(user)["token"]
    foreign = _obtain(other)["token"]
    api = _api(first)
    listing = api.get(f"{API}/auth/tokens/")
    assert listing.status_code == 200
    rows = listing.json()
    assert len(rows) == 2
    assert {row["current"] for row in rows} == {True, False}
    assert all(first not in str(row) and second not in str(row) for row in rows)
    other_key = next(row["key"] for row in rows if not row["current"])

    foreign_key = AuthToken.objects.get(user=other).token_key
    assert api.delete(f"{API}/auth/tokens/{foreign_key}/").status_code == 404
    assert _api(foreign).get(f"{API}/me/").status_code == 200

    assert api.delete(f"{API}/auth/tokens/{other_key}/").status_code == 204
    assert _api(second).get(f"{API}/me/").status_code == 401
    assert api.get(f"{API}/me/").status_code == 200


def test_7_2_3_the_account_page_lists_and_revokes_tokens(world):
    user = world["users"]["enterprise_admin"]
    token = _obtain(user)["token"]
    key = AuthToken.objects.get(user=user).token_key
    browser = Client()
    browser.force_login(user)
    page = browser.get(reverse("api_tokens"))
    html = page.content.decode()
    assert page.status_code == 200 and key in html and token not in html
    assert browser.post(reverse("api_tokens"), {"revoke": key}).status_code == 302
    assert _api(token).get(f"{API}/me/").status_code == 401


def test_7_2_3_unauthenticated_calls_stay_401_with_the_token_challenge(world):
    response = APIClient().get(f"{API}/cards/")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"


def test_7_2_3_the_schema_documents_the_token_endpoints(world):
    schema = APIClient().get("/api/schema/?format=json").json()
    assert {"/api/v1/auth/token/", "/api/v1/auth/logout/", "/api/v1/auth/tokens/", "/api/v1/auth/tokens/{key}/"} <= set(
        schema["paths"]
    )
    token_response = schema["paths"]["/api/v1/auth/token/"]["post"]["responses"]["200"]
    ref = token_response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert {"token", "expires_at"} <= set(schema["components"]["schemas"][ref]["properties"])
    assert any(
        scheme.get("scheme") == "bearer" or scheme.get("in") == "header"
        for scheme in schema["components"]["securitySchemes"].values()
    )


def test_7_2_3_the_migration_drops_the_plain_token_table_of_an_existing_database(world):
    """On a database that had rest_framework.authtoken, its table (tokens in plain text) goes away."""
    import importlib

    migration = importlib.import_module("accounts.migrations.0005_drop_plain_api_tokens")
    user = world["users"]["account_manager"]
    with connection.cursor() as cursor:
        cursor.execute(
            'CREATE TABLE "authtoken_token" ("key" varchar(40) PRIMARY KEY, "user_id" bigint, "created" varchar(40))'
        )
        cursor.execute('INSERT INTO "authtoken_token" VALUES (%s, %s, %s)', ["a" * 40, user.pk, "2026-01-01"])
        cursor.execute(
            "INSERT INTO django_migrations (app, name, applied) VALUES ('authtoken', '0001_initial', CURRENT_TIMESTAMP)"
        )

    class Editor:
        def __init__(self):
            self.connection = connection

        def execute(self, sql, params=()):
            with connection.cursor() as cursor:
                cursor.execute(sql, params)

        def quote_name(self, name):
            return connection.ops.quote_name(name)

    migration.drop_plain_tokens(None, Editor())
    with connection.cursor() as cursor:
        assert "authtoken_token" not in connection.introspection.table_names(cursor)
        cursor.execute("SELECT COUNT(*) FROM django_migrations WHERE app = 'authtoken'")
        assert cursor.fetchone()[0] == 0
    migration.drop_plain_tokens(None, Editor())  # and again: nothing left to do


@pytest.mark.parametrize("path", ["/admin/logout/", "/approvals/admin/logout/"])
def test_7_2_3_logging_out_of_an_admin_site_revokes_the_tokens_too(world, path):
    user = world["users"]["ops"]
    api = _api(_obtain(user)["token"])
    browser = Client()
    browser.force_login(user)
    assert browser.post(path).status_code == 302
    assert api.get(f"{API}/me/").status_code == 401
