from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts.access import scoped
from verification.models import Verification, VerificationTally


def verifications_visible_to(user: Any) -> QuerySet[Verification]:
    return scoped(Verification.objects.all(), user, path="enterprise__").select_related("enterprise")


def verification_tallies_visible_to(user: Any) -> QuerySet[VerificationTally]:
    """The comparisons' counters (verification.tallies) of the enterprises whose comparisons the user
    sees: the same filter as verifications_visible_to, so that they sum to what counting those would."""
    return scoped(VerificationTally.objects.all(), user, path="enterprise__")


__all__ = ["verification_tallies_visible_to", "verifications_visible_to"]
