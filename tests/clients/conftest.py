"""Fixtures of the Python client's tests: API keys made by the keys service, a client on pytest-django's
live server, and a local HTTP stub (retry and backoff tests only: everything else hits the live server)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from iot_realname_client import Client

from integrations import keys

ALL_SCOPES = ["cards:read", "cards:write", "card_users:write", "orders:write", "webhooks:manage"]


@pytest.fixture
def make_key(world):
    """`make_key(scopes)` -> (PlatformKey record, the key itself), made as the enterprise admin makes one."""

    def make(scopes: list[str] | None = None, *, enterprise=None, test: bool = False):
        return keys.key_create(
            actor=world["users"]["enterprise_admin"],
            enterprise=enterprise or world["enterprise"],
            name="fleet platform",
            scopes=ALL_SCOPES if scopes is None else scopes,
            test=test,
        )

    return make


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_client(live_server, sleeps) -> Callable[..., Client]:
    """A client on the live server; its backoff sleeps are recorded, not slept."""

    def make(key: str, **kwargs) -> Client:
        kwargs.setdefault("sleep", sleeps.append)
        kwargs.setdefault("timeout", 20)
        return Client(live_server.url, key, **kwargs)

    return make


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Stub:
    """Answers the scripted (status, headers, body) in turn, then 200 {}; records every request."""

    url: str
    script: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)

    def answer(self, status: int, body: object = None, **headers: str) -> Stub:
        payload = body if isinstance(body, bytes) else json.dumps({} if body is None else body).encode()
        self.script.append((status, {k.replace("_", "-"): v for k, v in headers.items()}, payload))
        return self


@pytest.fixture
def stub() -> Iterator[Stub]:
    state = Stub(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            state.seen.append(Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            status, headers, payload = state.script.pop(0) if state.script else (200, {}, b"{}")
            self.send_response(status)
            headers.setdefault("Content-Type", "application/json")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _handle  # noqa: N815 - http.server's names

        def log_message(self, format, *args):  # noqa: A002 - quiet
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A platform's callback receiver: answers the scripted statuses in turn, then 200."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 15) -> list[Received]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout=timeout)
        assert len(self.received) >= count, f"{len(self.received)} callbacks arrived, {count} expected"
        return self.received


@pytest.fixture
def receiver():
    state = Receiver()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            with state.arrived:
                state.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                state.arrived.notify_all()

        def log_message(self, format, *args):  # noqa: A002 - quiet
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_port}/callbacks"
    yield state
    server.shutdown()
    server.server_close()
