"""The face engine (verification.engine): the real face_recognition adapter on real photos.

Tests marked `faces` use ../shared/testdata/faces. The photos stay small
(johns/ crops are 150 px) so the whole file runs in a few seconds.
"""

from __future__ import annotations

import builtins
import io
import sys

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured
from PIL import Image, ImageFile

from verification import engine as engine_module
from verification.engine import (
    ComparisonResult,
    EngineUnavailable,
    FaceEngine,
    FaceRecognitionEngine,
    ScriptedEngine,
    decode_image,
    get_engine,
    hamming,
    load_face_recognition,
    outcome_for,
    perceptual_hash,
)

ORIENTATION = 0x0112


def jpeg(img: Image.Image, quality: int = 90, **kwargs) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=quality, **kwargs)
    return buffer.getvalue()


def blank(size=(400, 300)) -> bytes:
    return jpeg(Image.new("RGB", size, (200, 190, 180)))


@pytest.fixture(scope="module")
def real_engine():
    return FaceRecognitionEngine()


def john(faces_dir, person: str, index: int):
    return sorted((faces_dir / "johns" / person).glob("*.jpg"))[index]


def codes(result: ComparisonResult) -> list[tuple[str, str]]:
    return [(item["code"], item.get("photo", "")) for item in result.reasons]


# --------------------------------------------------------------------------
# loading: always runs, photos or not


def test_the_real_engine_loads_and_runs(settings, real_engine):
    assert settings.FACE_ENGINE == "verification.engine.FaceRecognitionEngine"
    engine = get_engine()
    assert isinstance(engine, FaceRecognitionEngine)
    assert isinstance(engine, FaceEngine)
    assert engine.name == "face_recognition"
    assert engine.version.startswith("fr1.3.0+dlib")
    # The detector really runs: an image without a face is rejected for that reason, not crashed on.
    result = engine.compare(blank(), blank())
    assert result.outcome == "rejected"
    assert codes(result) == [("no_face", "live"), ("no_face", "id")]
    assert set(result.timings_ms) == {"decode", "detect", "encode", "total"}


def test_loading_leaves_pillows_truncated_image_setting_alone():
    # face_recognition sets ImageFile.LOAD_TRUNCATED_IMAGES = True when imported.
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    load_face_recognition()
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.fixture
def fresh_import(monkeypatch):
    """Forget the imported library, so the guard imports it again (restored afterwards)."""
    for name in list(sys.modules):
        if name == "face_recognition" or name.startswith(("face_recognition.", "face_recognition_models")):
            monkeypatch.delitem(sys.modules, name)
    real_import = builtins.__import__

    def fail_on(module: str, exc: BaseException):
        def fake_import(name, *args, **kwargs):
            if name == module:
                raise exc
            return real_import(name, *args, **kwargs)

        monkeypatch.setattr(builtins, "__import__", fake_import)

    return fail_on


@pytest.mark.parametrize(
    ("module", "exc"),
    [
        # face_recognition prints a hint and calls quit() when face_recognition_models fails to import
        ("face_recognition", SystemExit(0)),
        ("face_recognition_models", SystemExit(0)),
        ("face_recognition_models", ImportError("No module named 'pkg_resources'")),
        ("dlib", ImportError("libdlib.so: cannot open shared object file")),
    ],
)
def test_a_broken_install_raises_engine_unavailable_instead_of_exiting(fresh_import, module, exc):
    fresh_import(module, exc)
    with pytest.raises(EngineUnavailable, match="cannot be loaded"):
        FaceRecognitionEngine()


def test_missing_pkg_resources_raises_engine_unavailable(fresh_import, monkeypatch):
    # What setuptools >= 81 does: face_recognition_models' own `from pkg_resources import ...` fails.
    monkeypatch.setitem(sys.modules, "pkg_resources", None)
    with pytest.raises(EngineUnavailable):
        load_face_recognition()


def test_missing_model_files_raise_engine_unavailable(monkeypatch, tmp_path):
    import face_recognition_models

    monkeypatch.setattr(
        face_recognition_models,
        "face_recognition_model_location",
        lambda: str(tmp_path / "dlib_face_recognition_resnet_model_v1.dat"),
    )
    with pytest.raises(EngineUnavailable, match="dlib_face_recognition_resnet_model_v1.dat"):
        load_face_recognition()


def test_face_engine_setting_selects_the_engine(settings):
    settings.FACE_ENGINE = "verification.engine.ScriptedEngine"
    assert isinstance(get_engine(), ScriptedEngine)
    settings.FACE_ENGINE = "verification.engine.NoSuchEngine"
    with pytest.raises(ImproperlyConfigured):
        get_engine()


# --------------------------------------------------------------------------
# distance to outcome


@pytest.mark.parametrize(
    ("distance", "outcome"),
    [(0.0, "pass"), (0.45, "pass"), (0.4501, "review"), (0.60, "review"), (0.6001, "fail"), (1.2, "fail")],
)
def test_distance_bands(distance, outcome):
    assert outcome_for(distance, 0.45, 0.60) == outcome


def test_default_thresholds_send_borderline_distances_to_review(settings):
    # Measured on testdata/faces: same person <= 0.549, different people >= 0.611 (bench/faces.py --measure).
    assert settings.FACE_MATCH_PASS_THRESHOLD == 0.45
    assert settings.FACE_MATCH_FAIL_THRESHOLD == 0.60
    assert outcome_for(0.549, settings.FACE_MATCH_PASS_THRESHOLD, settings.FACE_MATCH_FAIL_THRESHOLD) == "review"


def test_inverted_thresholds_are_refused(settings, real_engine):
    settings.FACE_MATCH_PASS_THRESHOLD = 0.7
    settings.FACE_MATCH_FAIL_THRESHOLD = 0.6
    with pytest.raises(ImproperlyConfigured):
        real_engine.compare(blank(), blank())


# --------------------------------------------------------------------------
# images


def test_decode_applies_exif_orientation_and_downscales():
    upright = Image.new("RGB", (1600, 1200), (10, 20, 30))
    upright.paste((250, 250, 250), (0, 0, 400, 300))  # a bright top-left corner
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # viewer rotates the stored pixels 90 degrees clockwise
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    img = decode_image(jpeg(stored, exif=exif.tobytes()), max_side=1024)
    assert img.mode == "RGB"
    assert img.size == (1024, 768)
    assert np.asarray(img)[20, 20].min() > 200  # the bright corner is back top left
    assert np.asarray(img)[-20, -20].max() < 60


def test_perceptual_hash_survives_re_encoding_and_resizing_but_not_another_photo(tmp_path):
    rng = np.random.default_rng(7)
    base = Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).resize((640, 480))
    other = Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).resize((640, 480))
    original = perceptual_hash(base)
    copy = decode_image(jpeg(base.resize((560, 420)), quality=60), max_side=1024)
    assert len(original) == 16 and int(original, 16) >= 0
    assert hamming(original, perceptual_hash(copy)) <= 6
    assert hamming(original, perceptual_hash(other)) > 12


# --------------------------------------------------------------------------
# the real engine on real photos


@pytest.mark.faces
@pytest.mark.parametrize(
    ("id_photo", "live_photo"),
    [
        ("obama/obama1.jpg", "obama/obama2.jpg"),
        (("John_Simm", 0), ("John_Simm", 1)),
        (("John_Savage", 0), ("John_Savage", 5)),
    ],
)
def test_same_person_passes(faces_dir, real_engine, id_photo, live_photo):
    paths = [john(faces_dir, *p) if isinstance(p, tuple) else faces_dir / p for p in (id_photo, live_photo)]
    result = real_engine.compare(paths[0].read_bytes(), paths[1].read_bytes())
    assert result.outcome == "pass", result
    assert 0 <= result.distance <= result.threshold_pass
    assert result.reasons == []
    assert result.engine == "face_recognition" and result.engine_version == real_engine.version
    assert (result.threshold_pass, result.threshold_fail) == (0.45, 0.60)
    assert result.timings_ms["total"] >= result.timings_ms["detect"] > 0
    assert result.timings_ms["encode"] > 0


@pytest.mark.faces
@pytest.mark.parametrize(
    ("id_photo", "live_photo"),
    [(("John_Simm", 0), ("John_Salley", 0)), (("John_Savage", 0), ("John_Schneider", 0))],
)
def test_different_people_fail(faces_dir, real_engine, id_photo, live_photo):
    result = real_engine.compare(john(faces_dir, *id_photo).read_bytes(), john(faces_dir, *live_photo).read_bytes())
    assert result.outcome == "fail", result
    assert result.distance > result.threshold_fail


@pytest.mark.faces
def test_two_people_in_the_live_photo_are_rejected(faces_dir, real_engine):
    result = real_engine.compare(
        john(faces_dir, "John_Simm", 0).read_bytes(), (faces_dir / "two_people.jpg").read_bytes()
    )
    assert result.outcome == "rejected"
    assert result.distance is None
    assert result.reasons == [
        {
            "code": "multiple_faces",
            "photo": "live",
            "zh": "照片中有多张人脸，请确保画面中只有本人后重新拍摄",
            "en": "More than one face in the photo: make sure only you are in the picture and take it again",
        }
    ]


@pytest.mark.faces
def test_exif_rotated_live_photo_still_passes(faces_dir, real_engine):
    upright = Image.open(john(faces_dir, "John_Simm", 1)).convert("RGB")
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # as a phone held sideways stores it
    assert real_engine.detect(stored, 1) == []  # without the EXIF orientation there is no face to find
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    result = real_engine.compare(john(faces_dir, "John_Simm", 0).read_bytes(), jpeg(stored, exif=exif.tobytes()))
    assert result.outcome == "pass", result


@pytest.mark.faces
def test_a_small_id_portrait_is_found_by_upsampling_and_goes_to_review(faces_dir, real_engine):
    card = Image.new("RGB", (320, 200), (225, 230, 240))
    portrait = Image.open(john(faces_dir, "John_Simm", 0)).convert("RGB").resize((30, 30), Image.Resampling.LANCZOS)
    card.paste(portrait, (230, 40))
    assert real_engine.detect(card, 1) == []  # too small for the first pass
    result = real_engine.compare(jpeg(card), john(faces_dir, "John_Simm", 1).read_bytes())
    assert result.outcome in ("pass", "review"), result
    assert result.distance is not None


@pytest.mark.faces
def test_tiny_live_photo_is_rejected_as_face_too_small(faces_dir, real_engine):
    tiny = Image.open(john(faces_dir, "John_Simm", 1)).convert("RGB").resize((20, 20))
    result = real_engine.compare(john(faces_dir, "John_Simm", 0).read_bytes(), jpeg(tiny))
    assert result.outcome == "rejected"
    assert codes(result) == [("face_too_small", "live")]
    assert result.reasons[0]["zh"] == "人脸过小，请靠近镜头重新拍摄"


@pytest.mark.faces
def test_small_face_in_a_large_live_photo_is_too_small(faces_dir, real_engine):
    scene = Image.new("RGB", (480, 360), (120, 130, 125))
    scene.paste(Image.open(john(faces_dir, "John_Simm", 1)).convert("RGB").resize((70, 70)), (200, 150))
    result = real_engine.compare(john(faces_dir, "John_Simm", 0).read_bytes(), jpeg(scene))
    assert codes(result) == [("face_too_small", "live")]


@pytest.mark.faces
def test_truncated_jpeg_is_rejected_as_unreadable(faces_dir, real_engine):
    whole = (faces_dir / "kit_harington" / "kit2.jpg").read_bytes()
    result = real_engine.compare(john(faces_dir, "John_Simm", 0).read_bytes(), whole[: len(whole) // 2])
    assert result.outcome == "rejected"
    assert result.reasons == [
        {
            "code": "unreadable",
            "photo": "live",
            "zh": "现场照片无法读取，请重新拍摄",
            "en": "The live photo cannot be read: take it again",
        }
    ]
    assert result.live_phash == ""


@pytest.mark.parametrize("data", [b"", b"not an image at all", b"\xff\xd8\xff\xe0" + b"\0" * 50])
def test_garbage_is_rejected_as_unreadable_for_each_photo(real_engine, data):
    result = real_engine.compare(data, data)
    assert result.outcome == "rejected"
    assert codes(result) == [("unreadable", "live"), ("unreadable", "id")]


@pytest.mark.faces
def test_no_face_in_the_id_photo(faces_dir, real_engine):
    result = real_engine.compare(blank(), john(faces_dir, "John_Simm", 1).read_bytes())
    assert codes(result) == [("no_face", "id")]
    assert result.live_phash and len(result.live_phash) == 16


# --------------------------------------------------------------------------
# the test double


def test_scripted_engine_returns_what_the_test_chose(scripted_face_engine):
    scripted_face_engine("review", distance=0.55)
    engine = get_engine()
    result = engine.compare(b"", b"")
    assert (result.outcome, result.distance, result.engine) == ("review", 0.55, "scripted")
    scripted_face_engine("rejected")
    assert [r["code"] for r in engine.compare(b"", b"").reasons] == ["no_face"]
    assert scripted_face_engine.engine.calls == 2


def test_engine_cache_is_per_setting(settings):
    settings.FACE_ENGINE = "verification.engine.ScriptedEngine"
    assert get_engine() is get_engine()
    assert engine_module._engines["verification.engine.ScriptedEngine"] is get_engine()
