"""Production settings: the deploy checks pass, and a missing secret stops start-up.

Each case runs `manage.py` in its own process with a clean environment. The
processes start together (module fixture), so the whole file costs about one
Django start-up.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.production_env import production_env

REQUIRED = ["SECRET_KEY", "ALLOWED_HOSTS", "FIELD_ENCRYPTION_KEYS", "BLIND_INDEX_KEY"]


def _dotenv_defines(name: str) -> bool:
    dotenv = REPO / ".env"
    if not dotenv.exists():
        return False
    return any(line.strip().startswith(f"{name}=") for line in dotenv.read_text().splitlines())


PRINT_CONNECTIONS = (
    "from django.conf import settings; db = settings.DATABASES['default']; "
    "print('conn', db['CONN_MAX_AGE'], db['CONN_HEALTH_CHECKS'])"
)

CASES = {
    "deploy": (["check", "--deploy", "--fail-level", "WARNING"], {}),
    **{f"absent:{name}": (["check"], {name: None}) for name in REQUIRED},
    **{f"empty:{name}": (["check"], {name: ""}) for name in REQUIRED},
    "bad_fernet_key": (["check"], {"FIELD_ENCRYPTION_KEYS": "not-a-fernet-key"}),
    "bad_reveal_rate": (["check"], {"PII_REVEAL_RATE": "lots"}),
    "cache_on_broker_db": (
        ["check"],
        {"REDIS_URL": "redis://127.0.0.1:6379/3", "CACHE_URL": "redis://127.0.0.1:6379/3/"},
    ),
    "connections": (["shell", "-c", PRINT_CONNECTIONS], {}),
    "connections_env": (["shell", "-c", PRINT_CONNECTIONS], {"CONN_MAX_AGE": "0"}),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    started = {}
    for case, (args, overrides) in CASES.items():
        tmp_dir = tmp_path_factory.mktemp(case.replace(":", "_"))
        started[case] = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=production_env(tmp_dir, **overrides),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    results = {}
    for case, process in started.items():
        stdout, stderr = process.communicate(timeout=120)
        results[case] = (process.returncode, stdout, stderr)
    return results


def test_check_deploy_passes_under_production_settings(runs):
    returncode, stdout, stderr = runs["deploy"]
    assert returncode == 0, stdout + stderr
    assert "no issues" in stdout


@pytest.mark.parametrize("name", REQUIRED)
def test_production_without_variable_fails_to_start(runs, name):
    if _dotenv_defines(name):
        pytest.skip(f"{REPO / '.env'} defines {name}; the empty-value case still runs")
    returncode, stdout, stderr = runs[f"absent:{name}"]
    assert returncode != 0
    assert name in stderr


@pytest.mark.parametrize("name", REQUIRED)
def test_production_with_empty_variable_fails_to_start(runs, name):
    returncode, stdout, stderr = runs[f"empty:{name}"]
    assert returncode != 0
    assert name in stderr
    assert "ImproperlyConfigured" in stderr


def test_production_with_invalid_fernet_key_fails_to_start(runs):
    returncode, stdout, stderr = runs["bad_fernet_key"]
    assert returncode != 0
    assert "FIELD_ENCRYPTION_KEYS" in stderr
    assert "not-a-fernet-key" not in stderr


def test_cache_may_not_share_the_brokers_redis_database(runs):
    """cache.clear() is FLUSHDB: on the broker's database it would drop queued tasks."""
    returncode, stdout, stderr = runs["cache_on_broker_db"]
    assert returncode != 0
    assert "CACHE_URL must name another Redis database than REDIS_URL" in stderr


def test_a_malformed_reveal_rate_stops_start_up(runs):
    returncode, stdout, stderr = runs["bad_reveal_rate"]
    assert returncode != 0
    assert "PII_REVEAL_RATE must look like 30/hour" in stderr


def test_production_keeps_database_connections_with_health_checks(runs, settings):
    """Issue 12 §1.6: a connection lives 60 s by default in production (CONN_MAX_AGE sets it), and is checked
    before a request reuses it; development and the tests open one per request."""
    returncode, stdout, stderr = runs["connections"]
    assert returncode == 0, stderr
    assert "conn 60 True" in stdout
    returncode, stdout, stderr = runs["connections_env"]
    assert returncode == 0, stderr
    assert "conn 0 True" in stdout
    assert settings.DATABASES["default"]["CONN_MAX_AGE"] == 0
