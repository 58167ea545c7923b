"""The platform channel (issue 10 §6): callback deliveries per second, and what key authentication adds.

    python -m bench --only platform          # merged into var/bench.json
    BENCH_PLATFORM_DELIVERIES=1000 BENCH_PLATFORM_GETS=1000 python -m bench --only platform

Figures:
- platform.webhook_deliveries_per_s_1proc / _2proc: signed callback deliveries per second of wall time,
  each one integrations.webhooks.deliver.attempt_delivery (claim, sign, POST, record the attempt) run by
  1 and then 2 worker processes against a local receiver (an http.server in a process of its own that
  answers 200). The 2-process figure has the 1-process one as its baseline: the ratio is the scaling. Every
  delivery must have succeeded once, or the benchmark fails.
- platform.key_auth_median_ms / key_auth_p95_ms: GET /api/v1/cards/ through Django's test Client with
  `Authorization: Api-Key ...`, against the same GETs by the enterprise admin's session (the baseline), the
  two interleaved in the same run so that both see the same machine. platform.key_auth_added_ms is the
  difference of the medians.

It runs on the configured database (PostgreSQL under DATABASE_URL, else SQLite), on a throwaway copy migrated
for the run. On SQLite that copy is a file, not Django's in-memory test database: the worker processes open
connections of their own and must see the same rows.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from django.db import connection, connections
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone

import bench
from accounts.models import Province
from accounts.services import user_create
from bench import scratch_database
from enterprises.models import Enterprise, UnitKind
from integrations.keys import key_create
from integrations.scopes import KeyScope
from integrations.webhooks import deliver as delivery_module
from integrations.webhooks import signing
from integrations.webhooks.models import Delivery, DeliveryStatus, Event, EventType, WebhookEndpoint

DELIVERIES = int(os.environ.get("BENCH_PLATFORM_DELIVERIES", "300"))
GETS = int(os.environ.get("BENCH_PLATFORM_GETS", "300"))
PROCESSES = (1, 2)
WARM_UP = 4  # deliveries per run made before the clock starts (imports, first connections)
LATENCY_URL = "/api/v1/cards/"


# --- the receiver -----------------------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
        pass


def _serve(ports) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    ports.put(server.server_address[1])
    server.serve_forever()


def _context():
    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")


@contextlib.contextmanager
def receiver() -> Iterator[str]:
    """A local callback receiver in a process of its own (the workers must not share its CPU): its URL."""
    context = _context()
    ports = context.Queue()
    process = context.Process(target=_serve, args=(ports,), daemon=True)
    process.start()
    try:
        yield f"http://127.0.0.1:{ports.get(timeout=10)}/hook"
    finally:
        process.terminate()
        process.join(5)


# --- the rows ---------------------------------------------------------------------------------


def _enterprise() -> tuple[Enterprise, object, object]:
    """(an enterprise, its account manager, its admin)."""
    province = Province.objects.get(code="11")
    manager = user_create(username="bench_platform_am", password=None, role="account_manager", province=province)
    enterprise = Enterprise.objects.create(
        name="基准测试平台物联有限公司",
        credential_type="official_letter",
        credential_address="北京市",
        province=province,
        account_manager=manager,
        created_by=manager,
        unit_kind=UnitKind.objects.get(code="party_government"),
    )
    admin = user_create(username="bench_platform_ea", password=None, role="enterprise_admin", enterprise=enterprise)
    return enterprise, manager, admin


def _pending_deliveries(enterprise: Enterprise, url: str, count: int) -> list[int]:
    """`count` events, each with one pending delivery to the receiver (as the outbox writes them)."""
    endpoint = WebhookEndpoint.objects.create(enterprise=enterprise, url=url, secret=signing.new_secret())
    now = timezone.now()
    events = Event.objects.bulk_create(
        Event(
            enterprise=enterprise,
            type=EventType.CARD_USER_REGISTERED,
            timestamp=now,
            data={"card_user": f"cu_{index}", "status": "registered"},
        )
        for index in range(count)
    )
    Delivery.objects.bulk_create(Delivery(endpoint=endpoint, event=event, next_attempt_at=now) for event in events)
    return list(Delivery.objects.filter(endpoint=endpoint).order_by("pk").values_list("pk", flat=True))


# --- (a) deliveries per second ------------------------------------------------------------------


def _worker_init() -> None:
    # Forked after the parent closed its connections: each worker opens its own.
    connections.close_all()


def _deliver(delivery_id: int) -> bool:
    row = delivery_module.attempt_delivery(delivery_id)
    return row is not None and row.succeeded


def deliveries_per_second(ids: list[int], processes: int) -> float:
    """Deliver every id with `processes` workers; deliveries per second of wall time (warm-up excluded)."""
    warm_up, timed = ids[: WARM_UP * processes], ids[WARM_UP * processes :]
    connections.close_all()  # a forked child must not share the parent's connection
    with _context().Pool(processes, initializer=_worker_init) as pool:
        pool.map(_deliver, warm_up, chunksize=1)
        started = time.perf_counter()
        outcomes = list(pool.imap_unordered(_deliver, timed, chunksize=4))
        elapsed = time.perf_counter() - started
    delivered = Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.SUCCEEDED, attempts=1).count()
    if not all(outcomes) or delivered != len(ids):
        raise RuntimeError(f"{processes} process(es): {delivered} of {len(ids)} deliveries succeeded once")
    return len(timed) / elapsed


# --- (b) key authentication against session authentication ----------------------------------------


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def auth_latencies(*, enterprise: Enterprise, manager, admin, gets: int) -> dict[str, list[float]]:
    """Milliseconds per GET of the same endpoint, by key and by session, interleaved."""
    _record, key = key_create(
        actor=manager, enterprise=enterprise, name="Bench", scopes=[scope.value for scope in KeyScope]
    )
    by_key = Client(HTTP_AUTHORIZATION=f"Api-Key {key}")
    by_session = Client()
    by_session.force_login(admin)
    timings: dict[str, list[float]] = {"key": [], "session": []}
    clients = (("key", by_key), ("session", by_session))
    for _ in range(5):  # warm-up: first queries, the key's last-use write, the session's first save
        for _name, client in clients:
            client.get(LATENCY_URL)
    for index in range(gets):
        # Alternate which goes first, so neither always follows the other's cache effects.
        for name, client in clients if index % 2 == 0 else clients[::-1]:
            started = time.perf_counter()
            response = client.get(LATENCY_URL)
            timings[name].append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"GET {LATENCY_URL} by {name}: {response.status_code}")
    return timings


# --- the run ------------------------------------------------------------------------------------


def _measure(*, deliveries: int = DELIVERIES, gets: int = GETS) -> dict:
    results: dict = {}
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    if load > cores - 1:
        print(
            f"[bench] platform: load average {load:.1f} on {cores} CPU cores: 2 worker processes find no free core, "
            "so their scaling (and the latencies) come out low"
        )
    enterprise, manager, admin = _enterprise()
    with receiver() as url, override_settings(WEBHOOK_ALLOW_LOOPBACK=True):
        rates = {}
        for processes in PROCESSES:
            ids = _pending_deliveries(enterprise, url, deliveries + WARM_UP * processes)
            rates[processes] = deliveries_per_second(ids, processes)
    one, two = rates[1], rates[2]
    results["platform.webhook_deliveries_per_s_1proc"] = bench.entry(one, "deliveries/s")
    results["platform.webhook_deliveries_per_s_2proc"] = bench.entry(two, "deliveries/s", baseline=one)

    # The per-key rate limit has its own tests; here it would only stop the run with a 429.
    with override_settings(PLATFORM_KEY_RATE="1000000/minute"):
        timings = auth_latencies(enterprise=enterprise, manager=manager, admin=admin, gets=gets)
    key_median, session_median = statistics.median(timings["key"]), statistics.median(timings["session"])
    key_p95, session_p95 = _percentile(timings["key"], 0.95), _percentile(timings["session"], 0.95)
    results["platform.key_auth_median_ms"] = bench.entry(key_median, "ms", baseline=session_median)
    results["platform.key_auth_p95_ms"] = bench.entry(key_p95, "ms", baseline=session_p95)
    results["platform.key_auth_added_ms"] = bench.entry(key_median - session_median, "ms")
    print(
        f"[bench] platform: {deliveries} callback deliveries on {connection.vendor}: 1 process {one:.1f}/s, "
        f"2 processes {two:.1f}/s (ratio {two / one:.2f}); GET {LATENCY_URL} x{gets}: key median "
        f"{key_median:.2f} ms / p95 {key_p95:.2f} ms, session median {session_median:.2f} ms / p95 "
        f"{session_p95:.2f} ms: key auth adds {key_median - session_median:+.2f} ms "
        f"(ratio {key_median / session_median:.2f})",
        flush=True,
    )
    return results


@contextlib.contextmanager
def _file_test_database() -> Iterator[None]:
    """On SQLite, the throwaway database as a file (Django's default is in memory, which the forked workers
    would not share); PostgreSQL's test database is shared anyway."""
    if connection.vendor != "sqlite":
        yield
        return
    folder = Path(tempfile.mkdtemp(prefix="bench-platform-"))
    test_settings = connection.settings_dict.setdefault("TEST", {})
    saved = test_settings.get("NAME")
    test_settings["NAME"] = str(folder / "bench.sqlite3")
    try:
        yield
    finally:
        test_settings["NAME"] = saved
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


def run(results: dict) -> None:
    logging.disable(logging.INFO)
    try:
        with _file_test_database(), scratch_database():
            results.update(_measure())
    finally:
        logging.disable(logging.NOTSET)
