"""Roles.

A role is a field on the user (it decides scoping) and a Django group of the
same name (it carries model permissions, so admin and `has_perm` agree). What
each role may do, and the model permissions of its group, are the capability
table's (accounts.permissions: ROLE_CAPABILITIES, ROLE_PERMISSIONS).
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


# An actor's role that is no user's (accounts.permissions holds its row): the holder of a self-service link.
LINK_HOLDER = "link_holder"

ROLES_BOUND_TO_PROVINCE = {Role.ACCOUNT_MANAGER, Role.PROVINCIAL_APPROVER}
# Roles that see personal data in full or decide something. Only a superuser gives them, directly or by
# approving a role grant that ops filed (accounts.users); ops manage the other roles themselves.
ELEVATED_ROLES = frozenset({Role.ACCOUNT_MANAGER, Role.PROVINCIAL_APPROVER, Role.GROUP_APPROVER})
ROLES_BOUND_TO_ENTERPRISE = {Role.ENTERPRISE_ADMIN}

# The Django model permission behind Capability.VIEW_FULL_PII (accounts.models.User.Meta).
VIEW_FULL_PII = "accounts.view_full_pii"
