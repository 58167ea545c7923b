"""What the cards pages share: the page size, the capped paginator and loading a card for a page.

The card users and orders pages stand on these (cards contract in pyproject.toml: they import the
inventory, never each other). A card the user cannot see is core.errors.NotFound, one the user may
see but not change is PermissionDenied; both are let through, to be rendered as the portal's 404 or
403 page (core.middleware).
"""

from __future__ import annotations

from typing import cast

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from accounts.permissions import Capability, can
from cards.inventory import selectors

PAGE_SIZE = 25
COUNT_CAP = 10_000


class CappedPaginator(Paginator):
    """Counts at most COUNT_CAP + 1 rows (COUNT over a LIMIT subquery), so a page stays cheap with
    millions of cards; beyond the cap the page says "more than" and asks for filters."""

    cap = COUNT_CAP

    @cached_property
    def count(self) -> int:
        # The stubs allow any sequence; the card list pages a queryset. Without its ordering and joins the
        # LIMIT stops the scan at cap + 1 rows; with them PostgreSQL sorted every visible row first
        # (0.44 s at a million cards, against milliseconds).
        queryset = cast(QuerySet, self.object_list).order_by().select_related(None)
        return queryset[: self.cap + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > self.cap


def card_for_page(user, iccid: str, *, manage: bool = False):
    """A card the user can see (else NotFound) and, with `manage`, may change (else PermissionDenied)."""
    card = selectors.card_for_user(user, iccid)
    if manage and not can(user, Capability.CARDS_MANAGE, card):
        raise PermissionDenied(str(_("Your role may look at this card but not change it.")))
    return card
