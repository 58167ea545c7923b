"""Who may call what: every card, rule-engine and card-user page and endpoint, for every role.

Each row is one user of `world` and the expected status for an object of three
enterprises: the Beijing enterprise the users are "own" to (ent_bj), another
enterprise of the same province (ent_bj2), and an enterprise of another
province (ent_gd). The statuses are written out, not derived from the code:

- invisible is 404 (the object is not in the user's scope);
- visible but not allowed is 403 (approvers and ops read cards, never change them;
  only roles with the full-view permission open ID numbers and photos);
- anonymous is 401 on the API and a redirect to the login page on pages.
"""

from __future__ import annotations

import copy

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from tests import factories, idgen
from tests.images import jpeg_upload

# The world and the objects below are built once for the module (conftest.ModuleData).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("module_data")]

TARGETS = ("own", "other_enterprise", "other_province")
USERS = (
    "anonymous",
    "account_manager",
    "account_manager_other_province",
    "enterprise_admin",
    "enterprise_admin_other_enterprise",
    "provincial_approver",
    "provincial_approver_other_province",
    "group_approver",
    "ops",
)

LOGIN = "login"  # pages: anonymous is redirected to the login page

# Reading a card, its real-name requirement, a card user, a verification.
READ_API = {
    "anonymous": (401, 401, 401),
    "account_manager": (200, 200, 404),
    "account_manager_other_province": (404, 404, 200),
    "enterprise_admin": (200, 404, 404),
    "enterprise_admin_other_enterprise": (404, 200, 404),
    "provincial_approver": (200, 200, 404),
    "provincial_approver_other_province": (404, 404, 200),
    "group_approver": (200, 200, 200),
    "ops": (200, 200, 200),
}
READ_PAGE = {**READ_API, "anonymous": (LOGIN, LOGIN, LOGIN)}

# Changing a card (activate/suspend/resume/cancel, services) or registering a card user.
ACT_API = {
    "anonymous": (401, 401, 401),
    "account_manager": (200, 200, 404),
    "account_manager_other_province": (404, 404, 200),
    "enterprise_admin": (200, 404, 404),
    "enterprise_admin_other_enterprise": (404, 200, 404),
    "provincial_approver": (403, 403, 404),
    "provincial_approver_other_province": (404, 404, 403),
    "group_approver": (403, 403, 403),
    "ops": (403, 403, 403),
}
REGISTER_API = {user: tuple(201 if s == 200 else s for s in row) for user, row in ACT_API.items()}
# The former direct card actions (H2): a card the user may manage gets 410 order_required.
GONE_API = {user: tuple(410 if s == 200 else s for s in row) for user, row in ACT_API.items()}
# Pages answer a successful POST with a redirect (302) to the card or the card user.
ACT_PAGE_POST = {user: tuple(302 if s == 200 else s for s in row) for user, row in ACT_API.items()}
ACT_PAGE_POST["anonymous"] = (LOGIN, LOGIN, LOGIN)
ACT_PAGE_GET = {**ACT_API, "anonymous": (LOGIN, LOGIN, LOGIN)}
# The card's business pages now send the user into the order wizard (a redirect), GET or POST.
ACT_PAGE_TO_ORDER = ACT_PAGE_POST

# The card user's ID number in full, and the photos.
PII_API = {
    "anonymous": (401, 401, 401),
    "account_manager": (200, 200, 404),
    "account_manager_other_province": (404, 404, 200),
    "enterprise_admin": (403, 404, 404),
    "enterprise_admin_other_enterprise": (404, 403, 404),
    "provincial_approver": (200, 200, 404),
    "provincial_approver_other_province": (404, 404, 200),
    "group_approver": (200, 200, 200),
    "ops": (403, 403, 403),
}
PII_PAGE = {**PII_API, "anonymous": (LOGIN, LOGIN, LOGIN)}

# Lists and the pure rule evaluation: open to every signed-in user (lists are scoped).
OPEN_API = {user: 401 if user == "anonymous" else 200 for user in USERS}
OPEN_PAGE = {user: LOGIN if user == "anonymous" else 200 for user in USERS}
# The card-user registration page without a preselected card.
REGISTER_PAGE = {
    "anonymous": LOGIN,
    "account_manager": 200,
    "account_manager_other_province": 200,
    "enterprise_admin": 200,
    "enterprise_admin_other_enterprise": 200,
    "provincial_approver": 403,
    "provincial_approver_other_province": 403,
    "group_approver": 403,
    "ops": 403,
}
# The registration form preselecting a card: roles that may not register anywhere are refused first.
REGISTER_FORM_FOR_CARD = {
    **ACT_PAGE_GET,
    "provincial_approver": (403, 403, 403),
    "provincial_approver_other_province": (403, 403, 403),
}
# Which targets' cards each user sees in the lists.
VISIBLE = {user: {t for t, s in zip(TARGETS, READ_API[user], strict=True) if s == 200} for user in USERS}


def test_the_tables_cover_every_user_of_the_world(world):
    assert set(world["users"]) == set(USERS)


def make_objects(world):
    """For each target enterprise: an active card, a card in stock, a verified card user, and `new(state)`
    to make a fresh card for a call that changes it."""
    managers = {
        "own": world["users"]["account_manager"],
        "other_enterprise": world["users"]["account_manager"],
        "other_province": world["users"]["account_manager_other_province"],
    }
    enterprises = {
        "own": world["enterprise"],
        "other_enterprise": world["enterprise_same_province"],
        "other_province": world["enterprise_other"],
    }
    made = {}

    def maker(ent, manager):
        def new(state: str):
            card = factories.card(enterprise=ent)
            if state == "active":
                factories.activate(card, actor=manager)
            return card

        return new

    for target in TARGETS:
        ent = enterprises[target]
        new = maker(ent, managers[target])
        active = new("active")
        bound = factories.card(enterprise=ent)
        verification = factories.card_user_registration(actor=managers[target], enterprise=ent, cards=[bound])
        factories.face_result(verification, "pass")
        made[target] = {
            "enterprise": ent,
            "active": active,
            "stock": factories.card(enterprise=ent),
            # A fresh card for each call that changes one, so calls do not interfere.
            "new": new,
            "card_user": verification.card_user,
            "verification": verification,
        }
    return made


@pytest.fixture(scope="module")
def module_objects(module_data):
    return module_data.build(make_objects, module_data.world)


@pytest.fixture
def objects(module_objects):
    return copy.deepcopy(module_objects)


def api_client(world, who) -> APIClient:
    client = APIClient()
    if world["users"][who] is not None:
        client.force_authenticate(world["users"][who])
    return client


def page_client(client, world, who):
    if world["users"][who] is not None:
        client.force_login(world["users"][who])
    return client


def page_status(response):
    if response.status_code == 302 and response["Location"].startswith(reverse("login")):
        return LOGIN
    return response.status_code


def register_body(ent, card):
    return {
        "enterprise": str(ent.public_id),
        "cards": [card.iccid],
        "name": "吴十",
        "id_type": "resident_id",
        "id_number": idgen.resident_id(),
        "id_photo": jpeg_upload("id.jpg"),
        "live_photo": jpeg_upload("live.jpg"),
        "biometric_consent": "true",
    }


# --- API: per object ------------------------------------------------------------------------

API_OBJECT_ENDPOINTS = {
    "card detail": ("get", lambda o: f"/api/v1/cards/{o['active'].iccid}/", None, READ_API),
    "realname requirement": (
        "get",
        lambda o: f"/api/v1/cards/{o['active'].iccid}/realname-requirement/",
        None,
        READ_API,
    ),
    "card user detail": ("get", lambda o: f"/api/v1/card-users/{o['card_user'].public_id}/", None, READ_API),
    "verification status": ("get", lambda o: f"/api/v1/verifications/{o['verification'].public_id}/", None, READ_API),
    "activate": ("post", lambda o: f"/api/v1/cards/{o['new']('stock').iccid}/activate/", None, GONE_API),
    "suspend": ("post", lambda o: f"/api/v1/cards/{o['new']('active').iccid}/suspend/", None, GONE_API),
    "cancel": ("post", lambda o: f"/api/v1/cards/{o['new']('active').iccid}/cancel/", None, GONE_API),
    "services": (
        "post",
        lambda o: f"/api/v1/cards/{o['new']('active').iccid}/services/",
        lambda o: {"voice": "directed"},
        GONE_API,
    ),
    "register card user": (
        "post",
        lambda o: "/api/v1/card-users/",
        lambda o: register_body(o["enterprise"], o["new"]("stock")),
        REGISTER_API,
    ),
    "reveal": (
        "post",
        lambda o: f"/api/v1/card-users/{o['card_user'].public_id}/reveal/",
        lambda o: {"field": "id_number"},
        PII_API,
    ),
    "photo": ("get", lambda o: f"/api/v1/card-users/{o['card_user'].public_id}/photos/live_photo/", None, PII_API),
}


@pytest.mark.parametrize("who", USERS)
def test_api_object_endpoints(world, objects, who):
    client = api_client(world, who)
    got, expected = {}, {}
    for endpoint, (method, url, body, table) in sorted(API_OBJECT_ENDPOINTS.items()):
        statuses = []
        for target in TARGETS:
            kwargs = {}
            if body is not None:
                kwargs = {
                    "data": body(objects[target]),
                    "format": "multipart" if endpoint == "register card user" else "json",
                }
            statuses.append(getattr(client, method)(url(objects[target]), **kwargs).status_code)
        got[endpoint], expected[endpoint] = tuple(statuses), table[who]
    assert got == expected


# --- API: lists and the rule engine ------------------------------------------------------------


@pytest.mark.parametrize("who", USERS)
def test_api_card_list_is_open_and_scoped(world, objects, who):
    response = api_client(world, who).get("/api/v1/cards/")
    assert response.status_code == OPEN_API[who]
    if response.status_code == 200:
        listed = {card["iccid"] for card in response.json()["results"]}
        expected = {objects[t][kind].iccid for t in VISIBLE[who] for kind in ("active", "stock")}
        expected |= {b.card.iccid for t in VISIBLE[who] for b in objects[t]["card_user"].bindings.all()}
        assert listed == expected


@pytest.mark.parametrize("who", USERS)
def test_api_card_user_list_is_open_and_scoped(world, objects, who):
    response = api_client(world, who).get("/api/v1/card-users/")
    assert response.status_code == OPEN_API[who]
    if response.status_code == 200:
        listed = {row["public_id"] for row in response.json()["results"]}
        assert listed == {str(objects[t]["card_user"].public_id) for t in VISIBLE[who]}


@pytest.mark.parametrize("who", USERS)
def test_api_rules_evaluate_is_open_to_every_signed_in_user(world, who):
    body = {"msisdn": "14912345678", "data": "none", "voice": "none", "sms": "non_directed"}
    response = api_client(world, who).post("/api/v1/rules/evaluate/", body, format="json")
    assert response.status_code == OPEN_API[who]


# --- pages ----------------------------------------------------------------------------------------

PAGE_OBJECT_ENDPOINTS = {
    "card detail": ("get", lambda o: reverse("cards:detail", args=[o["active"].iccid]), None, READ_PAGE),
    "card user detail": (
        "get",
        lambda o: reverse("cards:card_user_detail", args=[o["card_user"].public_id]),
        None,
        READ_PAGE,
    ),
    "activate": (
        "post",
        lambda o: reverse("cards:action", args=[o["new"]("stock").iccid, "activate"]),
        None,
        ACT_PAGE_POST,
    ),
    "suspend": (
        "post",
        lambda o: reverse("cards:action", args=[o["new"]("active").iccid, "suspend"]),
        None,
        ACT_PAGE_POST,
    ),
    "services form": ("get", lambda o: reverse("cards:services", args=[o["active"].iccid]), None, ACT_PAGE_TO_ORDER),
    "services change": (
        "post",
        lambda o: reverse("cards:services", args=[o["new"]("active").iccid]),
        lambda o: {"data": "none", "voice": "directed", "sms": "none", "package": "IOT-STD"},
        ACT_PAGE_POST,
    ),
    "register for a card (form)": (
        "get",
        lambda o: reverse("cards:card_user_create") + f"?card={o['stock'].iccid}",
        None,
        REGISTER_FORM_FOR_CARD,
    ),
    "reveal": ("post", lambda o: reverse("cards:card_user_reveal", args=[o["card_user"].public_id]), None, PII_PAGE),
    "photo": (
        "get",
        lambda o: reverse("cards:card_user_photo", args=[o["card_user"].public_id, "id_photo"]),
        None,
        PII_PAGE,
    ),
}


@pytest.mark.parametrize("who", USERS)
def test_page_object_endpoints(client, world, objects, who):
    client = page_client(client, world, who)
    got, expected = {}, {}
    for endpoint, (method, url, body, table) in sorted(PAGE_OBJECT_ENDPOINTS.items()):
        statuses = []
        for target in TARGETS:
            kwargs = {"data": body(objects[target])} if body else {}
            statuses.append(page_status(getattr(client, method)(url(objects[target]), **kwargs)))
        got[endpoint], expected[endpoint] = tuple(statuses), table[who]
    assert got == expected


REGISTER_PAGE_POST = {
    user: tuple(302 if s == 201 else 400 if s == 404 else s for s in row) for user, row in REGISTER_API.items()
}
REGISTER_PAGE_POST["anonymous"] = (LOGIN, LOGIN, LOGIN)
# A POST names the enterprise in the form: one the user cannot see is not a choice (400), and
# roles that may not register anywhere are refused before the form is read (403).
REGISTER_PAGE_POST.update(
    {
        "provincial_approver": (403, 403, 403),
        "provincial_approver_other_province": (403, 403, 403),
        "group_approver": (403, 403, 403),
        "ops": (403, 403, 403),
    }
)


@pytest.mark.parametrize("who", USERS)
def test_page_register_card_user_post(client, world, objects, who):
    client = page_client(client, world, who)
    got = []
    for target in TARGETS:
        body = register_body(objects[target]["enterprise"], objects[target]["new"]("stock"))
        body["iccids"] = body.pop("cards")[0]
        body["biometric_consent"] = "on"
        got.append(page_status(client.post(reverse("cards:card_user_create"), body)))
    assert tuple(got) == REGISTER_PAGE_POST[who]


@pytest.mark.parametrize("who", USERS)
def test_page_lists_are_open_and_scoped(client, world, objects, who):
    client = page_client(client, world, who)
    response = client.get(reverse("cards:list"))
    assert page_status(response) == OPEN_PAGE[who]
    if response.status_code == 200:
        page = response.content.decode()
        for target in TARGETS:
            assert (objects[target]["active"].iccid in page) is (target in VISIBLE[who])
    response = client.get(reverse("cards:card_user_list"))
    assert page_status(response) == OPEN_PAGE[who]
    if response.status_code == 200:
        page = response.content.decode()
        for target in TARGETS:
            assert (str(objects[target]["card_user"].public_id) in page) is (target in VISIBLE[who])


@pytest.mark.parametrize("who", USERS)
def test_page_register_form_without_a_card(client, world, who):
    response = page_client(client, world, who).get(reverse("cards:card_user_create"))
    assert page_status(response) == REGISTER_PAGE[who]
