"""Counter ledgers (issue 12 §1.3): a table of key columns and a `count`, insert-only, that a page reads
instead of counting the rows it counts.

A change of a counted row inserts -1 for its old key and +1 for its new one, in the transaction that
changes the row; nothing updates a counter in place, so no writer waits on another's hot row and a
rolled-back savepoint takes its counters with it. A key's figure is the sum of its rows. `ledger_compact`
folds each key's rows into one (a beat task each minute); `ledger_rebuild` replaces them all with what the
counted rows say (a daily recount) and returns how far they had drifted.

Used by the card counters (cards.inventory.tallies) and the face comparisons' (verification.tallies).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from django.db import connection, models, transaction
from django.db.models import Sum

Key = tuple[Any, ...]
# A ledger's own key type (cards' TallyKey, verification's), kept through these functions.
K = TypeVar("K", bound=tuple[Any, ...])


def _fields(model: type[models.Model], key: Sequence[str]) -> list[models.Field[Any, Any]]:
    return [cast("models.Field[Any, Any]", model._meta.get_field(name)) for name in key]


def _attnames(model: type[models.Model], key: Sequence[str]) -> list[str]:
    return [field.attname for field in _fields(model, key)]


def ledger_record(model: type[models.Model], key: Sequence[str], moves: Mapping[K, int]) -> None:
    """Insert one row per key that moved (`key` names the model's key fields, in the order of the tuples)."""
    names = _attnames(model, key)
    rows = [
        model(**dict(zip(names, values, strict=True)), count=count) for values, count in sorted(moves.items()) if count
    ]
    if rows:
        model.objects.bulk_create(rows, batch_size=2000)  # type: ignore[attr-defined]


_COMPACT_SQL = """
WITH keys AS (
    SELECT {cols} FROM {table}
    GROUP BY {cols} HAVING COUNT(*) > 1 OR SUM({count}) = 0
), gone AS (
    DELETE FROM {table} t USING keys k
    WHERE {same}
    RETURNING {t_cols}, t.{count}
)
INSERT INTO {table} ({cols}, {count})
SELECT {cols}, SUM({count}) FROM gone
GROUP BY {cols} HAVING SUM({count}) <> 0
"""


def ledger_sums(model: type[models.Model], key: Sequence[str]) -> Counter[Key]:
    """The ledger's figure per key, summed in the database."""
    names = _attnames(model, key)
    rows = model.objects.order_by().values_list(*names).annotate(n=Sum("count"))  # type: ignore[attr-defined]
    return Counter[Key]({tuple(row[:-1]): row[-1] for row in rows})


def ledger_compact(model: type[models.Model], key: Sequence[str]) -> int:
    """Fold each key's rows into one (and drop keys that sum to nothing); returns the rows removed.

    On PostgreSQL one statement: rows are deleted with RETURNING, so two folds at once never add the
    same row twice, and rows that transactions still in flight insert are left for the next fold.
    """
    manager = model.objects  # type: ignore[attr-defined]
    before = manager.count()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            quote = connection.ops.quote_name
            columns = [quote(str(field.column)) for field in _fields(model, key)]
            sql = _COMPACT_SQL.format(
                table=quote(model._meta.db_table),
                cols=", ".join(columns),
                t_cols=", ".join(f"t.{column}" for column in columns),
                same=" AND ".join(f"t.{column} = k.{column}" for column in columns),
                count=quote("count"),
            )
            with connection.cursor() as cursor:
                cursor.execute(sql)
        else:  # SQLite: one writer at a time
            sums = ledger_sums(model, key)
            manager.all().delete()
            ledger_record(model, key, sums)
    return int(before - manager.count())


def ledger_rebuild(model: type[models.Model], key: Sequence[str], count: Callable[[], Mapping[K, int]]) -> dict[K, int]:
    """Replace the ledger by `count()` (the counted rows' figure per key), in one transaction; returns the
    drift, per key the counted minus the ledger's figure (empty when it was right).

    The ledger's table is held in SHARE mode meanwhile (PostgreSQL), taken before `count()` reads: a
    writer that wants to record a move waits until the rebuild commits, and then records it against the
    rebuilt figures; one that recorded its move already has committed before the rows are read. The
    counted rows are read, never locked, so nothing waits on the rebuild while holding what it needs.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {connection.ops.quote_name(model._meta.db_table)} IN SHARE MODE")
        counted = Counter[K](count())
        tallied = cast(Counter[K], ledger_sums(model, key))
        keys = sorted(set(counted) | set(tallied))
        drift = {k: counted[k] - tallied[k] for k in keys if counted[k] != tallied[k]}
        model.objects.all().delete()  # type: ignore[attr-defined]
        ledger_record(model, key, counted)
    return drift


__all__ = ["K", "Key", "ledger_compact", "ledger_rebuild", "ledger_record", "ledger_sums"]
