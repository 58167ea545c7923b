"""Writing the validated cards in one statement: ``COPY`` on PostgreSQL, ``bulk_create`` elsewhere."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import connection
from django.utils import timezone

from cards.imports.rows import ValidRow
from cards.inventory.tallies import tally_import_batch
from cards.models import Card, CardStatus, RealnameState, card_scope_columns
from core.columns import db_column

if TYPE_CHECKING:
    from enterprises.models import Enterprise

BULK_BATCH = 2000
NULL = "\\N"  # COPY text format


# --- writing ---------------------------------------------------------------------

_CARD_COLUMNS = (
    "iccid",
    "msisdn",
    "imsi",
    "enterprise",
    "province",
    "in_sandbox",
    "package",
    "data_service",
    "voice_service",
    "sms_service",
    "status",
    "realname_required",
    "realname_rules",
    "exemption_needed",
    "realname_state",
    "has_been_commercial",
    "test_period_started_at",
    "test_period_ends_at",
    "import_job",
    "created_at",
    "updated_at",
)


def _trial_columns(valid: list[ValidRow], now) -> dict:
    """has_been_commercial, test_period_started_at, test_period_ends_at per test period length (U4):
    a card on a test package starts its trial now, one on a commercial package has been commercial."""
    columns: dict[int | None, tuple[bool, datetime | None, datetime | None]] = {None: (True, None, None)}
    for days in {r.test_period_days for r in valid if r.test_period_days is not None}:
        columns[days] = (False, now, now + timedelta(days=days))
    return columns


def _realname_state(row: ValidRow) -> str:
    # A new card has no binding, and no exemption names it yet.
    return RealnameState.LACKING.value if row.realname_required else RealnameState.NOT_REQUIRED.value


def _write_cards(valid: list[ValidRow], *, enterprise: Enterprise, import_id: int) -> None:
    """The cards, and their counters in the same transaction (the caller's)."""
    if connection.vendor == "postgresql":
        _copy_cards(valid, enterprise=enterprise, import_id=import_id)
    else:
        _bulk_create_cards(valid, enterprise=enterprise, import_id=import_id)
    tally_import_batch(enterprise_id=enterprise.pk, states=(_realname_state(r) for r in valid))


def analyze_cards() -> None:
    """Fresh planner statistics after an import (PostgreSQL): a big one changes the table's shape at once,
    and until autovacuum gets to it the planner may choose a full scan for a count (issue 12 §1.3)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(Card._meta.db_table)}")


def copy_sql() -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(db_column(Card, name)) for name in _CARD_COLUMNS)
    return f"COPY {quote(Card._meta.db_table)} ({columns}) FROM STDIN"


def copy_stream(valid: list[ValidRow], *, enterprise: Enterprise, import_id: int, now=None) -> io.StringIO:
    """The rows in COPY text format. Every value was validated to digits or a known code: nothing to escape."""
    now = now or timezone.now()
    stamp = now.isoformat()
    scope = card_scope_columns(enterprise)
    head = f"\t{enterprise.pk}\t{scope['province_id']}\t{'t' if scope['in_sandbox'] else 'f'}\t"
    tail = f"\t{import_id}\t{stamp}\t{stamp}\n"
    trial = {
        days: f"\t{'t' if commercial else 'f'}\t{started.isoformat() if started else NULL}\t"
        f"{ends.isoformat() if ends else NULL}"
        for days, (commercial, started, ends) in _trial_columns(valid, now).items()
    }
    status = CardStatus.IN_STOCK.value
    buffer = io.StringIO()
    buffer.writelines(
        f"{r.iccid}\t{r.msisdn}\t{r.imsi}{head}{r.package_id}\t{r.data}\t{r.voice}\t{r.sms}\t{status}\t"
        f"{'t' if r.realname_required else 'f'}\t{r.realname_rules}\t{r.exemption_needed}\t{_realname_state(r)}"
        f"{trial[r.test_period_days]}{tail}"
        for r in valid
    )
    buffer.seek(0)
    return buffer


def copy_into(cursor, sql: str, stream: io.StringIO) -> None:
    """COPY through the driver's cursor: psycopg2 (copy_expert) or psycopg 3 (copy)."""
    raw = getattr(cursor, "cursor", cursor)
    # The driver's own errors become Django's (IntegrityError on a unique violation).
    with connection.wrap_database_errors:
        if hasattr(raw, "copy_expert"):
            raw.copy_expert(sql, stream)
        else:  # psycopg 3
            with raw.copy(sql) as copy:
                copy.write(stream.getvalue())


def _copy_cards(valid: list[ValidRow], *, enterprise: Enterprise, import_id: int) -> None:
    stream = copy_stream(valid, enterprise=enterprise, import_id=import_id)
    with connection.cursor() as cursor:
        copy_into(cursor, copy_sql(), stream)


def _bulk_create_cards(valid: list[ValidRow], *, enterprise: Enterprise, import_id: int) -> None:
    status = CardStatus.IN_STOCK
    trial = _trial_columns(valid, timezone.now())
    scope = card_scope_columns(enterprise)
    Card.objects.bulk_create(
        (
            Card(
                iccid=r.iccid,
                msisdn=r.msisdn,
                imsi=r.imsi,
                enterprise_id=enterprise.pk,
                **scope,
                package_id=r.package_id,
                data_service=r.data,
                voice_service=r.voice,
                sms_service=r.sms,
                status=status,
                realname_required=r.realname_required,
                realname_rules=r.realname_rules,
                exemption_needed=r.exemption_needed,
                realname_state=_realname_state(r),
                import_job_id=import_id,
                has_been_commercial=trial[r.test_period_days][0],
                test_period_started_at=trial[r.test_period_days][1],
                test_period_ends_at=trial[r.test_period_days][2],
            )
            for r in valid
        ),
        batch_size=BULK_BATCH,
    )


__all__ = [
    "analyze_cards",
    "copy_sql",
    "copy_stream",
    "copy_into",
]
