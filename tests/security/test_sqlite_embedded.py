"""Issue 7 §4.4: the embedded mode (SQLite, `make run`) serves a few people at once.

Two approvers decide the two levels of one exemption at the same moment. On a file-based
SQLite database with the project's settings (the test database is in memory and shares
nothing with a real file), each request runs in its own thread on its own connection, the
way runserver serves them. Before the fix one of them failed with "database is locked" (500).
"""

from __future__ import annotations

import copy
import sqlite3
import threading
import time

import pytest
from django.db import connection, connections
from django.db.utils import load_backend
from rest_framework.test import APIClient

from approvals import services
from approvals.models import RequestStatus
from tests.approvals import file_for_combo

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _file_database(tmp_path) -> dict:
    """The test database copied to a file; its settings are the project's, only NAME differs."""
    if connection.vendor != "sqlite":
        pytest.skip("the embedded mode is SQLite")
    path = tmp_path / "embedded.sqlite3"
    connection.ensure_connection()
    target = sqlite3.connect(path)
    connection.connection.backup(target)
    target.close()
    db = copy.deepcopy(connections.settings["default"])
    db["NAME"] = str(path)
    return db


def _in_thread(db: dict, work):
    """Run `work()` in a new thread whose default database connection is the file database."""
    outcome: dict = {}

    def run():
        wrapper = load_backend(db["ENGINE"]).DatabaseWrapper(copy.deepcopy(db), "default")
        connections["default"] = wrapper
        try:
            outcome["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            outcome["error"] = exc
        finally:
            wrapper.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_7_4_4_two_concurrent_approvals_on_sqlite_both_succeed(world, tmp_path, monkeypatch):
    """Issue 7 §4.4: concurrent writes on SQLite wait for each other instead of failing with a 500."""
    exemption, _card = file_for_combo(world, "U1+U3")
    db = _file_database(tmp_path)

    real_check = services._check_decision_authority

    def slow_check(*args, **kwargs):
        # Both requests have read the request row inside their transaction before either writes.
        time.sleep(0.5)
        return real_check(*args, **kwargs)

    monkeypatch.setattr(services, "_check_decision_authority", slow_check)
    url = f"/api/v1/exemptions/{exemption.public_id}/decide/"
    start = threading.Barrier(2)

    def decide(user, level):
        def work():
            client = APIClient(raise_request_exception=False)
            client.force_login(user)
            start.wait(timeout=30)
            response = client.post(url, {"level": level, "approve": True, "comment": "同意"}, format="json")
            return response.status_code, response.content[:300]

        return work

    users = world["users"]
    runs = [
        _in_thread(db, decide(users["provincial_approver"], "province")),
        _in_thread(db, decide(users["group_approver"], "group")),
    ]
    results = []
    for thread, outcome in runs:
        thread.join(timeout=60)
        assert "error" not in outcome, outcome.get("error")
        results.append(outcome["value"])

    assert [status for status, _body in results] == [200, 200], results

    def final_state():
        with connections["default"].cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            mode = cursor.fetchone()[0]
            cursor.execute("SELECT status FROM approvals_exemptionrequest WHERE id = %s", [exemption.pk])
            return mode, cursor.fetchone()[0]

    thread, outcome = _in_thread(db, final_state)
    thread.join(timeout=30)
    assert outcome.get("value") == ("wal", RequestStatus.APPROVED), outcome
