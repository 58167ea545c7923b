"""Scoped reads of card imports, and the enterprises a user may import cards for."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.access import scoped
from accounts.permissions import Capability, scope_filter
from cards.models import CardImport, ImportStatus
from core.errors import NotFound
from enterprises.models import Enterprise

MSG_IMPORT_NOT_FOUND = _("The card import does not exist or you have no access to it.")


def enterprises_for_import(user: Any) -> QuerySet[Enterprise]:
    """The enterprises the user may import cards for: their province's (account manager) or their own."""
    return Enterprise.objects.filter(scope_filter(user, Capability.CARDS_IMPORT)).order_by("name", "pk")


def card_imports_visible_to(user: Any) -> QuerySet[CardImport]:
    """Imports the user may see: scoped like the enterprise (approvers and ops read only)."""
    return scoped(CardImport.objects.all(), user, path="enterprise__").select_related("enterprise", "created_by")


def card_imports_on_day(queryset: QuerySet[CardImport], day: datetime.date) -> QuerySet[CardImport]:
    """Imports uploaded on `day`, a calendar day of the portal's time zone (as the dashboards count them)."""
    return queryset.filter(created_at__date=day)


def card_import_for_user(user: Any, public_id: object) -> CardImport:
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        key = None
    job = card_imports_visible_to(user).filter(public_id=key).first() if key else None
    if job is None:
        raise NotFound(MSG_IMPORT_NOT_FOUND)
    return job


def progress_percent(job: CardImport) -> int:
    """Like CardImport.progress_percent, but a running import never shows 100 % before it is written."""
    if job.status == ImportStatus.SUCCEEDED:
        return 100
    percent = job.progress_percent
    return min(percent, 99) if job.status in (ImportStatus.RUNNING, ImportStatus.PENDING) else percent


__all__ = [
    "card_imports_on_day",
    "card_imports_visible_to",
    "card_import_for_user",
    "enterprises_for_import",
    "progress_percent",
]
