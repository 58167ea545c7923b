"""Who holds a credential number or a letter unit's name, and what each user is told about it.

A credential number identifies one enterprise record nationwide; a letter unit, which has no
number, is identified by its normalised name within its province (E1). Several paths meet a
number or a name that some record already holds: the returning-customer lookup (pages and
API), the registration, and a change request to a new number or name. They follow one policy
(issue 7 §1.6 and §2.7):

* **Account managers**, the operator staff who register enterprises, get one answer from every
  path, and it names the way forward.
  - Held in their own province: the lookup finds the record; the registration (and a change
    request) answers 409 `already_registered` and points to the returning-customer page.
  - Held by another province: the lookup and the registration (and a change request) answer the
    same 409 `registered_in_other_province`. It names the province that keeps the record and says
    that the enterprise's business continues with that province's account managers; it names no
    enterprise and shows no number. The record is never registered twice.
  - Held by nobody: the lookup answers 404 `not_found`, the registration goes ahead.
* **Everyone else** (enterprise admins, approvers, ops, the customer's platform) never learns
  whether a record outside their scope holds a number or a name.
  - The lookup answers the one 404 `not_found` for "held by another tenant" and "not registered".
  - An enterprise admin's change request to a new number or name is accepted the same way whether
    or not another tenant holds it. The clash is found when a provincial approver decides it:
    approving answers 409 `already_registered` (to the approver, operator staff) and the approver
    rejects it with a reason.
  - Registration is for account managers only; everyone else is refused before any lookup.

Nationwide roles (ops, group approvers) see every record, so for them nothing is "elsewhere".
"""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.permissions import Capability, can
from accounts.pii import credential_index
from core.errors import Conflict
from core.identity import (
    CredentialType,
    IdentityError,
    credential_requires_number,
    normalize_credential_number,
)
from enterprises.models import Enterprise

__all__ = [
    "already_registered",
    "change_clashes",
    "conflict_for",
    "credential_holder",
    "credential_indexes",
    "letter_unit_already_registered",
    "letter_unit_holder",
    "registered_in_other_province",
    "told_of_other_provinces",
]


def told_of_other_provinces(user) -> bool:
    """Who registers enterprises hears that another province keeps a record: their lookup and their
    registration must agree (§1.6). Anyone else is not told whether another tenant holds it (§2.7)."""
    return can(user, Capability.ENTERPRISE_REGISTER)


def credential_indexes(raw_number: str) -> set[str]:
    """The blind indexes a typed number may stand for: types normalise differently (organisation
    codes drop hyphens), so each form is tried."""
    indexes = set()
    for cred_type in CredentialType.values:
        if not credential_requires_number(cred_type):
            continue
        try:
            number = normalize_credential_number(cred_type, raw_number or "")
        except IdentityError:
            continue
        if number:
            indexes.add(credential_index(number))
    return indexes


def credential_holder(indexes, *, exclude_pk: int | None = None) -> Enterprise | None:
    """The record holding one of these credential indexes, in any province. Internal: never shown
    to a user except through the answers below."""
    if not indexes:
        return None
    queryset = Enterprise.objects.filter(credential_number_index__in=list(indexes)).select_related("province")
    if exclude_pk is not None:
        queryset = queryset.exclude(pk=exclude_pk)
    return queryset.first()


def letter_unit_holder(province_id: int, index: str, *, exclude_pk: int | None = None) -> Enterprise | None:
    """The letter unit of this province whose normalised name has this index."""
    if not index:
        return None
    queryset = Enterprise.objects.filter(
        Q(province_id=province_id, name_index=index, credential_type=CredentialType.OFFICIAL_LETTER)
    )
    if exclude_pk is not None:
        queryset = queryset.exclude(pk=exclude_pk)
    return queryset.first()


def already_registered() -> Conflict:
    return Conflict(
        _(
            "An enterprise with this credential number is already registered. "
            "Use the returning-customer page to upload fresh documents instead."
        ),
        code="already_registered",
        field="credential_number",
    )


def letter_unit_already_registered() -> Conflict:
    """The same answer as for a credential number, for the unit that is identified by its name."""
    return Conflict(
        _(
            "A unit with this name is already registered in this province with an official letter. "
            "Use the returning-customer page to upload fresh documents instead."
        ),
        code="already_registered",
        field="name",
    )


def change_clashes() -> Conflict:
    """What the approver of a change is told when another record holds the new number or name."""
    return Conflict(
        _(
            "Another enterprise is already registered with the new credential number, or, for a unit with an "
            "official letter, the new name in this province: the change cannot be approved. Reject it and say why."
        ),
        code="already_registered",
        field="credential_number",
    )


def registered_in_other_province(holder: Enterprise) -> Conflict:
    """What an account manager is told, by the lookup and the registration alike (§1.6)."""
    return Conflict(
        _(
            "This credential number is already registered in %(province)s. The enterprise's real-name "
            "record is kept by that province and is not registered twice: its business continues with "
            "the account managers of %(province)s, so contact them to go on."
        )
        % {"province": holder.province.name},
        code="registered_in_other_province",
        field="credential_number",
    )


def conflict_for(user, holder: Enterprise) -> Conflict:
    """The answer to an account manager whose number another record holds."""
    if holder.province_id == user.province_id:
        return already_registered()
    return registered_in_other_province(holder)
