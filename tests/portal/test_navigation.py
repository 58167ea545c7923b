"""The navigation each role of `world` sees, written out: the entries follow the capability table."""

from __future__ import annotations

import pytest

from portal.navigation import menu_for

pytestmark = pytest.mark.django_db

EVERYONE = ["home", "dashboard", "cards:list", "cards:card_user_list", "orders:list"]
MANAGER = EVERYONE + [
    "enterprises:list",
    "enterprises:create",
    "enterprises:returning",
    "card_imports:new",
    "approvals:my_requests",
]
MENUS = {
    "account_manager": MANAGER,
    "account_manager_other_province": MANAGER,
    "enterprise_admin": EVERYONE
    + ["enterprises:mine", "card_imports:new", "approvals:my_requests", "platform_keys:mine"],
    "provincial_approver": EVERYONE
    + ["enterprises:list", "approvals:queue", "approvals:review_queue", "approvals_admin:index"],
    "group_approver": EVERYONE + ["enterprises:list", "approvals:queue", "approvals_admin:index"],
    "ops": EVERYONE + ["enterprises:list"],
}


@pytest.mark.parametrize("role", sorted(MENUS))
def test_each_role_sees_its_entries(world, role):
    assert sorted(item.url_name for item in menu_for(world["users"][role])) == sorted(MENUS[role])


def test_an_account_manager_without_a_province_is_offered_nothing(world):
    manager = world["users"]["account_manager"]
    manager.province = None
    assert menu_for(manager) == []
