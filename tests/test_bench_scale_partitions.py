"""bench.scale_partitions: the monthly event partitions compared with a plain copy of the events in the same
database, which it drops afterwards, leaving the events as they were (issue 12 §3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from bench import scale_partitions
from cards.inventory.partitions import add_months, month_of
from cards.models import CardEvent
from tests import factories

# Not in a transaction: the plain copy is vacuumed, as the loaded events are.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _scratch_tables() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relname LIKE 'bench_cardevent%%'")
        return [name for (name,) in cursor.fetchall()]


def test_the_partitions_are_compared_with_a_plain_copy_that_is_dropped_afterwards(world, tmp_path, monkeypatch):
    card = factories.card(enterprise=world["enterprise"])
    next_month = datetime.combine(add_months(month_of(timezone.now()), 1), datetime.min.time(), UTC)
    for action in ("activated", "user_bound"):
        event = CardEvent.objects.create(card=card, action=action)
        CardEvent.objects.filter(pk=event.pk).update(at=next_month + timedelta(days=3))
    this_month = CardEvent.objects.filter(at__lt=next_month).count()
    before = sorted(CardEvent.objects.values_list("pk", "at"))
    compared = []
    compare = scale_partitions.compare

    def kept(*args):
        compared.append(compare(*args))
        return compared[-1]

    monkeypatch.setattr(scale_partitions, "compare", kept)
    results: dict = {}

    path = scale_partitions.write("default", 1, results, path=tmp_path / "partitions.txt")

    assert sorted(CardEvent.objects.values_list("pk", "at")) == before
    assert _scratch_tables() == []
    rows = {row.key: row for row in compared[0][0]}
    assert list(rows) == ["card_history", "newest_page", "month_page", "month_count", "drop_oldest_month"]
    # Without a month, every partition is probed (one index on the copy); the month's range prunes to one.
    assert rows["card_history"].partitioned.tables > 1 and rows["card_history"].flat.tables == 1
    assert rows["newest_page"].partitioned.tables > 1
    assert rows["month_count"].partitioned.tables == rows["month_count"].flat.tables == 1
    assert rows["month_count"].partitioned.rows_read == rows["month_count"].flat.rows_read == this_month
    text = path.read_text()
    assert "=== a card's history (card detail page)" in text and "--- flat (bench_cardevent_flat)" in text
    # The oldest month (this one) went whole from the scratch table, and row by row from the copy, rolled back.
    assert f"{this_month:,} rows deleted" in text and "no dead rows" in text
    assert results["scale.events_partitioned.card_history_buffers"]["baseline"] > 0
    assert results["scale.events_partitioned.table_mb"]["value"] > 0
    assert results["scale.events_partitioned.drop_oldest_month_ms"]["baseline"] > 0


def test_a_failing_step_still_drops_the_copy(world, monkeypatch):
    factories.card(enterprise=world["enterprise"])

    def broken(*args, **kwargs):
        raise RuntimeError("broken")

    monkeypatch.setattr(scale_partitions, "_sizes", broken)
    with pytest.raises(RuntimeError, match="broken"):
        scale_partitions.compare("default", 1)
    assert _scratch_tables() == []
