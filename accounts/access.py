"""Scoping: every queryset a view sees goes through here, by the capability table (accounts.permissions).

An account manager and a provincial approver see their own province, an
enterprise admin their own enterprise, group approvers and ops everything
(ops masked). Anyone else sees nothing.
"""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.permissions import NOTHING, Capability, can, scope_filter


def scoped(queryset: QuerySet, user, *, path: str = "") -> QuerySet:
    """`queryset` narrowed to where `user` may view; `path` leads to the enterprise ("" or "enterprise__")."""
    return queryset.filter(scope_filter(user, Capability.VIEW, path=path))


def can_view_full_pii(user) -> bool:
    # Kept only until the cards app asks the table itself (issue 8, after the cards split).
    return can(user, Capability.VIEW_FULL_PII)


__all__ = ["NOTHING", "can_view_full_pii", "scoped"]
