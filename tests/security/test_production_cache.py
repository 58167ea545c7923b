"""Issue 7 §2.6: production needs a cache shared by every web process (CACHE_URL).

The reveal budget (accounts.throttling) counts in the default cache. With a per-process
cache each gunicorn worker kept its own count: with three workers 88 of 100 reveals got
through instead of 30. Production settings now refuse to start without a shared cache.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.production_env import production_env

CASES = {
    "absent": {"CACHE_URL": None},
    "empty": {"CACHE_URL": ""},
    "per_process": {"CACHE_URL": "locmemcache://"},
    "shared": {"CACHE_URL": "redis://127.0.0.1:6379/11"},
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    started = {}
    for case, overrides in CASES.items():
        tmp_dir = tmp_path_factory.mktemp(f"cache_{case}")
        started[case] = subprocess.Popen(
            [sys.executable, "manage.py", "check"],
            cwd=REPO,
            env=production_env(tmp_dir, **overrides),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    return {case: (p.wait(timeout=120), *p.communicate()) for case, p in started.items()}


@pytest.mark.parametrize("case", ["absent", "empty"])
def test_7_2_6_production_without_cache_url_fails_to_start(runs, case):
    returncode, stdout, stderr = runs[case]
    assert returncode != 0
    assert "ImproperlyConfigured" in stderr and "CACHE_URL" in stderr


def test_7_2_6_production_refuses_a_per_process_cache(runs):
    returncode, stdout, stderr = runs["per_process"]
    assert returncode != 0
    assert "CACHE_URL must name a cache shared by every web process" in stderr


def test_7_2_6_production_starts_with_a_shared_cache(runs):
    returncode, stdout, stderr = runs["shared"]
    assert returncode == 0, stdout + stderr
