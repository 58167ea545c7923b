"""The replay check's lookup among many stored live-photo hashes.

    python -m bench --only replay        # merged into var/bench.json
    BENCH_REPLAY_ROWS=1000000 python -m bench --only replay

Figures, over the same 60 lookups with 100,000 stored hashes (a third near-copies of a stored hash,
flipped in 1-6 bits over several bands; two thirds hashes seen nowhere), each the median milliseconds
of verification.matching.find_replay against a baseline that answers the same question without the
indexed bands:
- replay_lookup_ms_100k_vs_sql_scan (the headline, PostgreSQL only): the best plain SQL a developer
  would write on the stored column: one query, `WHERE bit_count(('x' || live_photo_phash)::bit(64) #
  ('x' || %s)::bit(64)) <= limit ORDER BY id LIMIT 1`, a sequential scan inside the server with no row
  sent to Python but the answer. On SQLite there is none (no bit_count, no hex-to-integer cast; a
  registered Python function would be the Python scan again), so the figure is not made there.
- replay_lookup_ms_100k: the same lookups against a full scan in Python (read every stored hash,
  compare them all with numpy), how the check worked before the indexed bands.
All three answer every lookup the same way; the benchmark checks that.

It runs on the configured database (PostgreSQL under DATABASE_URL, else SQLite),
on a throwaway copy migrated for the run.
"""

from __future__ import annotations

import logging
import os
import random
import statistics
import time

import numpy as np
from django.conf import settings
from django.db import connection
from django.utils import timezone

import bench
from accounts.models import Province
from accounts.pii import personal_id_index
from accounts.services import user_create
from bench import scratch_database
from cards.models import CardUser
from enterprises.models import Enterprise, UnitKind
from verification.matching import find_replay, phash_bands
from verification.models import Verification

ROWS = int(os.environ.get("BENCH_REPLAY_ROWS", "100000"))
LOOKUPS = 60
NAME = "replay_lookup_ms_100k" if ROWS == 100_000 else f"replay_lookup_ms_{ROWS}"
SQL_NAME = f"{NAME}_vs_sql_scan"


def _stored_rows(rng: random.Random) -> list[int]:
    province = Province.objects.get(code="11")
    manager = user_create(username="bench_replay", password=None, role="account_manager", province=province)
    enterprise = Enterprise.objects.create(
        name="基准测试物联有限公司",
        credential_type="official_letter",
        credential_address="北京市",
        province=province,
        account_manager=manager,
        created_by=manager,
        unit_kind=UnitKind.objects.get(code="party_government"),
    )
    number = "110105198507120011"
    card_user = CardUser.objects.create(
        enterprise=enterprise,
        name="基准",
        id_type="resident_id",
        id_number=number,
        id_number_index=personal_id_index("resident_id", number),
        biometric_consent_at=timezone.now(),
    )
    values = [rng.getrandbits(64) for _ in range(ROWS)]
    batch = []
    for value in values:
        phash = f"{value:016x}"
        batch.append(
            Verification(
                purpose="card_user",
                enterprise=enterprise,
                card_user=card_user,
                status="passed",
                live_photo_phash=phash,
                **phash_bands(phash),
            )
        )
        if len(batch) == 5000:
            Verification.objects.bulk_create(batch)
            batch = []
    Verification.objects.bulk_create(batch)
    return values


def _full_scan(phash: str, limit: int) -> int | None:
    """The check before the bands: every stored hash read and compared (numpy popcount)."""
    target = np.uint64(int(phash, 16))
    rows = Verification.objects.exclude(live_photo_phash="").order_by("pk").values_list("pk", "live_photo_phash")
    pks, values = [], []
    for pk, value in rows.iterator(chunk_size=5000):
        pks.append(pk)
        values.append(int(value, 16))
    xor = np.array(values, dtype=np.uint64) ^ target
    bits = np.unpackbits(xor.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
    hits = np.flatnonzero(bits <= limit)
    return pks[int(hits[0])] if hits.size else None


def _sql_scan(phash: str, limit: int) -> int | None:
    """The check as one plain SQL query: every stored hash compared in the server (PostgreSQL 14+:
    bit_count), the earliest within `limit` bits read as find_replay reads it (the whole row)."""
    table = connection.ops.quote_name(Verification._meta.db_table)
    # lpad: a cast to bit(64) needs all 16 digits, and SQL does not promise that the <> '' test runs first.
    rows = Verification.objects.raw(
        f"SELECT * FROM {table} WHERE live_photo_phash <> '' "
        "AND bit_count(('x' || lpad(live_photo_phash, 16, '0'))::bit(64) # ('x' || %s)::bit(64)) <= %s "
        "ORDER BY id LIMIT 1",
        [phash, limit],
    )
    hit = next(iter(rows), None)
    return hit.pk if hit else None


def _measure() -> dict:
    rng = random.Random(2026)
    stored = _stored_rows(rng)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # what autovacuum does to a table that grew this much
            cursor.execute("ANALYZE verification_verification")
    limit = settings.FACE_REPLAY_MAX_DISTANCE
    queries = []
    for index in range(LOOKUPS):
        if index % 3 == 0:
            value = stored[rng.randrange(len(stored))]
            for bit in rng.sample(range(64), rng.randint(1, limit)):
                value ^= 1 << bit
        else:
            value = rng.getrandbits(64)
        queries.append(f"{value:016x}")

    with_sql = connection.vendor == "postgresql"
    indexed_ms, scan_ms, sql_ms, found = [], [], [], 0
    for phash in queries:
        start = time.perf_counter()
        hit = find_replay(phash)
        indexed_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        expected = _full_scan(phash, limit)
        scan_ms.append((time.perf_counter() - start) * 1000)
        if (hit.pk if hit else None) != expected:
            raise RuntimeError(f"the indexed lookup and the full scan disagree on {phash}")
        if with_sql:
            start = time.perf_counter()
            by_sql = _sql_scan(phash, limit)
            sql_ms.append((time.perf_counter() - start) * 1000)
            if by_sql != expected:
                raise RuntimeError(f"the indexed lookup and the SQL scan disagree on {phash}")
        found += expected is not None
    per_lookup, python_scan = statistics.median(indexed_ms), statistics.median(scan_ms)
    figures = {NAME: bench.entry(per_lookup, "ms", python_scan)}
    if with_sql:
        sql_scan = statistics.median(sql_ms)
        figures[SQL_NAME] = bench.entry(per_lookup, "ms", sql_scan)
        against = f"SQL scan {sql_scan:.1f} ms (ratio {per_lookup / sql_scan:.3f}), "
    else:
        against = "no SQL scan on SQLite (no bit_count), "
    print(
        f"[bench] replay: {ROWS} stored hashes on {connection.vendor}: {per_lookup:.2f} ms per lookup, "
        f"{against}Python full scan {python_scan:.1f} ms ({found} of {LOOKUPS} lookups found a copy)",
        flush=True,
    )
    return figures


def run(results: dict) -> None:
    logging.disable(logging.INFO)
    try:
        with scratch_database():
            results.update(_measure())
    finally:
        logging.disable(logging.NOTSET)
