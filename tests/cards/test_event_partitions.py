"""The card events partitioned by month on PostgreSQL (issue 12 §3; cards.inventory.partitions, migration 0025)."""

from __future__ import annotations

import importlib
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from cards.inventory import partitions
from cards.inventory.partitions import (
    DEFAULT_PARTITION,
    EVENT_TABLE,
    add_months,
    ensure_event_partitions,
    month_of,
    partition_name,
)
from cards.models import CardEvent
from cards.tasks import ensure_card_event_partitions
from tests import factories

pytestmark = pytest.mark.django_db
postgres = pytest.mark.postgres


def _partitions() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [EVENT_TABLE],
        )
        return {name for (name,) in cursor.fetchall()}


def _partition_of(event: CardEvent) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {EVENT_TABLE} WHERE id = %s", [event.pk])
        return cursor.fetchone()[0]


def _later(monkeypatch, months: int) -> datetime:
    """Let the partitions' clock run `months` months ahead (the beat task's tomorrow, in a test)."""
    then = datetime.combine(add_months(month_of(timezone.now()), months), datetime.min.time(), UTC)
    then += timedelta(days=10)
    monkeypatch.setattr(partitions.timezone, "now", lambda: then)
    return then


@pytest.fixture
def card(world):
    return factories.card(enterprise=world["enterprise"])


@postgres
def test_the_events_table_is_partitioned_by_range_on_at_with_a_key_of_id_and_at():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.partstrat, a.attname FROM pg_partitioned_table p "
            "JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] "
            "WHERE p.partrelid = %s::regclass",
            [EVENT_TABLE],
        )
        assert cursor.fetchall() == [("r", "at")]
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
            [EVENT_TABLE],
        )
        assert cursor.fetchone()[0] == "PRIMARY KEY (id, at)"
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [EVENT_TABLE])
        assert "cardevent_at_desc" in {name for (name,) in cursor.fetchall()}
    this_month = month_of(timezone.now())
    expected = {partition_name(add_months(this_month, n)) for n in range(4)} | {DEFAULT_PARTITION}
    assert expected <= _partitions()


@postgres
def test_a_new_event_lands_in_its_months_partition_and_the_history_reads_it(card):
    event = CardEvent.objects.get(card=card, action="created")
    assert _partition_of(event) == partition_name(month_of(event.at))
    assert [e.pk for e in card.events.order_by("-at", "-id")] == [event.pk]


@postgres
def test_the_task_makes_the_coming_months_and_a_second_run_makes_none(monkeypatch):
    # The migration made this month and three ahead: nothing to do today.
    assert ensure_event_partitions() == []
    then = _later(monkeypatch, 2)
    coming = {partition_name(add_months(month_of(then), n)) for n in (2, 3)}
    assert not coming & _partitions()
    assert ensure_card_event_partitions() == 2
    assert coming <= _partitions()
    assert ensure_card_event_partitions() == 0
    assert ensure_event_partitions() == []


@postgres
def test_an_event_far_ahead_waits_in_default_and_its_month_is_made_without_losing_it(monkeypatch, card):
    event = CardEvent.objects.get(card=card, action="created")
    far = event.at + timedelta(days=300)
    CardEvent.objects.filter(pk=event.pk).update(at=far)
    assert _partition_of(event) == DEFAULT_PARTITION
    before = CardEvent.objects.count()

    _later(monkeypatch, 9)
    made = ensure_event_partitions()

    assert partition_name(month_of(far)) in made
    assert _partition_of(event) == partition_name(month_of(far))
    moved = CardEvent.objects.get(pk=event.pk)
    assert (moved.at, moved.action, moved.card_id) == (far, "created", card.pk)
    assert CardEvent.objects.count() == before
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {DEFAULT_PARTITION}")
        assert cursor.fetchone()[0] == 0
    # And a new event of that month now goes to its partition, not to DEFAULT.
    CardEvent.objects.create(card=card, action="note")
    late = CardEvent.objects.filter(card=card, action="note").get()
    CardEvent.objects.filter(pk=late.pk).update(at=far + timedelta(minutes=1))
    assert _partition_of(late) == partition_name(month_of(far))


@postgres
def test_a_month_bounded_event_query_reads_one_partition():
    month = month_of(timezone.now())
    start = datetime.combine(month, datetime.min.time(), UTC)
    end = datetime.combine(add_months(month, 1), datetime.min.time(), UTC)
    queryset = CardEvent.objects.filter(at__gte=start, at__lt=end).order_by("-at", "-id")
    plan = queryset.explain()
    scanned = set(re.findall(rf"\b({EVENT_TABLE}_(?:y\d{{4}}m\d{{2}}|default))\b", plan))
    assert scanned == {partition_name(month)}, plan


def test_where_events_are_a_plain_table_the_task_does_nothing():
    if connection.vendor == "postgresql":
        pytest.skip("the events are partitioned on PostgreSQL")
    assert ensure_event_partitions() == []
    assert ensure_card_event_partitions() == 0


@postgres
def test_the_migrations_rebuild_keeps_every_event_its_id_and_the_indexes_both_ways(card):
    rebuild = importlib.import_module("cards.migrations.0025_partition_card_events")._rebuild
    CardEvent.objects.create(card=card, action="note")
    old = CardEvent.objects.get(card=card, action="note")
    CardEvent.objects.filter(pk=old.pk).update(at=old.at - timedelta(days=400))  # a month with no partition
    before = sorted(CardEvent.objects.values_list("id", "at", "action"))

    def indexes() -> set[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [EVENT_TABLE])
            return {name for (name,) in cursor.fetchall()}

    partitioned_indexes = indexes()
    with connection.schema_editor() as editor:
        rebuild(editor, partitioned=False)
    assert not partitions.events_partitioned()
    assert sorted(CardEvent.objects.values_list("id", "at", "action")) == before
    assert indexes() == partitioned_indexes
    with connection.schema_editor() as editor:
        rebuild(editor, partitioned=True)
    assert partitions.events_partitioned()
    assert sorted(CardEvent.objects.values_list("id", "at", "action")) == before
    assert indexes() == partitioned_indexes
    # The oldest event's month got its partition; the identity goes on after the highest id.
    assert _partition_of(old) == partition_name(month_of(old.at - timedelta(days=400)))
    CardEvent.objects.create(card=card, action="after")
    assert CardEvent.objects.get(action="after").pk > max(row[0] for row in before)
