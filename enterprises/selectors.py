"""Fetch and authorise in one call: nothing here returns an object the user may not see."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.access import scoped
from accounts.permissions import Capability, can, scope_filter
from accounts.pii import unit_name_index
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.identity import CredentialType, normalize_unit_name
from core.search import clean_search
from enterprises import registry
from enterprises.models import ChangeRequest, ChangeRequestStatus, ChangeTarget, Document, Enterprise, UnitKind

ENTERPRISE_NOT_FOUND = _("The enterprise does not exist or you have no access to it.")


def enterprises_visible_to(user: Any) -> QuerySet[Enterprise]:
    return scoped(Enterprise.objects.all(), user).select_related("province", "account_manager", "responsible_person")


def enterprises_to_pick(user: Any, capability: Capability | None = None) -> QuerySet[Enterprise]:
    """What an enterprise picker may offer the user (enterprises.autocomplete): the visible enterprises, narrowed
    to where the user holds `capability` when the form is for an action."""
    queryset = enterprises_visible_to(user)
    return queryset.filter(scope_filter(user, capability)) if capability is not None else queryset


def _parse_uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def enterprise_for_user(user: Any, public_id: object) -> Enterprise:
    """The visible enterprise with this public id. A sandbox (issue 10 §5) answers to its real enterprise's id
    too, so that a platform sends the same ids with a test key as with a live one; only a test key sees a
    sandbox at all (accounts.permissions.scope_filter), and it sees no real enterprise."""
    key = _parse_uuid(public_id)
    # At most one row: a scope holds either real enterprises only, or exactly one enterprise.
    visible = enterprises_visible_to(user)
    enterprise = visible.filter(Q(public_id=key) | Q(sandbox_of__public_id=key)).first() if key else None
    if enterprise is None:
        raise NotFound(ENTERPRISE_NOT_FOUND)
    return enterprise


def enterprise_for_action(user: Any, public_id: object, *, capability: Capability) -> Enterprise:
    """Load a visible enterprise (else 404) on which the user holds `capability` (else 403)."""
    enterprise = enterprise_for_user(user, public_id)
    if not can(user, capability, enterprise):
        raise PermissionDenied(_("Your role may not do this for this enterprise."))
    return enterprise


def enterprise_by_credential_number(user: Any, raw_number: str) -> Enterprise:
    """E2: find a returning customer by the blind index of its credential number.

    What the user is told when the record is outside their scope follows enterprises.registry:
    an account manager hears that another province keeps it (the same answer the registration
    gives, issue 7 §1.6); anyone else gets the 404 of an unregistered number (§2.7).
    """
    indexes = registry.credential_indexes(raw_number)
    enterprise = enterprises_visible_to(user).filter(credential_number_index__in=indexes).first() if indexes else None
    if enterprise is not None:
        return enterprise
    if registry.told_of_other_provinces(user):
        holder = registry.credential_holder(indexes)
        if holder is not None:
            raise registry.registered_in_other_province(holder)
    raise NotFound(_("No enterprise you can access is registered with this credential number."))


def enterprise_by_unit_name(user: Any, raw_name: str) -> Enterprise:
    """E1/E2: find a returning letter unit by the blind index of its normalised name.

    A name identifies a letter unit within its province only: the user's province, or, for
    nationwide roles, the one province where a visible letter unit carries the name.
    """
    index = unit_name_index(raw_name) if normalize_unit_name(raw_name) else ""
    found = []
    if index:
        queryset = enterprises_visible_to(user).filter(name_index=index, credential_type=CredentialType.OFFICIAL_LETTER)
        province_id = getattr(user, "province_id", None)
        if province_id is not None:
            queryset = queryset.filter(province_id=province_id)
        found = list(queryset[:2])
    if len(found) == 1:
        return found[0]
    if found:
        raise ValidationFailed(
            _("Letter units of this name are registered in several provinces: find the one you mean in the list."),
            code="ambiguous",
            field="unit_name",
        )
    raise NotFound(_("No unit you can access is registered with an official letter under this name."))


def unit_kinds_offered() -> QuerySet[UnitKind]:
    """The kinds a new record or a change may choose (reference data: everyone may read it)."""
    return UnitKind.objects.filter(is_active=True).order_by("sort_order", "code")


def documents_visible_to(user: Any) -> QuerySet[Document]:
    return scoped(Document.objects.all(), user, path="enterprise__").select_related("enterprise", "uploaded_by")


def record_documents(documents: QuerySet[Document]) -> QuerySet[Document]:
    """The documents of the record itself: those of a pending, rejected or withdrawn change request
    belong to that request and would otherwise pass for the newest versions beside unchanged data."""
    return documents.filter(Q(change_request__isnull=True) | Q(change_request__status=ChangeRequestStatus.APPROVED))


def document_for_user(user: Any, public_id: object) -> Document:
    key = _parse_uuid(public_id)
    document = documents_visible_to(user).filter(public_id=key).first() if key else None
    if document is None:
        raise NotFound(_("The document does not exist or you have no access to it."))
    return document


def change_requests_visible_to(user: Any) -> QuerySet[ChangeRequest]:
    return scoped(ChangeRequest.objects.all(), user, path="enterprise__").select_related(
        "enterprise", "submitted_by", "decided_by"
    )


def search_change_requests(queryset: QuerySet[ChangeRequest], raw: object) -> QuerySet[ChangeRequest]:
    """Change requests found as the other request lists find theirs (approvals.selectors.search_requests): by their
    number (the public_id, whole); within one enterprise, a name would find them all, so otherwise by what changes
    (its code or a part of its label) or a part of the reason given."""
    value = clean_search(raw)
    if not value:
        return queryset
    key = _parse_uuid(value)
    if key is not None:
        return queryset.filter(public_id=key)
    lowered = value.casefold()
    targets = [code for code, label in ChangeTarget.choices if lowered == code or lowered in str(label).casefold()]
    return queryset.filter(Q(target__in=targets) | Q(reason__icontains=value))


__all__ = [
    "enterprises_visible_to",
    "enterprises_to_pick",
    "enterprise_for_user",
    "enterprise_for_action",
    "enterprise_by_credential_number",
    "enterprise_by_unit_name",
    "unit_kinds_offered",
    "documents_visible_to",
    "record_documents",
    "document_for_user",
    "change_requests_visible_to",
    "search_change_requests",
]
