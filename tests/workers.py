"""A real Celery worker process for integration and browser tests (PostgreSQL + Redis).

The worker is a separate OS process on the same test database and Redis, so
the tests see what production sees: tasks leave through the broker after
commit, the worker re-reads the rows, and what it writes is read back here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

REPO = Path(__file__).resolve().parents[1]


def _database_url() -> str:
    cfg = connection.settings_dict
    host = cfg.get("HOST") or "127.0.0.1"
    port = cfg.get("PORT") or 5432
    auth = cfg.get("USER") or "postgres"
    if cfg.get("PASSWORD"):
        auth += f":{cfg['PASSWORD']}"
    return f"postgres://{auth}@{host}:{port}/{cfg['NAME']}"


class WorkerProcess:
    def __init__(self, *, private_root: Path, name: str, extra_env: dict | None = None):
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "PRIVATE_MEDIA_ROOT": str(private_root),
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "CELERY_VISIBILITY_TIMEOUT": "5",
            **(extra_env or {}),
        }
        self.log_path = private_root.parent / f"worker-{name}.log"
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                "default,faces",
                "--concurrency",
                "1",
                "--pool",
                "prefork",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"{name}@%h",
                "--loglevel",
                "INFO",
            ],
            cwd=REPO,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log_path.read_text(errors='replace')[-3000:]}")
            if b"ready." in self.log_path.read_bytes():
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready:\n{self.log_path.read_text(errors='replace')[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children): no chance to ack or clean up."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


@pytest.fixture
def broker(settings):
    """Tasks go through Redis for real in these tests; the queues start empty."""
    from config.celery import app

    app.conf.CELERY_TASK_ALWAYS_EAGER = False
    with app.connection_for_write() as conn:
        for queue in ("default", "faces"):
            try:
                conn.default_channel.queue_purge(queue)
            except Exception:  # noqa: BLE001 - a queue that does not exist yet has nothing to purge
                pass
    yield app
    app.conf.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture
def shared_private_root(tmp_path, settings):
    """One private folder for this test process and its workers."""
    from django.core.files.storage import storages

    root = tmp_path / "shared-private"
    root.mkdir()
    settings.PRIVATE_MEDIA_ROOT = root
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": None},
        },
    }
    storages._storages.pop("private", None)
    return root


@pytest.fixture
def start_worker(shared_private_root, broker):
    workers: list[WorkerProcess] = []

    def start(name: str = "w1", **kwargs) -> WorkerProcess:
        worker = WorkerProcess(private_root=shared_private_root, name=name, **kwargs)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def wait_for(predicate, *, timeout: float = 60, interval: float = 0.25, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")
