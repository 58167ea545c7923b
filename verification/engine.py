"""Face comparison engines (人证比对): an ID photo against a live photo.

An engine is anything that satisfies :class:`FaceEngine`. The one in use is
named by ``settings.FACE_ENGINE`` (a dotted path) and obtained with
:func:`get_engine`. The default, :class:`FaceRecognitionEngine`, wraps the
``face_recognition`` library (dlib's HOG detector and ResNet encoder):

1. decode with Pillow, apply the EXIF orientation, convert to RGB and
   downscale to at most ``FACE_MAX_IMAGE_PX``;
2. detect with HOG (never CNN: seconds per image on CPU). The live photo
   must show exactly one face of a usable size; in the ID photo the largest
   face is taken, detecting with more upsampling when the portrait is small;
3. encode both faces and measure their distance;
4. distance <= FACE_MATCH_PASS_THRESHOLD: pass; up to
   FACE_MATCH_FAIL_THRESHOLD: review; above: fail. A photo that cannot be
   used gives ``rejected`` with reasons the user reads (zh and en).

:class:`ScriptedEngine` is a test double for other apps' unit tests only.
"""

from __future__ import annotations

import importlib.metadata
import io
import threading
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

__all__ = [
    "ComparisonResult",
    "EngineUnavailable",
    "FaceEngine",
    "FaceRecognitionEngine",
    "ScriptedEngine",
    "decode_image",
    "get_engine",
    "hamming",
    "perceptual_hash",
    "reason",
]

DEFAULT_ENGINE = "verification.engine.FaceRecognitionEngine"

PASS, REVIEW, FAIL, REJECTED = "pass", "review", "fail", "rejected"
OUTCOMES = (PASS, REVIEW, FAIL, REJECTED)


class EngineUnavailable(RuntimeError):
    """The face engine cannot run here (library or model files missing, broken install)."""


# --------------------------------------------------------------------------
# reasons the user reads

_REASONS: dict[tuple[str, str], tuple[str, str]] = {
    ("no_face", "live"): (
        "未检测到人脸，请正对镜头重新拍摄",
        "No face detected: face the camera and take the photo again",
    ),
    ("no_face", "id"): (
        "证件照中未检测到人脸，请重新拍摄清晰完整的证件照",
        "No face found in the ID photo: take a clear photo of the whole ID document again",
    ),
    ("multiple_faces", "live"): (
        "照片中有多张人脸，请确保画面中只有本人后重新拍摄",
        "More than one face in the photo: make sure only you are in the picture and take it again",
    ),
    ("face_too_small", "live"): (
        "人脸过小，请靠近镜头重新拍摄",
        "The face is too small: move closer to the camera and take the photo again",
    ),
    ("face_too_small", "id"): (
        "证件照过小或人像不清晰，请重新拍摄清晰的证件照",
        "The ID photo is too small or its portrait is unclear: take a sharper photo of the ID document",
    ),
    ("unreadable", "live"): (
        "现场照片无法读取，请重新拍摄",
        "The live photo cannot be read: take it again",
    ),
    ("unreadable", "id"): (
        "证件照无法读取，请重新上传",
        "The ID photo cannot be read: upload it again",
    ),
    ("engine_error", ""): (
        "照片无法处理，请重新拍摄",
        "The photos could not be processed: take them again",
    ),
    ("replay", "live"): (
        "该现场照片已在另一次核验中使用过，需人工审核",
        "This live photo was already used for another verification: a reviewer will check it",
    ),
}


def reason(code: str, photo: str = "") -> dict:
    """A reason as stored on the record: {"code", "zh", "en"} (+ "photo": "id" or "live")."""
    zh, en = _REASONS[(code, photo)]
    item = {"code": code, "zh": zh, "en": en}
    if photo:
        item["photo"] = photo
    return item


# --------------------------------------------------------------------------
# the interface


@dataclass
class ComparisonResult:
    outcome: str  # pass | review | fail | rejected
    distance: float | None = None
    reasons: list[dict] = field(default_factory=list)
    timings_ms: dict = field(default_factory=dict)  # decode, detect, encode, total
    threshold_pass: float | None = None
    threshold_fail: float | None = None
    engine: str = ""
    engine_version: str = ""
    # Perceptual hash of the live photo (64-bit hex) for the replay defence;
    # None: the engine did not compute one (the caller does); "": no hash, no check.
    live_phash: str | None = None

    def as_json(self) -> dict:
        """The ops command's object: outcome, distance, reasons, timings_ms."""
        return {
            "outcome": self.outcome,
            "distance": self.distance,
            "reasons": self.reasons,
            "timings_ms": self.timings_ms,
        }

    def as_dict(self) -> dict:
        return asdict(self)


@runtime_checkable
class FaceEngine(Protocol):
    name: str
    version: str

    def compare(self, id_image_bytes: bytes, live_image_bytes: bytes) -> ComparisonResult: ...


def thresholds() -> tuple[float, float]:
    t_pass = float(settings.FACE_MATCH_PASS_THRESHOLD)
    t_fail = float(settings.FACE_MATCH_FAIL_THRESHOLD)
    if t_pass > t_fail:
        raise ImproperlyConfigured("FACE_MATCH_PASS_THRESHOLD must not exceed FACE_MATCH_FAIL_THRESHOLD")
    return t_pass, t_fail


def outcome_for(distance: float, t_pass: float, t_fail: float) -> str:
    if distance <= t_pass:
        return PASS
    if distance <= t_fail:
        return REVIEW
    return FAIL


_engines: dict[str, FaceEngine] = {}
_engines_lock = threading.Lock()


def get_engine() -> FaceEngine:
    """The engine named by settings.FACE_ENGINE, built once per process."""
    path = getattr(settings, "FACE_ENGINE", "") or DEFAULT_ENGINE
    engine = _engines.get(path)
    if engine is None:
        with _engines_lock:
            engine = _engines.get(path)
            if engine is None:
                try:
                    cls = import_string(path)
                except ImportError as exc:
                    raise ImproperlyConfigured(f"FACE_ENGINE={path!r} cannot be imported: {exc}") from exc
                engine = cls()
                _engines[path] = engine
    return engine


# --------------------------------------------------------------------------
# images

_OPEN_FORMATS = ("JPEG", "PNG", "WEBP")
_PIL_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, Image.DecompressionBombError)


class ImageUnreadable(ValueError):
    pass


class _EOFTrackingBytesIO(io.BytesIO):
    """Notices a decoder reading past the end: truncation, even when
    ImageFile.LOAD_TRUNCATED_IMAGES (which face_recognition sets) pads the image."""

    hit_eof = False

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        if not chunk and size != 0:
            self.hit_eof = True
        return chunk


def decode_image(data: bytes, *, max_side: int, max_pixels: int | None = None) -> Image.Image:
    """Decode, apply EXIF orientation, convert to RGB, downscale to at most max_side. Raises ImageUnreadable."""
    if not data:
        raise ImageUnreadable("empty")
    if max_pixels is None:
        max_pixels = int(getattr(settings, "UPLOAD_MAX_PIXELS", 40_000_000))
    fp = _EOFTrackingBytesIO(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(fp, formats=_OPEN_FORMATS)
            width, height = img.size
            if width <= 0 or height <= 0 or width * height > max_pixels:
                raise ImageUnreadable("size")
            if img.format in ("JPEG", "MPO") and max(width, height) > max_side:
                # Let libjpeg decode at a reduced scale (1/2, 1/4, 1/8) that stays above max_side.
                scale = max_side / max(width, height)
                img.draft("RGB", (int(width * scale) + 1, int(height * scale) + 1))
            fp.hit_eof = False
            img.load()
            if fp.hit_eof and ImageFile.LOAD_TRUNCATED_IMAGES:
                raise ImageUnreadable("truncated")
            img = ImageOps.exif_transpose(img)
            if img.mode != "RGB":
                if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                    rgba = img.convert("RGBA")
                    background = Image.new("RGB", rgba.size, (255, 255, 255))
                    background.paste(rgba, mask=rgba.getchannel("A"))
                    img = background
                else:
                    img = img.convert("RGB")
            if max(img.size) > max_side:
                img.thumbnail((max_side, max_side), Image.Resampling.BICUBIC)
        except ImageUnreadable:
            raise
        except (UnidentifiedImageError, Image.DecompressionBombWarning, *_PIL_ERRORS) as exc:
            raise ImageUnreadable(type(exc).__name__) from None
    return img


_DCT_SIZE = 32
_DCT = np.cos(np.pi * np.outer(np.arange(_DCT_SIZE), 2 * np.arange(_DCT_SIZE) + 1) / (2 * _DCT_SIZE))


def perceptual_hash(img: Image.Image) -> str:
    """64-bit perceptual hash (pHash: the signs of the 8x8 lowest DCT frequencies of a
    32x32 greyscale copy against their median), as 16 hex digits.

    A re-encoded or resized copy of a photo stays within a few bits (<= 2 on
    the test photos); different photos, even of the same person in the same
    setting, are far apart. Bytes are never compared.
    """
    gray = np.asarray(img.convert("L").resize((_DCT_SIZE, _DCT_SIZE), Image.Resampling.LANCZOS), dtype=np.float64)
    low = (_DCT @ gray @ _DCT.T)[:8, :8].flatten()
    bits = low > np.median(low)
    return f"{int(''.join('1' if bit else '0' for bit in bits), 2):016x}"


def perceptual_hash_bytes(data: bytes) -> str:
    """The live photo's hash from its bytes; "" when it cannot be decoded."""
    try:
        return perceptual_hash(decode_image(data, max_side=int(getattr(settings, "FACE_MAX_IMAGE_PX", 1024))))
    except ImageUnreadable:
        return ""


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


# --------------------------------------------------------------------------
# the face_recognition adapter


def load_face_recognition():
    """Import face_recognition behind a guard that turns a broken install into EngineUnavailable.

    face_recognition imports face_recognition_models, which imports
    pkg_resources (gone in setuptools >= 81); when that fails,
    face_recognition prints a hint and calls quit(): the process would exit
    with status 0. Import the models first, check their files, and catch
    SystemExit as well.
    """
    import os

    truncated_setting = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pkg_resources' deprecation warning
            import face_recognition_models

            locations = [
                face_recognition_models.pose_predictor_model_location(),
                face_recognition_models.pose_predictor_five_point_model_location(),
                face_recognition_models.face_recognition_model_location(),
                face_recognition_models.cnn_face_detector_model_location(),  # loaded on import, never used
            ]
            missing = [os.path.basename(p) for p in locations if not os.path.isfile(p)]
            if missing:
                raise EngineUnavailable(f"face_recognition_models is missing model files: {', '.join(missing)}")
            import dlib
            import face_recognition
    except EngineUnavailable:
        raise
    except (ImportError, SystemExit, Exception) as exc:
        raise EngineUnavailable(
            f"face_recognition cannot be loaded ({type(exc).__name__}: {exc}); "
            "check face_recognition_models, dlib-bin and setuptools<81"
        ) from exc
    finally:
        # face_recognition sets this process-wide; other code (upload checks) wants truncation reported.
        ImageFile.LOAD_TRUNCATED_IMAGES = truncated_setting
    return face_recognition, dlib


def _version(dist: str, fallback: str = "?") -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return fallback


class FaceRecognitionEngine:
    """face_recognition 1.3 (dlib HOG detector, ResNet encoder, 128-d encodings, Euclidean distance)."""

    name = "face_recognition"

    def __init__(self) -> None:
        self.fr, dlib = load_face_recognition()
        # e.g. "fr1.3.0+dlib20.0.1" (the record's field holds 32 characters)
        self.version = f"fr{_version('face_recognition')}+dlib{getattr(dlib, '__version__', '?')}"[:32]

    # Settings are read on each call, so a changed value needs no new engine.
    @staticmethod
    def config() -> dict:
        return {
            "max_side": int(getattr(settings, "FACE_MAX_IMAGE_PX", 1024)),
            "min_live_face": int(getattr(settings, "FACE_MIN_LIVE_FACE_PX", 60)),
            "min_id_face": int(getattr(settings, "FACE_MIN_ID_FACE_PX", 20)),
            "id_upsample_below": int(getattr(settings, "FACE_ID_UPSAMPLE_BELOW_PX", 80)),
        }

    def detect(self, img: Image.Image, upsample: int) -> list[tuple[int, int, int, int]]:
        """HOG only: CNN detection takes seconds per image on CPU."""
        return self.fr.face_locations(np.asarray(img), number_of_times_to_upsample=upsample, model="hog")

    def locate(self, img: Image.Image, photo: str, cfg: dict) -> tuple[tuple | None, dict | None]:
        """The face box to encode, or the reason there is none.

        live: exactly one face, at least min_live_face pixels high.
        id: the largest face; a small or missed portrait is looked for again at upsample 2.
        """
        if photo == "live":
            if min(img.size) < cfg["min_live_face"]:
                return None, reason("face_too_small", "live")
            found = self.detect(img, 1)
            if not found:
                return None, reason("no_face", "live")
            if len(found) > 1:
                return None, reason("multiple_faces", "live")
            if _height(found[0]) < cfg["min_live_face"]:
                return None, reason("face_too_small", "live")
            return found[0], None
        if min(img.size) < cfg["min_id_face"]:
            return None, reason("face_too_small", "id")
        largest = _largest(self.detect(img, 1))
        if largest is None or _height(largest) < cfg["id_upsample_below"]:
            # An ID card photographed from afar or a low-resolution scan: HOG at
            # upsample 1 misses faces under about 40 px, so look again at twice the size.
            largest = _largest(self.detect(img, 2)) or largest
        if largest is None:
            return None, reason("no_face", "id")
        if _height(largest) < cfg["min_id_face"]:
            return None, reason("face_too_small", "id")
        return largest, None

    def encode(self, img: Image.Image, box: tuple) -> np.ndarray:
        return self.fr.face_encodings(np.asarray(img), known_face_locations=[box], num_jitters=1)[0]

    def compare(self, id_image_bytes: bytes, live_image_bytes: bytes) -> ComparisonResult:
        started = time.perf_counter()
        t_pass, t_fail = thresholds()
        cfg = self.config()
        timings = {"decode": 0.0, "detect": 0.0, "encode": 0.0}
        reasons: list[dict] = []
        images: dict[str, Image.Image] = {}
        boxes: dict[str, tuple] = {}
        live_phash = ""

        # Both photos are looked at even when one fails, so the user learns every problem at once.
        for photo, data in (("live", live_image_bytes), ("id", id_image_bytes)):
            t = time.perf_counter()
            try:
                images[photo] = decode_image(data, max_side=cfg["max_side"])
            except ImageUnreadable:
                reasons.append(reason("unreadable", photo))
                continue
            finally:
                timings["decode"] += (time.perf_counter() - t) * 1000
            if photo == "live":
                live_phash = perceptual_hash(images["live"])
            t = time.perf_counter()
            box, problem = self.locate(images[photo], photo, cfg)
            timings["detect"] += (time.perf_counter() - t) * 1000
            if problem:
                reasons.append(problem)
            else:
                boxes[photo] = box

        distance = None
        if not reasons:
            t = time.perf_counter()
            live_encoding = self.encode(images["live"], boxes["live"])
            id_encoding = self.encode(images["id"], boxes["id"])
            distance = round(float(self.fr.face_distance([id_encoding], live_encoding)[0]), 4)
            timings["encode"] = (time.perf_counter() - t) * 1000

        timings["total"] = (time.perf_counter() - started) * 1000
        return ComparisonResult(
            outcome=REJECTED if reasons else outcome_for(distance, t_pass, t_fail),
            distance=distance,
            reasons=reasons,
            timings_ms={key: round(value, 1) for key, value in timings.items()},
            threshold_pass=t_pass,
            threshold_fail=t_fail,
            engine=self.name,
            engine_version=self.version,
            live_phash=live_phash,
        )


def _largest(boxes):
    return max(boxes, key=lambda b: _height(b) * _width(b)) if boxes else None


def _height(box) -> int:
    top, _right, bottom, _left = box
    return bottom - top


def _width(box) -> int:
    _top, right, _bottom, left = box
    return right - left


# --------------------------------------------------------------------------
# the test double


class ScriptedEngine:
    """A stand-in for other apps' unit tests (never for production, never for the engine's own tests).

    The outcome comes from settings.FACE_SCRIPTED_OUTCOME, else the class
    attribute ``outcome``; likewise FACE_SCRIPTED_DISTANCE / ``distance`` and
    FACE_SCRIPTED_REASONS / ``reasons``. The result carries no perceptual
    hash unless FACE_SCRIPTED_PHASH / ``phash`` is set, so the replay defence
    stays out of tests that reuse one synthetic photo.
    """

    name = "scripted"
    version = "test"
    outcome = PASS
    distance: float | None = 0.3
    reasons: list[dict] | None = None
    phash = ""
    calls = 0

    def compare(self, id_image_bytes: bytes, live_image_bytes: bytes) -> ComparisonResult:
        type(self).calls += 1
        outcome = getattr(settings, "FACE_SCRIPTED_OUTCOME", None) or self.outcome
        if outcome not in OUTCOMES:
            raise ImproperlyConfigured(f"FACE_SCRIPTED_OUTCOME must be one of {OUTCOMES}")
        distance = getattr(settings, "FACE_SCRIPTED_DISTANCE", self.distance)
        reasons = getattr(settings, "FACE_SCRIPTED_REASONS", None) or self.reasons
        if outcome == REJECTED:
            distance = None
            reasons = reasons or [reason("no_face", "live")]
        t_pass, t_fail = thresholds()
        return ComparisonResult(
            outcome=outcome,
            distance=distance,
            reasons=list(reasons or []),
            timings_ms={"decode": 0.0, "detect": 0.0, "encode": 0.0, "total": 0.0},
            threshold_pass=t_pass,
            threshold_fail=t_fail,
            engine=self.name,
            engine_version=self.version,
            live_phash=getattr(settings, "FACE_SCRIPTED_PHASH", None) or self.phash,
        )
