"""What the monthly partitions of the card events change (issue 12 §3 "Partitioning"), on the scale
benchmark's large database: the same events in a plain table beside them, compared in the same run.

The plain twin, `bench_cardevent_flat`, is the events table as it was before migration 0025 (and as its
reverse makes it): the same columns and defaults, the primary key `(id)`, the same secondary indexes, the
same rows (INSERT ... SELECT, indexes built after, then VACUUM ANALYZE as the loader does). Compared, partitioned
against flat, each timed as the median of RUNS runs alternating between the two, and explained with
EXPLAIN (ANALYZE, BUFFERS) for the rows and buffers each reads:

1. a card's history, the card detail page's own query (cards.inventory.selectors.card_events);
2. the event changelist's newest page (its ordering `-at, -id`), over the whole table and within one month,
   and the count of that month's events: the month's range prunes to its partition;
3. removing the oldest month: DETACH PARTITION and DROP TABLE against DELETE (time, WAL, the rows a DELETE
   leaves dead). The detach runs on a scratch partitioned table of its own holding a copy of that month
   (the live events table is never altered), the DELETE inside a transaction that is rolled back;
4. the size of the tables and of their indexes.

Only tables of its own are written (`bench_cardevent_*`), dropped at the end even when a step fails: the
measured databases are left as they were. Run by bench.scale.run after the pages, on the large database
(figures in var/bench.json, plans in var/bench/scale-partitions.txt); on a database loaded earlier,
`write(bench.scale._alias(name), cards, results)`. The copy takes most of its time: about 10 s at 1M cards
(1.1M events), of about 16 s in all. Imported only after django.setup() (it imports the apps).
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from django.db import connections, transaction

import bench
from bench.scale import BASE_DIR, CARD_PREFIX, using
from cards.admin import CardEventAdmin
from cards.inventory.partitions import EVENT_TABLE, add_months, events_partitioned, month_of, partition_bounds
from cards.inventory.selectors import card_events
from cards.inventory.views import HISTORY_LIMIT
from cards.models import Card, CardEvent

PLANS_FILE = BASE_DIR / "var" / "bench" / "scale-partitions.txt"
FLAT = "bench_cardevent_flat"
# The scratch partitioned table whose one month is detached and dropped; with a DEFAULT partition, as the
# live table has (it forbids DETACH ... CONCURRENTLY: the detach measured is the plain one a deploy can run).
MONTHS = "bench_cardevent_months"
OLDEST = f"{MONTHS}_oldest"
RUNS = 9
DELETE_RUNS = 3
EXPLAIN = "EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) "
FIGURE = "scale.events_partitioned"
_INDEX = re.compile(r"^CREATE (UNIQUE )?INDEX (\S+) ON (?:ONLY )?(?:\S+\.)?\"?" + EVENT_TABLE + r"\"? USING ")
# The scans that read a table (a bitmap index scan only feeds its heap scan, whose rows are counted).
_SCAN = re.compile(
    r"(?:Seq Scan|(?<!Bitmap )Index Scan|Index Only Scan|Bitmap Heap Scan)(?: Backward)?(?: using \S+)? on (\S+)"
)
_ACTUAL = re.compile(r"actual time=\S+ rows=(\d+) loops=(\d+)")
_BUFFERS = re.compile(r"Buffers: shared(?: hit=(\d+))?(?: read=(\d+))?")
_PLANNING = re.compile(r"^Planning Time: ([\d.]+) ms", re.MULTILINE)


# --- pure helpers --------------------------------------------------------------------------------------


def index_ddl(definitions: list[tuple[str, str]], table: str) -> list[str]:
    """The secondary indexes of the events table (pg_indexes' (name, definition) rows) made again on `table`,
    each named after its original; the primary key is not among them (each table declares its own)."""
    made = []
    for name, definition in definitions:
        match = _INDEX.match(definition)
        if match is None or name == f"{EVENT_TABLE}_pkey":
            continue
        made.append(
            f"CREATE {match.group(1) or ''}INDEX {f'{table}_{name}'[:63]} ON {table} USING " + definition[match.end() :]
        )
    return made


def on_flat(sql: str) -> str:
    """Django's SQL for the events, reading the plain twin instead (every column is named through the table)."""
    return sql.replace(f'"{EVENT_TABLE}"', f'"{FLAT}"')


@dataclass
class PlanFigures:
    rows_read: int  # the rows the plan's scans of event tables returned, every loop counted
    buffers: int  # shared buffers hit or read, the whole plan
    tables: int  # event tables (partitions) scanned
    planning_ms: float = 0.0  # what the planner took: it weighs every partition the query may read


def plan_figures(plan: str) -> PlanFigures:
    """What an EXPLAIN (ANALYZE, BUFFERS) text says a statement read."""
    rows, scanned = 0, set()
    for line in plan.splitlines():
        scan = _SCAN.search(line)
        actual = _ACTUAL.search(line)
        if scan and actual and "cardevent" in scan.group(1):
            scanned.add(scan.group(1))
            rows += int(actual.group(1)) * int(actual.group(2))
    buffers = 0
    for line in plan.splitlines():
        found = _BUFFERS.search(line)
        if found:  # the first Buffers line is the root node's: the whole plan's
            buffers = sum(int(number) for number in found.groups() if number)
            break
    planning = _PLANNING.search(plan)
    return PlanFigures(rows, buffers, len(scanned), float(planning.group(1)) if planning else 0.0)


@dataclass
class Compared:
    key: str
    what: str
    partitioned_ms: float
    flat_ms: float
    partitioned: PlanFigures | None = None
    flat: PlanFigures | None = None
    note: str = ""


def table(rows: list[Compared]) -> str:
    """The comparison as printed: time, rows read, buffers and tables scanned, partitioned then flat."""
    lines = [
        f"{'':52} {'partitioned':>11} {'flat':>9} {'ratio':>6}  {'rows read':>17}  {'buffers':>15}  "
        f"{'tables':>6}  {'planning ms':>11}",
    ]
    for row in rows:
        ratio = f"{row.partitioned_ms / row.flat_ms:5.2f}x" if row.flat_ms else "     -"
        reads = buffers = tables = planning = ""
        if row.partitioned and row.flat:
            reads = f"{row.partitioned.rows_read:,} / {row.flat.rows_read:,}"
            buffers = f"{row.partitioned.buffers:,} / {row.flat.buffers:,}"
            tables = f"{row.partitioned.tables} / {row.flat.tables}"
            planning = f"{row.partitioned.planning_ms:.2f} / {row.flat.planning_ms:.2f}"
        lines.append(
            f"{row.what[:52]:52} {row.partitioned_ms:8.2f} ms {row.flat_ms:6.2f} ms {ratio}  {reads:>17}  "
            f"{buffers:>15}  {tables:>6}  {planning:>11}{row.note}"
        )
    return "\n".join(lines)


def figures(rows: list[Compared], sizes: dict[str, tuple[int, int]], copy_s: float) -> dict[str, dict]:
    """The entries for var/bench.json: partitioned as the value, flat as the baseline."""
    found = {}
    for row in rows:
        found[f"{FIGURE}.{row.key}_ms"] = bench.entry(row.partitioned_ms, "ms", baseline=row.flat_ms or None)
        if row.partitioned and row.flat:
            found[f"{FIGURE}.{row.key}_buffers"] = bench.entry(
                row.partitioned.buffers, "buffers", baseline=row.flat.buffers or None
            )
    for what, (partitioned, flat) in sizes.items():
        found[f"{FIGURE}.{what}_mb"] = bench.entry(partitioned / 2**20, "MB", baseline=flat / 2**20 or None)
    found[f"{FIGURE}.flat_copy_s"] = bench.entry(copy_s, "s")
    return found


# --- measuring ---------------------------------------------------------------------------------------


def _ms(cursor, sql: str, params: Any) -> float:
    started = time.perf_counter()
    cursor.execute(sql, params)
    cursor.fetchall()
    return (time.perf_counter() - started) * 1000


def _explain(cursor, sql: str, params: Any) -> str:
    cursor.execute(EXPLAIN + sql, params)
    return "\n".join(row[0] for row in cursor.fetchall())


def _compare(cursor, key: str, what: str, sql: str, params: Any, plans: list[str], flat_sql: str = "") -> Compared:
    """`sql` on the events and on the flat twin: the median of RUNS runs each (the order alternating, after
    one warm-up each), then each plan."""
    flat_sql = flat_sql or on_flat(sql)
    sides = {"partitioned": sql, "flat": flat_sql}
    times: dict[str, list[float]] = {side: [] for side in sides}
    for statement in sides.values():
        _ms(cursor, statement, params)
    for run in range(RUNS):
        for side in sorted(sides, reverse=run % 2 == 1):
            times[side].append(_ms(cursor, sides[side], params))
    explained = {side: _explain(cursor, statement, params) for side, statement in sides.items()}
    shown = cursor.mogrify(sql, params).decode()
    plans.append(
        f"=== {what}\n{shown}\n\n--- partitioned ({EVENT_TABLE})\n{explained['partitioned']}\n\n"
        f"--- flat ({FLAT})\n{explained['flat']}\n"
    )
    return Compared(
        key,
        what,
        statistics.median(times["partitioned"]),
        statistics.median(times["flat"]),
        plan_figures(explained["partitioned"]),
        plan_figures(explained["flat"]),
    )


def _indexes(cursor) -> list[tuple[str, str]]:
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s "
        "ORDER BY indexname",
        [EVENT_TABLE],
    )
    return cursor.fetchall()


def _build_flat(cursor) -> float:
    """The plain twin, filled and indexed; the seconds it took."""
    started = time.monotonic()
    cursor.execute(f"CREATE TABLE {FLAT} (LIKE {EVENT_TABLE} INCLUDING DEFAULTS)")
    cursor.execute(f"INSERT INTO {FLAT} SELECT * FROM {EVENT_TABLE}")
    cursor.execute(f"ALTER TABLE {FLAT} ADD PRIMARY KEY (id)")
    for statement in index_ddl(_indexes(cursor), FLAT):
        cursor.execute(statement)
    # Its own table only: a fresh copy's visibility map is empty, which the loaded events' is not.
    cursor.execute(f"VACUUM ANALYZE {FLAT}")
    return time.monotonic() - started


def _sizes(cursor) -> dict[str, tuple[int, int]]:
    cursor.execute(
        "SELECT sum(pg_table_size(relid)), sum(pg_indexes_size(relid)) FROM pg_partition_tree(%s) WHERE isleaf",
        [EVENT_TABLE],
    )
    part_table, part_indexes = cursor.fetchone()
    cursor.execute("SELECT pg_table_size(%s), pg_indexes_size(%s)", [FLAT, FLAT])
    flat_table, flat_indexes = cursor.fetchone()
    return {"table": (int(part_table), int(flat_table)), "indexes": (int(part_indexes), int(flat_indexes))}


def _wal_bytes(cursor, run: Callable[[], Any]) -> int:
    """WAL written, by the whole server, while `run` runs (others' writes meanwhile are in it)."""
    cursor.execute("SELECT pg_current_wal_insert_lsn()")
    (before,) = cursor.fetchone()
    run()
    cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s)", [before])
    return int(cursor.fetchone()[0])


def _midnight(month: date) -> datetime:
    """The first instant of `month` (UTC), where its partition begins."""
    return datetime(month.year, month.month, 1, tzinfo=UTC)


def _drop_oldest_month(cursor, alias: str, oldest: date) -> tuple[Compared, str]:
    """DETACH + DROP of a copy of the oldest month (a scratch partitioned table) against a DELETE of that
    month from the flat twin, rolled back; the comparison and what the text file says of it."""
    start, end = _midnight(oldest), _midnight(add_months(oldest, 1))
    cursor.execute(f"CREATE TABLE {MONTHS} (LIKE {EVENT_TABLE} INCLUDING DEFAULTS) PARTITION BY RANGE (at)")
    cursor.execute(f"CREATE TABLE {OLDEST} PARTITION OF {MONTHS} FOR VALUES {partition_bounds(oldest)}")
    cursor.execute(f"CREATE TABLE {MONTHS}_default PARTITION OF {MONTHS} DEFAULT")
    cursor.execute(f"INSERT INTO {MONTHS} SELECT * FROM {FLAT} WHERE at >= %s AND at < %s", [start, end])
    cursor.execute(f"ALTER TABLE {MONTHS} ADD PRIMARY KEY (id, at)")
    for statement in index_ddl(_indexes(cursor), MONTHS):
        cursor.execute(statement)
    cursor.execute(f"SELECT count(*) FROM {OLDEST}")
    (copied,) = cursor.fetchone()

    detach_ms = 0.0

    def detach_and_drop() -> None:
        nonlocal detach_ms
        began = time.perf_counter()
        with transaction.atomic(using=alias):
            cursor.execute(f"ALTER TABLE {MONTHS} DETACH PARTITION {OLDEST}")
            cursor.execute(f"DROP TABLE {OLDEST}")
        detach_ms = (time.perf_counter() - began) * 1000

    detach_wal = _wal_bytes(cursor, detach_and_drop)

    deleted, delete_times, delete_wal = 0, [], []
    for _run in range(DELETE_RUNS):
        with transaction.atomic(using=alias):

            def delete() -> None:
                nonlocal deleted
                began = time.perf_counter()
                cursor.execute(f"DELETE FROM {FLAT} WHERE at < %s", [end])
                delete_times.append((time.perf_counter() - began) * 1000)
                deleted = cursor.rowcount

            delete_wal.append(_wal_bytes(cursor, delete))
            transaction.set_rollback(True)
    row = Compared(
        "drop_oldest_month",
        f"remove the oldest month ({oldest:%Y-%m}, {copied:,} events)",
        detach_ms,
        statistics.median(delete_times),
        note=f"  WAL {detach_wal / 1024:,.0f} kB / {statistics.median(delete_wal) / 1024:,.0f} kB; "
        f"dead rows 0 / {deleted:,}",
    )
    text = (
        f"=== {row.what}\npartitioned: ALTER TABLE {MONTHS} DETACH PARTITION {OLDEST}; DROP TABLE {OLDEST} "
        f"(one transaction): {detach_ms:.1f} ms, {detach_wal:,} bytes of WAL, no dead rows\n"
        f"flat: DELETE FROM {FLAT} WHERE at < '{end.isoformat()}' (rolled back; median of {DELETE_RUNS}): "
        f"{row.flat_ms:.1f} ms, {statistics.median(delete_wal):,.0f} bytes of WAL, {deleted:,} rows deleted, "
        "each left dead with its index entries until VACUUM had it been committed\n"
        "(WAL: the whole server's while each ran)\n"
    )
    return row, text


def _drop_scratch(cursor) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {MONTHS}, {OLDEST}, {FLAT}")


def compare(alias: str, cards: int) -> tuple[list[Compared], dict[str, tuple[int, int]], float, str]:
    """(comparisons, {what: (partitioned bytes, flat bytes)}, seconds the copy took, plans text)."""
    plans: list[str] = []
    connection = connections[alias]
    with using(alias), connection.cursor() as cursor:
        _drop_scratch(cursor)  # a run that was killed may have left them
        try:
            copy_s = _build_flat(cursor)
            rows = []
            # A card of the loader's with three events (created, activated, bound: its number ends in 1).
            number = cards // 2 // 10 * 10 + 1
            card = (
                Card.objects.filter(iccid=f"{CARD_PREFIX}{number:013d}").first()
                or Card.objects.filter(events__isnull=False).order_by("pk").first()
            )
            assert card is not None
            sql, params = card_events(card)[:HISTORY_LIMIT].query.sql_with_params()
            rows.append(_compare(cursor, "card_history", "a card's history (card detail page)", sql, params, plans))

            events = CardEvent.objects.select_related(*CardEventAdmin.list_select_related).order_by(
                *CardEventAdmin.ordering
            )
            page = CardEventAdmin.list_per_page
            sql, params = events[: page + 1].query.sql_with_params()
            rows.append(_compare(cursor, "newest_page", "event changelist, newest page", sql, params, plans))

            cursor.execute(f"SELECT min(at), max(at) FROM {EVENT_TABLE}")
            oldest_at, newest_at = cursor.fetchone()
            # The last whole month, where the events reach back that far; else the newest one.
            month = max(month_of(oldest_at), add_months(month_of(newest_at), -1))
            bounds = [_midnight(month), _midnight(add_months(month, 1))]
            sql, params = events.filter(at__gte=bounds[0], at__lt=bounds[1])[: page + 1].query.sql_with_params()
            rows.append(
                _compare(cursor, "month_page", f"event changelist, newest page of {month:%Y-%m}", sql, params, plans)
            )
            count = "SELECT count(*) FROM {} WHERE at >= %s AND at < %s"
            rows.append(
                _compare(
                    cursor,
                    "month_count",
                    f"events of {month:%Y-%m}, counted",
                    count.format(EVENT_TABLE),
                    bounds,
                    plans,
                    flat_sql=count.format(FLAT),
                )
            )
            sizes = _sizes(cursor)
            # Last: the DELETE, rolled back, still clears the flat table's all-visible bits.
            dropped, text = _drop_oldest_month(cursor, alias, month_of(oldest_at))
            rows.append(dropped)
            plans.append(text)
        finally:
            _drop_scratch(cursor)
    return rows, sizes, copy_s, "\n".join(plans)


def write(alias: str, cards: int, results: dict, path: Path = PLANS_FILE) -> Path | None:
    """Compare, print the table, add the figures to `results` and the plans to `path` (its path); None
    where the events are not partitioned (nothing to compare)."""
    if not events_partitioned(alias):
        print(f"[bench] scale: the card events of {alias} are not partitioned: no comparison")
        return None
    rows, sizes, copy_s, plans = compare(alias, cards)
    print(
        f"[bench] scale: card events at {cards:,} cards, monthly partitions against a plain copy "
        f"(made in {copy_s:.0f} s; median of {RUNS} runs; rows read, buffers, tables: partitioned / flat):"
    )
    print(table(rows))
    print(
        "  size: "
        + ", ".join(f"{what} {part / 2**20:,.1f} MB / {flat / 2**20:,.1f} MB" for what, (part, flat) in sizes.items())
    )
    results.update(figures(rows, sizes, copy_s))
    with connections[alias].cursor() as cursor:
        cursor.execute("SHOW server_version")
        (version,) = cursor.fetchone()
    heading = (
        f"Card events at {cards:,} cards, partitioned by month against a plain copy, PostgreSQL {version} "
        "(bench/scale_partitions.py)\n\n" + table(rows) + "\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(heading + "\n" + plans, encoding="utf-8")
    return path
