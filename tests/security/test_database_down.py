"""Issue 7 §4.2: with the database down the portal answers 503 with Retry-After, never a stack trace.

A separate process points its database connection at a closed port (PostgreSQL settings, no
server there) and sends requests that need the database: an API call with a token, a page
with a session cookie and a login. The API answers JSON, the pages a Chinese page that needs
no database; under DEBUG (as `make run` has it) and without it alike.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from tests.conftest import REPO

SCRIPT = r"""
import json
import django
django.setup()
from django.test import Client, override_settings

def run():
    client = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.cookies["sessionid"] = "x" * 32
    answers = {
        "api": client.get("/api/v1/enterprises/", HTTP_AUTHORIZATION="Token " + "a" * 40),
        "page": client.get("/"),
        "login": client.post("/accounts/login/", {"username": "approver_bj", "password": "demo-pass-2026"}),
    }
    return {
        name: {
            "status": r.status_code,
            "retry_after": r.get("Retry-After"),
            "content_type": r.get("Content-Type", ""),
            "body": r.content.decode("utf-8", "replace")[:4000],
        }
        for name, r in answers.items()
    }

out = {}
for debug in (True, False):
    with override_settings(DEBUG=debug):
        out[str(debug)] = run()
print("RESULT" + json.dumps(out))
"""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def answers(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dbdown")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONPATH": str(REPO),
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{_closed_port()}/portal",
        "PRIVATE_MEDIA_ROOT": str(tmp / "private"),
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT")), None)
    assert line, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(line[len("RESULT") :])


@pytest.mark.parametrize("debug", ["True", "False"])
def test_7_4_2_api_answers_503_json_with_retry_after(answers, debug):
    api = answers[debug]["api"]
    assert api["status"] == 503, api["body"][:500]
    assert int(api["retry_after"]) > 0
    assert api["content_type"].startswith("application/json")
    body = json.loads(api["body"])
    assert body["code"] == "service_unavailable" and body["detail"]


@pytest.mark.parametrize("debug", ["True", "False"])
@pytest.mark.parametrize("which", ["page", "login"])
def test_7_4_2_pages_answer_a_chinese_503_page_without_a_stack_trace(answers, debug, which):
    page = answers[debug][which]
    assert page["status"] == 503, page["body"][:500]
    assert int(page["retry_after"]) > 0
    assert page["content_type"].startswith("text/html")
    assert "服务暂时不可用" in page["body"]
    for leak in ("Traceback", "OperationalError", "psycopg2", "127.0.0.1"):
        assert leak not in page["body"]
