"""What the cards pages share: loading a card for a page (the lists page with core.keyset).

The card users and orders pages stand on these (cards contract in pyproject.toml: they import the
inventory, never each other). A card the user cannot see is core.errors.NotFound, one the user may
see but not change is PermissionDenied; both are let through, to be rendered as the portal's 404 or
403 page (core.middleware).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _

from accounts.permissions import Capability, can
from cards.inventory import selectors


def card_for_page(user, iccid: str, *, manage: bool = False):
    """A card the user can see (else NotFound) and, with `manage`, may change (else PermissionDenied)."""
    card = selectors.card_for_user(user, iccid)
    if manage and not can(user, Capability.CARDS_MANAGE, card):
        raise PermissionDenied(str(_("Your role may look at this card but not change it.")))
    return card
