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


def test_self_service_benchmark_submits_whole_phone_flows(settings, provinces, scripted_face_engine):
    """The benchmark's submission, in this process on the test database (the figure forks two workers)."""
    from bench import self_service
    from cards.models import CardUser, Channel, RegistrationStatus

    for name in settings.SELF_SERVICE_RATES:
        settings.SELF_SERVICE_RATES = {**settings.SELF_SERVICE_RATES, name: self_service.HIGH_RATE}
    token, iccids = self_service.fixtures(3)
    started, ended, cpu = self_service.submit_many(token, iccids, [1001, 1002, 1003])
    assert ended > started and cpu > 0
    users = CardUser.objects.filter(channel=Channel.SELF_SERVICE)
    assert users.count() == 3
    # Submitted: the comparison is queued after a commit, which this test's transaction never makes.
    assert {u.registration_status for u in users} == {RegistrationStatus.SUBMITTED}
