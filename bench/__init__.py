"""Benchmarks behind `make bench` (`python -m bench`).

Each benchmark module (listed in bench.__main__.MODULES) has
``run(results: dict) -> None``, which adds entries made with :func:`entry`
under names of its own ("faces.throughput_1proc"). ``python -m bench`` merges
them into var/bench.json and prints them. Benchmarks run on SQLite without
services; one that needs database rows uses :func:`scratch_database`, never
the development database.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile


def entry(value: float, unit: str, baseline: float | None = None, ratio: float | None = None) -> dict:
    """One figure in var/bench.json. ratio is value / baseline unless given."""
    if ratio is None and baseline:
        ratio = value / baseline
    return {
        "value": round(value, 4),
        "unit": unit,
        "baseline": None if baseline is None else round(baseline, 4),
        "ratio": None if ratio is None else round(ratio, 4),
    }


@contextlib.contextmanager
def scratch_database():
    """A freshly migrated throwaway database (Django's test database: in memory on SQLite)
    and a temporary private-storage folder, both removed afterwards."""
    # Inside the function: every `python -m bench...` imports this package before django.setup().
    from django.conf import settings
    from django.core.files.storage import storages
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    folder = tempfile.mkdtemp(prefix="bench-private-")
    saved_storages = settings.STORAGES
    settings.STORAGES = {
        **saved_storages,
        "private": {
            # Encrypted, as in production: the figures include the cost of encryption at rest.
            "BACKEND": "core.storage.EncryptedFileSystemStorage",
            "OPTIONS": {"location": folder, "base_url": None},
        },
    }
    storages._storages.pop("private", None)
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
        settings.STORAGES = saved_storages
        storages._storages.pop("private", None)
        shutil.rmtree(folder, ignore_errors=True)
