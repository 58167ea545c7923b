"""Fetch and authorise in one call: nothing here returns an object the user may not see."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.access import scoped
from accounts.pii import credential_index
from core.errors import NotFound, PermissionDenied
from enterprises import policy
from enterprises.models import ChangeRequest, Document, Enterprise
from verification.identity import (
    CredentialType,
    IdentityError,
    credential_requires_number,
    normalize_credential_number,
)

ENTERPRISE_NOT_FOUND = _("The enterprise does not exist or you have no access to it.")


def enterprises_visible_to(user) -> QuerySet[Enterprise]:
    return scoped(Enterprise.objects.all(), user).select_related("province", "account_manager", "responsible_person")


def _parse_uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def enterprise_for_user(user, public_id) -> Enterprise:
    key = _parse_uuid(public_id)
    enterprise = enterprises_visible_to(user).filter(public_id=key).first() if key else None
    if enterprise is None:
        raise NotFound(ENTERPRISE_NOT_FOUND)
    return enterprise


def enterprise_for_action(user, public_id, *, check) -> Enterprise:
    """Load a visible enterprise and require `check(user, enterprise)` (one of enterprises.policy)."""
    enterprise = enterprise_for_user(user, public_id)
    if not check(user, enterprise):
        raise PermissionDenied(_("Your role may not do this for this enterprise."))
    return enterprise


def enterprise_by_credential_number(user, raw_number: str) -> Enterprise:
    """E2: find a returning customer by the blind index of its credential number."""
    # Types normalise differently (hyphens in organisation codes): try each form.
    candidates = set()
    for cred_type in CredentialType.values:
        if not credential_requires_number(cred_type):
            continue
        try:
            number = normalize_credential_number(cred_type, raw_number or "")
        except IdentityError:
            continue
        if number:
            candidates.add(credential_index(number))
    enterprise = enterprises_visible_to(user).filter(credential_number_index__in=candidates).first()
    if enterprise is None:
        raise NotFound(_("No enterprise you can access is registered with this credential number."))
    return enterprise


def documents_visible_to(user) -> QuerySet[Document]:
    return scoped(Document.objects.all(), user, path="enterprise__").select_related("enterprise", "uploaded_by")


def document_for_user(user, public_id) -> Document:
    key = _parse_uuid(public_id)
    document = documents_visible_to(user).filter(public_id=key).first() if key else None
    if document is None:
        raise NotFound(_("The document does not exist or you have no access to it."))
    return document


def change_requests_visible_to(user) -> QuerySet[ChangeRequest]:
    return scoped(ChangeRequest.objects.all(), user, path="enterprise__").select_related(
        "enterprise", "submitted_by", "decided_by"
    )


__all__ = [
    "enterprises_visible_to",
    "enterprise_for_user",
    "enterprise_for_action",
    "enterprise_by_credential_number",
    "documents_visible_to",
    "document_for_user",
    "change_requests_visible_to",
    "policy",
]
