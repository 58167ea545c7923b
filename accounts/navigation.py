"""The navigation each role sees. Apps add their entries here, ordered by position."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.roles import Role


@dataclass(frozen=True)
class NavItem:
    label: str
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
]


def menu_for(user) -> list[NavItem]:
    role = Role.OPS if user.is_superuser else user.role
    return [item for item in MENU if role in item.roles]
