"""Who may do what: one table, role → capability → scope rule (after Sentry's role and scope map).

Every question "may this actor do X to that record?" in the portal is asked here: pages, the REST API,
both admin sites, services, tasks. The apps hold no `can_*` predicates of their own.

- A *capability* names one kind of action (`Capability`).
- A *scope rule* says where a role holds it: in its own enterprise, in its own province, or nationwide.
- An *actor* is anyone who acts: a user of a role today, later a self-service link holder or a platform API
  key (issues 9 and 10). An actor has a `role`, a `province_id` and an `enterprise_id`, and may carry
  `capability_limit`, a set that narrows what its role allows (an API key's scopes). New kinds of actor are new
  rows of the table, not new predicates.

Who checks: **services authorise their actor** (`require(...)` first, then the writes), so every channel gets
the same answer. Pages and the API ask `can(...)` (or `may_somewhere(...)`, for a menu or a page with no
record yet) only to decide what to offer (a button, a form), and read through selectors that scope every
queryset with `scope_filter(...)`, where "does not exist" and "no access" give the same answer. What is a fact
of the record rather than of the role (its status; nobody decides what they filed) is checked beside the
table, by the service and the selectors, never in it.

The admin sites: the Django model permissions of each role's group (`ROLE_PERMISSIONS`) are derived from the
table through `ADMIN_PERMISSIONS` (capability -> the model permissions it needs there). The operations admin
asks the table and then those model permissions (accounts.admin.CapabilityAdminMixin); the approval desk asks
the table alone (approvals.admin.DeskAdmin), because both levels' groups hold the same desk models.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Protocol

from django.contrib.auth.models import Group, Permission
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.roles import LINK_HOLDER, VIEW_FULL_PII, Role
from core.errors import PermissionDenied

NOTHING = Q(pk__in=[])


class Capability(enum.StrEnum):
    # Reading records at all (the selectors' scope).
    VIEW = "view"
    # An ID or credential number, an ID photo, a face photo or a document image in full (each view is
    # logged and counted against the reveal budget).
    VIEW_FULL_PII = "view_full_pii"
    # Enterprise records (E1-E3, P1-P4).
    ENTERPRISE_REGISTER = "enterprise.register"
    ENTERPRISE_EDIT = "enterprise.edit"
    ENTERPRISE_UPLOAD_DOCUMENTS = "enterprise.upload_documents"
    CHANGE_REQUEST_FILE = "enterprise.file_change_request"
    # The files of an enterprise's own documents, approval forms and handler photos: who sees personal data
    # in full, and the enterprise's own admin, who uploads them.
    ENTERPRISE_FILES_OPEN = "enterprise.open_files"
    # Cards and the business done on them (H1-H3, U0-U6).
    CARDS_MANAGE = "cards.manage"
    CARDS_IMPORT = "cards.import"
    ORDERS_FILE = "orders.file"
    CARD_USERS_REGISTER = "card_users.register"
    EXEMPTIONS_FILE = "exemptions.file"
    # The self-service links an enterprise sends its card users (C2): create, revoke, renew.
    SELF_SERVICE_LINKS_MANAGE = "self_service.manage_links"
    # The platform channel (C3): an enterprise's API keys, and its callback endpoints and events feed.
    PLATFORM_KEYS_MANAGE = "platform.manage_keys"
    WEBHOOKS_MANAGE = "platform.manage_webhooks"
    # Wiping an enterprise's sandbox (its test keys' records) back to its seeded cards (issue 10 §5).
    SANDBOX_RESET = "platform.reset_sandbox"
    # Decisions.
    DECIDE_PROVINCE = "approvals.decide_province"  # provincial exemptions, change requests
    DECIDE_GROUP = "approvals.decide_group"  # group exemptions
    FACE_REVIEW = "verification.review"  # borderline and failed face comparisons
    # Reference data and people (ops, in Django admin).
    OPS_ADMIN_VIEW = "admin.view"  # every record, masked, in the operations admin (read-only there)
    PACKAGES_MANAGE = "cards.manage_packages"
    UNIT_KINDS_MANAGE = "enterprises.manage_unit_kinds"
    USERS_MANAGE = "accounts.manage_users"  # accounts of roles that see nothing in full and decide nothing
    ROLES_GRANT = "accounts.grant_roles"  # the roles that do (a superuser's, directly or by approving a grant)


class Scope(enum.Enum):
    OWN_ENTERPRISE = "own_enterprise"
    OWN_PROVINCE = "own_province"
    NATIONWIDE = "nationwide"


C, S = Capability, Scope

# The table. A capability absent from a role's row is not held at all.
ROLE_CAPABILITIES: Mapping[str, Mapping[Capability, Scope]] = {
    Role.ACCOUNT_MANAGER: {
        C.VIEW: S.OWN_PROVINCE,
        C.VIEW_FULL_PII: S.OWN_PROVINCE,
        C.ENTERPRISE_REGISTER: S.OWN_PROVINCE,
        C.ENTERPRISE_EDIT: S.OWN_PROVINCE,
        C.ENTERPRISE_UPLOAD_DOCUMENTS: S.OWN_PROVINCE,
        C.CHANGE_REQUEST_FILE: S.OWN_PROVINCE,
        C.ENTERPRISE_FILES_OPEN: S.OWN_PROVINCE,
        C.CARDS_MANAGE: S.OWN_PROVINCE,
        C.CARDS_IMPORT: S.OWN_PROVINCE,
        C.ORDERS_FILE: S.OWN_PROVINCE,
        C.CARD_USERS_REGISTER: S.OWN_PROVINCE,
        C.EXEMPTIONS_FILE: S.OWN_PROVINCE,
        C.SELF_SERVICE_LINKS_MANAGE: S.OWN_PROVINCE,
        C.PLATFORM_KEYS_MANAGE: S.OWN_PROVINCE,
        C.WEBHOOKS_MANAGE: S.OWN_PROVINCE,
        C.SANDBOX_RESET: S.OWN_PROVINCE,
    },
    Role.ENTERPRISE_ADMIN: {
        C.VIEW: S.OWN_ENTERPRISE,
        C.ENTERPRISE_UPLOAD_DOCUMENTS: S.OWN_ENTERPRISE,
        C.CHANGE_REQUEST_FILE: S.OWN_ENTERPRISE,
        C.ENTERPRISE_FILES_OPEN: S.OWN_ENTERPRISE,
        C.CARDS_MANAGE: S.OWN_ENTERPRISE,
        C.CARDS_IMPORT: S.OWN_ENTERPRISE,
        C.ORDERS_FILE: S.OWN_ENTERPRISE,
        C.CARD_USERS_REGISTER: S.OWN_ENTERPRISE,
        C.EXEMPTIONS_FILE: S.OWN_ENTERPRISE,
        C.SELF_SERVICE_LINKS_MANAGE: S.OWN_ENTERPRISE,
        C.PLATFORM_KEYS_MANAGE: S.OWN_ENTERPRISE,
        C.WEBHOOKS_MANAGE: S.OWN_ENTERPRISE,
        C.SANDBOX_RESET: S.OWN_ENTERPRISE,
    },
    Role.PROVINCIAL_APPROVER: {
        C.VIEW: S.OWN_PROVINCE,
        C.VIEW_FULL_PII: S.OWN_PROVINCE,
        C.ENTERPRISE_FILES_OPEN: S.OWN_PROVINCE,
        C.DECIDE_PROVINCE: S.OWN_PROVINCE,
        C.FACE_REVIEW: S.OWN_PROVINCE,
    },
    Role.GROUP_APPROVER: {
        C.VIEW: S.NATIONWIDE,
        C.VIEW_FULL_PII: S.NATIONWIDE,
        C.ENTERPRISE_FILES_OPEN: S.NATIONWIDE,
        C.DECIDE_GROUP: S.NATIONWIDE,
    },
    Role.OPS: {
        C.VIEW: S.NATIONWIDE,
        C.OPS_ADMIN_VIEW: S.NATIONWIDE,
        C.PACKAGES_MANAGE: S.NATIONWIDE,
        C.UNIT_KINDS_MANAGE: S.NATIONWIDE,
        C.USERS_MANAGE: S.NATIONWIDE,
        C.SANDBOX_RESET: S.NATIONWIDE,
    },
    # Not a user's role: whoever holds a self-service link registers themselves, in the link's enterprise
    # only (cards.self_service.actors.LinkHolder, whose limit narrows it to this one capability).
    LINK_HOLDER: {
        C.CARD_USERS_REGISTER: S.OWN_ENTERPRISE,
    },
}

# A superuser holds their role's row and these on top (Django superusers are the operator's own admins).
SUPERUSER_CAPABILITIES: Mapping[Capability, Scope] = {
    C.VIEW: S.NATIONWIDE,
    C.VIEW_FULL_PII: S.NATIONWIDE,
    C.ENTERPRISE_FILES_OPEN: S.NATIONWIDE,
    C.OPS_ADMIN_VIEW: S.NATIONWIDE,
    C.PACKAGES_MANAGE: S.NATIONWIDE,
    C.UNIT_KINDS_MANAGE: S.NATIONWIDE,
    C.USERS_MANAGE: S.NATIONWIDE,
    C.ROLES_GRANT: S.NATIONWIDE,
    C.SANDBOX_RESET: S.NATIONWIDE,
}


# The Django model permissions ("app_label.codename") each capability needs in the admin sites. A role's
# group gets the union over its row (ROLE_PERMISSIONS), so `has_perm` and Django admin's own checks agree
# with the table. A capability absent here needs none: its pages and services ask the table itself.
_DESK = (
    "approvals.view_exemptionrequest",
    "approvals.change_exemptionrequest",
    "approvals.view_decision",
    "enterprises.view_changerequest",
    "enterprises.change_changerequest",
    "verification.view_verification",
    "verification.change_verification",
)
ADMIN_PERMISSIONS: Mapping[Capability, tuple[str, ...]] = {
    C.VIEW_FULL_PII: (VIEW_FULL_PII,),
    # The approval desk (approvals.admin.approvals_site) is one site for both levels: each level's group
    # holds every desk model, and the desk asks the table which level decides what ("change" is "decide").
    C.DECIDE_PROVINCE: _DESK,
    C.DECIDE_GROUP: _DESK,
    C.FACE_REVIEW: ("verification.view_verification", "verification.change_verification"),
    # Ops see records masked and change nothing there but reference data and people: everything else
    # changes through the services.
    C.OPS_ADMIN_VIEW: (
        "accounts.view_province",
        "accounts.view_piiaccesslog",
        "accounts.view_auditevent",
        "accounts.view_notice",
        "enterprises.view_enterprise",
        "enterprises.view_responsibleperson",
        "enterprises.view_document",
        "enterprises.view_changerequest",
        "enterprises.view_recordversion",
        "approvals.view_exemptionrequest",
        "approvals.view_decision",
        "verification.view_verification",
        "cards.view_card",
        "cards.view_cardevent",
        "cards.view_carduser",
        "cards.view_cardbinding",
        "cards.view_cardimport",
        "cards.view_order",
        "cards.view_ordercard",
        "cards.view_handler",
        "portal.view_listexport",
    ),
    C.PACKAGES_MANAGE: ("cards.view_package", "cards.add_package", "cards.change_package"),
    C.UNIT_KINDS_MANAGE: ("enterprises.view_unitkind", "enterprises.add_unitkind", "enterprises.change_unitkind"),
    C.USERS_MANAGE: (
        "accounts.view_user",
        "accounts.add_user",
        "accounts.change_user",
        "accounts.view_rolegrant",
        "accounts.add_rolegrant",
    ),
}


def _derived_permissions(row: Mapping[Capability, Scope]) -> list[str]:
    return sorted({name for capability in row for name in ADMIN_PERMISSIONS.get(capability, ())})


# The model permissions of each role's group, derived from its row of the table.
# Only users' roles have a group: a link holder never signs in to an admin site.
ROLE_PERMISSIONS: Mapping[str, list[str]] = {
    role: _derived_permissions(row) for role, row in ROLE_CAPABILITIES.items() if role in Role.values
}


def sync_role_groups(sender=None, **kwargs) -> None:
    """Give each role's group exactly ROLE_PERMISSIONS (after every migration: later apps' permissions)."""
    for role, perm_names in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        perms = []
        for name in perm_names:
            app_label, codename = name.split(".")
            perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if perm is not None:
                perms.append(perm)
        group.permissions.set(perms)


class Actor(Protocol):
    """Anyone who acts. A User is one; a link holder or an API key will be others."""

    role: str
    province_id: int | None
    enterprise_id: int | None
    is_active: bool
    is_authenticated: bool


def actor_user(actor: Any) -> Any:
    """The user behind an actor, for the columns that name one (created_by, an event's actor): None for
    the anonymous and for an actor that is no user (a link holder names itself in `audit_data`)."""
    if actor is not None and getattr(actor, "is_authenticated", False) and hasattr(actor, "_meta"):
        return actor
    return None


def _is_actor(actor: Any) -> bool:
    return bool(actor is not None and getattr(actor, "is_authenticated", False) and getattr(actor, "is_active", False))


def capabilities_of(actor: Any) -> dict[Capability, Scope]:
    """What the actor holds, and where: its role's row (plus a superuser's), narrowed by its limit."""
    if not _is_actor(actor):
        return {}
    held = dict(ROLE_CAPABILITIES.get(getattr(actor, "role", ""), {}))
    if getattr(actor, "is_superuser", False):
        held.update(SUPERUSER_CAPABILITIES)
    limit = getattr(actor, "capability_limit", None)
    if limit is not None:
        held = {capability: scope for capability, scope in held.items() if capability in limit}
    # A scope bound to a province or an enterprise the actor lacks is no scope at all.
    if getattr(actor, "province_id", None) is None:
        held = {c: s for c, s in held.items() if s != S.OWN_PROVINCE}
    if getattr(actor, "enterprise_id", None) is None:
        held = {c: s for c, s in held.items() if s != S.OWN_ENTERPRISE}
    return held


def scope_of(actor: Any, capability: Capability) -> Scope | None:
    return capabilities_of(actor).get(capability)


def may_somewhere(actor: Any, capability: Capability) -> bool:
    """The actor holds the capability for at least one enterprise (what to put in the navigation)."""
    return scope_of(actor, capability) is not None


def _enterprise_facts(target: Any) -> tuple[int | None, int | None, bool]:
    """(enterprise id, province id, whether it is a sandbox) of an enterprise, or of a record of one."""
    if target is None:
        return None, None, False
    if hasattr(target, "province_id") and hasattr(target, "credential_type"):  # an Enterprise
        return target.pk, target.province_id, getattr(target, "sandbox_of_id", None) is not None
    enterprise = getattr(target, "enterprise", None)
    if enterprise is not None:
        return enterprise.pk, enterprise.province_id, getattr(enterprise, "sandbox_of_id", None) is not None
    raise TypeError(f"{type(target).__name__} is neither an enterprise nor a record of one")


# Sandboxes (issue 10 §5): an enterprise's sandbox is reached only by an actor that acts for it, an enterprise
# scope equal to its id (a test key's). Province and nationwide scopes leave sandboxes out, so that no list,
# count, queue or figure of a real person ever holds a sandbox record ("sandbox_of" is enterprises' field).


def can(actor: Any, capability: Capability, target: Any = None) -> bool:
    """Whether the actor may do `capability` to `target` (an enterprise, or a record of one).

    Without a target: whether it may do it anywhere at all (e.g. register an enterprise in its province).
    """
    scope = scope_of(actor, capability)
    if scope is None:
        return False
    if target is None:
        return True
    enterprise_id, province_id, sandbox = _enterprise_facts(target)
    if scope == S.OWN_ENTERPRISE:
        return enterprise_id is not None and enterprise_id == actor.enterprise_id
    if sandbox:
        return False
    if scope == S.NATIONWIDE:
        return True
    return province_id is not None and province_id == actor.province_id


def scope_filter(actor: Any, capability: Capability = C.VIEW, *, path: str = "", own_scope_columns: bool = False) -> Q:
    """The filter on an enterprise-owned model for where the actor holds `capability`.

    `path` leads from the model to its enterprise: "" on Enterprise itself, "enterprise__" on a record of one.
    Province and nationwide scopes hold real enterprises only (REAL_ONLY); an enterprise scope is exact.
    `own_scope_columns`: the model carries its enterprise's province and sandbox flag itself (`province_id`,
    `in_sandbox`, as cards do), so the province and nationwide scopes read them with no join to enterprises.
    """
    scope = scope_of(actor, capability)
    if scope is None:
        return NOTHING
    if scope == S.OWN_ENTERPRISE:
        return Q(**{f"{path}pk" if not path else f"{path}id": actor.enterprise_id})
    if own_scope_columns:
        real = Q(in_sandbox=False)
        province = Q(province_id=actor.province_id)
    else:
        real = Q(**{f"{path}sandbox_of__isnull": True})
        province = Q(**{f"{path}province_id": actor.province_id})
    if scope == S.NATIONWIDE:
        return real
    return real & province


MSG_DENIED = _("Your role may not do this here.")


def require(actor: Any, capability: Capability, target: Any = None, *, message=None, code: str | None = None) -> None:
    """A service's first line: refuse with PermissionDenied unless `can(...)`."""
    if not can(actor, capability, target):
        raise PermissionDenied(message or MSG_DENIED, code=code)


__all__ = [
    "ADMIN_PERMISSIONS",
    "Actor",
    "Capability",
    "NOTHING",
    "ROLE_CAPABILITIES",
    "ROLE_PERMISSIONS",
    "SUPERUSER_CAPABILITIES",
    "Scope",
    "actor_user",
    "can",
    "capabilities_of",
    "may_somewhere",
    "require",
    "scope_filter",
    "scope_of",
    "sync_role_groups",
]
