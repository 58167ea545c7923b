from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts.access import scoped
from verification.models import Verification


def verifications_visible_to(user: Any) -> QuerySet[Verification]:
    return scoped(Verification.objects.all(), user, path="enterprise__").select_related("enterprise")


__all__ = ["verifications_visible_to"]
