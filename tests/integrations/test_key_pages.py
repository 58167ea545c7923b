"""The API keys staff pages (issue 10 §1): scoping for every role, create with the key shown once (and never
again), rotate with a grace period, revoke after a confirmation, and the links to the page."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from integrations import keys
from integrations.key_models import PlatformKey

pytestmark = pytest.mark.django_db

TARGETS = ("own", "other_enterprise", "other_province")
LOGIN = "login"
# (own enterprise, another enterprise of the province, another province)
PAGE = {
    "anonymous": (LOGIN, LOGIN, LOGIN),
    "account_manager": ("ok", "ok", 404),
    "account_manager_other_province": (404, 404, "ok"),
    "enterprise_admin": ("ok", 404, 404),
    "enterprise_admin_other_enterprise": (404, "ok", 404),
    "provincial_approver": (403, 403, 403),
    "provincial_approver_other_province": (403, 403, 403),
    "group_approver": (403, 403, 403),
    "ops": (403, 403, 403),
}


def _enterprise(world, target):
    return {
        "own": world["enterprise"],
        "other_enterprise": world["enterprise_same_province"],
        "other_province": world["enterprise_other"],
    }[target]


def _key(world, enterprise=None, **kwargs):
    enterprise = enterprise or world["enterprise"]
    actor = world["users"][
        "account_manager_other_province" if enterprise == world["enterprise_other"] else "account_manager"
    ]
    kwargs.setdefault("name", "fleet")
    kwargs.setdefault("scopes", ["cards:read"])
    return keys.key_create(actor=actor, enterprise=enterprise, **kwargs)


def _list_url(enterprise):
    return reverse("platform_keys:list", kwargs={"public_id": enterprise.public_id})


@pytest.mark.parametrize("target_index,target", list(enumerate(TARGETS)))
@pytest.mark.parametrize("role", list(PAGE))
def test_pages_are_scoped_for_every_role(client, world, role, target_index, target):
    user = world["users"][role]
    enterprise = _enterprise(world, target)
    expected = PAGE[role][target_index]
    if user is not None:
        client.force_login(user)
    record, _secret = _key(world, enterprise)
    pages = [
        ("get", _list_url(enterprise), 200),
        ("get", reverse("platform_keys:rotate", kwargs={"public_id": record.public_id}), 200),
        ("get", reverse("platform_keys:revoke", kwargs={"public_id": record.public_id}), 200),
        ("post", reverse("platform_keys:revoke", kwargs={"public_id": record.public_id}), 302),
        ("post", reverse("platform_keys:rotate", kwargs={"public_id": record.public_id}), 200),
    ]
    for method, url, ok_status in pages:
        response = getattr(client, method)(url)
        if expected == LOGIN:
            assert response.status_code == 302 and reverse("login") in response["Location"], url
        elif expected == "ok":
            assert response.status_code in (ok_status, 400), (url, response.status_code)
        else:
            assert response.status_code == expected, (url, response.status_code)
    record.refresh_from_db()
    # Only a role that manages the enterprise's keys revoked it.
    assert (record.revoked_at is not None) == (expected == "ok")


def test_create_shows_the_key_once_and_never_again(client, world):
    admin = world["users"]["enterprise_admin"]
    client.force_login(admin)
    enterprise = world["enterprise"]
    response = client.post(
        _list_url(enterprise),
        {"name": "telematics", "scopes": ["cards:read", "card_users:write"], "expires_in_days": 90, "kind": "live"},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] and response["Referrer-Policy"] == "no-referrer"
    key = response.context["key"]
    assert key.startswith("rnk_live_") and key in response.content.decode()
    record = PlatformKey.objects.get(enterprise=enterprise)
    assert record.name == "telematics" and record.scopes == ["cards:read", "card_users:write"] and not record.test
    assert record.key_hash == keys.key_hash(key)
    # Not on the list, nor on the rotate or revoke pages, nor anywhere in the audit trail.
    for url in (
        _list_url(enterprise),
        reverse("platform_keys:rotate", kwargs={"public_id": record.public_id}),
        reverse("platform_keys:revoke", kwargs={"public_id": record.public_id}),
        reverse("enterprises:detail", kwargs={"public_id": enterprise.public_id}),
    ):
        page = client.get(url)
        assert page.status_code == 200 and key not in page.content.decode(), url
        assert record.prefix in page.content.decode() or url.startswith("/enterprises/")
    assert all(key not in str(event.data) for event in AuditEvent.objects.all())
    # The key works.
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert api.get("/api/v1/cards/").status_code == 200


def test_create_a_test_key_and_the_form_errors(client, world):
    client.force_login(world["users"]["account_manager"])
    enterprise = world["enterprise_same_province"]
    response = client.post(
        _list_url(enterprise), {"name": "sandbox", "scopes": ["cards:read"], "expires_in_days": 30, "kind": "test"}
    )
    assert response.status_code == 200 and response.context["key"].startswith("rnk_test_")
    assert PlatformKey.objects.get(enterprise=enterprise).test is True
    for bad in (
        {"name": "x", "scopes": [], "expires_in_days": 30, "kind": "live"},
        {"name": "x", "scopes": ["admin"], "expires_in_days": 30, "kind": "live"},
        {"name": "x", "scopes": ["cards:read"], "expires_in_days": 366, "kind": "live"},
        {"name": "", "scopes": ["cards:read"], "expires_in_days": 30, "kind": "live"},
        {"name": "x", "scopes": ["cards:read"], "expires_in_days": "soon", "kind": "other"},
    ):
        page = client.post(_list_url(enterprise), bad)
        assert page.status_code == 400 and "key" not in page.context, bad
    assert PlatformKey.objects.filter(enterprise=enterprise).count() == 1


def test_the_list_shows_prefix_name_scopes_status_last_use_and_expiry(client, world):
    enterprise = world["enterprise"]
    active, _ = _key(world, name="meters", scopes=["cards:read", "orders:write"])
    revoked, _ = _key(world, name="old bikes")
    keys.key_revoke(actor=world["users"]["account_manager"], key=revoked)
    other, _ = _key(world, world["enterprise_same_province"], name="not ours")
    client.force_login(world["users"]["enterprise_admin"])
    page = client.get(_list_url(enterprise))
    html = page.content.decode()
    assert page.status_code == 200
    assert active.prefix in html and "meters" in html and "cards:read, orders:write" in html
    assert revoked.prefix in html and 'data-status="revoked"' in html and 'data-status="active"' in html
    assert other.prefix not in html and "not ours" not in html
    assert "never" in html


def test_rotate_shows_the_new_key_once_and_the_old_one_keeps_its_grace(client, world):
    record, old_key = _key(world)
    client.force_login(world["users"]["enterprise_admin"])
    url = reverse("platform_keys:rotate", kwargs={"public_id": record.public_id})
    assert client.post(url, {"grace_hours": "-1"}).status_code == 400
    response = client.post(url, {"grace_hours": "2"})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    new_key = response.context["key"]
    assert new_key != old_key and new_key in response.content.decode()
    record.refresh_from_db()
    assert record.replaced_by is not None and record.status == "rotating"
    assert (record.grace_until - record.replaced_by.created_at).total_seconds() == pytest.approx(7200, abs=5)
    for raw in (old_key, new_key):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
        assert api.get("/api/v1/cards/").status_code == 200
    # A rotated key cannot be rotated again: the form says why.
    again = client.post(url, {"grace_hours": "2"})
    assert again.status_code == 400 and "key" not in again.context
    assert new_key not in client.get(_list_url(world["enterprise"])).content.decode()


def test_revoke_asks_first_then_revokes(client, world):
    record, raw = _key(world)
    client.force_login(world["users"]["enterprise_admin"])
    url = reverse("platform_keys:revoke", kwargs={"public_id": record.public_id})
    confirm = client.get(url)
    assert confirm.status_code == 200 and "Are you sure?" in confirm.content.decode()
    record.refresh_from_db()
    assert record.revoked_at is None
    response = client.post(url, follow=True)
    assert response.status_code == 200 and "is revoked" in response.content.decode()
    record.refresh_from_db()
    assert record.revoked_at is not None
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert api.get("/api/v1/cards/").status_code == 401
    # Twice is no error page, only a message.
    again = client.post(url, follow=True)
    assert again.status_code == 200 and "already revoked" in again.content.decode()


def test_unknown_key_is_404(client, world):
    client.force_login(world["users"]["enterprise_admin"])
    missing = "00000000-0000-0000-0000-000000000000"
    assert client.get(reverse("platform_keys:rotate", kwargs={"public_id": missing})).status_code == 404
    assert client.post(reverse("platform_keys:revoke", kwargs={"public_id": missing})).status_code == 404
    assert client.get(f"/platform/keys/enterprise/{missing}/").status_code == 404


@pytest.mark.parametrize(
    "role,shown",
    [
        ("account_manager", True),
        ("enterprise_admin", True),
        ("provincial_approver", False),
        ("group_approver", False),
        ("ops", False),
    ],
)
def test_enterprise_detail_links_to_the_keys_page(client, world, role, shown):
    client.force_login(world["users"][role])
    enterprise = world["enterprise"]
    page = client.get(reverse("enterprises:detail", kwargs={"public_id": enterprise.public_id}))
    assert page.status_code == 200
    assert (_list_url(enterprise) in page.content.decode()) == shown


def test_the_navigation_takes_an_enterprise_admin_to_their_keys(client, world):
    client.force_login(world["users"]["enterprise_admin"])
    home = client.get("/")
    assert reverse("platform_keys:mine") in home.content.decode()
    response = client.get(reverse("platform_keys:mine"))
    assert response.status_code == 302 and response["Location"] == _list_url(world["enterprise"])
    client.force_login(world["users"]["account_manager"])
    assert reverse("platform_keys:mine") not in client.get("/").content.decode()
    assert client.get(reverse("platform_keys:mine")).status_code == 404
    client.force_login(world["users"]["ops"])
    assert client.get(reverse("platform_keys:mine")).status_code == 403


def test_the_keys_page_resets_the_sandbox_after_a_confirmation(client, world):
    from cards.inventory.sandbox import SANDBOX_CARDS, sandbox_iccid
    from cards.models import Card
    from enterprises.sandbox import sandbox_of

    enterprise = world["enterprise"]
    url = reverse("platform_keys:sandbox_reset", kwargs={"public_id": enterprise.public_id})
    client.force_login(world["users"]["enterprise_admin"])
    assert "created with the enterprise's first test key" in client.get(_list_url(enterprise)).content.decode()
    assert client.get(url).status_code == 404  # no sandbox yet
    _key(world, test=True)
    sandbox = sandbox_of(enterprise)
    Card.objects.filter(iccid=sandbox_iccid(sandbox, 1)).delete()
    assert url in client.get(_list_url(enterprise)).content.decode()
    confirm = client.get(url)
    assert confirm.status_code == 200 and "Are you sure?" in confirm.content.decode()
    assert Card.objects.filter(enterprise=sandbox).count() == SANDBOX_CARDS - 1
    done = client.post(url, follow=True)
    assert done.status_code == 200 and "The sandbox is reset" in done.content.decode()
    assert Card.objects.filter(enterprise=sandbox).count() == SANDBOX_CARDS
    # Others: another enterprise's admin gets 404, an approver 403.
    client.force_login(world["users"]["enterprise_admin_other_enterprise"])
    assert client.post(url).status_code == 404
    client.force_login(world["users"]["provincial_approver"])
    assert client.post(url).status_code == 403
