"""The active liveness check (issue 9 §3) on the real frame sequences of ../shared/testdata/liveness."""

from __future__ import annotations

import functools
import json
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.conftest import liveness_testdata_dir
from verification import liveness

ROOT = liveness_testdata_dir()
# On one xdist worker, so that the frames cached below are measured once per run, not once per worker.
pytestmark = [pytest.mark.liveness, pytest.mark.slow, pytest.mark.xdist_group("liveness_frames")]


def _files(sequence: str) -> list[Path]:
    return sorted((ROOT / sequence).glob("*.jpg"))


@pytest.fixture(autouse=True)
def _measure_once(monkeypatch):
    # Every sequence is checked against several challenges: measure each frame once per test run.
    monkeypatch.setattr(liveness, "measure_frame", _cached_measure)


@functools.lru_cache(maxsize=256)
def _cached_measure(data: bytes):
    return _REAL_MEASURE(data)


_REAL_MEASURE = liveness.measure_frame


def check(files: list[Path], challenge: list[str], times: list[float] | None = None):
    frames = [path.read_bytes() for path in files]
    if times is None:
        times = [liveness.timestamp_from_name(path.name) for path in files]
    return liveness.check_liveness(frames, times, challenge)


def codes(result) -> set[str]:
    return {reason["code"] for reason in result.reasons}


TURNS = {
    "turn_left_intel_female": "left",
    "turn_right_intel_female": "right",
    "turn_right_liveportrait_d3": "right",
}


@pytest.mark.parametrize("sequence", sorted(TURNS))
def test_a_real_turn_passes_for_its_direction_only(sequence):
    asked = TURNS[sequence]
    result = check(_files(sequence), [asked])
    assert result.outcome == "pass", result.as_dict()
    assert all(frame.faces == 1 for frame in result.frames)
    assert result.best_frame is not None and abs(result.frames[result.best_frame].yaw) < 0.1

    other = check(_files(sequence), ["right" if asked == "left" else "left"])
    assert other.outcome == "fail"
    assert "move_missing" in codes(other)


def test_turning_and_coming_back_passes_both_moves_in_order():
    # The two Intel clips are consecutive parts of one recording: right from -0.57 to +0.31, then back left.
    files = _files("turn_right_intel_female") + _files("turn_left_intel_female")
    assert check(files, ["right", "left"]).outcome == "pass"
    assert "move_missing" in codes(check(files, ["left", "right"]))


def test_straight_is_a_frontal_frame_in_its_place():
    files = _files("turn_left_intel_female")  # +0.28 -> +0.06 (frontal) -> -0.32
    assert check(files, ["straight", "left"]).outcome == "pass"
    assert "move_missing" in codes(check(files, ["left", "straight"]))


@pytest.mark.parametrize("sequence", ["static_intel_male", "static_liveportrait_d18"])
@pytest.mark.parametrize("asked", [["left"], ["right"], ["left", "right"]])
def test_a_static_sequence_never_passes_a_turn(sequence, asked):
    result = check(_files(sequence), asked)
    assert result.outcome == "fail"
    assert "move_missing" in codes(result)


def test_one_picture_sent_many_times_is_refused_as_identical():
    frame = _files("static_intel_male")[0]
    result = check([frame] * 10, ["left"], times=[i * 0.1 for i in range(10)])
    assert result.outcome == "fail"
    assert codes(result) == {"frames_identical"}


@pytest.mark.parametrize(
    ("first", "second", "asked"),
    [
        ("turn_left_intel_female", "static_intel_male", "left"),
        ("turn_right_intel_female", "turn_right_liveportrait_d3", "right"),
    ],
)
def test_a_sequence_whose_person_changes_is_refused(first, second, asked):
    # Spliced: the first half of one person's turn, then another person's frames that carry the move on.
    files = _files(first)[:5] + _files(second)[8:13]
    result = check(files, [asked], times=[i * 0.1 for i in range(len(files))])
    assert result.outcome == "fail"
    assert "identity_changed" in codes(result)


def test_implausible_timing_fails_and_missing_times_are_inconclusive():
    files = _files("turn_left_intel_female")
    burst = check(files, ["left"], times=[i * 0.001 for i in range(len(files))])  # 1000 fps
    assert "timing_implausible" in codes(burst)
    unknown = liveness.check_liveness([path.read_bytes() for path in files], None, ["left"])
    assert unknown.outcome == "inconclusive"
    assert codes(unknown) == {"no_timestamps"}


def test_too_few_frames_is_inconclusive_without_measuring():
    files = _files("turn_left_intel_female")[:3]
    result = check(files, ["left"])
    assert result.outcome == "inconclusive"
    assert codes(result) == {"too_few_frames"}


def test_the_command_prints_the_documented_json():
    out = StringIO()
    files = [str(path) for path in _files("turn_left_intel_female")]
    call_command("liveness_check", "--challenge", "left", *files, stdout=out)
    data = json.loads(out.getvalue())
    assert data["passed"] is True
    assert data["outcome"] == "pass"
    assert data["reasons"] == []
    assert len(data["frames"]) == len(files)
    assert all(set(frame) == {"yaw", "faces"} and frame["faces"] == 1 for frame in data["frames"])
    assert data["frames"][0]["yaw"] > 0.2 > -0.2 > data["frames"][-1]["yaw"]

    out = StringIO()
    call_command("liveness_check", "--challenge", "right", *files, stdout=out)
    refused = json.loads(out.getvalue())
    assert (refused["passed"], refused["outcome"]) == (False, "fail")
    assert {"code": "move_missing", "message": liveness._MESSAGES["move_missing"]} in refused["reasons"]


def test_the_faces_queue_task_reads_stored_frames(settings, tmp_path):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from verification.tasks import run_liveness_check

    settings.MEDIA_ROOT = str(tmp_path)
    files = _files("turn_right_intel_female")
    paths = [default_storage.save(f"liveness/{path.name}", ContentFile(path.read_bytes())) for path in files]
    result = run_liveness_check.delay(paths, [liveness.timestamp_from_name(path.name) for path in files], ["right"])
    assert result.get()["outcome"] == "pass"


def test_loading_the_library_leaves_pillows_truncated_image_setting_alone(monkeypatch):
    # A bare `import face_recognition` switches Pillow's LOAD_TRUNCATED_IMAGES on for the whole process,
    # and truncated uploads would then be decoded instead of refused.
    from PIL import ImageFile

    monkeypatch.setattr(liveness, "_LIBRARY", None)
    for name in [n for n in sys.modules if n == "face_recognition" or n.startswith("face_recognition.")]:
        monkeypatch.delitem(sys.modules, name)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    liveness._library()
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.zh
def test_the_reasons_speak_the_language_of_the_answer():
    result = check(_files("turn_left_intel_female")[:3], ["left"])
    assert result.reasons == [{"code": "too_few_frames", "message": "拍摄的画面太少：请重新拍摄"}]
