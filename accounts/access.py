"""Scoping: every queryset a view sees goes through here.

An account manager and a provincial approver see their own province, an
enterprise admin their own enterprise, group approvers and ops everything
(ops masked). Anyone else sees nothing.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.roles import VIEW_FULL_PII, Role

NOTHING = Q(pk__in=[])


def enterprise_scope(user, *, path: str = "") -> Q:
    """The filter on an enterprise-owned model; `path` leads to the enterprise ("" or "enterprise__")."""
    if user is None or not user.is_authenticated or not user.is_active:
        return NOTHING
    if user.is_superuser or user.role in {Role.OPS, Role.GROUP_APPROVER}:
        return Q()
    if user.role in {Role.ACCOUNT_MANAGER, Role.PROVINCIAL_APPROVER}:
        if user.province_id is None:
            return NOTHING
        return Q(**{f"{path}province_id": user.province_id})
    if user.role == Role.ENTERPRISE_ADMIN:
        if user.enterprise_id is None:
            return NOTHING
        return Q(**{f"{path}pk" if not path else f"{path}id": user.enterprise_id})
    return NOTHING


def scoped(queryset: QuerySet, user, *, path: str = "") -> QuerySet:
    return queryset.filter(enterprise_scope(user, path=path))


def can_view_full_pii(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(VIEW_FULL_PII))
