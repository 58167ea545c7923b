"""Monthly partitions of the card events (issue 12 §3 "Partitioning").

On PostgreSQL `cards_cardevent` is partitioned by range on `at` (migration 0025): one partition a month,
`cards_cardevent_y2026m12` for December 2026 (UTC months, so that the partitions do not depend on TIME_ZONE),
and a DEFAULT partition, `cards_cardevent_default`, that catches an event of a month that has none (a clock
far off, a back-dated load). Its primary key is (id, at), since PostgreSQL wants the partition key in every
unique index; Django keeps `id` as the pk, and nothing references an event by foreign key. SQLite (the
embedded default) keeps a plain table, and everything here is a no-op there.

`ensure_event_partitions` (the daily beat task cards.tasks.ensure_card_event_partitions) makes the coming
months' partitions ahead of time, idempotently. When the DEFAULT partition already holds rows of a month
about to get its partition, a plain CREATE ... PARTITION OF would fail (the DEFAULT partition's new bound
would be violated); so for that month it creates the table on its own, moves those rows out of DEFAULT into
it, and attaches it, in one transaction that holds the DEFAULT partition locked against new rows meanwhile.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

EVENT_TABLE = "cards_cardevent"
DEFAULT_PARTITION = f"{EVENT_TABLE}_default"
MONTHS_AHEAD = 3
# A partitioned table holds no storage parameters: every partition gets those migration 0021 gave the plain
# table (autovacuum by a small share of rows, issue 12 §1.3).
PARTITION_STORAGE = "autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.01"


def month_of(moment: datetime | date) -> date:
    """The first day of the (UTC) month of `moment`."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(UTC) if timezone.is_aware(moment) else moment
    return date(moment.year, moment.month, 1)


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def months_between(first: date, last: date) -> list[date]:
    """Every month from `first` to `last`, both included."""
    months = []
    month = month_of(first)
    while month <= last:
        months.append(month)
        month = add_months(month, 1)
    return months


def partition_name(month: date) -> str:
    return f"{EVENT_TABLE}_y{month.year:04d}m{month.month:02d}"


def partition_bounds(month: date) -> str:
    """FOR VALUES of the month's partition: from its first instant (UTC) to the next month's. Dates only,
    formatted here, never user input: safe to put in the DDL, which takes no parameters."""
    return f"FROM ('{month.isoformat()} 00:00:00+00') TO ('{add_months(month, 1).isoformat()} 00:00:00+00')"


def events_partitioned(using: str = DEFAULT_DB_ALIAS) -> bool:
    connection = connections[using]
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s))", [EVENT_TABLE]
        )
        return bool(cursor.fetchone()[0])


def ensure_event_partitions(
    *, months_ahead: int = MONTHS_AHEAD, since: datetime | date | None = None, using: str = DEFAULT_DB_ALIAS
) -> list[str]:
    """Make the missing monthly partitions from `since`'s month (this month without it) to `months_ahead`
    months after this one; the names of those it made. Safe to repeat, and to run twice at once."""
    if not events_partitioned(using):
        return []
    this_month = month_of(timezone.now())
    first = month_of(since) if since is not None else this_month
    made = []
    for month in months_between(min(first, this_month), add_months(this_month, months_ahead)):
        if _ensure_month(using, month):
            made.append(partition_name(month))
    return made


def _exists(cursor, name: str) -> bool:
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
    return bool(cursor.fetchone()[0])


def _ensure_month(using: str, month: date) -> bool:
    connection = connections[using]
    quote = connection.ops.quote_name
    name, table, default = quote(partition_name(month)), quote(EVENT_TABLE), quote(DEFAULT_PARTITION)
    bounds = partition_bounds(month)
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if _exists(cursor, partition_name(month)):
            return False
        # No event may land in DEFAULT for this month between the look below and the partition's creation
        # (inserts wait on this lock for as long as this transaction lasts; reads do not).
        cursor.execute(f"LOCK TABLE {default} IN SHARE ROW EXCLUSIVE MODE")
        if _exists(cursor, partition_name(month)):  # made by a concurrent run while this one waited
            return False
        start, end = f"{month.isoformat()} 00:00:00+00", f"{add_months(month, 1).isoformat()} 00:00:00+00"
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {default} WHERE at >= %s AND at < %s)", [start, end])
        if not cursor.fetchone()[0]:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} FOR VALUES {bounds} WITH ({PARTITION_STORAGE})"
            )
            return True
        # Rows of this month wait in DEFAULT: move them into a table of their own, then attach it. The CHECK
        # spares ATTACH its scan of the new table; the DEFAULT partition is scanned, and now holds none of them.
        cursor.execute(
            f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) WITH ({PARTITION_STORAGE})"
        )
        check = quote(f"{partition_name(month)}_bounds")
        cursor.execute(f"ALTER TABLE {name} ADD CONSTRAINT {check} CHECK (at >= '{start}' AND at < '{end}')")
        cursor.execute(
            f"WITH moved AS (DELETE FROM {default} WHERE at >= %s AND at < %s RETURNING *) "
            f"INSERT INTO {name} SELECT * FROM moved",
            [start, end],
        )
        cursor.execute(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES {bounds}")
        cursor.execute(f"ALTER TABLE {name} DROP CONSTRAINT {check}")
    return True


__all__ = [
    "DEFAULT_PARTITION",
    "EVENT_TABLE",
    "MONTHS_AHEAD",
    "PARTITION_STORAGE",
    "add_months",
    "ensure_event_partitions",
    "events_partitioned",
    "month_of",
    "months_between",
    "partition_bounds",
    "partition_name",
]
