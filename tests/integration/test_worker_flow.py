"""The whole flow through Redis and a real Celery worker process (issue 4 §6).

Marked postgres + redis + faces: under CI (REQUIRE_SERVICE_TESTS=1) they must run.
"""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cards.card_users.services import card_user_register
from cards.models import Card, CardBinding, CardStatus, Package, card_scope_columns
from tests import factories, idgen
from tests.workers import wait_for
from verification.models import Verification, VerificationStatus

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.faces,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

PAIRS = [
    ("obama/obama1.jpg", "obama/obama2.jpg"),
    ("biden/biden1.jpg", "biden/biden2.jpg"),
    ("kit_harington/kit1.jpg", "kit_harington/kit2.jpg"),
    ("rose_leslie/rose1.jpg", "rose_leslie/rose2.jpg"),
    ("alex_lacamoire/alex1.jpg", "alex_lacamoire/alex2.jpg"),
]


def _photo(faces_dir, relative: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(relative.split("/")[-1], (faces_dir / relative).read_bytes(), content_type="image/jpeg")


def _card(enterprise, package, n: int) -> Card:
    iccid = idgen.iccid()
    return Card.objects.create(
        iccid=iccid,
        msisdn=f"149{n:08d}",
        enterprise=enterprise,
        **card_scope_columns(enterprise),
        package=package,
        sms_service="non_directed",
        realname_required=True,
        realname_rules="U2",
        exemption_needed="none_possible",
    )


def _register(world, faces_dir, pair, card) -> Verification:
    return card_user_register(
        actor=world["users"]["account_manager"],
        enterprise=world["enterprise"],
        name="测试用户",
        id_type="resident_id",
        id_number=idgen.resident_id(),
        id_photo=_photo(faces_dir, pair[0]),
        live_photo=_photo(faces_dir, pair[1]),
        biometric_consent=True,
        cards=[card],
    )


@pytest.fixture
def package(db):
    return Package.objects.create(code="STD-149", name="149 标准套餐")


def test_U5_card_user_flow_runs_in_a_real_worker(world, faces_dir, package, start_worker):
    start_worker("w1")
    card = _card(world["enterprise"], package, 1)
    verification = _register(world, faces_dir, PAIRS[0], card)

    done = wait_for(
        lambda: Verification.objects.exclude(status=VerificationStatus.PENDING).filter(pk=verification.pk).first(),
        timeout=90,
        message="the worker to compare the photos",
    )
    assert done.status == VerificationStatus.PASSED, done.reasons
    assert done.distance is not None and done.distance <= done.threshold_pass
    assert done.engine and done.engine_version
    assert CardBinding.objects.filter(card=card, ended_at__isnull=True).exists()

    factories.activate(card, actor=world["users"]["account_manager"])  # a new-installation order (H2)
    card.refresh_from_db()
    assert card.status == CardStatus.ACTIVE


def test_verification_survives_its_worker_being_killed(world, faces_dir, package, start_worker):
    """SIGKILL the worker while it compares: the unacknowledged task is delivered again
    (acks_late + the broker's visibility timeout) and a second worker completes it, once."""
    first = start_worker("w1")
    card = _card(world["enterprise"], package, 10)
    verification = _register(world, faces_dir, PAIRS[1], card)

    wait_for(
        lambda: b"run_verification" in first.log_path.read_bytes() and b"received" in first.log_path.read_bytes(),
        timeout=60,
        interval=0.02,
        message="the first worker to take the task",
    )
    first.kill()
    verification.refresh_from_db()
    assert verification.status == VerificationStatus.PENDING, "the comparison finished before the worker was killed"
    assert b"succeeded" not in first.log_path.read_bytes()

    # kombu's Redis transport restores unacknowledged messages when a worker starts and then
    # only every tenth 10 s poll; a worker that starts after the visibility timeout (5 s in
    # tests/workers.py) redelivers at once instead of about 100 s later.
    time.sleep(6)
    second = start_worker("w2")
    done = wait_for(
        lambda: Verification.objects.exclude(status=VerificationStatus.PENDING).filter(pk=verification.pk).first(),
        timeout=180,
        message="the second worker to pick the task up again",
    )
    assert done.status == VerificationStatus.PASSED, done.reasons
    assert done.attempts == 1
    # The worker writes the row before it logs the task's end: wait for the line, don't race it.
    wait_for(
        lambda: b"succeeded" in second.log_path.read_bytes(),
        timeout=30,
        message="the second worker to log the task as succeeded",
    )
    assert CardBinding.objects.filter(card=card, ended_at__isnull=True).count() == 1
