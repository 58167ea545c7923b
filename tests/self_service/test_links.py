"""Self-service links (C2, issue 9 §1): scoping for every role, tokens at rest, the public page per status,
revoke and renew, the API contract, bad input, the QR codes and the Chinese page."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from cards.models import CardStatus, SelfServiceLink
from cards.self_service import services
from core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from tests import factories

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/self-service/links/"
CONTRACT_FIELDS = {"id", "url", "qr_svg", "qr_png", "expires_at", "max_uses", "uses", "status"}
TARGETS = ("own", "other_enterprise", "other_province")
LOGIN = "login"

# Creating or listing an enterprise's links, and revoking one: (own, same province other enterprise, other province).
API = {
    "anonymous": (401, 401, 401),
    "account_manager": ("ok", "ok", 404),
    "account_manager_other_province": (404, 404, "ok"),
    "enterprise_admin": ("ok", 404, 404),
    "enterprise_admin_other_enterprise": (404, "ok", 404),
    "provincial_approver": (403, 403, 403),
    "provincial_approver_other_province": (403, 403, 403),
    "group_approver": (403, 403, 403),
    "ops": (403, 403, 403),
}
PAGE = {**API, "anonymous": (LOGIN, LOGIN, LOGIN)}


def _enterprise(world, target):
    return {
        "own": world["enterprise"],
        "other_enterprise": world["enterprise_same_province"],
        "other_province": world["enterprise_other"],
    }[target]


def _creator(world, enterprise):
    users = world["users"]
    return users["account_manager_other_province" if enterprise == world["enterprise_other"] else "account_manager"]


def _link(world, enterprise=None, **kwargs):
    enterprise = enterprise or world["enterprise"]
    kwargs.setdefault("label", "Site A")
    kwargs.setdefault("max_uses", 10)
    return services.link_create(actor=_creator(world, enterprise), enterprise=enterprise, **kwargs)


def _api(user):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def _expect(response, expected, ok_status):
    if expected == "ok":
        assert response.status_code == ok_status, response.content
    else:
        assert response.status_code == expected, response.content


# --- scoping -------------------------------------------------------------------------


@pytest.mark.parametrize("target_index,target", list(enumerate(TARGETS)))
@pytest.mark.parametrize("role", list(API))
def test_api_create_list_and_revoke_are_scoped_for_every_role(world, role, target_index, target):
    user = world["users"][role]
    enterprise = _enterprise(world, target)
    expected = API[role][target_index]
    client = _api(user)

    created = client.post(
        LIST_URL,
        {"enterprise": str(enterprise.public_id), "label": "Batch", "expires_in_days": 7, "max_uses": 5},
        format="json",
    )
    _expect(created, expected, 201)

    listed = client.get(LIST_URL, {"enterprise": str(enterprise.public_id)})
    _expect(listed, expected, 200)

    link, _token = _link(world, enterprise)
    revoked = client.post(f"{LIST_URL}{link.public_id}/revoke/")
    _expect(revoked, expected, 200)
    link.refresh_from_db()
    assert (link.revoked_at is not None) == (expected == "ok")


def test_api_list_without_enterprise_shows_only_links_in_scope(world):
    own, _ = _link(world)
    other, _ = _link(world, world["enterprise_other"])
    same_province, _ = _link(world, world["enterprise_same_province"])
    admin = world["users"]["enterprise_admin"]
    ids = {row["id"] for row in _api(admin).get(LIST_URL).json()["results"]}
    assert ids == {str(own.public_id)}
    manager = world["users"]["account_manager"]
    ids = {row["id"] for row in _api(manager).get(LIST_URL).json()["results"]}
    assert ids == {str(own.public_id), str(same_province.public_id)}
    assert str(other.public_id) not in ids


@pytest.mark.parametrize("target_index,target", list(enumerate(TARGETS)))
@pytest.mark.parametrize("role", list(PAGE))
def test_pages_are_scoped_for_every_role(client, world, role, target_index, target):
    user = world["users"][role]
    enterprise = _enterprise(world, target)
    expected = PAGE[role][target_index]
    if user is not None:
        client.force_login(user)
    link, _token = _link(world, enterprise)
    pages = [
        ("get", reverse("self_service:list", kwargs={"public_id": enterprise.public_id}), 200),
        ("get", reverse("self_service:renew", kwargs={"public_id": link.public_id}), 200),
        ("post", reverse("self_service:revoke", kwargs={"public_id": link.public_id}), 302),
    ]
    for method, url, ok_status in pages:
        response = getattr(client, method)(url)
        if expected == LOGIN:
            assert response.status_code == 302 and reverse("login") in response["Location"]
        else:
            _expect(response, expected, ok_status)


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
def test_enterprise_detail_links_to_the_links_page_where_the_role_manages_them(client, world, role, shown):
    client.force_login(world["users"][role])
    enterprise = world["enterprise"]
    page = client.get(reverse("enterprises:detail", kwargs={"public_id": enterprise.public_id}))
    assert page.status_code == 200
    url = reverse("self_service:list", kwargs={"public_id": enterprise.public_id})
    assert (url in page.content.decode()) == shown


def test_services_refuse_roles_without_the_capability(world):
    approver = world["users"]["provincial_approver"]
    with pytest.raises(PermissionDenied):
        services.link_create(actor=approver, enterprise=world["enterprise"], label="x", max_uses=1)
    link, _ = _link(world)
    with pytest.raises(PermissionDenied):
        services.link_revoke(actor=world["users"]["enterprise_admin_other_enterprise"], link=link)
    with pytest.raises(PermissionDenied):
        services.link_renew(actor=world["users"]["account_manager_other_province"], link=link)


# --- tokens at rest ------------------------------------------------------------------


def _text_columns(model):
    with connection.cursor() as cursor:
        description = connection.introspection.get_table_description(cursor, model._meta.db_table)
    return [column.name for column in description]


def _rows_containing(model, needle: str) -> list:
    table = connection.ops.quote_name(model._meta.db_table)
    hits = []
    with connection.cursor() as cursor:
        for column in _text_columns(model):
            name = connection.ops.quote_name(column)
            cursor.execute(f"SELECT {name} FROM {table}")  # noqa: S608 (names from introspection)
            hits += [value for (value,) in cursor.fetchall() if value is not None and needle in str(value)]
    return hits


def test_the_token_is_nowhere_in_the_database(world):
    card = factories.card(enterprise=world["enterprise"])
    manager = world["users"]["account_manager"]
    response = _api(manager).post(
        LIST_URL,
        {"enterprise": str(world["enterprise"].public_id), "label": "Site", "iccids": [card.iccid], "max_uses": 3},
        format="json",
    )
    assert response.status_code == 201
    token = response.json()["url"].rstrip("/").rsplit("/", 1)[-1]
    assert len(token) >= 43
    link = SelfServiceLink.objects.get()
    services.link_revoke(actor=manager, link=link)
    _link2, renewed_token = services.link_renew(actor=manager, link=link)
    assert renewed_token and renewed_token != token
    for candidate in (token, renewed_token):
        assert _rows_containing(SelfServiceLink, candidate) == []
        assert _rows_containing(AuditEvent, candidate) == []
    link.refresh_from_db()
    assert token not in link.token_hash and len(link.token_hash) == 64


def test_the_token_is_in_the_path_and_lists_never_show_it(world):
    manager = world["users"]["account_manager"]
    client = _api(manager)
    created = client.post(
        LIST_URL, {"enterprise": str(world["enterprise"].public_id), "label": "A", "max_uses": 1}, format="json"
    ).json()
    assert "?" not in created["url"] and "/s/" in created["url"]
    listed = client.get(LIST_URL, {"enterprise": str(world["enterprise"].public_id)}).json()["results"]
    token = created["url"].rstrip("/").rsplit("/", 1)[-1]
    assert listed[0]["url"] is None and listed[0]["qr_svg"] is None and listed[0]["qr_png"] is None
    assert token not in str(listed)


# --- the public page per status ------------------------------------------------------


def test_an_active_link_shows_the_enterprise_and_the_consent_notice(client, world):
    _link_obj, token = _link(world)
    page = client.get(f"/s/{token}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert world["enterprise"].name in text
    assert 'id="consent-notice"' in text and "How long it is kept" in text
    assert 'name="consent"' in text and "Agree and start" in text
    assert page["Cache-Control"].startswith("no-store") and page["Referrer-Policy"] == "same-origin"


def _gone(client, token, status_code, phrase):
    page = client.get(f"/s/{token}/")
    assert page.status_code == status_code
    text = page.content.decode()
    assert phrase in text
    assert "Traceback" not in text
    return text


def test_unknown_revoked_expired_and_exhausted_links_say_what_happened(client, world):
    _gone(client, "no-such-token-" + "x" * 30, 404, "This link is not valid")
    _gone(client, "y" * 500, 404, "This link is not valid")

    revoked, token = _link(world)
    services.link_revoke(actor=world["users"]["account_manager"], link=revoked)
    text = _gone(client, token, 410, "withdrawn by the enterprise")
    assert world["enterprise"].name in text

    expired, token = _link(world)
    SelfServiceLink.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    _gone(client, token, 410, "This link has expired")

    exhausted, token = _link(world, max_uses=2)
    SelfServiceLink.objects.filter(pk=exhausted.pk).update(uses=2)
    _gone(client, token, 410, "used as many times as it allows")
    for suffix in ("qr.svg", "qr.png", "poster/"):
        assert client.get(f"/s/{token}/{suffix}").status_code == 410


def test_status_property(world):
    link, _ = _link(world, max_uses=1)
    assert link.status == "active"
    link.uses = 1
    assert link.status == "exhausted"
    link.expires_at = timezone.now() - timedelta(minutes=1)
    assert link.status == "expired"
    link.revoked_at = timezone.now()
    assert link.status == "revoked"


def test_the_public_route_is_rate_limited_per_client_ip(client, world, monkeypatch):
    from cards.self_service.throttling import SelfServiceLinkThrottle

    # DRF reads the rates into the class once; the setting itself is checked in config.settings.
    monkeypatch.setattr(SelfServiceLinkThrottle, "THROTTLE_RATES", {"self_service_link": "3/minute"})
    _link_obj, token = _link(world)
    statuses = [client.get(f"/s/{token}/", REMOTE_ADDR="203.0.113.7").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    throttled = client.get(f"/s/{token}/qr.png", REMOTE_ADDR="203.0.113.7")
    assert throttled.status_code == 429 and throttled.has_header("Retry-After")
    assert "Too many requests" in throttled.content.decode()
    assert client.get(f"/s/{token}/", REMOTE_ADDR="203.0.113.8").status_code == 200


# --- revoke and renew ----------------------------------------------------------------


def test_revoke_twice_is_refused_and_audited_once(world):
    manager = world["users"]["account_manager"]
    link, _ = _link(world)
    services.link_revoke(actor=manager, link=link)
    with pytest.raises(InvalidTransition):
        services.link_revoke(actor=manager, link=link)
    actions = list(
        AuditEvent.objects.filter(object_id=str(link.pk), action__startswith="self_service_link").values_list(
            "action", flat=True
        )
    )
    assert sorted(actions) == ["self_service_link.created", "self_service_link.revoked"]
    response = _api(manager).post(f"{LIST_URL}{link.public_id}/revoke/")
    assert response.status_code == 409 and response.json()["code"] == "already_revoked"


def test_renewing_an_active_link_keeps_its_token(client, world):
    manager = world["users"]["account_manager"]
    link, token = _link(world, expires_in_days=1)
    before = link.expires_at
    renewed, new_token = services.link_renew(actor=manager, link=link, expires_in_days=30)
    assert new_token is None and renewed.expires_at > before
    assert client.get(f"/s/{token}/").status_code == 200


@pytest.mark.parametrize("how", ["revoked", "expired"])
def test_renewing_a_revoked_or_expired_link_issues_a_new_token(client, world, how):
    manager = world["users"]["account_manager"]
    link, token = _link(world)
    if how == "revoked":
        services.link_revoke(actor=manager, link=link)
    else:
        SelfServiceLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(days=1))
    renewed, new_token = services.link_renew(actor=manager, link=link, expires_in_days=7)
    assert new_token and new_token != token
    assert renewed.status == "active"
    assert client.get(f"/s/{token}/").status_code == 404
    assert client.get(f"/s/{new_token}/").status_code == 200
    event = AuditEvent.objects.filter(object_id=str(link.pk), action="self_service_link.renewed").get()
    assert event.data["new_token"] is True and event.actor == manager


def test_renew_refuses_a_cap_at_or_below_the_uses(world):
    manager = world["users"]["account_manager"]
    link, _ = _link(world, max_uses=2)
    SelfServiceLink.objects.filter(pk=link.pk).update(uses=2)
    with pytest.raises(ValidationFailed) as caught:
        services.link_renew(actor=manager, link=link, max_uses=2)
    assert caught.value.code == "invalid_max_uses"
    renewed, _token = services.link_renew(actor=manager, link=link, max_uses=3)
    assert renewed.status == "active"


def test_renew_and_revoke_pages(client, world):
    manager = world["users"]["account_manager"]
    client.force_login(manager)
    link, _token = _link(world)
    response = client.post(reverse("self_service:revoke", kwargs={"public_id": link.public_id}))
    assert response.status_code == 302
    link.refresh_from_db()
    assert link.status == "revoked"
    page = client.post(
        reverse("self_service:renew", kwargs={"public_id": link.public_id}), {"expires_in_days": 5, "max_uses": 9}
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert "/s/" in text and "poster/" in text and "The old address no longer works" in text
    link.refresh_from_db()
    assert link.status == "active" and link.max_uses == 9


# --- the API contract ----------------------------------------------------------------


def test_create_answers_exactly_the_contract(world):
    manager = world["users"]["account_manager"]
    cards = [factories.card(enterprise=world["enterprise"]) for _ in range(2)]
    response = _api(manager).post(
        LIST_URL,
        {
            "enterprise": str(world["enterprise"].public_id),
            "label": "Warehouse 3",
            "iccids": [cards[0].iccid, cards[1].msisdn],
            "expires_in_days": 7,
            "max_uses": 500,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == CONTRACT_FIELDS
    assert body["status"] == "active" and body["uses"] == 0 and body["max_uses"] == 500
    assert body["url"].startswith("http://testserver/s/")
    token = body["url"].rstrip("/").rsplit("/", 1)[-1]
    assert body["qr_svg"] == f"http://testserver/s/{token}/qr.svg"
    assert body["qr_png"] == f"http://testserver/s/{token}/qr.png"
    link = SelfServiceLink.objects.get(public_id=body["id"])
    assert set(link.cards.all()) == set(cards)
    expires = link.expires_at - timezone.now()
    assert timedelta(days=6, hours=23) < expires <= timedelta(days=7)
    listed = _api(manager).get(LIST_URL, {"enterprise": str(world["enterprise"].public_id)}).json()
    assert set(listed) >= {"count", "results"} and listed["count"] == 1
    assert set(listed["results"][0]) == CONTRACT_FIELDS
    revoked = _api(manager).post(f"{LIST_URL}{body['id']}/revoke/").json()
    assert set(revoked) == CONTRACT_FIELDS and revoked["status"] == "revoked" and revoked["url"] is None


def test_expiry_defaults_to_seven_days_and_no_list_covers_awaiting_cards(world):
    manager = world["users"]["account_manager"]
    response = _api(manager).post(
        LIST_URL, {"enterprise": str(world["enterprise"].public_id), "label": "All", "max_uses": 1}, format="json"
    )
    assert response.status_code == 201
    link = SelfServiceLink.objects.get()
    assert timedelta(days=6, hours=23) < link.expires_at - timezone.now() <= timedelta(days=7)
    assert link.cards.count() == 0
    from cards.self_service.selectors import awaiting_cards_count

    card = factories.card(enterprise=world["enterprise"])
    assert awaiting_cards_count(link) == 0
    type(card).objects.filter(pk=card.pk).update(status=CardStatus.AWAITING_REALNAME)
    assert awaiting_cards_count(link) == 1


@pytest.mark.parametrize(
    "change,code,field",
    [
        ({"expires_in_days": 0}, "invalid_expires_in_days", "expires_in_days"),
        ({"expires_in_days": 31}, "invalid_expires_in_days", "expires_in_days"),
        ({"max_uses": 0}, "invalid_max_uses", "max_uses"),
        ({"max_uses": -3}, "invalid_max_uses", "max_uses"),
        ({"label": ""}, "invalid_label", "label"),
        ({"iccids": ["89860000000000000000"]}, "unknown_cards", "iccids"),
        ({"iccids": ["not a number"]}, "unknown_cards", "iccids"),
        ({"max_uses": None}, "null", "max_uses"),
    ],
)
def test_bad_input_is_refused_with_a_clear_code_and_nothing_written(world, change, code, field):
    manager = world["users"]["account_manager"]
    payload = {"enterprise": str(world["enterprise"].public_id), "label": "L", "expires_in_days": 7, "max_uses": 5}
    payload.update(change)
    response = _api(manager).post(LIST_URL, payload, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code and response.json()["field"] == field
    assert not SelfServiceLink.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="self_service_link").exists()


def test_another_enterprises_cards_are_refused_naming_how_many(world):
    manager = world["users"]["account_manager"]
    own = factories.card(enterprise=world["enterprise"])
    others = [factories.card(enterprise=world["enterprise_same_province"]) for _ in range(7)]
    payload = {
        "enterprise": str(world["enterprise"].public_id),
        "label": "L",
        "max_uses": 5,
        "iccids": [own.iccid, *(card.iccid for card in others)],
    }
    response = _api(manager).post(LIST_URL, payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "unknown_cards" and body["unknown_count"] == 7
    assert body["unknown_first"] == [card.iccid for card in others[:5]]
    assert "7 of the numbers" in body["detail"] and others[0].iccid in body["detail"]
    assert not SelfServiceLink.objects.exists()


def test_the_page_creates_a_link_from_a_pasted_list_and_a_file(client, world):
    manager = world["users"]["account_manager"]
    client.force_login(manager)
    cards = [factories.card(enterprise=world["enterprise"]) for _ in range(3)]
    upload = io.BytesIO(f"iccid\n{cards[1].iccid}\n{cards[2].msisdn}\n".encode())
    upload.name = "cards.csv"
    url = reverse("self_service:list", kwargs={"public_id": world["enterprise"].public_id})
    page = client.post(
        url,
        {"label": "Site", "cards": cards[0].iccid, "card_file": upload, "expires_in_days": 7, "max_uses": 20},
    )
    assert page.status_code == 200, page.content.decode()[:2000]
    assert set(SelfServiceLink.objects.get().cards.all()) == set(cards)
    text = page.content.decode()
    assert "/qr.svg" in text and "/poster/" in text
    listing = client.get(url).content.decode()
    assert "Site" in listing and "0 / 20" in listing

    refused = client.post(url, {"label": "Bad", "cards": "89860000000000000000", "expires_in_days": 7, "max_uses": 1})
    assert refused.status_code == 400 and "not cards of this enterprise" in refused.content.decode()
    assert SelfServiceLink.objects.count() == 1


# --- QR codes and the poster ---------------------------------------------------------


def test_qr_codes_and_the_poster(client, world):
    _link_obj, token = _link(world)
    svg = client.get(f"/s/{token}/qr.svg")
    assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml"
    assert b"<svg" in svg.content
    png = client.get(f"/s/{token}/qr.png")
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(png.content))
    image.load()
    assert image.format == "PNG" and image.size[0] == image.size[1] > 100
    poster = client.get(f"/s/{token}/poster/")
    assert poster.status_code == 200
    text = poster.content.decode()
    assert world["enterprise"].name in text and f"/s/{token}/qr.svg" in text and "self_service_poster" in text


# --- Chinese -------------------------------------------------------------------------


@pytest.mark.zh
def test_the_public_pages_are_in_chinese_first(client, world):
    link, token = _link(world)
    page = client.get(f"/s/{token}/").content.decode()
    assert "个人信息" in page and "实名" in page
    services.link_revoke(actor=world["users"]["account_manager"], link=link)
    gone = client.get(f"/s/{token}/")
    text = gone.content.decode()
    assert gone.status_code == 410
    assert "此链接已被发送它的企业撤销" in text and world["enterprise"].name in text
    assert "withdrawn by the enterprise" in text  # English follows the Chinese
    unknown = client.get("/s/unknown-token-0000000000000000000000000000000/").content.decode()
    assert "此链接无效" in unknown


@pytest.mark.zh
def test_the_staff_page_is_in_chinese(client, world):
    client.force_login(world["users"]["enterprise_admin"])
    page = client.get(reverse("self_service:list", kwargs={"public_id": world["enterprise"].public_id}))
    assert page.status_code == 200 and "自助登记链接" in page.content.decode()
