"""The replay defence's lookup: indexed hash bands, no miss within the distance, and no miss
when the same live photo is compared twice at the same moment on two workers."""

from __future__ import annotations

import random
import threading

import pytest
from django.db import close_old_connections, connections

from tests import factories
from verification.engine import PASS, ComparisonResult, thresholds
from verification.matching import BANDS, _within, find_replay, phash_bands, run_comparison
from verification.models import Verification, VerificationStatus

SAME_PHOTO_HASH = "9f3c00ff12a455e1"


def _flip(value: int, bits) -> int:
    for bit in bits:
        value ^= 1 << bit
    return value


def test_hashes_within_the_distance_always_share_a_near_band():
    """The pigeonhole argument find_replay relies on, over random pairs at every distance up to 7."""
    rng = random.Random(2026)
    for _ in range(5000):
        a = rng.getrandbits(64)
        distance = rng.randint(0, 7)
        b = _flip(a, rng.sample(range(64), distance))
        radius = distance // BANDS
        bands_a, bands_b = phash_bands(f"{a:016x}"), phash_bands(f"{b:016x}")
        assert any(bands_b[column] in _within(bands_a[column], radius) for column in bands_a), (a, b)


def test_within_lists_each_value_once():
    assert len(_within(0, 1)) == 17 and len(set(_within(0x1234, 2))) == 1 + 16 + 120


@pytest.fixture
def pending(world, monkeypatch):
    """pending() -> a card-user Verification whose comparison has not run yet."""
    monkeypatch.setattr("verification.services.enqueue_verification", lambda verification_id: None)
    manager, enterprise = world["users"]["account_manager"], world["enterprise"]

    def make() -> Verification:
        card = factories.card(enterprise=enterprise, actor=manager)
        return factories.card_user_registration(actor=manager, enterprise=enterprise, cards=[card])

    return make


@pytest.mark.django_db
def test_a_copy_with_its_changed_bits_spread_over_every_band_is_found(pending, scripted_face_engine):
    scripted_face_engine("pass", phash=SAME_PHOTO_HASH)
    first = pending()
    run_comparison(first.pk)
    stored = Verification.objects.get(pk=first.pk)
    assert stored.live_photo_phash == SAME_PHOTO_HASH
    assert (stored.live_phash_band0, stored.live_phash_band3) == (0x55E1, 0x9F3C)

    original = int(SAME_PHOTO_HASH, 16)
    six_apart = _flip(original, [0, 1, 16, 17, 32, 48])  # 2 + 2 + 1 + 1 bits: no band is exact
    seven_apart = _flip(original, [0, 1, 16, 17, 32, 33, 48])
    assert find_replay(f"{six_apart:016x}").pk == first.pk
    assert find_replay(f"{seven_apart:016x}") is None  # beyond FACE_REPLAY_MAX_DISTANCE (6)


class _BarrierEngine:
    """Both comparisons finish at the same moment, then store and search at once."""

    name = "barrier"
    version = "test"
    barrier = threading.Barrier(2)

    def compare(self, id_image_bytes: bytes, live_image_bytes: bytes) -> ComparisonResult:
        type(self).barrier.wait(timeout=30)
        t_pass, t_fail = thresholds()
        return ComparisonResult(
            outcome=PASS,
            distance=0.3,
            reasons=[],
            timings_ms={},
            threshold_pass=t_pass,
            threshold_fail=t_fail,
            engine=self.name,
            engine_version=self.version,
            live_phash=SAME_PHOTO_HASH,
        )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_photo_compared_twice_at_once_is_flagged(pending, settings):
    """Each stores its hash before it searches, so at least one finds the other. Usually both do,
    and each then points `replay_of` at the other while the other's row is locked: that must not
    deadlock (verification_record_result locks FOR NO KEY UPDATE)."""
    settings.FACE_ENGINE = f"{__name__}._BarrierEngine"
    _BarrierEngine.barrier = threading.Barrier(2)
    first, second = pending(), pending()
    errors: list[BaseException] = []

    def compare(pk: int) -> None:
        close_old_connections()
        try:
            run_comparison(pk)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=compare, args=(v.pk,)) for v in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    records = list(Verification.objects.filter(pk__in=[first.pk, second.pk]))
    flagged = [record for record in records if record.replay_of_id is not None]
    assert flagged, "neither comparison saw the other's photo"
    for record in flagged:
        assert record.status == VerificationStatus.IN_REVIEW
        assert "replay" in [reason["code"] for reason in record.reasons]
