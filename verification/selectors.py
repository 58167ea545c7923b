from __future__ import annotations

from django.db.models import QuerySet

from accounts.access import scoped
from accounts.roles import Role
from verification.models import Verification


def verifications_visible_to(user) -> QuerySet[Verification]:
    return scoped(Verification.objects.all(), user, path="enterprise__").select_related("enterprise")


def can_review(user, verification: Verification) -> bool:
    """Reviewers are the provincial approvers of the enterprise's province."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.role == Role.PROVINCIAL_APPROVER
        and user.province_id is not None
        and user.province_id == verification.enterprise.province_id
    )
