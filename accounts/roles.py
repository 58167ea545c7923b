"""Roles and what each may do.

A role is a field on the user (it decides scoping) and a Django group of the
same name (it carries model permissions, so admin and `has_perm` agree).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ACCOUNT_MANAGER = "account_manager", _("Account manager")
    ENTERPRISE_ADMIN = "enterprise_admin", _("Enterprise admin")
    PROVINCIAL_APPROVER = "provincial_approver", _("Provincial approver")
    GROUP_APPROVER = "group_approver", _("Group approver")
    OPS = "ops", _("Ops staff")


ROLES_BOUND_TO_PROVINCE = {Role.ACCOUNT_MANAGER, Role.PROVINCIAL_APPROVER}
# Roles that see personal data in full or decide something. Only a superuser gives them, directly or by
# approving a role grant that ops filed (accounts.users); ops manage the other roles themselves.
ELEVATED_ROLES = frozenset({Role.ACCOUNT_MANAGER, Role.PROVINCIAL_APPROVER, Role.GROUP_APPROVER})
ROLES_BOUND_TO_ENTERPRISE = {Role.ENTERPRISE_ADMIN}

VIEW_FULL_PII = "accounts.view_full_pii"

# Permissions granted to each role's group, as "app_label.codename".
# Approvers work in the approval desk (approvals.admin.approvals_site), an admin site of its own
# that scopes every queryset to their province or level.
_APPROVER_DESK_PERMISSIONS = [
    "approvals.view_exemptionrequest",
    "approvals.change_exemptionrequest",
    "approvals.view_decision",
    "enterprises.view_changerequest",
    "enterprises.change_changerequest",
    "verification.view_verification",
    "verification.change_verification",
]
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.ACCOUNT_MANAGER: [VIEW_FULL_PII],
    Role.ENTERPRISE_ADMIN: [],
    Role.PROVINCIAL_APPROVER: [VIEW_FULL_PII, *_APPROVER_DESK_PERMISSIONS],
    Role.GROUP_APPROVER: [VIEW_FULL_PII, *_APPROVER_DESK_PERMISSIONS],
    # Ops work in Django admin and see personal data masked only. They keep the package catalogue and
    # the unit kinds (reference data); everything else changes through the services, so it is read-only there.
    Role.OPS: [
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
    ],
}


def sync_role_groups(sender=None, **kwargs) -> None:
    from django.contrib.auth.models import Group, Permission

    for role, perm_names in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        perms = []
        for name in perm_names:
            app_label, codename = name.split(".")
            perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if perm is not None:
                perms.append(perm)
        group.permissions.set(perms)
