"""The card events become a table partitioned by month on `at` (PostgreSQL only; issue 12 §3), so that old
months can be detached or dropped whole and a month-bounded query reads one partition.

PostgreSQL wants the partition key in the primary key: it becomes (id, at); Django keeps `id` as its pk, and
no table references an event by foreign key (nothing to re-point). The rebuild, under an exclusive lock on
the table: a partitioned twin (same columns, defaults, NOT NULLs and checks), a partition for every month from
the oldest event's to three months ahead plus a DEFAULT one, the rows copied, the old table dropped and the
twin renamed into its place, then the primary key, the identity (continuing from the old sequence), the
secondary indexes (cardevent_at_desc among them), the foreign keys and the autovacuum settings of migration
0021 (held by each partition: a partitioned table takes none) made again under the names they had. The
reverse rebuilds a plain table the same way. SQLite (the embedded default) keeps its plain table.
"""

from django.db import migrations
from django.utils import timezone

# The partitions the migration makes are the beat task's, by the same names and bounds: its helpers, not a
# copy of them, so that the task's idempotent CREATE finds the migration's partitions for what they are.
from cards.inventory.partitions import (
    DEFAULT_PARTITION,
    EVENT_TABLE,
    MONTHS_AHEAD,
    PARTITION_STORAGE,
    add_months,
    month_of,
    months_between,
    partition_bounds,
    partition_name,
)

TWIN = f"{EVENT_TABLE}_rebuilt"


def _table_state(cursor, quote) -> dict:
    """What the rebuild must make again: secondary indexes, foreign keys, and where the identity stands."""
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
        [EVENT_TABLE, EVENT_TABLE],
    )
    # A partitioned table's index reads "ON ONLY table" (its partitions' indexes are attached one by one);
    # made again on the rebuilt table it must reach every partition.
    indexes = [definition.replace(" ON ONLY ", " ON ", 1) for _name, definition in cursor.fetchall()]
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
        [EVENT_TABLE],
    )
    foreign_keys = cursor.fetchall()
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [EVENT_TABLE])
    (sequence,) = cursor.fetchone()
    cursor.execute(f"SELECT last_value, is_called FROM {sequence}")
    last_value, is_called = cursor.fetchone()
    cursor.execute(f"SELECT coalesce(max(id), 0) FROM {quote(EVENT_TABLE)}")
    (max_id,) = cursor.fetchone()
    next_id = max(max_id, last_value if is_called else last_value - 1) + 1
    return {"indexes": indexes, "foreign_keys": foreign_keys, "next_id": next_id}


def _rebuild(schema_editor, *, partitioned: bool) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    table, twin = quote(EVENT_TABLE), quote(TWIN)
    with schema_editor.connection.cursor() as cursor:
        # Deferred foreign-key checks still pending on the table (rows written earlier in this transaction)
        # would forbid dropping it: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        state = _table_state(cursor, quote)
        like = f"CREATE TABLE {twin} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        if partitioned:
            cursor.execute(f"{like} PARTITION BY RANGE (at)")
            cursor.execute(f"SELECT min(at) FROM {table}")
            (oldest,) = cursor.fetchone()
            this_month = month_of(timezone.now())
            first = min(month_of(oldest), this_month) if oldest is not None else this_month
            for month in months_between(first, add_months(this_month, MONTHS_AHEAD)):
                cursor.execute(
                    f"CREATE TABLE {quote(partition_name(month))} PARTITION OF {twin} "
                    f"FOR VALUES {partition_bounds(month)} WITH ({PARTITION_STORAGE})"
                )
            cursor.execute(
                f"CREATE TABLE {quote(DEFAULT_PARTITION)} PARTITION OF {twin} DEFAULT WITH ({PARTITION_STORAGE})"
            )
        else:
            cursor.execute(f"{like} WITH ({PARTITION_STORAGE})")
        cursor.execute(f"INSERT INTO {twin} SELECT * FROM {table}")
        # Dropping the old table drops its identity sequence, indexes and foreign keys: all made again below.
        cursor.execute(f"DROP TABLE {table}")
        cursor.execute(f"ALTER TABLE {twin} RENAME TO {table}")
        key = "(id, at)" if partitioned else "(id)"
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {quote(EVENT_TABLE + '_pkey')} PRIMARY KEY {key}")
        cursor.execute(
            f"ALTER TABLE {table} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY (START WITH {int(state['next_id'])})"
        )
        for definition in state["indexes"]:
            cursor.execute(definition)
        for name, definition in state["foreign_keys"]:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} {definition}")


def partition_events(apps, schema_editor):
    _rebuild(schema_editor, partitioned=True)


def unpartition_events(apps, schema_editor):
    _rebuild(schema_editor, partitioned=False)


class Migration(migrations.Migration):
    dependencies = [("cards", "0024_card_province_and_sandbox")]

    operations = [migrations.RunPython(partition_events, unpartition_events, elidable=False)]
