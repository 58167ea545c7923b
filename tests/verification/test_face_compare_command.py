"""`manage.py face_compare ID_PHOTO LIVE_PHOTO`: the engine without the database, one JSON object out.

No test here has database access (pytest-django refuses it), which proves the command needs none.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
KEYS = {"outcome", "distance", "reasons", "timings_ms"}


def blank_jpeg(path: Path) -> Path:
    Image.new("RGB", (300, 200), (180, 170, 160)).save(path, "JPEG")
    return path


def compare(*args) -> dict:
    out = io.StringIO()
    call_command("face_compare", *map(str, args), stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.faces
def test_a_match_prints_one_json_object(faces_dir):
    photos = sorted((faces_dir / "johns" / "John_Simm").glob("*.jpg"))
    data = compare(photos[0], photos[1])
    assert set(data) == KEYS
    assert data["outcome"] == "pass"
    assert isinstance(data["distance"], float) and data["distance"] <= 0.45
    assert data["reasons"] == []
    assert set(data["timings_ms"]) == {"decode", "detect", "encode", "total"}


@pytest.mark.faces
def test_verbose_output_names_engine_and_thresholds(faces_dir, settings):
    settings.FACE_MATCH_PASS_THRESHOLD = 0.2  # the command uses the settings' thresholds
    photos = sorted((faces_dir / "johns" / "John_Simm").glob("*.jpg"))
    out = io.StringIO()
    call_command("face_compare", str(photos[0]), str(photos[1]), verbosity=2, stdout=out)
    data = json.loads(out.getvalue())
    assert data["outcome"] == "review"
    assert data["thresholds"] == {"pass": 0.2, "fail": 0.6}
    assert data["engine"] == "face_recognition" and data["engine_version"].startswith("fr")


def test_unusable_photos_are_a_result(tmp_path):
    data = compare(blank_jpeg(tmp_path / "id.jpg"), blank_jpeg(tmp_path / "live.jpg"))
    assert data["outcome"] == "rejected"
    assert data["distance"] is None
    assert [r["code"] for r in data["reasons"]] == ["no_face", "no_face"]
    assert data["reasons"][0]["zh"] == "未检测到人脸，请正对镜头重新拍摄"


def test_an_unreadable_path_exits_2(tmp_path):
    with pytest.raises(CommandError) as excinfo:
        compare(blank_jpeg(tmp_path / "id.jpg"), tmp_path / "missing.jpg")
    assert excinfo.value.returncode == 2
    assert "live photo" in str(excinfo.value)


def _run(*args) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
    }
    return subprocess.run(
        [sys.executable, "manage.py", "face_compare", *map(str, args)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_the_process_prints_json_and_exits_0_without_a_database(tmp_path):
    # A real process: the engine loads (no silent exit 0 from face_recognition's quit()),
    # and an unreachable DATABASE_URL does not matter.
    done = _run(blank_jpeg(tmp_path / "id.jpg"), blank_jpeg(tmp_path / "live.jpg"))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) == KEYS and data["outcome"] == "rejected"
    missing = _run(tmp_path / "id.jpg", tmp_path / "nope.jpg")
    assert missing.returncode == 2
    assert missing.stdout == ""
