"""Row locks on cards: what a transaction locks, and in what order (issue 7 §4.3).

Every card transition takes its locks here, so that the rules hold in one place:

- Only the card row is locked (`FOR NO KEY UPDATE OF <card>`). The package and the enterprise
  are read with the card but never locked with it: a plain `select_for_update()` with
  `select_related("package")` would lock the package row too, and then no two cards of one
  package could change at the same time.
- NO KEY UPDATE, not UPDATE: a row inserted pointing at a card (an order's line, a card event,
  a binding, a registration's cards) has its foreign key checked against the card with a KEY
  SHARE lock (at commit: Django's foreign keys are deferred). KEY SHARE waits for FOR UPDATE but
  not for NO KEY UPDATE, so such a commit never waits for a card transition in progress, and
  cannot close a cycle of waits with one. A card update never changes the row's key, which is
  what NO KEY UPDATE allows (PostgreSQL itself takes it for such an UPDATE).
- Several cards are locked in one statement, in primary-key order: two transactions that lock
  overlapping sets of cards then queue on the first card they share instead of deadlocking.
  (Orders of one enterprise are also filed one at a time, under the enterprise row: see
  cards.orders.order_create.)
  An order's completion locks all its cards up front (cards.orders.order_complete); a
  transition that locks one card again within the same transaction does not wait.

Other rows (orders, exemption requests, identity slots) are locked before the cards, never after.
The card counters (CardTally) are never locked: a transition only inserts into them.

Each locked card remembers its counter key as the database held it (`key_when_locked`): no other
transaction can change it until this one ends, so it is what the card's counter moves from
(cards.inventory.tallies).
On SQLite none of this is emitted (it has no row locks); the order of work stays the same.
"""

from __future__ import annotations

from collections.abc import Iterable

from cards.models import Card

_KEY_WHEN_LOCKED = "_tally_key_when_locked"


def tally_key(card: Card) -> tuple[int, str, str]:
    """The card's counter key: (enterprise id, status, real-name state)."""
    return (card.enterprise_id, str(card.status), str(card.realname_state))


def _remember(card: Card) -> Card:
    setattr(card, _KEY_WHEN_LOCKED, tally_key(card))
    return card


def key_when_locked(card: Card) -> tuple[int, str, str] | None:
    """The key the card had when this transaction locked it (or last settled it); None for a card never
    locked (a new one)."""
    return getattr(card, _KEY_WHEN_LOCKED, None)


def key_settled(card: Card) -> None:
    """The card's counter now stands at its current key."""
    _remember(card)


def _locking():
    return Card.objects.select_for_update(of=("self",), no_key=True).select_related("package", "enterprise")


def lock_cards(cards: Iterable) -> list[Card]:
    """Lock the given cards (Card objects or primary keys) and return them fresh, in pk order."""
    keys = sorted({item.pk if isinstance(item, Card) else int(item) for item in cards})
    if not keys:
        return []
    return [_remember(card) for card in _locking().filter(pk__in=keys).order_by("pk")]


def lock_card(card: Card) -> Card:
    """Lock one card and return it fresh from the database."""
    return _remember(_locking().get(pk=card.pk))


__all__ = ["key_settled", "key_when_locked", "lock_card", "lock_cards", "tally_key"]
