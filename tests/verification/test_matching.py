"""The comparison runner (verification.matching.run_comparison) and its task, on database records."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError
from PIL import Image

from accounts.models import AuditEvent
from tests import factories
from verification import matching
from verification.engine import EngineUnavailable, ScriptedEngine
from verification.matching import find_replay, run_comparison
from verification.models import Verification, VerificationStatus
from verification.tasks import TRANSIENT_ERRORS, run_verification

pytestmark = pytest.mark.django_db


def upload(data: bytes, name: str = "photo.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def reencoded(data: bytes, *, scale: float = 0.9, quality: int = 70) -> bytes:
    img = Image.open(io.BytesIO(data)).convert("RGB")
    img = img.resize((int(img.width * scale), int(img.height * scale)))
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


@pytest.fixture
def submit(world):
    """submit(id_bytes, live_bytes) -> a pending card-user Verification made through the services."""
    enterprise, actor = world["enterprise"], world["users"]["account_manager"]

    def make(id_bytes: bytes | None = None, live_bytes: bytes | None = None) -> Verification:
        kwargs = {}
        if id_bytes is not None:
            kwargs["id_photo"] = upload(id_bytes, "id.jpg")
        if live_bytes is not None:
            kwargs["live_photo"] = upload(live_bytes, "live.jpg")
        card = factories.card(enterprise=enterprise, actor=actor)
        verification = factories.card_user_registration(actor=actor, enterprise=enterprise, cards=[card], **kwargs)
        assert verification.status == VerificationStatus.PENDING
        return verification

    return make


def johns(faces_dir, person: str, index: int) -> bytes:
    return sorted((faces_dir / "johns" / person).glob("*.jpg"))[index].read_bytes()


# --------------------------------------------------------------------------
# the real engine


@pytest.mark.faces
def test_a_match_is_stored_with_distance_thresholds_engine_and_timings(submit, faces_dir, settings):
    verification = submit(johns(faces_dir, "John_Simm", 0), johns(faces_dir, "John_Simm", 1))
    assert run_comparison(verification.pk) == VerificationStatus.PASSED
    record = Verification.objects.get(pk=verification.pk)
    assert record.outcome == "pass"
    assert 0 < record.distance <= settings.FACE_MATCH_PASS_THRESHOLD
    assert (record.threshold_pass, record.threshold_fail) == (0.45, 0.60)
    assert record.engine == "face_recognition"
    assert record.engine_version.startswith("fr1.3.0+dlib")
    assert set(record.timings_ms) == {"decode", "detect", "encode", "total"}
    assert len(record.live_photo_phash) == 16
    assert record.replay_of is None and record.reasons == []
    assert record.gate_open
    assert record.card_user.bindings.filter(ended_at__isnull=True).count() == 1


@pytest.mark.faces
def test_a_reused_live_photo_is_flagged_as_replay(submit, faces_dir):
    live = johns(faces_dir, "John_Savage", 5)
    first = submit(johns(faces_dir, "John_Savage", 0), live)
    assert run_comparison(first.pk) == VerificationStatus.PASSED

    # The same photo again, resized and re-encoded: different bytes, same picture.
    copy = reencoded(live)
    assert copy != live
    second = submit(johns(faces_dir, "John_Savage", 0), copy)
    assert run_comparison(second.pk) == VerificationStatus.IN_REVIEW
    record = Verification.objects.get(pk=second.pk)
    assert record.outcome == "pass"  # the faces match, but a person must look
    assert record.replay_of_id == first.pk
    assert [r["code"] for r in record.reasons] == ["replay"]
    assert record.reasons[0]["zh"] and record.reasons[0]["en"]

    # Another photo of the same person is not a replay.
    third = submit(johns(faces_dir, "John_Savage", 0), johns(faces_dir, "John_Savage", 1))
    assert run_comparison(third.pk) == VerificationStatus.PASSED
    assert Verification.objects.get(pk=third.pk).replay_of is None


@pytest.mark.faces
def test_an_unusable_live_photo_is_rejected_with_its_reason(submit, faces_dir):
    verification = submit(johns(faces_dir, "John_Simm", 0), (faces_dir / "two_people.jpg").read_bytes())
    assert run_comparison(verification.pk) == VerificationStatus.REJECTED
    record = Verification.objects.get(pk=verification.pk)
    assert record.outcome == "rejected" and record.distance is None
    assert [(r["code"], r["zh"]) for r in record.reasons] == [
        ("multiple_faces", "照片中有多张人脸，请确保画面中只有本人后重新拍摄")
    ]


# --------------------------------------------------------------------------
# the runner's contract (test double: the real engine is tested above)


def test_a_record_already_decided_is_left_alone(submit, scripted_face_engine):
    verification = submit()
    factories.face_result(verification, "review", distance=0.5)
    before = Verification.objects.get(pk=verification.pk)
    assert run_comparison(verification.pk) == VerificationStatus.IN_REVIEW
    after = Verification.objects.get(pk=verification.pk)
    assert ScriptedEngine.calls == 0
    assert (after.outcome, after.distance, after.attempts, after.engine) == (
        before.outcome,
        before.distance,
        before.attempts,
        before.engine,
    )


def test_delivered_twice_the_result_is_stored_once(submit, scripted_face_engine):
    scripted_face_engine("review", distance=0.52)
    verification = submit()
    assert run_comparison(verification.pk) == VerificationStatus.IN_REVIEW
    assert run_verification.apply(args=[verification.pk]).get() == VerificationStatus.IN_REVIEW
    record = Verification.objects.get(pk=verification.pk)
    assert (record.outcome, record.distance, record.attempts, record.engine) == ("review", 0.52, 1, "scripted")
    assert AuditEvent.objects.filter(action="verification.result", object_id=str(record.pk)).count() == 1
    assert ScriptedEngine.calls == 1


def test_a_missing_record_is_no_error(db):
    assert run_comparison(987654) == "missing"


def test_a_photo_gone_from_storage_is_rejected_not_retried(submit, scripted_face_engine):
    verification = submit()
    verification.live_photo.storage.delete(verification.live_photo.name)
    assert run_comparison(verification.pk) == VerificationStatus.REJECTED
    record = Verification.objects.get(pk=verification.pk)
    assert [(r["code"], r["photo"]) for r in record.reasons] == [("unreadable", "live")]
    assert ScriptedEngine.calls == 0


def test_an_engine_crash_on_a_photo_becomes_rejected(submit, scripted_face_engine, monkeypatch):
    def crash(self, id_bytes, live_bytes):
        raise RuntimeError("dlib: unexpected image")

    monkeypatch.setattr(ScriptedEngine, "compare", crash)
    verification = submit()
    assert run_comparison(verification.pk) == VerificationStatus.REJECTED
    record = Verification.objects.get(pk=verification.pk)
    assert [r["code"] for r in record.reasons] == ["engine_error"]
    assert record.engine == "scripted"


def test_a_broken_engine_leaves_the_record_pending(submit, scripted_face_engine, monkeypatch):
    def unavailable(self, id_bytes, live_bytes):
        raise EngineUnavailable("face_recognition cannot be loaded")

    monkeypatch.setattr(ScriptedEngine, "compare", unavailable)
    verification = submit()
    with pytest.raises(EngineUnavailable):
        run_comparison(verification.pk)
    assert Verification.objects.get(pk=verification.pk).status == VerificationStatus.PENDING


def test_a_transient_storage_error_is_retried_by_the_task(submit, scripted_face_engine, monkeypatch):
    verification = submit()
    real_read = matching._read
    failures = []

    def flaky(field):
        if len(failures) < 2:
            failures.append(field.name)
            raise OSError("storage unavailable")
        return real_read(field)

    monkeypatch.setattr(matching, "_read", flaky)
    with pytest.raises(OSError):
        run_comparison(verification.pk)  # the runner itself does not swallow it
    assert Verification.objects.get(pk=verification.pk).status == VerificationStatus.PENDING
    # The task retries (eagerly here: apply() runs the retry in place) until the storage answers.
    assert run_verification.apply(args=[verification.pk], throw=False).get() == VerificationStatus.PASSED
    assert len(failures) == 2
    assert Verification.objects.get(pk=verification.pk).status == VerificationStatus.PASSED


def test_the_task_runs_on_the_faces_queue_with_late_acks_retries_and_time_limits():
    task = run_verification
    assert task.queue == "faces"
    assert task.acks_late and task.reject_on_worker_lost
    assert OSError in task.autoretry_for and OperationalError in task.autoretry_for
    assert set(TRANSIENT_ERRORS) <= set(task.autoretry_for)
    assert task.retry_backoff and task.retry_kwargs["max_retries"] >= 3
    assert 0 < task.soft_time_limit < task.time_limit


def test_verification_create_runs_the_comparison_after_commit(
    world, scripted_face_engine, django_capture_on_commit_callbacks, settings
):
    from config.celery import app

    assert app.conf.task_always_eager  # tests/conftest.py runs tasks in-process
    scripted_face_engine("pass", distance=0.33)
    enterprise, actor = world["enterprise"], world["users"]["account_manager"]
    card = factories.card(enterprise=enterprise, actor=actor)
    with django_capture_on_commit_callbacks(execute=True):
        verification = factories.card_user_registration(actor=actor, enterprise=enterprise, cards=[card])
    record = Verification.objects.get(pk=verification.pk)
    assert (record.status, record.distance) == (VerificationStatus.PASSED, 0.33)


def test_find_replay_compares_hashes_by_hamming_distance(submit, scripted_face_engine, settings):
    scripted_face_engine("pass", phash="00000000000000ff")
    first = submit()
    run_comparison(first.pk)
    assert find_replay("00000000000000ff", exclude_pk=first.pk) is None  # itself does not count
    assert find_replay("000000000000003f").pk == first.pk  # 2 bits apart
    assert find_replay("0000000000000000") is None  # 8 bits apart
    settings.FACE_REPLAY_MAX_DISTANCE = 8
    assert find_replay("0000000000000000").pk == first.pk
