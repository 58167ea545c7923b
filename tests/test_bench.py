"""The benchmarks still run (on small sizes): `make bench` must not rot between the times it is run."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_replay_benchmark_agrees_with_a_full_scan(monkeypatch, provinces):
    # `provinces`: the benchmark's rows belong to a province, and a transactional test may have run first.
    from bench import replay

    monkeypatch.setattr(replay, "ROWS", 2000)
    figures = replay._measure()  # raises if an indexed lookup and the full scan disagree
    (figure,) = figures.values()
    assert figure["unit"] == "ms"
    assert figure["value"] > 0 and figure["baseline"] > 0
