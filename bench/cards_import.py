"""Bulk card import: 100,000 cards on PostgreSQL, into an empty table and into one that already
holds 1,000,000 cards, against a raw COPY of the same rows.

    python -m bench --only cards_import     # merged into var/bench.json
    python -m bench.cards_import            # the same figures, printed
    BENCH_IMPORT_EXISTING_CARDS=200000 python -m bench --only cards_import   # a shorter trial

Figures:
- cards_import_100k: seconds from the uploaded bytes (a 100,000-row UTF-8 CSV)
  to the committed cards, into an empty cards_card: card_import_create (type,
  encoding and header checks, the file stored) and the task (parse, validate
  every row, rule decisions, duplicate checks against the database, COPY,
  commit). Baseline:
  cards_import_copy_100k, a raw COPY of the same rows, already in COPY text
  format, into a scratch table shaped like cards_card (same columns, indexes,
  unique constraints and foreign keys), in its own transaction. Targets:
  ratio <= 3 and value < 60 s.
- cards_import_copy_100k: that COPY alone.
- cards_import_copy_bare_100k: the same COPY into a table with the columns
  only (no index, constraint or foreign key): the floor of any write; and
  cards_import_100k_vs_bare_copy, the import against that floor.
- cards_import_copy_indexes_100k: the same COPY into a table with cards_card's
  indexes and unique constraints but no foreign keys. With the two above it
  splits the baseline into index upkeep and foreign-key checks.
- cards_import_100k_into_1M: the same import (the same file, the same path)
  into a cards_card that already holds BENCH_IMPORT_EXISTING_CARDS cards
  (1,000,000 by default; the name says how many: cards_import_100k_into_200k),
  a fifth of them the importing enterprise's and the rest another's, loaded
  with set-based SQL and vacuumed and analysed as autovacuum would. Baseline:
  cards_import_100k, the import into the empty table (ratio = what the
  table's size costs the import). The imported cards are deleted between runs,
  so every run meets the same table.

Each figure is the best of BENCH_CARD_REPEATS runs (2 by default).

It needs PostgreSQL: DATABASE_URL when it points at PostgreSQL, else
postgres://postgres@127.0.0.1:5432/portal_bench (created when missing). The
figures are measured in a child process, on a throwaway database migrated for
the run (Django's test database next to that one), so no real data is
touched; without a reachable PostgreSQL the benchmark says so and is skipped.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import django
import environ
import psycopg2
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction

import bench
from bench import scratch_database
from bench.scale import _bulk as bulk_load
from bench.scale import _short as scale_short

BASE_DIR = Path(__file__).resolve().parent.parent
FALLBACK_URL = "postgres://postgres@127.0.0.1:5432/portal_bench"
ROWS = int(os.environ.get("BENCH_CARD_ROWS", "100000"))
EXISTING = int(os.environ.get("BENCH_IMPORT_EXISTING_CARDS", "1000000"))
REPEATS = int(os.environ.get("BENCH_CARD_REPEATS", "2"))
RATIO_TARGET = 3.0
SECONDS_TARGET = 60.0
MARK = "BENCH-RESULT "
NAME = "cards_import_100k" if ROWS == 100_000 else f"cards_import_{ROWS}"
COPY_NAME = "cards_import_copy_100k" if ROWS == 100_000 else f"cards_import_copy_{ROWS}"
BARE_NAME = COPY_NAME.replace("copy", "copy_bare")
INDEXES_NAME = COPY_NAME.replace("copy", "copy_indexes")
INTO_FULL_NAME = f"{NAME}_into_{scale_short(EXISTING)}"


def _postgres_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://", "pgsql://")):
        return url
    return FALLBACK_URL


def _reachable(url: str) -> str | None:
    """None when the server answers (and the fallback database exists), else why not."""
    config = environ.Env.db_url_config(url)
    params = {
        "host": config.get("HOST") or "127.0.0.1",
        "port": config.get("PORT") or 5432,
        "user": config.get("USER") or "postgres",
        "password": config.get("PASSWORD") or None,
        "connect_timeout": 3,
    }
    try:
        conn = psycopg2.connect(dbname="postgres", **params)
    except psycopg2.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
            if cursor.fetchone() is None and url == FALLBACK_URL:
                cursor.execute(f'CREATE DATABASE "{config["NAME"]}"')
    finally:
        conn.close()
    return None


def run(results: dict) -> None:
    url = _postgres_url()
    problem = _reachable(url)
    if problem:
        print(
            f"[bench] cards_import: skipped, no PostgreSQL at {url.split('@')[-1]} ({problem}). "
            "Set DATABASE_URL=postgres://... to run it."
        )
        return
    env = {**os.environ, "DATABASE_URL": url, "CELERY_TASK_ALWAYS_EAGER": "true", "LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)  # the task runs in-process here, on the scratch database
    completed = subprocess.run(
        [sys.executable, "-m", "bench.cards_import", "--child"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith(MARK)]
    if completed.returncode != 0 or not lines:
        sys.stderr.write(completed.stdout[-4000:] + completed.stderr[-4000:])
        raise RuntimeError(f"the cards_import benchmark failed (exit status {completed.returncode})")
    for line in completed.stdout.splitlines():
        if line.startswith("[bench]"):
            print(line)
    results.update(json.loads(lines[-1][len(MARK) :]))


# --- the child: Django on the PostgreSQL scratch database ----------------------------


def _fixtures():
    # Inside the function: this module runs as a script before django.setup(); the models load after it.
    from accounts.models import Province
    from accounts.services import user_create
    from cards.models import Package
    from enterprises.models import Enterprise, UnitKind

    province = Province.objects.get(code="11")
    manager = user_create(username="bench_manager", password=None, role="account_manager", province=province)
    enterprise = Enterprise.objects.create(
        name="基准测试物联有限公司",
        credential_type="official_letter",
        credential_address="北京市",
        province=province,
        account_manager=manager,
        created_by=manager,
        unit_kind=UnitKind.objects.get(code="party_government"),
    )
    package = Package.objects.create(code="IOT-BENCH", name="基准套餐")
    return manager, enterprise, package


def _fill_existing(cards: int, *, enterprise, package, manager) -> None:
    """`cards` cards already in cards_card, a fifth of them `enterprise`'s and the rest another
    enterprise's, written with one set-based INSERT (indexes rebuilt after, as a bulk load does), then
    VACUUM ANALYZE: a table of that size that autovacuum has seen. Their ICCIDs (898601...) and MSISDNs
    (10...0, 13 digits) meet none of make_card_file's (898600..., 1064... and 149...)."""
    # Inside the function: this module runs as a script before django.setup(); the models load after it.
    from enterprises.models import Enterprise

    other = Enterprise.objects.create(
        name="基准测试其他物联有限公司",
        credential_type="official_letter",
        credential_address="北京市",
        province=enterprise.province,
        account_manager=manager,
        created_by=manager,
        unit_kind=enterprise.unit_kind,
    )
    with connection.cursor() as cursor:
        with bulk_load(cursor, "cards_card"):
            cursor.execute(
                """
                INSERT INTO cards_card (iccid, msisdn, imsi, enterprise_id, package_id, data_service, voice_service,
                    sms_service, status, realname_required, realname_rules, exemption_needed, has_been_commercial,
                    created_at, updated_at, province_id, in_sandbox)
                SELECT '898601' || lpad(i::text, 14, '0'), '1' || lpad(i::text, 12, '0'), '',
                       CASE WHEN i %% 5 = 0 THEN %(enterprise)s ELSE %(other)s END, %(package)s,
                       'directed', 'none', 'none',
                       (ARRAY['in_stock', 'awaiting_realname', 'active', 'suspended', 'cancelled'])[i %% 5 + 1],
                       false, 'U0', '', true,
                       now() - (i %% 1000) * interval '1 hour', now() - (i %% 1000) * interval '1 hour',
                       %(province)s, false
                FROM generate_series(1, %(cards)s) AS i
                """,
                {
                    "enterprise": enterprise.pk,
                    "other": other.pk,
                    "package": package.pk,
                    "cards": cards,
                    # Both enterprises are in one province and neither is a sandbox (cards.models.card_scope_columns).
                    "province": enterprise.province_id,
                },
            )
        cursor.execute("VACUUM ANALYZE cards_card")


def _copy_baseline(valid, enterprise, import_id: int, *, shape: str = "full") -> float:
    """COPY the same rows, in COPY text, into a scratch table; seconds to commit.

    shape "full": shaped like cards_card (columns, indexes, unique constraints and its foreign keys,
    deferred as Django makes them); "indexes": the same without the foreign keys; "bare": the
    columns only (no index, no constraint).
    """
    # Inside the function: this module runs as a script before django.setup(); the models load after it.
    from cards.imports import copy_writer as import_copy_writer
    from cards.models import Card

    table = connection.ops.quote_name(Card._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_copy_cards")
        if shape == "bare":
            cursor.execute(f"CREATE TABLE bench_copy_cards (LIKE {table} INCLUDING DEFAULTS INCLUDING IDENTITY)")
        else:
            cursor.execute(f"CREATE TABLE bench_copy_cards (LIKE {table} INCLUDING ALL)")
        if shape == "full":
            # LIKE copies no foreign keys: add cards_card's.
            cursor.execute(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
                [Card._meta.db_table],
            )
            for (definition,) in cursor.fetchall():
                cursor.execute(f"ALTER TABLE bench_copy_cards ADD {definition}")
    stream = import_copy_writer.copy_stream(valid, enterprise=enterprise, import_id=import_id)
    sql = import_copy_writer.copy_sql().replace(f"COPY {table} ", "COPY bench_copy_cards ", 1)
    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        import_copy_writer.copy_into(cursor, sql, stream)
    elapsed = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_copy_cards")
    return elapsed


def _reset_cards() -> None:
    # Inside the function: this module runs as a script before django.setup(); the models load after it.
    from cards.models import Card, CardImport

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {connection.ops.quote_name(Card._meta.db_table)} CASCADE")
    CardImport.objects.all().delete()


def _timed_import(content: bytes, *, actor, enterprise):
    """(seconds, job) of one import of `content` (a CSV's bytes), from the upload to the committed cards;
    a run that does not import all ROWS rows fails the benchmark."""
    # Inside the function: this module runs as a script before django.setup(); the models load after it.
    from cards.imports import services as import_services
    from cards.models import Card, ImportStatus

    upload = SimpleUploadedFile("cards.csv", content, content_type="text/csv")
    start = time.perf_counter()
    job = import_services.card_import_create(actor=actor, enterprise=enterprise, upload=upload)
    job.refresh_from_db()
    elapsed = time.perf_counter() - start
    if job.status != ImportStatus.SUCCEEDED:
        raise RuntimeError(f"the import did not succeed: {job.status} {job.failure_message} {job.errors[:3]}")
    assert Card.objects.filter(import_job=job).count() == ROWS
    return elapsed, job


def _measure() -> dict:
    # Inside the function: this module runs as a script before django.setup(); the models load after it.
    from cards.imports import parsing as import_parsing
    from cards.imports import services as import_services
    from cards.imports import validation as import_validation
    from cards.management.commands.make_card_file import card_csv
    from cards.models import Card, CardImport

    assert connection.vendor == "postgresql", connection.vendor
    manager, enterprise, package = _fixtures()
    content = card_csv(ROWS, package_code=package.code)

    # The rows as COPY text, for the baseline: a placeholder import owns them.
    placeholder = CardImport.objects.create(enterprise=enterprise, file_format="csv", created_by=manager)
    parsed = import_parsing.parse_file(content)
    valid, errors = import_validation.validate_rows(parsed, import_services._packages())
    assert not errors and len(valid) == ROWS, errors[:3]

    copy_times, bare_times, index_times, import_times = [], [], [], []
    for attempt in range(REPEATS):
        bare_times.append(_copy_baseline(valid, enterprise, placeholder.pk, shape="bare"))
        index_times.append(_copy_baseline(valid, enterprise, placeholder.pk, shape="indexes"))
        copy_times.append(_copy_baseline(valid, enterprise, placeholder.pk))
        _reset_cards()
        elapsed, job = _timed_import(content, actor=manager, enterprise=enterprise)
        import_times.append(elapsed)
        print(
            f"[bench] cards_import: run {attempt + 1}: import {elapsed:.2f} s, COPY {copy_times[-1]:.2f} s "
            f"(without foreign keys {index_times[-1]:.2f} s, bare table {bare_times[-1]:.2f} s)",
            flush=True,
        )
        _reset_cards()
        placeholder = CardImport.objects.create(enterprise=enterprise, file_format="csv", created_by=manager)

    start = time.perf_counter()
    _fill_existing(EXISTING, enterprise=enterprise, package=package, manager=manager)
    print(f"[bench] cards_import: {EXISTING} existing cards loaded in {time.perf_counter() - start:.1f} s", flush=True)
    full_times = []
    for attempt in range(REPEATS):
        elapsed, job = _timed_import(content, actor=manager, enterprise=enterprise)
        full_times.append(elapsed)
        print(
            f"[bench] cards_import: run {attempt + 1}: import into {EXISTING} existing cards {elapsed:.2f} s",
            flush=True,
        )
        # The next run meets the same table: the imported cards gone, their dead rows vacuumed.
        Card.objects.filter(import_job=job).delete()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE cards_card")
    assert Card.objects.count() == EXISTING

    value, baseline, bare, indexes = min(import_times), min(copy_times), min(bare_times), min(index_times)
    into_full = min(full_times)
    ratio = value / baseline
    verdict = "ok" if ratio <= RATIO_TARGET and value < SECONDS_TARGET else "MISSES THE TARGET"
    print(
        f"[bench] cards_import: {ROWS} cards in {value:.2f} s, COPY {baseline:.2f} s, ratio {ratio:.2f} "
        f"(targets: ratio <= {RATIO_TARGET:g}, < {SECONDS_TARGET:g} s): {verdict}; "
        f"into {EXISTING} existing cards {into_full:.2f} s (ratio to the empty table {into_full / value:.2f})",
        flush=True,
    )
    return {
        NAME: bench.entry(value, "s", baseline),
        COPY_NAME: bench.entry(baseline, "s"),
        BARE_NAME: bench.entry(bare, "s"),
        INDEXES_NAME: bench.entry(indexes, "s"),
        f"{NAME}_vs_bare_copy": bench.entry(value, "s", bare),
        INTO_FULL_NAME: bench.entry(into_full, "s", value),
    }


def child() -> None:
    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

    django.setup()

    logging.disable(logging.INFO)

    with scratch_database():
        figures = _measure()
    print(MARK + json.dumps(figures), flush=True)


if __name__ == "__main__":
    if "--child" in sys.argv:
        child()
    else:
        results: dict = {}
        run(results)
        for key, item in sorted(results.items()):
            print(f"{key:32s} {item['value']:>10g} {item['unit']}  baseline {item['baseline']}  ratio {item['ratio']}")
