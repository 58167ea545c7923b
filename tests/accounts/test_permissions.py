"""The capability table (accounts.permissions): each role's capabilities, written out independently here.

Targets: the enterprise admin's own enterprise ("own"), another enterprise of the same province ("province"),
an enterprise of another province ("other"). A row lists which of the three the role may act on.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from accounts.permissions import (
    ROLE_CAPABILITIES,
    ROLE_PERMISSIONS,
    Capability,
    Scope,
    can,
    capabilities_of,
    may_somewhere,
    require,
    scope_filter,
)
from core.errors import PermissionDenied
from enterprises.models import Enterprise

pytestmark = pytest.mark.django_db

C = Capability
ALL = {"own", "province", "other"}
PROVINCE = {"own", "province"}
OWN = {"own"}
NONE: set[str] = set()

# role -> capability -> the targets it may act on. Independent of the table in the code.
EXPECTED = {
    "account_manager": {
        C.VIEW: PROVINCE,
        C.VIEW_FULL_PII: PROVINCE,
        C.ENTERPRISE_REGISTER: PROVINCE,
        C.ENTERPRISE_EDIT: PROVINCE,
        C.ENTERPRISE_UPLOAD_DOCUMENTS: PROVINCE,
        C.CHANGE_REQUEST_FILE: PROVINCE,
        C.ENTERPRISE_FILES_OPEN: PROVINCE,
        C.CARDS_MANAGE: PROVINCE,
        C.CARDS_IMPORT: PROVINCE,
        C.ORDERS_FILE: PROVINCE,
        C.CARD_USERS_REGISTER: PROVINCE,
        C.EXEMPTIONS_FILE: PROVINCE,
        C.SELF_SERVICE_LINKS_MANAGE: PROVINCE,
        C.PLATFORM_KEYS_MANAGE: PROVINCE,
        C.WEBHOOKS_MANAGE: PROVINCE,
        C.SANDBOX_RESET: PROVINCE,
    },
    "enterprise_admin": {
        C.VIEW: OWN,
        C.ENTERPRISE_UPLOAD_DOCUMENTS: OWN,
        C.CHANGE_REQUEST_FILE: OWN,
        C.ENTERPRISE_FILES_OPEN: OWN,
        C.CARDS_MANAGE: OWN,
        C.CARDS_IMPORT: OWN,
        C.ORDERS_FILE: OWN,
        C.CARD_USERS_REGISTER: OWN,
        C.EXEMPTIONS_FILE: OWN,
        C.SELF_SERVICE_LINKS_MANAGE: OWN,
        C.PLATFORM_KEYS_MANAGE: OWN,
        C.WEBHOOKS_MANAGE: OWN,
        C.SANDBOX_RESET: OWN,
    },
    "provincial_approver": {
        C.VIEW: PROVINCE,
        C.VIEW_FULL_PII: PROVINCE,
        C.ENTERPRISE_FILES_OPEN: PROVINCE,
        C.DECIDE_PROVINCE: PROVINCE,
        C.FACE_REVIEW: PROVINCE,
    },
    "group_approver": {C.VIEW: ALL, C.VIEW_FULL_PII: ALL, C.ENTERPRISE_FILES_OPEN: ALL, C.DECIDE_GROUP: ALL},
    "ops": {
        C.VIEW: ALL,
        C.OPS_ADMIN_VIEW: ALL,
        C.PACKAGES_MANAGE: ALL,
        C.UNIT_KINDS_MANAGE: ALL,
        C.USERS_MANAGE: ALL,
        C.SANDBOX_RESET: ALL,
    },
}


@pytest.fixture
def targets(world):
    return {
        "own": world["enterprise"],
        "province": world["enterprise_same_province"],
        "other": world["enterprise_other"],
    }


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_each_role_holds_exactly_its_capabilities_where_its_scope_says(world, targets, role):
    user = world["users"][role]
    for capability in Capability:
        allowed = {name for name, enterprise in targets.items() if can(user, capability, enterprise)}
        assert allowed == EXPECTED[role].get(capability, NONE), (role, capability)


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_scope_filter_selects_the_same_enterprises_as_can(world, targets, role):
    user = world["users"][role]
    for capability in Capability:
        chosen = set(Enterprise.objects.filter(scope_filter(user, capability)).values_list("pk", flat=True))
        for name, enterprise in targets.items():
            assert (enterprise.pk in chosen) == can(user, capability, enterprise), (role, capability, name)


def test_anonymous_inactive_and_unscoped_actors_hold_nothing(world, targets):
    manager = world["users"]["account_manager"]
    assert capabilities_of(None) == {}
    assert capabilities_of(SimpleNamespace(is_authenticated=False, is_active=True, role="ops")) == {}
    manager.is_active = False
    assert capabilities_of(manager) == {}
    # An account manager bound to no province holds nothing that is scoped to a province.
    lost = SimpleNamespace(
        is_authenticated=True, is_active=True, role="account_manager", province_id=None, enterprise_id=None
    )
    assert capabilities_of(lost) == {}
    assert not may_somewhere(lost, C.ORDERS_FILE)


def test_a_superuser_adds_full_views_and_user_management_to_its_role(world, targets):
    ops = world["users"]["ops"]
    ops.is_superuser = True
    assert can(ops, C.VIEW_FULL_PII, targets["other"]) and can(ops, C.ROLES_GRANT)
    assert not can(ops, C.ORDERS_FILE, targets["own"])  # a superuser files no business: no role of its own to do it


def test_a_capability_limit_narrows_the_role_as_an_api_key_will(world, targets):
    """Issue 10: a platform key acts as its enterprise's admin, less what its scopes leave out."""
    admin = world["users"]["enterprise_admin"]
    key = SimpleNamespace(
        is_authenticated=True,
        is_active=True,
        role=admin.role,
        province_id=admin.province_id,
        enterprise_id=admin.enterprise_id,
        capability_limit={C.VIEW, C.CARD_USERS_REGISTER},
    )
    assert can(key, C.CARD_USERS_REGISTER, targets["own"]) and not can(key, C.ORDERS_FILE, targets["own"])
    assert not can(key, C.CARD_USERS_REGISTER, targets["province"])


def test_require_refuses_with_permission_denied(world, targets):
    with pytest.raises(PermissionDenied):
        require(world["users"]["enterprise_admin"], C.ORDERS_FILE, targets["province"])
    require(world["users"]["enterprise_admin"], C.ORDERS_FILE, targets["own"])


def test_every_role_has_a_row_and_no_row_uses_an_unknown_scope():
    from accounts.roles import LINK_HOLDER, Role

    # Every user's role, and the one actor that is no user's (a self-service link holder).
    assert set(ROLE_CAPABILITIES) == set(Role.values) | {LINK_HOLDER}
    assert all(isinstance(scope, Scope) for row in ROLE_CAPABILITIES.values() for scope in row.values())


# The model permissions of each role's group as they were written out by hand before they were derived
# from the table (accounts.roles.ROLE_PERMISSIONS, issue 8): the derivation must not change any of them.
_APPROVER_DESK = [
    "approvals.view_exemptionrequest",
    "approvals.change_exemptionrequest",
    "approvals.view_decision",
    "enterprises.view_changerequest",
    "enterprises.change_changerequest",
    "verification.view_verification",
    "verification.change_verification",
]
GROUP_PERMISSIONS_BEFORE = {
    "account_manager": ["accounts.view_full_pii"],
    "enterprise_admin": [],
    "provincial_approver": ["accounts.view_full_pii", *_APPROVER_DESK],
    "group_approver": ["accounts.view_full_pii", *_APPROVER_DESK],
    "ops": [
        "accounts.view_user",
        "accounts.add_user",
        "accounts.change_user",
        "accounts.view_province",
        "accounts.view_piiaccesslog",
        "accounts.view_auditevent",
        "accounts.view_rolegrant",
        "accounts.add_rolegrant",
        "enterprises.view_enterprise",
        "enterprises.view_unitkind",
        "enterprises.add_unitkind",
        "enterprises.change_unitkind",
        "enterprises.view_responsibleperson",
        "enterprises.view_document",
        "enterprises.view_changerequest",
        "enterprises.view_recordversion",
        "approvals.view_exemptionrequest",
        "approvals.view_decision",
        "verification.view_verification",
        "cards.view_package",
        "cards.add_package",
        "cards.change_package",
        "cards.view_card",
        "cards.view_cardevent",
        "cards.view_carduser",
        "cards.view_cardbinding",
        "cards.view_cardimport",
        "cards.view_order",
        "cards.view_ordercard",
        "cards.view_handler",
        # Added since (issue 12 §1.5): the notices and list exports got their read-only ops lists.
        "accounts.view_notice",
        "portal.view_listexport",
    ],
}


@pytest.mark.parametrize("role", sorted(GROUP_PERMISSIONS_BEFORE))
def test_the_groups_derived_from_the_table_hold_what_they_held_when_written_by_hand(role):
    derived = ROLE_PERMISSIONS[role]
    assert len(derived) == len(set(derived))
    assert set(derived) == set(GROUP_PERMISSIONS_BEFORE[role])


def test_every_role_gets_a_derived_group():
    assert set(ROLE_PERMISSIONS) == set(GROUP_PERMISSIONS_BEFORE)
