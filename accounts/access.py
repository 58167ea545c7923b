"""Scoping: every queryset a view sees goes through here, by the capability table (accounts.permissions).

An account manager and a provincial approver see their own province, an
enterprise admin their own enterprise, group approvers and ops everything
(ops masked). Anyone else sees nothing.
"""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.permissions import NOTHING, Capability, scope_filter


def scoped(queryset: QuerySet, user, *, path: str = "", own_scope_columns: bool = False) -> QuerySet:
    """`queryset` narrowed to where `user` may view; `path` leads to the enterprise ("" or "enterprise__"),
    `own_scope_columns` says the rows carry their province and sandbox flag (scope_filter)."""
    return queryset.filter(scope_filter(user, Capability.VIEW, path=path, own_scope_columns=own_scope_columns))


__all__ = ["NOTHING", "scoped"]
