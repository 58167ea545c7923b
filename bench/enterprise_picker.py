"""The card list against the number of enterprises in a province (issue 12 §1.2), on PostgreSQL.

    BENCH_PG=postgres://postgres@127.0.0.1:5432/wp_autocomplete .venv/bin/python -m bench.enterprise_picker

The database named by BENCH_PG is dropped and created again for the run (never point it at one you keep).
For 77, 1,077 and 5,077 enterprises in one province, an account manager of that province opens the card list
(60 cards, 25 on the page): the median and p95 server time of 30 requests through the Django test client,
the page's size and its query count. With a <select> of every enterprise the page grew with them; with the
autocomplete it stays the same size and does the same queries. Prints one JSON object per size.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

SIZES = (77, 1_077, 5_077)
REQUESTS = 30
CARDS = 60


def _recreate(url: str) -> None:
    # A script: these load only once main() has pointed Django at the benchmark's database and set it up.
    import psycopg2

    name = urlparse(url).path.lstrip("/")
    conn = psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres")
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def main() -> int:
    url = os.environ.get("BENCH_PG", "")
    if not url.startswith("postgres"):
        print("set BENCH_PG=postgres://.../<a throwaway database>", file=sys.stderr)
        return 2
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    _recreate(url)
    # A script: these load only once main() has pointed Django at the benchmark's database and set it up.
    import django

    django.setup()
    # A script: these load only once main() has pointed Django at the benchmark's database and set it up.
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    setup_test_environment()
    call_command("migrate", verbosity=0)
    # A script: these load only once main() has pointed Django at the benchmark's database and set it up.
    from accounts.models import Province
    from accounts.services import user_create
    from cards.models import Card, Package
    from enterprises.models import Enterprise, UnitKind

    province = Province.objects.get_or_create(code="11", defaults={"name": "北京", "name_en": "Beijing"})[0]
    manager = user_create(username="bench_am", password="x-Bench-2026!", role="account_manager", province=province)
    kind = UnitKind.objects.order_by("pk").first()
    package = Package.objects.get_or_create(code="IOT-STD", defaults={"name": "物联网套餐"})[0]
    assert kind is not None, "the migrations seed the unit kinds"

    def add(count: int, start: int) -> None:
        Enterprise.objects.bulk_create(
            [
                Enterprise(
                    name=f"北京物联测试{start + i:05d}有限公司",
                    unit_kind=kind,
                    credential_type="business_licence",
                    credential_address="北京市",
                    province=province,
                    account_manager=manager,
                    created_by=manager,
                )
                for i in range(count)
            ],
            batch_size=1000,
        )

    add(SIZES[0], 0)
    first = Enterprise.objects.order_by("pk").first()
    Card.objects.bulk_create(
        [Card(iccid=f"898600{i:014d}", msisdn=f"14400{i:08d}", enterprise=first, package=package) for i in range(CARDS)]
    )
    client = Client()
    client.force_login(manager)
    have = SIZES[0]
    for size in SIZES:
        if size > have:
            add(size - have, have)
            have = size
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        client.get("/cards/")  # warm
        times = []
        for _ in range(REQUESTS):
            started = time.perf_counter()
            response = client.get("/cards/", HTTP_ACCEPT_LANGUAGE="zh-hans")
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        with CaptureQueriesContext(connection) as queries:
            client.get("/cards/", HTTP_ACCEPT_LANGUAGE="zh-hans")
        times.sort()
        print(
            json.dumps(
                {
                    "enterprises": size,
                    "p50_ms": round(statistics.median(times), 1),
                    "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
                    "kb": round(len(response.content) / 1024, 1),
                    "queries": len(queries),
                    "sql_ms": round(sum(float(q["time"]) for q in queries.captured_queries) * 1000, 1),
                }
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
