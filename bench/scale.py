"""Scale: every page and list API at 1,000 cards and at N cards (PostgreSQL), in the same run (issue 12 §2).

    python -m bench --only scale                    # N = 1,000,000 (BENCH_SCALE_CARDS=10000000 for ten million)
    BENCH_SCALE_CARDS=20000 python -m bench --only scale

Two databases, bench_scale_small (1,000 cards) and bench_scale_large (N cards), on the PostgreSQL server of
DATABASE_URL (else 127.0.0.1:5432). Each is migrated with `migrate`, given the demo world (seed_demo: a user
for every role, enterprises, orders, exemptions, a change request, verified and reviewed card users), then
scaled up with set-based SQL to the same shape at either size:

- about 200 enterprises over four provinces; the demo enterprise 北京智联 holds 20% of the cards;
- card users on 8% of the cards' count, each with two live bindings (16% of the cards bound), and at least
  MEASURED_ENTERPRISE_USERS = 60 of each measured enterprise's (the big one and the small one) at any size (more
  of its pairs bound where its share falls short), their names and ID numbers encrypted and blind-indexed with
  the app's own keys (a pool of distinct people made in Python, one for every two card users, reused by SQL: at
  most four live bindings per ID, U6 holds);
- card events: a "created" event on nine cards in ten, and an activation and a binding event on one in ten
  (1.1 a card), an order per 199 cards (spread over the enterprises), an exemption per 2,000, an import
  per 5,000, a verification per 100 card users (but at least LISTED_AT_LEAST = 300 of each, so that the
  small world's lists fill their pages as the large one's do), a change request on every third enterprise.

A loaded database is kept: its marker table names N and the loader's version, and a run whose marker
matches reuses it, migrated forward through any migration written since (then ANALYZE), as a deploy
migrates a full database; the output says so. The loader ends with VACUUM ANALYZE and a CHECKPOINT.

Then, as each role (account manager, the big and a small enterprise's admins, provincial and group
approvers, ops, a superuser), every page of the URL conf that a GET can show (lists, home, details, forms,
the ops admin and the approvals desk changelists) and every list API: the median and p95 server time of
REQUESTS in-process requests after warm-up, and the query count, at both sizes, alternating request by request
so that a busy machine slows both alike. A page whose query count grows with the data, or that answers anything but
200 at one size and 200 at the other (or 5xx anywhere), fails the benchmark; a page over the time target
(1.3x at 1M, 1.5x at 10M) is reported on a MISS line.

Last, throughput through gunicorn (bench.scale_wsgi: the portal plus a bare view, 2 workers x 2 threads) with
4 concurrent clients: the card list and the card API against the bare view; and a profile of the card list.
Then, on the large database, the query plans docs/scaling.md quotes (bench.scale_plans) and the card events'
monthly partitions against a plain copy of them (bench.scale_partitions).
"""

from __future__ import annotations

import contextlib
import cProfile
import hashlib
import io
import math
import os
import pstats
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import environ
import psycopg2

import bench

BASE_DIR = Path(__file__).resolve().parent.parent
LARGE = int(os.environ.get("BENCH_SCALE_CARDS", "1000000"))
SMALL = int(os.environ.get("BENCH_SCALE_SMALL_CARDS", "1000"))
REQUESTS = int(os.environ.get("BENCH_SCALE_REQUESTS", "30"))
WARMUP = 3
SMALL_DB = os.environ.get("BENCH_SCALE_SMALL_DB", "bench_scale_small")
LARGE_DB = os.environ.get("BENCH_SCALE_LARGE_DB", "bench_scale_large")
# Bumped whenever the loader's shape changes: a database loaded by another version is loaded again.
LOADER_VERSION = 12
CARD_PREFIX = "898600"  # the loader's cards; the demo world's are 898611...
BIG_PROVINCES = ("11", "44", "32", "33")  # Beijing, Guangdong, Jiangsu, Zhejiang
ENTERPRISES = 200
# Server time is noisy below a millisecond: a page's ratio counts only past this much added time.
NOISE_MS = 1.0


def time_target(cards: int) -> float:
    return 1.5 if cards >= 5_000_000 else 1.3


# --- databases ---------------------------------------------------------------------------


def _server_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://", "pgsql://")):
        return url
    return "postgres://postgres@127.0.0.1:5432/postgres"


def _database_config(name: str) -> dict:
    config = environ.Env.db_url_config(_server_url())
    config["NAME"] = name
    config["ATOMIC_REQUESTS"] = False
    return config


def _admin_connection():
    config = environ.Env.db_url_config(_server_url())
    conn = psycopg2.connect(
        dbname="postgres",
        host=config.get("HOST") or "127.0.0.1",
        port=config.get("PORT") or 5432,
        user=config.get("USER") or "postgres",
        password=config.get("PASSWORD") or None,
        connect_timeout=3,
    )
    conn.autocommit = True
    return conn


def _alias(name: str) -> str:
    """A connection alias of its own for the database `name` (added to Django's connections)."""
    # Imported when the benchmark runs, after bench/__main__ has set Django up and swapped the databases in.
    from django.db import connections

    alias = f"bench_{name}"
    if alias not in connections.settings:
        configured = connections.configure_settings({"default": _database_config(name)})
        connections.settings[alias] = configured["default"]
    return alias


@contextlib.contextmanager
def using(alias: str):
    """Django's default connection is `alias` inside the block: the views, services and
    CaptureQueriesContext all read and write that database."""
    # Imported when the benchmark runs, after bench/__main__ has set Django up and swapped the databases in.
    from django.db import connections

    saved = connections["default"]
    connections["default"] = connections[alias]
    try:
        yield
    finally:
        connections["default"] = saved


def _marker(cards: int) -> str:
    # The migrations are not in it: a loaded database is migrated forward on reuse (prepare), as a
    # production database is, instead of loaded again (13 minutes at 1M cards).
    state = "\n".join([f"cards={cards}", f"loader={LOADER_VERSION}"])
    return hashlib.sha256(state.encode()).hexdigest()


def _loaded_marker(alias: str) -> str | None:
    # Imported when the benchmark runs, after bench/__main__ has set Django up and swapped the databases in.
    from django.db import connections

    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_scale_marker')")
        if cursor.fetchone()[0] is None:
            return None
        cursor.execute("SELECT marker FROM bench_scale_marker")
        row = cursor.fetchone()
    return row[0] if row else None


def prepare(name: str, cards: int, *, log=print) -> str:
    """The alias of database `name` holding the scale world of `cards` cards: reused when its marker
    matches, else created again, migrated, seeded and loaded."""
    # Imported when the benchmark runs, after bench/__main__ has set Django up and swapped the databases in.
    from django.db import connections

    alias = _alias(name)
    marker = _marker(cards)
    admin = _admin_connection()
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            exists = cursor.fetchone() is not None
        if exists and _loaded_marker(alias) == marker:
            migrated = _migrate_forward(alias)
            log(
                f"[bench] scale: {name} already holds {cards:,} cards: reused, not loaded again"
                + (f"; migrated forward through {', '.join(migrated)}, then ANALYZE" if migrated else "")
            )
            return alias
        connections[alias].close()
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        admin.close()
    started = time.monotonic()
    load(alias, cards, log=log)
    with connections[alias].cursor() as cursor:
        cursor.execute("CREATE TABLE bench_scale_marker (marker text NOT NULL)")
        cursor.execute("INSERT INTO bench_scale_marker VALUES (%s)", [marker])
    log(f"[bench] scale: {name} loaded with {cards:,} cards in {time.monotonic() - started:.0f} s")
    return alias


def _migrate_forward(alias: str) -> list[str]:
    """Apply the migrations written since the database was loaded (as a deploy applies them to a full
    database) and ANALYZE what they changed; the leaves newly reached, none when it was up to date."""
    # Imported when the benchmark runs, after bench/__main__ has set Django up and swapped the databases in.
    from django.core.management import call_command
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    # As the loader migrates: with the alias as the default connection, so that the project's own
    # post-migrate handlers (roles, permissions) write there too, not to the scratch database.
    with using(alias):
        recorder = MigrationRecorder(connections["default"])
        before = set(recorder.applied_migrations())
        call_command("migrate", interactive=False, verbosity=0)
        new = sorted(f"{app}.{name}" for app, name in set(recorder.applied_migrations()) - before)
        if new:
            with connections["default"].cursor() as cursor:
                cursor.execute("ANALYZE")
    return new


# --- the loader ----------------------------------------------------------------------------


def _columns(cursor, table: str) -> list[str]:
    cursor.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND column_name <> 'id' "
        "ORDER BY ordinal_position",
        [table],
    )
    return [row[0] for row in cursor.fetchall()]


def _clone(cursor, table: str, template: int, overrides: dict[str, str], source: str, params=None) -> int:
    """INSERT INTO table: one copy of row `template` per row of `source` (a FROM ... [WHERE ...] clause
    whose rows are aliased as s), each column as the template's unless overridden by an SQL expression."""
    columns = _columns(cursor, table)
    unknown = set(overrides) - set(columns)
    assert not unknown, f"{table} has no column {unknown}"
    values = ", ".join(overrides.get(column, f"t.{column}") for column in columns)
    cursor.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {values} FROM {table} t, {source} AND t.id = {template}",
        params or {},
    )
    return cursor.rowcount


@contextlib.contextmanager
def _bulk(cursor, *tables: str):
    """Load like a bulk load: the tables' secondary indexes dropped, the rows written, the very same
    indexes (pg_indexes' definitions) built again; foreign-key triggers skipped (the ids are our own)."""
    indexes = []
    for table in tables:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
            [table, table],
        )
        indexes += cursor.fetchall()
    for name, _definition in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    cursor.execute("SET session_replication_role = replica")
    try:
        yield
    finally:
        cursor.execute("SET session_replication_role = DEFAULT")
        for _name, definition in indexes:
            # A partitioned table's index reads "ON ONLY table" (its partitions' are attached one by one): made
            # again on the whole table, it reaches every partition (the card events are partitioned by month).
            cursor.execute(definition.replace(" ON ONLY ", " ON ", 1))


# Family names and given names: the people's names (one ID number, one name: issue 11 §1.3).
_FAMILY = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红建国志强文斌海燕"


def _people(count: int) -> list[tuple[int, str, str, str]]:
    """(k, name, encrypted ID number, blind index) of `count` distinct valid resident IDs."""
    # Imported when the benchmark runs, after bench/__main__ has set Django up and swapped the databases in.
    from accounts.pii import encrypt, personal_id_index

    rng = random.Random(12)
    people = []
    for k in range(count):
        # A thousand people a birth date, the dates in turn: distinct up to 50*12*28*1000 people. (Year, month
        # and day each taken from k modulo its own period repeated them all every lcm(50, 12, 28, 1000) = 21,000
        # people: at 1M cards 40,000 people held 3,361 ID numbers, up to 50 live bindings on one.)
        day = k // 1000
        birth = f"{1950 + day // 336 % 50}{1 + day // 28 % 12:02d}{1 + day % 28:02d}"
        body = f"110105{birth}{k % 1000:03d}"
        check = (12 - sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(body)) % 11) % 11  # GB 11643
        number = body + ("X" if check == 10 else str(check))
        name = rng.choice(_FAMILY) + "".join(rng.choice(_GIVEN) for _ in range(1 + k % 2))
        people.append((k, name, encrypt(number), personal_id_index("resident_id", number)))
    return people


# Orders, exemptions, imports and verifications come one per so many cards (or card users), but never fewer
# than this at any size: enough for the big enterprise's fifth of them to fill a page of the API (50), of the
# admin's changelists (100 rows) and of the portal's lists (25), so that the 1,000-card world's pages are as
# full as the large one's, and a ratio measures the data's growth, not a part-filled page against a full one.
LISTED_AT_LEAST = 300
# The cards moved to the measured small enterprise at any size (whole pairs, besides its own share), and the card
# users of each measured enterprise, big and small (pairs of its cards bound where the 16% of them bound make
# fewer): enough to fill a page of its card-user list and API (50 rows + 1) at 1,000 cards too, and to leave the
# small one's filing page (50 candidates) full beside them.
SMALL_ENTERPRISE_CARDS = 240
MEASURED_ENTERPRISE_USERS = 60
assert SMALL_ENTERPRISE_CARDS >= 2 * MEASURED_ENTERPRISE_USERS


def _every(per: int, count: int) -> int:
    """One row per `per` of `count`, or more often where that would make fewer than LISTED_AT_LEAST."""
    return max(1, min(per, count // LISTED_AT_LEAST))


def load(alias: str, cards: int, *, log=print) -> None:
    # Imported when the benchmark runs, after bench/__main__ has set Django up and swapped the databases in.
    from django.core.management import call_command
    from django.db import connections

    # Imported when the benchmark runs, after bench/__main__ has set Django up and swapped the databases in.
    from accounts.models import Province, User
    from accounts.roles import Role
    from accounts.services import user_create
    from cards.inventory.partitions import ensure_event_partitions
    from cards.inventory.tallies import realname_state_expression, tallies_recount
    from cards.models import Card, CardUser, Order, Package
    from enterprises.models import ChangeRequest, Enterprise, ResponsiblePerson
    from verification.models import Verification
    from verification.tallies import verification_tallies_recount

    stage = time.monotonic()

    def step(what: str) -> None:
        nonlocal stage
        log(f"[bench] scale:   {what} ({time.monotonic() - stage:.1f} s)")
        stage = time.monotonic()

    with using(alias):
        call_command("migrate", verbosity=0, interactive=False)
        step("migrated")
        call_command("seed_demo", stdout=io.StringIO())
        step("demo world seeded")
        provinces = {p.code: p for p in Province.objects.filter(code__in=BIG_PROVINCES)}
        managers = {
            "11": User.objects.get(username="manager_bj"),
            "44": User.objects.get(username="manager_gd"),
        }
        for code, username in (("32", "manager_js"), ("33", "manager_zj")):
            managers[code] = User.objects.filter(username=username).first() or user_create(
                username=username,
                password=None,
                role=Role.ACCOUNT_MANAGER,
                province=provinces[code],
                full_name=f"Bench manager {code}",
                email=f"{username}@demo.example",
            )
        big = Enterprise.objects.get(admins__username="admin_bj")
        small = Enterprise.objects.get(admins__username=ROLES["admin_small"])
        template_person = ResponsiblePerson.objects.get(enterprise=big)
        template_user = CardUser.objects.filter(enterprise=big).order_by("pk").first()
        template_order = Order.objects.filter(enterprise=big).order_by("pk").first()
        verification_passed = Verification.objects.filter(card_user__isnull=False, status="passed").first()
        verification_review = Verification.objects.filter(card_user__isnull=False, status="in_review").first()
        template_change = ChangeRequest.objects.filter(enterprise=big).first()
        # Imported when the benchmark runs, after bench/__main__ has set Django up and swapped the databases in.
        from approvals.models import ExemptionRequest

        template_exemption = ExemptionRequest.objects.filter(enterprise=big).order_by("pk").first()
        assert template_user and template_order and verification_passed and verification_review
        assert template_change and template_exemption
        packages = {p.code: p.pk for p in Package.objects.all()}

    connection = connections[alias]
    with connection.cursor() as cursor:
        code_of = {"11": 0, "44": 1, "32": 2, "33": 3}
        new_enterprises = ENTERPRISES - Enterprise.objects.using(alias).count()
        _clone(
            cursor,
            "enterprises_enterprise",
            big.pk,
            {
                "public_id": "md5('bench-enterprise-' || s.j)::uuid",
                "name": "'基准测试物联网企业' || lpad(s.j::text, 4, '0') || '有限公司'",
                "name_index": "''",
                "credential_number_index": "md5('bench-credential-' || s.j)",
                "province_id": "(ARRAY[%(p0)s, %(p1)s, %(p2)s, %(p3)s])[s.j %% 4 + 1]",
                "account_manager_id": "(ARRAY[%(m0)s, %(m1)s, %(m2)s, %(m3)s])[s.j %% 4 + 1]",
                "created_at": "now() - s.j * interval '1 day'",
                "updated_at": "now() - s.j * interval '1 day'",
            },
            "generate_series(1, %(count)s) AS s(j) WHERE true",
            {
                "count": new_enterprises,
                **{f"p{code_of[c]}": provinces[c].pk for c in BIG_PROVINCES},
                **{f"m{code_of[c]}": managers[c].pk for c in BIG_PROVINCES},
            },
        )
        _clone(
            cursor,
            "enterprises_responsibleperson",
            template_person.pk,
            {"enterprise_id": "s.id"},
            "enterprises_enterprise s WHERE s.name LIKE '基准测试%%'",
        )
        # Every enterprise but the big one, numbered 0..: the cards not the big one's go round them.
        cursor.execute(
            "CREATE TEMP TABLE bench_others AS SELECT (row_number() OVER (ORDER BY id) - 1)::int AS n, id, "
            "province_id, sandbox_of_id IS NOT NULL AS in_sandbox FROM enterprises_enterprise WHERE id <> %s",
            [big.pk],
        )
        cursor.execute("SELECT count(*) FROM bench_others")
        others = cursor.fetchone()[0]
        step(f"{ENTERPRISES} enterprises")

        with _bulk(cursor, "cards_card"):
            # Cards 2p and 2p+1 share an enterprise (a card user binds both); every 5th pair is the big one's.
            cursor.execute(
                f"""
                INSERT INTO cards_card (iccid, msisdn, imsi, enterprise_id, province_id, in_sandbox, package_id,
                    data_service, voice_service, sms_service, status, realname_required, realname_rules,
                    exemption_needed, has_been_commercial, created_at, updated_at)
                SELECT '{CARD_PREFIX}' || lpad(i::text, 13, '0'), '1' || lpad(i::text, 12, '0'), '',
                       CASE WHEN (i / 2) %% 5 = 0 THEN %(big)s ELSE o.id END,
                       CASE WHEN (i / 2) %% 5 = 0 THEN %(big_province)s ELSE o.province_id END,
                       (i / 2) %% 5 <> 0 AND o.in_sandbox,
                       CASE WHEN i %% 7 = 0 THEN %(test)s WHEN i %% 3 = 0 THEN %(data)s ELSE %(std)s END,
                       CASE WHEN i %% 3 = 0 THEN 'non_directed' ELSE 'directed' END, 'none', 'none',
                       CASE WHEN (i / 2) %% 25 < 4 THEN 'active' ELSE
                            (ARRAY['in_stock', 'awaiting_realname', 'active', 'suspended', 'cancelled'])[i %% 5 + 1]
                       END,
                       i %% 3 = 0 AND i %% 7 <> 0,
                       CASE WHEN i %% 7 = 0 THEN 'U4' WHEN i %% 3 = 0 THEN 'U1' ELSE 'U0' END,
                       CASE WHEN i %% 3 = 0 AND i %% 7 <> 0 THEN 'province' ELSE '' END,
                       i %% 7 <> 0,
                       now() - (i %% 1000) * interval '1 hour', now() - (i %% 1000) * interval '1 hour'
                FROM generate_series(1, %(total)s) AS i
                JOIN bench_others o ON o.n = (i / 2) %% %(others)s
                """,
                {
                    "big": big.pk,
                    "big_province": big.province_id,
                    "test": packages["IOT-TEST"],
                    "data": packages["IOT-DATA"],
                    "std": packages["IOT-STD"],
                    "total": cards,
                    "others": others,
                },
            )
        step(f"{cards:,} cards")
        # The small enterprise whose admin is measured is given SMALL_ENTERPRISE_CARDS more cards at any size, so
        # that its lists' pages are full at 1,000 cards too: whole unbound pairs of the others' first 1,000 cards
        # (the others keep their card users, which fill the provincial approver's lists at 1,000 cards), those
        # with a card an exemption can be filed for first (its filing page lists 50: at 1,000 cards it had 4).
        # The same cards at every size, not "as many as it lacks": the lists bounded by an ICCID prefix (VARIANTS)
        # then show it the same rows at 1,000 cards and at 1M.
        pairs = "(substr(iccid, 7)::bigint / 2)"
        candidate = "realname_required AND status IN ('in_stock', 'awaiting_realname', 'suspended')"
        cursor.execute(
            f"""
            UPDATE cards_card c SET enterprise_id = %(small)s, province_id = %(province)s, in_sandbox = false
            FROM (
                SELECT {pairs} AS pair FROM cards_card
                WHERE iccid LIKE %(prefix)s AND substr(iccid, 7)::bigint < 1000 AND {pairs} %% 25 >= 4
                  AND enterprise_id NOT IN (%(big)s, %(small)s) AND NOT in_sandbox
                GROUP BY 1 HAVING count(*) = 2 ORDER BY bool_or({candidate}) DESC, 1 LIMIT %(wanted)s
            ) moved
            WHERE c.iccid LIKE %(prefix)s AND substr(c.iccid, 7)::bigint / 2 = moved.pair
            """,
            {
                "small": small.pk,
                "province": small.province_id,
                "big": big.pk,
                "prefix": f"{CARD_PREFIX}%",
                "wanted": SMALL_ENTERPRISE_CARDS // 2,
            },
        )

        # The bound pairs, numbered: every pair of 25 whose number leaves 0-3 (16% of the cards), and as many more
        # of each measured enterprise's (the big one and the small one) as make MEASURED_ENTERPRISE_USERS card
        # users there: at 1,000 cards their 16% are 20 and 9, and their card-user pages (the API's 50 rows) were
        # part-filled at 1,000 cards and full at 1M. Pairs without a filing candidate are bound first, so that the
        # filing page keeps its candidates. Pair 0 is card 1 alone.
        cursor.execute("CREATE TEMP TABLE bench_bound (pair bigint PRIMARY KEY, n int NOT NULL)")
        cursor.execute(
            f"""
            WITH measured_pairs AS (
                SELECT enterprise_id, {pairs} AS pair, bool_or({candidate}) AS candidate FROM cards_card
                WHERE enterprise_id IN (%(small)s, %(big)s) AND iccid LIKE %(prefix)s
                GROUP BY 1, 2 HAVING count(*) = 2
            ), lacking AS (
                SELECT enterprise_id, greatest(0, %(users)s - count(*) FILTER (WHERE pair %% 25 < 4)) AS wanted
                FROM measured_pairs GROUP BY 1
            ), topped_up AS (
                SELECT pair FROM (
                    SELECT m.pair, l.wanted,
                           row_number() OVER (PARTITION BY m.enterprise_id ORDER BY m.candidate, m.pair) AS rank
                    FROM measured_pairs m JOIN lacking l USING (enterprise_id) WHERE m.pair %% 25 >= 4
                ) ranked WHERE rank <= wanted
            )
            INSERT INTO bench_bound (pair, n)
            SELECT pair, row_number() OVER (ORDER BY pair) - 1 FROM (
                SELECT pair FROM generate_series(1, %(total)s / 2) AS pair WHERE pair %% 25 < 4
                UNION ALL SELECT pair FROM topped_up
            ) bound
            """,
            {
                "small": small.pk,
                "big": big.pk,
                "prefix": f"{CARD_PREFIX}%",
                "users": MEASURED_ENTERPRISE_USERS,
                "total": cards,
            },
        )
        # A bound card is active, as the 16% are from the start.
        cursor.execute(
            f"UPDATE cards_card SET status = 'active' WHERE enterprise_id IN (%(small)s, %(big)s) "
            f"AND iccid LIKE %(prefix)s AND status <> 'active' AND {pairs} IN (SELECT pair FROM bench_bound)",
            {"small": small.pk, "big": big.pk, "prefix": f"{CARD_PREFIX}%"},
        )
        cursor.execute("SELECT count(*) FROM bench_bound")
        users = cursor.fetchone()[0]
        # One person for every two card users, the n-th bound pair's the (n mod people)-th: two pairs, four live
        # bindings at most on one ID number (U6 allows five).
        people = _people(max(1, math.ceil(users / 2)))
        cursor.execute("CREATE TEMP TABLE bench_people (k int PRIMARY KEY, name text, enc text, idx text)")
        cursor.executemany("INSERT INTO bench_people VALUES (%s, %s, %s, %s)", people)
        step(f"{len(people):,} people encrypted")
        # One card user in 1,000 waits for a reviewer (at least LISTED_AT_LEAST of them where there are enough).
        reviewed = _every(1000, users)

        # The card users: one per bound pair, its public id derived from the pair (the same in both databases).
        pairs = "(substr(s.iccid, 7)::bigint / 2)"
        _clone(
            cursor,
            "cards_carduser",
            template_user.pk,
            {
                "public_id": f"md5('bench-card-user-' || {pairs})::uuid",
                "name": "p.name",
                "id_number": "p.enc",
                "id_number_index": "p.idx",
                "enterprise_id": "s.enterprise_id",
                "registration_status": (
                    f"CASE WHEN {pairs} %% {reviewed} = {1 % reviewed} THEN 'in_review' ELSE 'registered' END"
                ),
                "created_at": "s.created_at",
                "biometric_consent_at": "s.created_at",
            },
            f"cards_card s JOIN bench_bound b ON b.pair = {pairs} JOIN bench_people p ON p.k = b.n %% %(people)s "
            f"WHERE s.iccid LIKE '{CARD_PREFIX}%%' AND substr(s.iccid, 7)::bigint %% 2 = 0",
            {"people": len(people)},
        )
        cursor.execute(
            f"""
            INSERT INTO cards_cardbinding (card_id, card_user_id, id_number_index, bound_at, ended_at, end_reason)
            SELECT s.id, u.id, u.id_number_index, s.created_at, NULL, ''
            FROM cards_card s JOIN bench_bound b ON b.pair = {pairs}
            JOIN cards_carduser u ON u.public_id = md5('bench-card-user-' || {pairs})::uuid
            WHERE s.iccid LIKE '{CARD_PREFIX}%%'
            """,
            {},
        )
        cursor.execute(
            "INSERT INTO cards_identityslotlock (id_number_index) SELECT idx FROM bench_people ON CONFLICT DO NOTHING"
        )
        step("card users and bindings")

        # The events go back as far as the cards (1,000 hours): their months' partitions first, or they would all
        # pile into the DEFAULT partition (a no-op where the events are a plain table).
        ensure_event_partitions(since=datetime.now(UTC) - timedelta(hours=1000), using=alias)
        with _bulk(cursor, "cards_cardevent"):
            cursor.execute(
                f"""
                INSERT INTO cards_cardevent (at, action, from_status, to_status, data, actor_id, card_id, order_id)
                SELECT s.created_at + e.n * interval '1 minute',
                       (ARRAY['created', 'activated', 'user_bound'])[e.n + 1],
                       (ARRAY['', 'in_stock', ''])[e.n + 1], (ARRAY['in_stock', 'active', ''])[e.n + 1],
                       '{{}}'::jsonb, %(actor)s, s.id, NULL
                FROM cards_card s CROSS JOIN generate_series(0, 2) AS e(n)
                WHERE s.iccid LIKE '{CARD_PREFIX}%%'
                  AND (e.n = 0 AND substr(s.iccid, 7)::bigint %% 10 <> 0
                       OR e.n > 0 AND substr(s.iccid, 7)::bigint %% 10 = 1)
                """,
                {"actor": managers["11"].pk},
            )
        step("card events")

        # One handler per enterprise (each clones the template's person), an order per 200 cards.
        cursor.execute(
            "INSERT INTO cards_handler (name, id_type, id_number, id_number_index, id_address, created_at, "
            "updated_at, enterprise_id) SELECT h.name, h.id_type, h.id_number, h.id_number_index, h.id_address, "
            "now(), now(), e.id FROM cards_handler h, enterprises_enterprise e WHERE h.id = %s "
            "AND NOT EXISTS (SELECT 1 FROM cards_handler x WHERE x.enterprise_id = e.id "
            "AND x.id_number_index = h.id_number_index)",
            [template_order.handler_id],
        )
        # Every 199th card, not 200th: i % 200 = 1 fixes (i / 2) % 5, so every order was the big enterprise's
        # (a pair whose (i / 2) % 5 = 0 is its) and the others had none at 1M.
        every = _every(199, cards)
        ordered = f"s.iccid LIKE '{CARD_PREFIX}%%' AND substr(s.iccid, 7)::bigint %% {every} = {1 % every}"
        _clone(
            cursor,
            "cards_order",
            template_order.pk,
            {
                "public_id": "md5('bench-order-' || s.iccid)::uuid",
                "number": "'B' || substr(s.iccid, 7)",
                "status": "CASE WHEN substr(s.iccid, 7)::bigint %% 1000 = 1 THEN 'awaiting_verification' "
                "ELSE 'completed' END",
                "enterprise_id": "s.enterprise_id",
                "handler_id": "h.id",
                "created_at": "s.created_at",
                "completed_at": "s.created_at",
            },
            "cards_card s JOIN cards_handler h ON h.enterprise_id = s.enterprise_id AND h.id_number_index = "
            f"(SELECT id_number_index FROM cards_handler WHERE id = {template_order.handler_id}) WHERE {ordered}",
        )
        cursor.execute(
            "INSERT INTO cards_ordercard (previous_iccid, new_iccid, card_id, order_id, outcome, outcome_detail) "
            "SELECT '', '', s.id, o.id, 'activated', '{}'::jsonb FROM cards_card s "
            f"JOIN cards_order o ON o.public_id = md5('bench-order-' || s.iccid)::uuid WHERE {ordered}",
            {},
        )
        step("orders")

        # The remainder is taken modulo too: where the floor makes the period short, "= 3" would match nothing.
        every = _every(2000, cards)
        exempted = f"s.iccid LIKE '{CARD_PREFIX}%%' AND substr(s.iccid, 7)::bigint %% {every} = {3 % every}"
        _clone(
            cursor,
            "approvals_exemptionrequest",
            template_exemption.pk,
            {
                "public_id": "md5('bench-exemption-' || s.iccid)::uuid",
                "enterprise_id": "s.enterprise_id",
                "created_at": "s.created_at",
                "submitted_at": "s.created_at",
            },
            f"cards_card s WHERE {exempted}",
        )
        cursor.execute(
            "INSERT INTO approvals_exemptionrequest_cards (exemptionrequest_id, card_id) SELECT x.id, s.id "
            "FROM cards_card s JOIN approvals_exemptionrequest x "
            f"ON x.public_id = md5('bench-exemption-' || s.iccid)::uuid WHERE {exempted}",
            {},
        )
        _clone(
            cursor,
            "enterprises_changerequest",
            template_change.pk,
            {"public_id": "md5('bench-change-' || s.id)::uuid", "enterprise_id": "s.id"},
            "enterprises_enterprise s WHERE s.name LIKE '基准测试%%' AND s.id %% 3 = 0",
        )
        # Imports: the rows of the import pages (their files are never read by a list or a detail page). One in
        # five is the big enterprise's and one in five the measured small one's, so that their lists have rows at
        # 1,000 cards too (an empty list makes fewer queries).
        cursor.execute(
            """
            INSERT INTO cards_cardimport (public_id, enterprise_id, file, file_format, status, total_rows,
                processed_rows, imported_rows, error_count, errors, failure_message, created_by_id, actor_data,
                created_at, finished_at, task_id)
            SELECT md5('bench-import-' || j)::uuid,
                   CASE WHEN j %% 5 = 1 THEN %(big)s WHEN j %% 5 = 2 THEN %(small)s ELSE o.id END,
                   'card-imports/bench.csv', 'csv', 'succeeded', 5000, 5000, 5000, 0, '[]'::jsonb, '', %(actor)s,
                   '{}'::jsonb, now() - j * interval '1 hour', now() - j * interval '1 hour', ''
            FROM generate_series(1, %(count)s) AS j JOIN bench_others o ON o.n = j %% %(others)s
            """,
            {
                "big": big.pk,
                "small": small.pk,
                "actor": managers["11"].pk,
                "count": max(LISTED_AT_LEAST, cards // 5000),
                "others": others,
            },
        )
        verified = f"s.id %% {_every(100, users)} = 0"
        for template, condition in (
            (verification_passed.pk, f"{verified} AND s.registration_status = 'registered'"),
            (verification_review.pk, "s.registration_status = 'in_review'"),
        ):
            _clone(
                cursor,
                "verification_verification",
                template,
                {
                    "public_id": f"md5('bench-verification-{template}-' || s.id)::uuid",
                    "card_user_id": "s.id",
                    "enterprise_id": "s.enterprise_id",
                    "created_at": "s.created_at",
                },
                f"cards_carduser s WHERE s.id > {template_user.pk + 1} AND {condition}",
            )
        step("exemptions, change requests, imports, verifications")
    # The cards' stored real-name state and the counters the home page and the dashboards read (cards', face
    # comparisons'), as the services would have kept them (the SQL above wrote none): one UPDATE, then the daily
    # recounts. Only the cards that need a real-name are written: the others' state is the column's default
    # (NOT_REQUIRED, what the expression gives them), and rewriting every card took 684 s of the 10M load's 1,107.
    with using(alias):
        Card.objects.filter(realname_required=True).update(realname_state=realname_state_expression())
        step("real-name states")
        tallies_recount()
        verification_tallies_recount()
    step("counters")
    with connection.cursor() as cursor:
        # VACUUM too: the visibility map of a fresh load is empty, which no long-lived table has.
        cursor.execute("VACUUM ANALYZE")
        # And the load's dirty buffers written now, not by the checkpointer during the first measurements.
        cursor.execute("CHECKPOINT")
        step("VACUUM ANALYZE, CHECKPOINT")


# --- what is measured --------------------------------------------------------------------------

# The roles, by the demo world's usernames; the small enterprise's admin sees one of the many small ones.
ROLES = {
    "manager": "manager_bj",
    "admin_big": "admin_bj",
    "admin_small": "admin_gd",
    "prov_approver": "approver_bj",
    "group_approver": "approver_group",
    "ops": "ops",
    "superuser": "superuser",
}
# Routes a GET must not take (it acts: logout, language, a wizard's cancel), that are no page of the data
# (files, the anonymous login, the API docs and schema), or that answer only POST.
SKIPPED_ROUTES = {
    "login",
    "logout",
    "notices_read",
    "set_language",
    "password_change",
    "orders:new_cancel",
    "card_imports:template_csv",
    "card_imports:template_xlsx",
    "api:card-import-template-csv",
    "api:card-import-template-xlsx",
    "api:api-token",
    "api:api-logout",
    "api:rules-evaluate",
    "api-schema",
    "api-docs",
    "api-redoc",
    "api-redoc-bundle",
}
# Filtered and later pages of the card lists (what tests/cards/test_card_scale.py timed, issue 12 §2). The ICCID
# prefixes match the same cards at either size (the loader's cards 100-199, and 1-999), so that a list's rows, and
# so its queries, are alike at both and only the table's size differs. A selective filter or a jump needs one too:
# unbounded, IOT-TEST filled 20 or 30 of the API's 50 rows at 1,000 cards and all 50 at 1M, and the active cards
# after a jump to card 500 filled 7 or 15 of 25, so those ratios measured the rows shown, not the data's size.
VARIANTS = {
    "cards:list": [
        "status=active",
        "status=active&q=8986000000000000&jump=89860000000000500",
        "q=89860000000000001",
        "q=8986000000000000&jump=89860000000000005",
    ],
    "api:card-list": [
        "status=active",
        "iccid__startswith=89860000000000001",
        "status=active&iccid__startswith=8986000000000000",
        "package=IOT-TEST&iccid__startswith=8986000000000000",
        "realname_required=true",
        "next",  # the page after the first, by its cursor
    ],
}


def _routes() -> list[tuple[str, str, list[str]]]:
    """(name, route, parameter names) of every route of the URL conf, admin sites excepted."""
    # Imported when the benchmark runs, after bench/__main__ has set Django up and swapped the databases in.
    from django.urls import URLResolver, get_resolver

    def walk(patterns, prefix, namespace):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = ":".join(part for part in (namespace, pattern.namespace) if part)
                if inner in ("admin", "approvals_admin") or str(pattern.pattern).endswith("admin/"):
                    continue
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
            elif pattern.name:
                name = f"{namespace}:{pattern.name}" if namespace else pattern.name
                yield name, prefix + str(pattern.pattern), list(pattern.pattern.converters)

    return list(walk(get_resolver().url_patterns, "", ""))


@dataclass
class World:
    """The objects a role's detail pages show, found the same way in either database."""

    enterprise: Any
    card: Any
    card_user: Any
    order: Any
    exemption: Any
    verification: Any
    change_request: Any
    card_import: Any


def _world(user) -> World:
    # Imported when the benchmark runs, after bench/__main__ has set Django up and swapped the databases in.
    from approvals.models import ExemptionRequest
    from cards.models import Card, CardImport, CardUser, Order
    from enterprises.models import ChangeRequest, Enterprise
    from verification.models import Verification

    enterprise = user.enterprise or Enterprise.objects.get(admins__username=ROLES["admin_big"])
    cards = Card.objects.filter(enterprise=enterprise, iccid__startswith=CARD_PREFIX).order_by("iccid")
    # A bound card where the enterprise has one (a small enterprise at 1,000 cards may have none).
    card = cards.filter(bindings__ended_at__isnull=True).first() or cards.first()
    card_user = (
        CardUser.objects.filter(bindings__card=card).first()
        or CardUser.objects.filter(enterprise=enterprise).order_by("pk").first()
    )
    mine = {"enterprise": enterprise}
    return World(
        enterprise=enterprise,
        card=card,
        card_user=card_user,
        order=Order.objects.filter(number__startswith="B", **mine).order_by("number").first(),
        # The demo world's own where the enterprise has one (the same object at both sizes), else the first.
        exemption=ExemptionRequest.objects.filter(**mine).order_by("pk").first(),
        verification=Verification.objects.filter(card_user__isnull=False, status="in_review", **mine)
        .order_by("pk")
        .first(),
        change_request=ChangeRequest.objects.filter(**mine).order_by("pk").first(),
        card_import=CardImport.objects.filter(**mine).order_by("pk").first(),
    )


def _detail_kwargs(world: World) -> dict[str, dict | None]:
    """The parameters of each measured route that takes some (None: the role has no such object)."""

    def public_id(obj):
        return None if obj is None else {"public_id": obj.public_id}

    card = None if world.card is None else {"iccid": world.card.iccid}
    return {
        "enterprises:detail": public_id(world.enterprise),
        "self_service:list": public_id(world.enterprise),
        "webhooks:list": public_id(world.enterprise),
        "platform_keys:list": public_id(world.enterprise),
        "api:enterprise-detail": public_id(world.enterprise),
        "api:enterprise-documents": public_id(world.enterprise),
        "api:enterprise-change-requests": public_id(world.enterprise),
        "cards:detail": card,
        "api:card-detail": card,
        "api:card-realname-requirement": card,
        "cards:card_user_detail": public_id(world.card_user),
        "cards:card_user_person": public_id(world.card_user),
        "api:card-user-detail": public_id(world.card_user),
        "orders:detail": public_id(world.order),
        "api:order-detail": public_id(world.order),
        "approvals:exemption_detail": public_id(world.exemption),
        "api:exemption-detail": public_id(world.exemption),
        "approvals:review_detail": public_id(world.verification),
        "api:review-detail": public_id(world.verification),
        "api:verification-detail": public_id(world.verification),
        "approvals:change_request_detail": public_id(world.change_request),
        "card_imports:detail": public_id(world.card_import),
        "api:card-import-detail": public_id(world.card_import),
    }


def _admin_pages(world: World) -> dict[str, str]:
    """The ops admin's and the approvals desk's index and changelists, and the change pages of the big models."""
    # Imported when the benchmark runs, after bench/__main__ has set Django up and swapped the databases in.
    from django.contrib import admin
    from django.urls import reverse

    # Imported when the benchmark runs, after bench/__main__ has set Django up and swapped the databases in.
    from approvals.admin import approvals_site

    pages = {}
    for site in (admin.site, approvals_site):
        pages[f"{site.name}:index"] = reverse(f"{site.name}:index")
        for model in site._registry:
            opts = model._meta
            pages[f"{site.name}:{opts.model_name}"] = reverse(
                f"{site.name}:{opts.app_label}_{opts.model_name}_changelist"
            )
    for label, obj in (("card", world.card), ("carduser", world.card_user), ("order", world.order)):
        if obj is not None:
            opts = obj._meta
            pages[f"admin:{label} change"] = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return pages


def pages_for(user) -> tuple[dict[str, str], list[str]]:
    """{page name: path} of everything measured as `user`, and the routes left out for want of parameters.

    A superuser is measured on the admin sites only: on the portal it is an ops user (accounts.permissions).
    """
    # Imported when the benchmark runs, after bench/__main__ has set Django up and swapped the databases in.
    from django.urls import reverse

    world = _world(user)
    kwargs = _detail_kwargs(world)
    pages: dict[str, str] = {}
    unmeasured: list[str] = []
    if user.is_superuser:
        return _admin_pages(world), unmeasured
    for name, _route, parameters in _routes():
        if name in SKIPPED_ROUTES:
            continue
        if parameters and name not in kwargs:
            unmeasured.append(name)
            continue
        if parameters and kwargs[name] is None:
            continue
        path = reverse(name, kwargs=kwargs.get(name) or {})
        pages[name] = path
        for query in VARIANTS.get(name, []):
            pages[f"{name}?{query}"] = path if query == "next" else f"{path}?{query}"
    pages.update(_admin_pages(world))
    return pages, unmeasured


@dataclass
class Measure:
    status: int
    queries: int
    times_ms: list[float] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.times_ms)
        return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


@dataclass
class Row:
    page: str
    role: str
    small: Measure
    large: Measure

    @property
    def ratio(self) -> float:
        return self.large.p50 / self.small.p50 if self.small.p50 else float("inf")


def verdict(row: Row, target: float) -> str | None:
    """FAIL: the page errs or its queries grow; MISS: it is slower than the target allows; None: it is flat."""
    small, large, what = row.small, row.large, f"{row.page} as {row.role}"
    if small.status >= 500 or large.status >= 500 or small.status != large.status:
        return f"FAIL {what}: status {small.status} at the small size, {large.status} at the large"
    if large.queries > small.queries:
        return f"FAIL {what}: {small.queries} queries at the small size, {large.queries} at the large"
    if small.times_ms and row.ratio > target and large.p50 - small.p50 > NOISE_MS:
        return f"MISS {what}: {row.ratio:.2f}x ({small.p50:.1f} -> {large.p50:.1f} ms), target {target}x"
    return None


def _get(client, path: str, api_next: dict):
    """One request; `next` pages follow the cursor the first page of this client gave."""
    if path.endswith("?next"):
        path = api_next[id(client)]
    return client.get(path)


def measure(clients: dict[str, dict[str, Any]], pages: dict[str, list[str]], requests: int, log=print) -> list[Row]:
    """clients[size][role], pages[role][page] (the same names at both sizes, the paths per size's world).

    Per (page, role): warm up at both sizes, then time `requests` requests, alternating between the sizes
    request by request, so that a burst of load on this shared machine slows both sizes alike instead of
    one size's whole batch. A page that answers no 200 at either size is not timed (the role cannot see it);
    a status that differs between the sizes is kept, and fails in verdict().

    The query count is the fewest of the warm-ups: the steady state. Some requests make a few more queries
    whatever the data: the session's idle-timeout touch (accounts.middleware, at most once a minute: a
    savepoint, the UPDATE and its release) lands in whichever request comes due, at either size. A page
    whose queries grow with the data makes more in every request, so the fewest still shows it.
    """
    # Imported when the benchmark runs, after bench/__main__ has set Django up and swapped the databases in.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    rows = []
    sizes = list(clients)

    def once(size: str, role: str, page: str, api_next: dict) -> Measure:
        client, path = clients[size][role], clients[size]["pages"][role][page]
        with using(clients[size]["alias"]):
            # The log is a deque of at most 9,000 queries: once full, a capture's slice of it is empty.
            connection.queries_log.clear()
        with using(clients[size]["alias"]), CaptureQueriesContext(connection) as queries:
            if path.endswith("?next") and id(client) not in api_next:
                first = client.get(path[: -len("?next")])
                api_next[id(client)] = first.json()["next"] if first.status_code == 200 else path
                queries.initial_queries = len(queries.connection.queries_log)
            response = _get(client, path, api_next)
            # Read inside using(): the captured log is the default connection's, which using() swaps back on exit.
            count = len(queries)
        return Measure(response.status_code, count)

    for role, names in pages.items():
        started = time.monotonic()
        for page in names:
            api_next: dict[int, str] = {}
            seen = {size: once(size, role, page, api_next) for size in sizes}
            if all(m.status != 200 for m in seen.values()) and len({m.status for m in seen.values()}) == 1:
                continue  # not this role's page
            for _ in range(WARMUP - 1):
                again = {size: once(size, role, page, api_next) for size in sizes}
                seen = {
                    size: Measure(again[size].status, min(seen[size].queries, again[size].queries)) for size in sizes
                }
            if all(m.status == 200 for m in seen.values()):
                # Each size first in turn: measured here, pages with the same plans at both sizes read 0.5x to
                # 2.1x when timed in a block at one size and then the other, 0.8x to 1.25x alternated.
                for turn in range(requests):
                    for size in sizes if turn % 2 == 0 else sizes[::-1]:
                        client, path = clients[size][role], clients[size]["pages"][role][page]
                        with using(clients[size]["alias"]):
                            began = time.perf_counter()
                            _get(client, path, api_next)
                            seen[size].times_ms.append((time.perf_counter() - began) * 1000)
            rows.append(Row(page, role, seen[sizes[0]], seen[sizes[1]]))
        count = sum(row.role == role for row in rows)
        log(f"[bench] scale:   as {role}: {count} pages ({time.monotonic() - started:.0f} s)")
    return rows


def table(rows: list[Row], small: int, large: int) -> str:
    p50_small, p50_large = f"p50 {_short(small)}", f"p50 {_short(large)}"
    head = f"{'page':52s} {'role':15s} {p50_small:>9s} {'p95':>7s} {p50_large:>9s} {'p95':>7s} {'ratio':>6s} queries"
    lines = [head, "-" * len(head)]
    for row in sorted(rows, key=lambda r: (r.page, r.role)):
        if not row.small.times_ms:
            statuses = f"status {row.small.status} / {row.large.status}, not timed"
            lines.append(f"{row.page[:52]:52s} {row.role:15s} {statuses:>52s} {row.small.queries}->{row.large.queries}")
            continue
        queries = (
            f"{row.small.queries}"
            if row.small.queries == row.large.queries
            else f"{row.small.queries}->{row.large.queries}"
        )
        lines.append(
            f"{row.page[:52]:52s} {row.role:15s} {row.small.p50:9.1f} {row.small.p95:7.1f} {row.large.p50:9.1f} "
            f"{row.large.p95:7.1f} {row.ratio:6.2f} {queries:>8s}"
        )
    return "\n".join(lines)


def _short(cards: int) -> str:
    if cards >= 1_000_000 and cards % 1_000_000 == 0:
        return f"{cards // 1_000_000}M"
    if cards >= 1000 and cards % 1000 == 0:
        return f"{cards // 1000}k"
    return str(cards)


def _clients(alias: str) -> dict[str, Any]:
    # Imported when the benchmark runs, after bench/__main__ has set Django up and swapped the databases in.
    from django.test import Client

    # Imported when the benchmark runs, after bench/__main__ has set Django up and swapped the databases in.
    from accounts.models import User

    found: dict[str, Any] = {"alias": alias, "pages": {}}
    unmeasured: set[str] = set()
    with using(alias):
        for role, username in ROLES.items():
            user = User.objects.get(username=username)
            client = Client()
            client.force_login(user)
            found[role] = client
            found["pages"][role], left_out = pages_for(user)
            unmeasured.update(left_out)
    found["unmeasured"] = sorted(unmeasured)
    return found


# --- throughput through gunicorn, and the card list's profile ---------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(database: str):
    """The portal (with the bench's bare view, bench.scale_urls) under gunicorn, 2 workers x 2 threads, on a
    free local port, against `database`."""
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.scale_settings",
        "DATABASE_URL": _server_url().rsplit("/", 1)[0] + f"/{database}",
        "LOG_LEVEL": "WARNING",
    }
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "2",
            "--threads",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "config.wsgi:application",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,  # a file, not a pipe: a pipe nobody reads would block gunicorn once full
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/bench/bare/", timeout=2).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"gunicorn did not start: {log.read().decode()[-2000:]}") from None
                time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def throughput(base: str, path: str, cookie: str, *, clients: int = 4, seconds: float = 8.0) -> float:
    """Requests/s with `clients` concurrent clients for `seconds`; every answer must be 200."""
    done = [0] * clients
    errors: list[str] = []
    stop = time.monotonic() + seconds

    def client(slot: int) -> None:
        opener = urllib.request.build_opener()
        opener.addheaders = [("Cookie", cookie)]
        while time.monotonic() < stop:
            try:
                with opener.open(base + path, timeout=30) as response:
                    response.read()
                    if response.status != 200:
                        errors.append(f"{path}: {response.status}")
                        return
            except OSError as exc:
                errors.append(f"{path}: {exc}")
                return
            done[slot] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(slot,)) for slot in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"throughput: {errors[0]}")
    return sum(done) / (time.monotonic() - started)


def profile(client, path: str, requests: int = 20, top: int = 15) -> str:
    """cProfile of `requests` GETs of `path`: the functions that cost most, cumulative."""
    client.get(path)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        client.get(path)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    # Own time first (where the CPU goes), then the cumulative time of the project's code and the templates.
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(re.escape(str(BASE_DIR)) + r"/(?!\.venv)|template|render", top)
    return out.getvalue()


# --- the benchmark ------------------------------------------------------------------------------------


def run(results: dict, *, large: int = LARGE, small: int = SMALL, requests: int = REQUESTS) -> None:
    # Imported when the benchmark runs, after bench/__main__ has set Django up and swapped the databases in.
    from django.test.utils import override_settings

    target = time_target(large)
    # The demo world's mails (seed_demo notifies the approvers) go nowhere.
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        small_alias = prepare(SMALL_DB, small)
        large_alias = prepare(LARGE_DB, large)
    clients = {"small": _clients(small_alias), "large": _clients(large_alias)}
    pages = {}
    for role in ROLES:
        both = clients["small"]["pages"][role].keys() & clients["large"]["pages"][role].keys()
        one = clients["small"]["pages"][role].keys() ^ clients["large"]["pages"][role].keys()
        if one:
            print(f"[bench] scale: as {role}, not measured (no such object at one size): {', '.join(sorted(one))}")
        pages[role] = sorted(both)
    print(
        "[bench] scale: not measured (parameters this benchmark does not fill):",
        ", ".join(clients["large"]["unmeasured"]),
    )
    started = time.monotonic()
    rows = measure(clients, pages, requests)
    print(
        f"[bench] scale: {len(rows)} page x role measured at {small:,} and {large:,} cards",
        f"in {time.monotonic() - started:.0f} s",
    )
    print(table(rows, small, large))
    problems = [v for v in (verdict(row, target) for row in rows) if v]
    misses = [p for p in problems if p.startswith("MISS")]
    failures = [p for p in problems if p.startswith("FAIL")]
    for line in problems:
        print(line)

    timed = [row for row in rows if row.small.times_ms]
    for row in timed:
        key = f"scale.{row.page}.{row.role}"
        results[f"{key}.p50_ms"] = bench.entry(row.large.p50, "ms", baseline=row.small.p50)
        results[f"{key}.p95_ms"] = bench.entry(row.large.p95, "ms", baseline=row.small.p95)
        results[f"{key}.queries"] = bench.entry(row.large.queries, "queries", baseline=row.small.queries or None)
    results["scale.pages_measured"] = bench.entry(len(timed), "page x role")
    results["scale.pages_over_target"] = bench.entry(len(misses), "page x role")
    if timed:
        results["scale.worst_ratio"] = bench.entry(max(row.ratio for row in timed), "x")

    _throughput_and_profile(results, clients["large"])
    # Imported here: bench.scale_plans imports this module (its roles and `using`).
    from bench import scale_plans

    print(f"[bench] scale: query plans at {large:,} cards (docs/scaling.md): {scale_plans.write(large_alias, large)}")
    # Imported here: bench.scale_partitions imports this module (its `using` and the loader's card numbers).
    from bench import scale_partitions

    compared = scale_partitions.write(large_alias, large, results)
    if compared:
        print(f"[bench] scale: the event partitions against a plain copy, with their plans: {compared}")
    if failures:
        raise RuntimeError(f"scale: {len(failures)} page(s) failed:\n" + "\n".join(failures))
    print(f"[bench] scale: no query count grows; {len(misses)} page x role over the {target}x time target")


def _throughput_and_profile(results: dict, large: dict) -> None:
    # Imported when the benchmark runs, after bench/__main__ has set Django up and swapped the databases in.
    from django.conf import settings
    from django.urls import reverse

    client = large["admin_big"]
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    with gunicorn(LARGE_DB) as base:
        bare = throughput(base, "/bench/bare/", cookie)
        for name, path in (("card_list", reverse("cards:list")), ("card_api", reverse("api:card-list"))):
            rate = throughput(base, path, cookie)
            results[f"scale.throughput_{name}_4clients"] = bench.entry(rate, "requests/s", baseline=bare)
            print(
                f"[bench] scale: {name}: {rate:.0f} requests/s with 4 clients,",
                f"the bare view {bare:.0f} ({bare / rate:.1f}x its rate)",
            )
    results["scale.throughput_bare_4clients"] = bench.entry(bare, "requests/s")
    with using(large["alias"]):
        print(f"[bench] scale: the card list as the big enterprise's admin, {LARGE:,} cards, profiled:")
        print(profile(client, reverse("cards:list")))


if __name__ == "__main__":
    import django

    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    figures: dict = {}
    run(figures)
