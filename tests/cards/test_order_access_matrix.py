"""Who may see and file orders: every role of the `world` fixture on every order page and endpoint.

The orders: one of the Beijing enterprise (`own`), one of the other Beijing
enterprise (`same_province`) and one of the Guangdong enterprise (`other`).
Statuses are written out for each role: nothing is derived from the code
under test. Anonymous API requests get 401 (TokenAuthentication first, with its
WWW-Authenticate challenge), anonymous page requests go to the login page.
"""

from __future__ import annotations

import copy

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from cards.models import BusinessType, Order
from tests import factories, idgen
from tests.cards.order_helpers import stock, verification_of
from tests.images import jpeg_upload
from verification.services import verification_record_result

# The world and the three orders are built once for the module (conftest.ModuleData).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("module_data")]

ROLES = [
    "anonymous",
    "account_manager",
    "account_manager_other_province",
    "enterprise_admin",
    "enterprise_admin_other_enterprise",
    "provincial_approver",
    "provincial_approver_other_province",
    "group_approver",
    "ops",
]

# Which of the three orders each role sees.
VISIBLE = {
    "anonymous": set(),
    "account_manager": {"own", "same_province"},
    "account_manager_other_province": {"other"},
    "enterprise_admin": {"own"},
    "enterprise_admin_other_enterprise": {"same_province"},
    "provincial_approver": {"own", "same_province"},
    "provincial_approver_other_province": {"other"},
    "group_approver": {"own", "same_province", "other"},
    "ops": {"own", "same_province", "other"},
}

PAGE_DETAIL_OWN = {
    "anonymous": 302,
    "account_manager": 200,
    "account_manager_other_province": 404,
    "enterprise_admin": 200,
    "enterprise_admin_other_enterprise": 404,
    "provincial_approver": 200,
    "provincial_approver_other_province": 404,
    "group_approver": 200,
    "ops": 200,
}

PAGE_PHOTO_OWN = {
    "anonymous": 302,
    "account_manager": 200,
    "account_manager_other_province": 404,
    "enterprise_admin": 200,
    "enterprise_admin_other_enterprise": 404,
    "provincial_approver": 200,
    "provincial_approver_other_province": 404,
    "group_approver": 200,
    "ops": 403,  # ops see personal data masked only
}

# Retake without a file: allowed roles get the form back with its error (400).
PAGE_RETAKE_OWN = {
    "anonymous": 302,
    "account_manager": 400,
    "account_manager_other_province": 404,
    "enterprise_admin": 400,
    "enterprise_admin_other_enterprise": 404,
    "provincial_approver": 403,
    "provincial_approver_other_province": 404,
    "group_approver": 403,
    "ops": 403,
}

PAGE_LIST = {role: (302 if role == "anonymous" else 200) for role in ROLES}

PAGE_WIZARD_GET = {
    "anonymous": 302,
    "account_manager": 200,
    "account_manager_other_province": 200,  # files orders for Guangdong's enterprises
    "enterprise_admin": 200,
    "enterprise_admin_other_enterprise": 200,  # files orders for their own enterprise
    "provincial_approver": 403,
    "provincial_approver_other_province": 403,
    "group_approver": 403,
    "ops": 403,
}

# Step 1 posted for the Beijing enterprise: 302 on to step 2, 200 = the form refuses the enterprise.
PAGE_WIZARD_POST_OWN = {
    "anonymous": 302,
    "account_manager": 302,
    "account_manager_other_province": 200,
    "enterprise_admin": 302,
    "enterprise_admin_other_enterprise": 200,
    "provincial_approver": 403,
    "provincial_approver_other_province": 403,
    "group_approver": 403,
    "ops": 403,
}

# Later steps without step 1 in the session: back to step 1 (302), or 403 for roles that never file.
PAGE_WIZARD_LATER_STEPS = PAGE_WIZARD_GET | {
    "account_manager": 302,
    "account_manager_other_province": 302,
    "enterprise_admin": 302,
    "enterprise_admin_other_enterprise": 302,
}

API_LIST = {role: (401 if role == "anonymous" else 200) for role in ROLES}

API_DETAIL_OWN = {
    "anonymous": 401,
    "account_manager": 200,
    "account_manager_other_province": 404,
    "enterprise_admin": 200,
    "enterprise_admin_other_enterprise": 404,
    "provincial_approver": 200,
    "provincial_approver_other_province": 404,
    "group_approver": 200,
    "ops": 200,
}

API_CREATE_OWN = {
    "anonymous": 401,
    "account_manager": 201,
    "account_manager_other_province": 404,
    "enterprise_admin": 201,
    "enterprise_admin_other_enterprise": 404,
    "provincial_approver": 403,
    "provincial_approver_other_province": 404,
    "group_approver": 403,
    "ops": 403,
}

# Retake without a file: allowed roles get 400 (the file is required).
API_RETAKE_OWN = {
    "anonymous": 401,
    "account_manager": 400,
    "account_manager_other_province": 404,
    "enterprise_admin": 400,
    "enterprise_admin_other_enterprise": 404,
    "provincial_approver": 403,
    "provincial_approver_other_province": 404,
    "group_approver": 403,
    "ops": 403,
}


@pytest.fixture(autouse=True)
def no_engine(monkeypatch):
    monkeypatch.setattr("verification.services.enqueue_verification", lambda pk: None)


def make_orders(world):
    am, am_gd = world["users"]["account_manager"], world["users"]["account_manager_other_province"]

    def make(actor, enterprise):
        return factories.order(
            actor=actor, enterprise=enterprise, business_type=BusinessType.NEW_INSTALLATION, cards=stock(enterprise)
        )

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("verification.services.enqueue_verification", lambda pk: None)
        made = {
            "own": make(am, world["enterprise"]),
            "same_province": make(am, world["enterprise_same_province"]),
            "other": make(am_gd, world["enterprise_other"]),
        }
        # The own order's live photo was refused as unusable, so a retake is possible.
        verification_record_result(verification=verification_of(made["own"]), outcome="rejected")
    return made


@pytest.fixture(scope="module")
def module_orders(module_data):
    return module_data.build(make_orders, module_data.world)


@pytest.fixture
def orders(module_orders):
    return copy.deepcopy(module_orders)


def page_client(client, world, role):
    user = world["users"][role]
    if user is not None:
        client.force_login(user)
    return client


def api_client(world, role):
    client = APIClient()
    user = world["users"][role]
    if user is not None:
        client.force_authenticate(user)
    return client


def expected_numbers(orders, role) -> set[str]:
    return {orders[name].number for name in VISIBLE[role]}


# --- pages --------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_page_list(client, world, orders, role):
    response = page_client(client, world, role).get(reverse("orders:list"))
    assert response.status_code == PAGE_LIST[role]
    if response.status_code == 200:
        html = response.content.decode()
        for name, order in orders.items():
            assert (order.number in html) == (name in VISIBLE[role]), name


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("which", ["own", "same_province", "other"])
def test_page_detail_of_each_order(client, world, orders, role, which):
    response = page_client(client, world, role).get(reverse("orders:detail", args=[orders[which].public_id]))
    if role == "anonymous":
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    else:
        assert response.status_code == (200 if which in VISIBLE[role] else 404)
    if which == "own":
        assert response.status_code == PAGE_DETAIL_OWN[role]


@pytest.mark.parametrize("role", ROLES)
def test_page_photo(client, world, orders, role):
    response = page_client(client, world, role).get(reverse("orders:photo", args=[orders["own"].public_id, "id"]))
    assert response.status_code == PAGE_PHOTO_OWN[role]


@pytest.mark.parametrize("role", ROLES)
def test_page_retake(client, world, orders, role):
    response = page_client(client, world, role).post(reverse("orders:retake", args=[orders["own"].public_id]), {})
    assert response.status_code == PAGE_RETAKE_OWN[role]


@pytest.mark.parametrize("role", ROLES)
def test_page_wizard_start(client, world, orders, role):
    c = page_client(client, world, role)
    assert c.get(reverse("orders:new")).status_code == PAGE_WIZARD_GET[role]
    card = stock(world["enterprise"])[0]
    response = c.post(
        reverse("orders:new"),
        {"business_type": "cancellation", "enterprise": str(world["enterprise"].public_id), "cards": card.iccid},
    )
    assert response.status_code == PAGE_WIZARD_POST_OWN[role]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("step", ["orders:new_handler", "orders:new_details"])
def test_page_wizard_later_steps(client, world, orders, role, step):
    c = page_client(client, world, role)
    assert c.get(reverse(step)).status_code == PAGE_WIZARD_LATER_STEPS[role]
    assert c.post(reverse(step), {}).status_code == PAGE_WIZARD_LATER_STEPS[role]


def test_page_wizard_session_of_one_enterprise_does_not_carry_to_another_user(client, world, orders):
    """Step data lives in the user's own session: another user starts empty."""
    c = page_client(client, world, "account_manager")
    card = stock(world["enterprise"])[0]
    c.post(
        reverse("orders:new"),
        {"business_type": "cancellation", "enterprise": str(world["enterprise"].public_id), "cards": card.iccid},
    )
    c.post(reverse("orders:new_handler"), {"handler_id_type": "resident_id", "handler_id_number": idgen.resident_id()})
    other = page_client(client.__class__(), world, "account_manager_other_province")
    assert other.get(reverse("orders:new_details"))["Location"] == reverse("orders:new")


# --- API ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_api_list(world, orders, role):
    response = api_client(world, role).get("/api/v1/orders/")
    assert response.status_code == API_LIST[role]
    if response.status_code == 200:
        assert {item["number"] for item in response.json()["results"]} == expected_numbers(orders, role)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("which", ["own", "same_province", "other"])
def test_api_detail_of_each_order(world, orders, role, which):
    response = api_client(world, role).get(f"/api/v1/orders/{orders[which].public_id}/")
    if role == "anonymous":
        assert response.status_code == 401
    else:
        assert response.status_code == (200 if which in VISIBLE[role] else 404)
    if which == "own":
        assert response.status_code == API_DETAIL_OWN[role]


@pytest.mark.parametrize("role", ROLES)
def test_api_detail_malformed_id_is_404(world, orders, role):
    response = api_client(world, role).get("/api/v1/orders/not-a-uuid/")
    assert response.status_code == (401 if role == "anonymous" else 404)


@pytest.mark.parametrize("role", ROLES)
def test_api_create(world, orders, role):
    card = stock(world["enterprise"])[0]
    before = Order.objects.count()
    response = api_client(world, role).post(
        "/api/v1/orders/",
        {
            "enterprise": str(world["enterprise"].public_id),
            "business_type": "cancellation",
            "cards": [card.iccid],
            "handler_id_type": "resident_id",
            "handler_id_number": idgen.resident_id(),
            "handler_name": "王五",
            "handler_id_address": "北京市西城区金融街3号",
            "handler_id_photo": jpeg_upload("id.jpg"),
            # The enterprise has orders already: a later business brings the fresh photos (E2, P3).
            "credential_photo": jpeg_upload("credential.jpg"),
            "responsible_id_photo": jpeg_upload("responsible-id.jpg"),
        },
        format="multipart",
    )
    assert response.status_code == API_CREATE_OWN[role], response.content
    assert Order.objects.count() == before + (1 if response.status_code == 201 else 0)


@pytest.mark.parametrize("role", ROLES)
def test_api_retake(world, orders, role):
    response = api_client(world, role).post(
        f"/api/v1/orders/{orders['own'].public_id}/live-photo/", {}, format="multipart"
    )
    assert response.status_code == API_RETAKE_OWN[role]
