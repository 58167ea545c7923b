"""The navigation each role sees. Apps add their entries here, ordered by position."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.roles import Role

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


@dataclass(frozen=True)
class NavItem:
    label: StrOrPromise
    url_name: str
    roles: frozenset[str]

    @property
    def url(self) -> str:
        return reverse(self.url_name)


ALL_ROLES = frozenset(Role.values)

MENU: list[NavItem] = [
    NavItem(_("Home"), "home", ALL_ROLES),
    NavItem(
        _("Enterprises"),
        "enterprises:list",
        frozenset({Role.ACCOUNT_MANAGER, Role.PROVINCIAL_APPROVER, Role.GROUP_APPROVER, Role.OPS}),
    ),
    NavItem(_("Register an enterprise"), "enterprises:create", frozenset({Role.ACCOUNT_MANAGER})),
    NavItem(_("Returning customer"), "enterprises:returning", frozenset({Role.ACCOUNT_MANAGER})),
    NavItem(_("My enterprise"), "enterprises:mine", frozenset({Role.ENTERPRISE_ADMIN})),
    NavItem(_("Cards"), "cards:list", ALL_ROLES),
    NavItem(_("Import cards"), "card_imports:new", frozenset({Role.ACCOUNT_MANAGER, Role.ENTERPRISE_ADMIN})),
    NavItem(_("Card users"), "cards:card_user_list", ALL_ROLES),
    NavItem(_("Orders"), "orders:list", ALL_ROLES),
]


# --- approvals (issue 4) ---
MENU += [
    NavItem(_("Exemption requests"), "approvals:my_requests", frozenset({Role.ACCOUNT_MANAGER, Role.ENTERPRISE_ADMIN})),
    NavItem(_("Approvals"), "approvals:queue", frozenset({Role.PROVINCIAL_APPROVER, Role.GROUP_APPROVER})),
    NavItem(_("Face reviews"), "approvals:review_queue", frozenset({Role.PROVINCIAL_APPROVER})),
    NavItem(_("Approval desk"), "approvals_admin:index", frozenset({Role.PROVINCIAL_APPROVER, Role.GROUP_APPROVER})),
]


def menu_for(user) -> list[NavItem]:
    role = Role.OPS if user.is_superuser else user.role
    return [item for item in MENU if role in item.roles]
