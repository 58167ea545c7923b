"""The sandbox of an enterprise (issue 10 §5): where its test keys (rnk_test_) act, apart from real records.

A sandbox is an Enterprise row whose `sandbox_of` names the real one: same province, account manager and kind,
no credential number, no responsible person, its name clearly labelled. It is created on first use (a test
key's creation, or its first call) with its cards seeded (the `sandbox_created` hook; cards holds the seed).

Nobody but the test keys reaches it: the capability table's province and nationwide scopes leave sandboxes out
(accounts.permissions.scope_filter and can), and an enterprise scope is exact, so every list, count, queue and
figure of a person holds real records only. A test key's enterprise scope is the sandbox's id, so it never sees
a real record either.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.permissions import Capability, require
from accounts.services import audit_record
from core.errors import ValidationFailed
from enterprises import hooks
from enterprises.models import Enterprise

SANDBOX_LABEL = "【沙箱 Sandbox】"
# Real records only: the filter for figures that are not read through a user's scope (admin lists, exports).
REAL = Q(sandbox_of__isnull=True)

MSG_RESET_DENIED = _("Your role may not reset the sandbox of this enterprise.")
MSG_NOT_REAL = _("A sandbox has no sandbox of its own.")


def real_only(queryset: QuerySet, *, path: str = "") -> QuerySet:
    """`queryset` without sandbox records; `path` leads to the enterprise ("" or "enterprise__")."""
    return queryset.filter(**{f"{path}sandbox_of__isnull": True})


def sandbox_name(enterprise: Enterprise) -> str:
    return (SANDBOX_LABEL + enterprise.name)[: Enterprise._meta.get_field("name").max_length]


def sandbox_of(enterprise: Enterprise) -> Enterprise | None:
    """The real enterprise's sandbox, if it has one yet."""
    return Enterprise.objects.filter(sandbox_of=enterprise).first()


def sandbox_for(enterprise: Enterprise) -> Enterprise:
    """The real enterprise's sandbox, created and seeded the first time it is asked for."""
    if enterprise.sandbox_of_id is not None:
        return enterprise
    found = sandbox_of(enterprise)
    if found is not None:
        return found
    try:
        with transaction.atomic():
            # The real row's lock makes two first calls at once create one sandbox (the one-to-one holds too).
            real = Enterprise.objects.select_for_update().get(pk=enterprise.pk)
            found = sandbox_of(real)
            if found is not None:
                return found
            sandbox = Enterprise.objects.create(
                name=sandbox_name(real),
                unit_kind_id=real.unit_kind_id,
                credential_type=real.credential_type,
                credential_number="",
                credential_number_index=None,
                name_index="",
                credential_address="",
                province_id=real.province_id,
                account_manager_id=real.account_manager_id,
                created_by_id=real.created_by_id,
                notes=str(_("Sandbox of the platform API's test keys: no real records.")),
                sandbox_of=real,
            )
            hooks.sandbox_created.send(sandbox=sandbox)
            audit_record(
                actor=None,
                action="enterprise.sandbox_created",
                obj=real,
                data={"sandbox": str(sandbox.public_id)},
            )
            return sandbox
    except IntegrityError:
        # Another process created it between our look and our insert (a database without row locks).
        found = sandbox_of(enterprise)
        if found is None:
            raise
        return found


def sandbox_reset(*, actor: Any, enterprise: Enterprise) -> Enterprise:
    """Wipe the real enterprise's sandbox back to its seeded cards: what its test keys wrote is gone."""
    if enterprise.sandbox_of_id is not None:
        raise ValidationFailed(MSG_NOT_REAL, code="not_a_real_enterprise")
    require(actor, Capability.SANDBOX_RESET, enterprise, message=MSG_RESET_DENIED)
    sandbox = sandbox_for(enterprise)
    with transaction.atomic():
        Enterprise.objects.select_for_update().get(pk=sandbox.pk)
        hooks.sandbox_reset.send(sandbox=sandbox)
        hooks.sandbox_created.send(sandbox=sandbox)
        audit_record(
            actor=actor,
            action="enterprise.sandbox_reset",
            obj=enterprise,
            data={"sandbox": str(sandbox.public_id)},
        )
    return sandbox


__all__ = ["REAL", "SANDBOX_LABEL", "real_only", "sandbox_for", "sandbox_of", "sandbox_reset"]
