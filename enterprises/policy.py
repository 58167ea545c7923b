"""Who may do what to an enterprise record. Visibility is checked by the selectors first."""

from __future__ import annotations

from accounts.roles import Role


def can_register(user) -> bool:
    return user.is_authenticated and user.role == Role.ACCOUNT_MANAGER and user.province_id is not None


def can_edit(user, enterprise) -> bool:
    return user.role == Role.ACCOUNT_MANAGER and user.province_id == enterprise.province_id


def can_upload_documents(user, enterprise) -> bool:
    if user.role == Role.ACCOUNT_MANAGER:
        return user.province_id == enterprise.province_id
    if user.role == Role.ENTERPRISE_ADMIN:
        return user.enterprise_id == enterprise.pk
    return False


def can_request_change(user, enterprise) -> bool:
    return can_upload_documents(user, enterprise)
