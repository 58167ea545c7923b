"""A Redis server of a test's own, and pointing this process's Celery app at another broker.

Outage tests stop and start the broker. They never touch the shared Redis on 6379 (other
people and CI use it): `OwnRedis` runs `redis-server` on a free port as a subprocess it owns.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time

import pytest


def free_port() -> int:
    """A port nothing listens on (bound and released at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OwnRedis:
    """`redis-server --port N --save "" --appendonly no`: nothing survives a stop, as after a crash."""

    def __init__(self, port: int | None = None):
        if shutil.which("redis-server") is None:
            pytest.skip("needs redis-server (apt-get install redis-server)")
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> OwnRedis:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return self
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} exited with {self.process.returncode}")
            time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def kill(self) -> None:
        """SIGKILL: the broker dies as in an outage, with whatever it held."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@contextlib.contextmanager
def celery_broker(url: str):
    """This process sends tasks to `url` (not in-process) until the block ends."""
    from config.celery import app

    def reset_pools():
        # Dropped, not closed: kombu's pool registry would hand a closed pool back for the same URL.
        app._pool = None
        app.amqp._producer_pool = None

    saved = (app.conf.CELERY_BROKER_URL, app.conf.CELERY_TASK_ALWAYS_EAGER)
    reset_pools()
    app.conf.CELERY_BROKER_URL = url
    app.conf.CELERY_TASK_ALWAYS_EAGER = False
    try:
        yield app
    finally:
        reset_pools()
        app.conf.CELERY_BROKER_URL, app.conf.CELERY_TASK_ALWAYS_EAGER = saved
