"""The replay check's lookup among many stored live-photo hashes.

    python -m bench --only replay        # merged into var/bench.json
    BENCH_REPLAY_ROWS=1000000 python -m bench --only replay

Figure:
- replay_lookup_ms_100k: milliseconds per verification.matching.find_replay
  with 100,000 stored hashes, the median of 60 lookups (a third near-copies of
  a stored hash, flipped in 1-6 bits over several bands; two thirds hashes
  seen nowhere). Baseline: the same lookups as a full scan (read every stored
  hash, compare them all with numpy), how the check worked before the indexed
  bands. Both answer every lookup the same way; the benchmark checks that.

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

    indexed_ms, scan_ms, found = [], [], 0
    for phash in queries:
        start = time.perf_counter()
        hit = find_replay(phash)
        indexed_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        expected = _full_scan(phash, limit)
        scan_ms.append((time.perf_counter() - start) * 1000)
        if (hit.pk if hit else None) != expected:
            raise RuntimeError(f"the indexed lookup and the full scan disagree on {phash}")
        found += expected is not None
    per_lookup, baseline = statistics.median(indexed_ms), statistics.median(scan_ms)
    print(
        f"[bench] replay: {ROWS} stored hashes on {connection.vendor}: {per_lookup:.2f} ms per lookup, "
        f"full scan {baseline:.1f} ms ({found} of {LOOKUPS} lookups found a copy)",
        flush=True,
    )
    return {NAME: bench.entry(per_lookup, "ms", baseline)}


def run(results: dict) -> None:
    logging.disable(logging.INFO)
    try:
        with scratch_database():
            results.update(_measure())
    finally:
        logging.disable(logging.NOTSET)
