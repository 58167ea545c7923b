"""The card counters (CardTally) and each card's real-name state: how they stay right.

A card's counter key is (enterprise, status, real-name state). Every change of one happens under the card's
row lock (cards.locks), which records the key the card had in the database (`locked_key`); the transition
then writes its CardEvent (cards.inventory.services.card_event), which settles the card here: its real-name
state is read again from its bindings and exemptions, and a changed key inserts -1 and +1 in the same
transaction. What changes a card's state without a CardEvent (an exemption approved) settles the cards
itself; the import counts its batch (`tally_import_batch`).

Reads sum the ledger's rows per key (`tallies_visible_to`); `tallies_compact` folds them, `tallies_recount`
rebuilds them from the cards and says how far they had drifted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, Count, Exists, F, OuterRef, Q, QuerySet, Sum, Value, When, Window
from django.db.models.functions import Collate

from accounts.access import scoped
from cards import hooks
from cards.locks import key_settled, key_when_locked, tally_key
from cards.models import Card, CardBinding, CardStatus, CardTally, RealnameState
from core.ledger import ledger_compact, ledger_rebuild, ledger_record

TallyKey = tuple[int, str, str]  # (enterprise id, status, real-name state)

# Where cards_lacking_realname looks: the cards in stock or held at the U5 gate.
LACKING_STATUSES = (CardStatus.IN_STOCK, CardStatus.AWAITING_REALNAME)


def realname_state_expression() -> Case:
    """The real-name state of a card row, as cards_lacking_realname decides "lacking"."""
    covered = Exists(CardBinding.objects.filter(card=OuterRef("pk"), ended_at__isnull=True)) | Q(
        hooks.exemption_approved_expression.ask()
    )
    return Case(
        When(realname_required=False, then=Value(RealnameState.NOT_REQUIRED.value)),
        When(covered, then=Value(RealnameState.COVERED.value)),
        default=Value(RealnameState.LACKING.value),
    )


# The ledger's key fields, in the order of a TallyKey (core.ledger).
TALLY_KEY_FIELDS = ("enterprise", "status", "realname")


def _record(moves: Counter[TallyKey]) -> None:
    ledger_record(CardTally, TALLY_KEY_FIELDS, moves)


def card_tally_settle(card: Card) -> None:
    """After a change to `card` (saved) or to its bindings or exemptions: store its real-name state as its
    rows say, and move its count to its new key. Idempotent; a card never locked here (a new one) counts
    as new."""
    state = RealnameState.NOT_REQUIRED.value
    if card.realname_required:
        state = (
            Card.objects.filter(pk=card.pk)
            .annotate(state=realname_state_expression())
            .values_list("state", flat=True)
            .get()
        )
    if state != card.realname_state:
        Card.objects.filter(pk=card.pk).update(realname_state=state)
        card.realname_state = state
    before = key_when_locked(card)
    after = tally_key(card)
    if before != after:
        moves: Counter[TallyKey] = Counter({after: 1})
        if before is not None:
            moves[before] -= 1
        _record(moves)
    key_settled(card)


def cards_tally_settle(cards: Iterable[Card]) -> None:
    for card in cards:
        card_tally_settle(card)


def tally_import_batch(*, enterprise_id: int, states: Iterable[str]) -> None:
    """The import's batch: its cards are new and in stock, each with the state given."""
    _record(Counter((enterprise_id, CardStatus.IN_STOCK.value, state) for state in states))


def tallies_forget_enterprise(enterprise_id: int) -> None:
    """A sandbox's reset deleted its cards: its counters go with them."""
    CardTally.objects.filter(enterprise_id=enterprise_id).delete()


# --- reads -----------------------------------------------------------------------


def _scoped_tallies(user: Any) -> QuerySet:
    return scoped(CardTally.objects.all(), user, path="enterprise__")


def tallies_visible_to(user: Any) -> QuerySet:
    """The counters in the user's scope (a sandbox only for its own key, as cards_visible_to): rows of
    enterprise_id, province_id, status, realname, count; filter by status or realname before it is read."""
    return (
        _scoped_tallies(user)
        .values("enterprise_id", "status", "realname", province_id=F("enterprise__province_id"))
        .annotate(count=Sum("count"))
        .exclude(count=0)
        .order_by()
    )


def tallies_by_status(user: Any) -> QuerySet:
    """The cards in the user's scope per (status, realname) from the counters: rows of status, realname,
    count, at most one per status and state whatever the number of enterprises."""
    return _scoped_tallies(user).values("status", "realname").annotate(count=Sum("count")).exclude(count=0).order_by()


def _lacking_tallies(user: Any) -> QuerySet:
    """The counter rows of cards_lacking_realname's cards: lacking, and in stock or at the gate."""
    return _scoped_tallies(user).filter(status__in=LACKING_STATUSES, realname=RealnameState.LACKING)


def _name_order() -> Any:
    # Code-point order, as Python's sort of the names: a database collation (zh_CN, en_US) would rank
    # ties differently on another server.
    name = F("enterprise__name")
    return Collate(name, "C") if connection.vendor == "postgresql" else name


def lacking_tallies_by_enterprise(user: Any, *, top: int) -> list[dict[str, Any]]:
    """The `top` enterprises in scope with the most cards lacking real-name, most first (then by name):
    rows of enterprise_id, public_id, name, count, and on each row `enterprises` (how many enterprises
    lack it at all, for the figure of the rest). One query: the counters are
    grouped and ranked in the database, and only the rows shown are read."""
    rows = (
        _lacking_tallies(user)
        .values("enterprise_id", public_id=F("enterprise__public_id"), name=F("enterprise__name"))
        .annotate(count=Sum("count"))
        .exclude(count=0)
        .annotate(enterprises=Window(Count("*")))
        .order_by("-count", _name_order(), "enterprise_id")
    )
    return list(rows[:top])


def lacking_tallies_by_province(user: Any) -> QuerySet:
    """The cards in scope lacking real-name per province: rows of code, name, count (one per province)."""
    return (
        _lacking_tallies(user)
        .values(code=F("enterprise__province__code"), name=F("enterprise__province__name"))
        .annotate(count=Sum("count"))
        .exclude(count=0)
        .order_by()
    )


def tally_count(user: Any, *, statuses: Iterable[str], realname: str) -> int:
    """One figure of the counters: the cards in scope with one of `statuses` and this real-name state."""
    total = (
        _scoped_tallies(user)
        .filter(status__in=list(statuses), realname=realname)
        .aggregate(total=Sum("count"))["total"]
    )
    return int(total or 0)


def lacking_realname_count(user: Any) -> int:
    """What cards_lacking_realname(cards_visible_to(user)).count() says, from the counters."""
    return tally_count(user, statuses=LACKING_STATUSES, realname=RealnameState.LACKING)


# --- upkeep ----------------------------------------------------------------------


def tallies_compact() -> int:
    """Fold each key's rows into one (and drop keys that sum to nothing); returns the rows removed
    (core.ledger.ledger_compact: safe to run twice at once)."""
    return ledger_compact(CardTally, TALLY_KEY_FIELDS)


@dataclass
class Recount:
    cards_repaired: int = 0  # cards whose stored real-name state was wrong
    drift: dict[TallyKey, int] = field(default_factory=dict)  # key -> counted minus tallied

    @property
    def clean(self) -> bool:
        return not self.cards_repaired and not self.drift


REPAIR_BATCH = 5000


def _repair_states() -> int:
    """One pass over the cards for those whose stored state is not what their rows say; they are set in
    batches (a daily run normally finds none)."""
    wrong = (
        Card.objects.order_by()
        .annotate(should=realname_state_expression())
        .exclude(realname_state=F("should"))
        .values_list("pk", "should")
    )
    by_state: dict[str, list[int]] = {}
    for pk, state in wrong.iterator(chunk_size=REPAIR_BATCH):
        by_state.setdefault(state, []).append(pk)
    for state, pks in by_state.items():
        for start in range(0, len(pks), REPAIR_BATCH):
            Card.objects.filter(pk__in=pks[start : start + REPAIR_BATCH]).update(realname_state=state)
    return sum(len(pks) for pks in by_state.values())


def _cards_counted() -> Counter[TallyKey]:
    rows = Card.objects.order_by().values_list("enterprise_id", "status", "realname_state").annotate(n=Sum(Value(1)))
    return Counter[TallyKey]({(enterprise_id, status, state): n for enterprise_id, status, state, n in rows})


def tallies_recount() -> Recount:
    """Rebuild the counters from the cards, and say what was wrong: the cards' stored state is repaired
    first (its own transaction), then the counters are replaced in one (core.ledger.ledger_rebuild: the
    counters' table is held in SHARE mode while the cards are read, so a transition's move is recorded
    either before or after the rebuild, never lost or counted twice)."""
    result = Recount()
    with transaction.atomic():
        result.cards_repaired = _repair_states()
    result.drift = ledger_rebuild(CardTally, TALLY_KEY_FIELDS, _cards_counted)
    return result


__all__ = [
    "LACKING_STATUSES",
    "Recount",
    "TALLY_KEY_FIELDS",
    "TallyKey",
    "card_tally_settle",
    "cards_tally_settle",
    "lacking_realname_count",
    "lacking_tallies_by_enterprise",
    "lacking_tallies_by_province",
    "realname_state_expression",
    "tallies_compact",
    "tallies_forget_enterprise",
    "tallies_by_status",
    "tallies_recount",
    "tallies_visible_to",
    "tally_count",
    "tally_import_batch",
    "tally_key",
]
