"""Who may do what to an enterprise record. Visibility is checked by the selectors first."""

from __future__ import annotations

from accounts.roles import Role


def can_register(user) -> bool:
    return (
        user.is_authenticated and user.is_active and user.role == Role.ACCOUNT_MANAGER and user.province_id is not None
    )


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


def can_download_documents(user, enterprise) -> bool:
    """Document files are images of IDs and credentials: personal data in the clear.

    Roles that may see personal data in full may open them, and so may the
    enterprise's own admin (who uploads them). Ops see personal data masked
    only, so they get the list of documents but not the files.
    """
    from accounts.access import can_view_full_pii

    if can_view_full_pii(user):
        return True
    return user.role == Role.ENTERPRISE_ADMIN and user.enterprise_id == enterprise.pk
