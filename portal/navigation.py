"""The navigation: each entry is shown to whoever holds its capability (the one table). Apps add their
entries here, ordered by position."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.translation import gettext_lazy as _

from accounts.permissions import Capability, Scope, scope_of

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

C = Capability


@functools.cache
def _reversed(url_name: str, urlconf: str, script_prefix: str) -> str:
    # The header shows the menu on every page: its URLs are reversed once for each URLconf and script prefix
    # (the cache's key; reverse() reads the prefix itself), not again on each request (issue 12 §2).
    return reverse(url_name, urlconf=urlconf)


ANY_SCOPE = frozenset(Scope)
# Lists of several enterprises, as against the enterprise admin's own one.
WIDE = frozenset({Scope.OWN_PROVINCE, Scope.NATIONWIDE})


@dataclass(frozen=True)
class NavItem:
    """An entry shown to whoever holds one of its capabilities (accounts.permissions) in one of its scopes."""

    label: StrOrPromise
    url_name: str
    capabilities: tuple[Capability, ...]
    scopes: frozenset[Scope] = ANY_SCOPE

    @property
    def url(self) -> str:
        return _reversed(self.url_name, get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())

    def shown_to(self, user: Any) -> bool:
        return any(scope_of(user, capability) in self.scopes for capability in self.capabilities)


MENU: list[NavItem] = [
    NavItem(_("Home"), "home", (C.VIEW,)),
    NavItem(_("Dashboard"), "dashboard", (C.VIEW,)),
    NavItem(_("Enterprises"), "enterprises:list", (C.VIEW,), WIDE),
    NavItem(_("Register an enterprise"), "enterprises:create", (C.ENTERPRISE_REGISTER,)),
    NavItem(_("Returning customer"), "enterprises:returning", (C.ENTERPRISE_REGISTER,)),
    NavItem(_("My enterprise"), "enterprises:mine", (C.VIEW,), frozenset({Scope.OWN_ENTERPRISE})),
    NavItem(_("Cards"), "cards:list", (C.VIEW,)),
    NavItem(_("Import cards"), "card_imports:new", (C.CARDS_IMPORT,)),
    NavItem(_("Card users"), "cards:card_user_list", (C.VIEW,)),
    NavItem(_("Orders"), "orders:list", (C.VIEW,)),
    NavItem(_("API keys"), "platform_keys:mine", (C.PLATFORM_KEYS_MANAGE,), frozenset({Scope.OWN_ENTERPRISE})),
]


# --- approvals (issue 4) ---
MENU += [
    NavItem(_("Exemption requests"), "approvals:my_requests", (C.EXEMPTIONS_FILE,)),
    NavItem(_("Approvals"), "approvals:queue", (C.DECIDE_PROVINCE, C.DECIDE_GROUP)),
    NavItem(_("Face reviews"), "approvals:review_queue", (C.FACE_REVIEW,)),
    NavItem(_("Approval desk"), "approvals_admin:index", (C.DECIDE_PROVINCE, C.DECIDE_GROUP)),
]


def menu_for(user: Any) -> list[NavItem]:
    return [item for item in MENU if item.shown_to(user)]
