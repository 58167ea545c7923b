"""The benchmarks still run (on small sizes): `make bench` must not rot between the times it is run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db


def test_replay_benchmark_agrees_with_a_full_scan(monkeypatch, provinces):
    # `provinces`: the benchmark's rows belong to a province, and a transactional test may have run first.
    from django.db import connection

    from bench import replay

    monkeypatch.setattr(replay, "ROWS", 2000)
    figures = replay._measure()  # raises if an indexed lookup and the Python or the SQL scan disagree
    # The SQL scan needs PostgreSQL's bit_count: on SQLite only the Python scan is the baseline.
    expected = {replay.NAME, replay.SQL_NAME} if connection.vendor == "postgresql" else {replay.NAME}
    assert set(figures) == expected
    for figure in figures.values():
        assert figure["unit"] == "ms"
        assert figure["value"] > 0 and figure["baseline"] > 0


def test_a_benchmark_run_drops_the_figures_its_module_retired(monkeypatch, tmp_path):
    from bench import __main__ as bench_main

    output = tmp_path / "bench.json"
    stale = {"value": 1.0, "unit": "ms", "baseline": 2.0, "ratio": 0.5}
    output.write_text(json.dumps({"faces.old_figure": stale, "replay_lookup_ms_100k": stale}))

    def run(figures):
        figures["faces.new_figure"] = {"value": 3.0, "unit": "ms", "baseline": None, "ratio": None}

    module = types.SimpleNamespace(run=run, RETIRED_FIGURES=("faces.old_figure",))
    monkeypatch.setattr(bench_main.importlib, "import_module", lambda name: module)
    assert bench_main.main(["--only", "faces", "--output", str(output)]) == 0
    merged = json.loads(output.read_text())
    # Another benchmark's figure is kept; the retired one is gone, not left stale beside its successor.
    assert set(merged) == {"faces.new_figure", "replay_lookup_ms_100k"}


@pytest.mark.slow
@pytest.mark.faces
def test_faces_benchmark_times_sanitising_and_the_comparison_against_the_bare_library(tmp_path):
    """`python -m bench --only faces` on two pairs, in a process of its own as the command runs (its pool
    forks; its scratch database is a throwaway copy of a SQLite file of its own). Every round of a pair
    must settle a fresh registration: a second outcome on a settled one raised, and the run failed."""
    output = tmp_path / "bench.json"
    output.write_text(json.dumps({"faces.e2e_ms_per_verification": {"value": 338.0, "unit": "ms"}}))
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'bench-dev.sqlite3'}", "BENCH_FACE_PAIRS": "2"}
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "faces", "--output", str(output)],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads(output.read_text())
    # The flattering figure is gone; the pipeline is its two parts, against the bare library on the same pixels.
    assert "faces.e2e_ms_per_verification" not in figures
    pipeline, sanitise = figures["faces.pipeline_ms_per_verification"], figures["faces.sanitise_ms_per_pair"]
    compare = figures["faces.compare_ms_per_verification"]
    assert sanitise["value"] > 0 and compare["value"] > 0
    assert pipeline["value"] == pytest.approx(sanitise["value"] + compare["value"], abs=0.001)
    assert (
        pipeline["baseline"]
        == compare["baseline"]
        == figures["faces.engine_same_pixels_ms_per_verification"]["baseline"]
    )
    assert pipeline["baseline"] > 0


@pytest.mark.slow
def test_platform_benchmark_delivers_every_callback_and_times_both_logins(tmp_path):
    """`python -m bench --only platform` end to end, small: its worker processes must share the rows, so
    it runs as the command does, in a process of its own, on a SQLite file of its own (never the database
    this test run uses: the benchmark migrates a throwaway copy next to the configured one)."""
    output = tmp_path / "bench.json"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bench-dev.sqlite3'}",
        "BENCH_PLATFORM_DELIVERIES": "12",
        "BENCH_PLATFORM_GETS": "10",
    }
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "platform", "--output", str(output)],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    # The benchmark fails when a delivery did not succeed exactly once, or a GET did not answer 200.
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads(output.read_text())
    one, two = figures["platform.webhook_deliveries_per_s_1proc"], figures["platform.webhook_deliveries_per_s_2proc"]
    assert one["unit"] == two["unit"] == "deliveries/s"
    assert one["value"] > 0 and two["baseline"] == one["value"] and two["ratio"] > 0
    for name in ("platform.key_auth_median_ms", "platform.key_auth_p95_ms"):
        assert figures[name]["value"] > 0 and figures[name]["baseline"] > 0
    assert "platform.key_auth_added_ms" in figures
    assert "key auth adds" in result.stdout


def test_self_service_benchmark_submits_whole_phone_flows(settings, provinces, scripted_face_engine):
    """The benchmark's submission, in this process on the test database (the figure forks two workers)."""
    from bench import self_service
    from cards.models import CardUser, Channel, RegistrationStatus

    for name in settings.SELF_SERVICE_RATES:
        settings.SELF_SERVICE_RATES = {**settings.SELF_SERVICE_RATES, name: self_service.HIGH_RATE}
    token, iccids = self_service.fixtures(3)
    started, ended, cpu = self_service.submit_many(token, iccids, [1001, 1002, 1003])
    assert ended > started and cpu > 0
    users = CardUser.objects.filter(channel=Channel.SELF_SERVICE)
    assert users.count() == 3
    # Submitted: the comparison is queued after a commit, which this test's transaction never makes.
    assert {u.registration_status for u in users} == {RegistrationStatus.SUBMITTED}


def test_scale_benchmark_fails_when_queries_grow_or_a_page_errs_and_misses_when_slow():
    """The table logic of `python -m bench --only scale` (its run needs two loaded PostgreSQL databases)."""
    from bench import scale

    def row(small_ms, large_ms, small_queries=5, large_queries=5, small_status=200, large_status=200):
        return scale.Row(
            "cards:list",
            "manager",
            scale.Measure(small_status, small_queries, [small_ms] * 5),
            scale.Measure(large_status, large_queries, [large_ms] * 5),
        )

    assert scale.verdict(row(10.0, 12.0), 1.3) is None
    assert scale.verdict(row(10.0, 20.0), 1.3).startswith("MISS cards:list as manager: 2.00x")
    # Below NOISE_MS of added time a ratio is noise, not a miss.
    assert scale.verdict(row(0.4, 0.8), 1.3) is None
    assert scale.verdict(row(10.0, 10.0, large_queries=6), 1.3).startswith("FAIL")
    assert scale.verdict(row(10.0, 10.0, large_queries=4), 1.3) is None
    assert scale.verdict(row(10.0, 10.0, large_status=500), 1.3).startswith("FAIL")
    assert scale.verdict(row(10.0, 10.0, small_status=403, large_status=200), 1.3).startswith("FAIL")
    assert scale.time_target(1_000_000) == 1.3 and scale.time_target(10_000_000) == 1.5

    text = scale.table([row(10.0, 20.0, large_queries=7)], 1000, 1_000_000)
    assert "p50 1k" in text and "p50 1M" in text
    assert "2.00" in text and "5->7" in text


def test_scale_benchmark_walks_the_url_conf():
    """Every route the benchmark skips or fills still exists, and the lists it must time are among its routes."""
    from bench import scale

    names = {name for name, _route, _parameters in scale._routes()}
    assert {"home", "cards:list", "cards:card_user_list", "orders:list", "api:card-list"} <= names
    assert scale.SKIPPED_ROUTES <= names
    assert set(scale.VARIANTS) <= names
    world = scale.World(*[None] * 8)
    assert set(scale._detail_kwargs(world)) <= names


def test_scale_partitions_benchmark_rebuilds_the_indexes_reads_plans_and_tabulates():
    """The helpers of bench.scale_partitions (its run needs the large PostgreSQL database)."""
    from bench import scale_partitions as parts

    definitions = [
        (
            "cards_cardevent_pkey",
            "CREATE UNIQUE INDEX cards_cardevent_pkey ON ONLY public.cards_cardevent USING btree (id, at)",
        ),
        (
            "cardevent_at_desc",
            "CREATE INDEX cardevent_at_desc ON ONLY public.cards_cardevent USING btree (at DESC, id DESC)",
        ),
    ]
    # The primary key is each table's own ((id) on the plain copy); the others are made again on the copy.
    assert parts.index_ddl(definitions, parts.FLAT) == [
        "CREATE INDEX bench_cardevent_flat_cardevent_at_desc ON bench_cardevent_flat USING btree (at DESC, id DESC)"
    ]
    assert parts.on_flat('SELECT "cards_cardevent"."id" FROM "cards_cardevent"') == (
        'SELECT "bench_cardevent_flat"."id" FROM "bench_cardevent_flat"'
    )

    plan = "\n".join(
        [
            "Limit  (cost=1..2 rows=3 width=1) (actual time=0.1..0.2 rows=3 loops=1)",
            "  Buffers: shared hit=10 read=2",
            "  ->  Append  (cost=1..2 rows=3 width=1) (actual time=0.1..0.2 rows=3 loops=1)",
            "        ->  Index Scan using a_idx on cards_cardevent_y2026m10 cards_cardevent_1  (cost=0.28..8.30 "
            "rows=1 width=62) (actual time=0.003..0.003 rows=0 loops=1)",
            "        ->  Bitmap Heap Scan on cards_cardevent_y2026m12 cards_cardevent_3  (cost=4.30..12.94 rows=3 "
            "width=63) (actual time=0.006..0.009 rows=3 loops=1)",
            "              ->  Bitmap Index Scan on b_idx  (cost=0.00..4.30 rows=3 width=0) (actual time=0.003..0.003 "
            "rows=3 loops=1)",
            "  ->  Seq Scan on accounts_user  (cost=0.00..1.11 rows=11 width=194) (actual time=0.0..0.0 rows=1 "
            "loops=3)",
            "        Buffers: shared hit=3",
            "Planning Time: 0.268 ms",
        ]
    )
    # The rows of the event tables' scans (not the users', nor the bitmap's index twice), the root's buffers.
    assert parts.plan_figures(plan) == parts.PlanFigures(rows_read=3, buffers=12, tables=2, planning_ms=0.268)

    rows = [
        parts.Compared(
            "card_history", "a card's history", 2.0, 1.0, parts.PlanFigures(3, 10, 7), parts.PlanFigures(3, 8, 1)
        ),
        parts.Compared("drop_oldest_month", "remove the oldest month", 2.0, 400.0, note="  WAL 13 kB / 9,000 kB"),
    ]
    text = parts.table(rows)
    assert "2.00x" in text and "10 / 8" in text and "7 / 1" in text and "0.00 / 0.00" in text and "WAL 13 kB" in text
    found = parts.figures(rows, {"table": (2 * 2**20, 2**20)}, 12.5)
    assert found["scale.events_partitioned.card_history_ms"]["ratio"] == 2.0
    assert found["scale.events_partitioned.card_history_buffers"]["baseline"] == 8
    assert "scale.events_partitioned.drop_oldest_month_buffers" not in found
    assert found["scale.events_partitioned.table_mb"]["value"] == 2.0
    assert found["scale.events_partitioned.flat_copy_s"]["value"] == 12.5
