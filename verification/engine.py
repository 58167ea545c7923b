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
4. refuse a live photo that is a copy of the ID photo (the same file, a
   re-encode, a rescale, the portrait cut out of the ID card): see
   :func:`copy_check`;
5. distance <= FACE_MATCH_PASS_THRESHOLD: pass; up to
   FACE_MATCH_FAIL_THRESHOLD: review; above: fail. A photo that cannot be
   used gives ``rejected`` with reasons the user reads (zh and en).

:class:`ScriptedEngine` is a test double for other apps' unit tests only. :class:`SandboxEngine` is the
engine of sandbox enterprises (issue 10 §5), chosen per record by verification.matching.engine_for: it looks at
no photo and answers the outcome it is built with.
"""

from __future__ import annotations

import importlib.metadata
import io
import os
import threading
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from PIL import Image, ImageFile, ImageFilter, ImageOps, UnidentifiedImageError

__all__ = [
    "ComparisonResult",
    "EngineUnavailable",
    "FaceEngine",
    "FaceRecognitionEngine",
    "SandboxEngine",
    "ScriptedEngine",
    "copy_check",
    "copy_limits",
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
    ("face_mismatch", ""): (
        "现场照片与证件照不是同一人",
        "The live photo and the ID photo are not the same person",
    ),
    ("live_photo_is_id_copy", "live"): (
        "现场照片与证件照为同一张照片，请本人正对镜头重新拍摄",
        "The live photo is a copy of the ID photo: the person must face the camera and take a new photo",
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
    # How close the live photo came to being a copy of the ID photo (copy_check()); {} when not measured.
    copy_signals: dict = field(default_factory=dict)

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


def copy_limits() -> dict:
    """The copy check's limits (settings; see copy_check for the figures behind the defaults)."""
    limits = {
        "image_bits": settings.FACE_COPY_MAX_IMAGE_BITS,
        "face_bits": settings.FACE_COPY_MAX_FACE_BITS,
        "floor": settings.FACE_MATCH_COPY_FLOOR,
    }
    if limits["floor"] >= float(settings.FACE_MATCH_PASS_THRESHOLD):
        raise ImproperlyConfigured("FACE_MATCH_COPY_FLOOR must be below FACE_MATCH_PASS_THRESHOLD")
    return limits


def copy_check(*, image_bits: int, face_bits: int, distance: float, limits: dict | None = None) -> dict:
    """Is the live photo a copy of the ID photo? Two independent signals, either one suffices:

    1. perceptual hashes: of the whole images (64 bits, ``perceptual_hash``) and of the two faces
       (256 bits of the face aligned on its five landmarks, ``FaceRecognitionEngine.face_hash``), so
       that the portrait cut out of an ID card, or a rescaled crop, is found as well as a re-encode;
    2. a floor on the face distance: the same photo encodes to almost the same point.

    Measured on testdata/faces (``python -m bench.faces --measure-copies``): 67 photos, each also
    put on a synthetic ID card; 1,458 copies (the same file, JPEG q60-95, PNG, WebP, 50% and 200%,
    crops of the face with 10-60% margin, alone and doubled, 3 and -5 degree rotations, the card
    itself, the portrait cut out of the card at 1-3x) against 843 genuine same-person pairs of
    different photos (photo/photo and card/photo):

    - whole image: every re-encode and rescale <= 2 bits; genuine >= 8. Limit 4.
    - face: p90 <= 32 bits in every kind of copy (max 92, a rotated half face); genuine >= 42. Limit 32.
    - distance: copies up to 0.276 (p90 <= 0.17), genuine >= 0.182, so no floor separates them all;
      it sits below the genuine minimum with a margin, at 0.12.

    Alone they find 689, 1,435 and 1,330 of the 1,458 copies; together 1,447, and no genuine
    pair (the 11 missed: portraits of 26-45 px cut from the card and upscaled 2-3x, a rotated half
    face, one tight crop). The test photos hold the same photograph twice four times
    (bench.faces.SAME_PHOTOGRAPH): those are copies, and refused.
    """
    limits = limits or copy_limits()
    signals = {
        "image_bits": image_bits,
        "face_bits": face_bits,
        "distance": distance,
    }
    signals["copy"] = (
        image_bits <= limits["image_bits"] or face_bits <= limits["face_bits"] or distance < limits["floor"]
    )
    return signals


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
    path = settings.FACE_ENGINE or DEFAULT_ENGINE
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
        max_pixels = settings.UPLOAD_MAX_PIXELS
    fp = _EOFTrackingBytesIO(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img: Image.Image = Image.open(fp, formats=_OPEN_FORMATS)
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


def _dct_matrix(size: int) -> np.ndarray:
    return np.cos(np.pi * np.outer(np.arange(size), 2 * np.arange(size) + 1) / (2 * size))


_DCT = {side: _dct_matrix(4 * side) for side in (8, 16)}


def perceptual_hash(img: Image.Image, side: int = 8) -> str:
    """Perceptual hash (pHash: the signs of the side x side lowest DCT frequencies of a
    4*side square greyscale copy against their median), as hex: 64 bits (16 digits) by default.

    A re-encoded or resized copy of a photo stays within a few bits (<= 2 on
    the test photos); different photos, even of the same person in the same
    setting, are far apart. Bytes are never compared.
    """
    size = 4 * side
    gray = np.asarray(img.convert("L").resize((size, size), Image.Resampling.LANCZOS), dtype=np.float64)
    dct = _DCT[side]
    low = (dct @ gray @ dct.T)[:side, :side].flatten()
    bits = low > np.median(low)
    return f"{int(''.join('1' if bit else '0' for bit in bits), 2):0{side * side // 4}x}"


def perceptual_hash_bytes(data: bytes) -> str:
    """The live photo's hash from its bytes; "" when it cannot be decoded."""
    try:
        return perceptual_hash(decode_image(data, max_side=settings.FACE_MAX_IMAGE_PX))
    except ImageUnreadable:
        return ""


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


# --------------------------------------------------------------------------
# the face_recognition adapter


def load_face_recognition() -> tuple[Any, Any]:  # (face_recognition, dlib): no type information
    """Import face_recognition behind a guard that turns a broken install into EngineUnavailable.

    face_recognition imports face_recognition_models, which imports
    pkg_resources (gone in setuptools >= 81); when that fails,
    face_recognition prints a hint and calls quit(): the process would exit
    with status 0. Import the models first, check their files, and catch
    SystemExit as well.
    """
    truncated_setting = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pkg_resources' deprecation warning
            # Lazy, behind the guard: a broken install quits the process on import, and the models take seconds to load.
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
            # Lazy: dlib loads its models for seconds; only the engine needs it.
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


@dataclass
class Face:
    box: tuple  # (top, right, bottom, left) in the decoded image
    encoding: np.ndarray  # 128-d
    image_hash: str  # 64-bit perceptual hash of the whole image
    face_hash: str  # 256-bit perceptual hash of the aligned face


class FaceRecognitionEngine:
    """face_recognition 1.3 (dlib HOG detector, ResNet encoder, 128-d encodings, Euclidean distance)."""

    name = "face_recognition"

    def __init__(self) -> None:
        self.fr, self.dlib = load_face_recognition()
        # e.g. "fr1.3.0+dlib20.0.1" (the record's field holds 32 characters)
        self.version = f"fr{_version('face_recognition')}+dlib{getattr(self.dlib, '__version__', '?')}"[:32]

    # Settings are read on each call, so a changed value needs no new engine.
    @staticmethod
    def config() -> dict:
        return {
            "max_side": settings.FACE_MAX_IMAGE_PX,
            "min_live_face": settings.FACE_MIN_LIVE_FACE_PX,
            "min_id_face": settings.FACE_MIN_ID_FACE_PX,
            "id_upsample_below": settings.FACE_ID_UPSAMPLE_BELOW_PX,
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

    def landmarks(self, pixels: np.ndarray, box: tuple):
        """The five-point landmarks face_recognition's encoder uses (its "small" model)."""
        top, right, bottom, left = box
        return self.fr.api.pose_predictor_5_point(pixels, self.dlib.rectangle(left, top, right, bottom))

    def encode(self, img: Image.Image, box: tuple, shape=None) -> np.ndarray:
        """The 128-d encoding, as face_recognition.face_encodings computes it; pass the landmarks when known."""
        pixels = np.asarray(img)
        if shape is None:
            shape = self.landmarks(pixels, box)
        return np.array(self.fr.api.face_encoder.compute_face_descriptor(pixels, shape, 1))

    def face_hash(self, img: Image.Image, shape) -> str:
        """256-bit perceptual hash of the face: cut out on its landmarks (eyes level, a fixed 96 px
        square from brows to chin), slightly blurred. A face box alone would not do: the detector's
        boxes move between a photo and its copy by enough to change 20-30 of 64 bits."""
        chip = self.dlib.get_face_chip(np.asarray(img), shape, size=96, padding=0.0)
        return perceptual_hash(Image.fromarray(chip).convert("L").filter(ImageFilter.GaussianBlur(1)), side=16)

    def face(self, img: Image.Image, box: tuple, *, image_hash: str | None = None) -> Face:
        """What the comparison and the copy check need of one located face."""
        pixels = np.asarray(img)
        shape = self.landmarks(pixels, box)
        return Face(
            box=box,
            encoding=self.encode(img, box, shape),
            image_hash=image_hash or perceptual_hash(img),
            face_hash=self.face_hash(img, shape),
        )

    @staticmethod
    def measure(id_face: Face, live_face: Face) -> tuple[float, dict]:
        """The face distance (as face_recognition.face_distance) and the copy check's verdict."""
        distance = round(float(np.linalg.norm(id_face.encoding - live_face.encoding)), 4)
        return distance, copy_check(
            image_bits=hamming(live_face.image_hash, id_face.image_hash),
            face_bits=hamming(live_face.face_hash, id_face.face_hash),
            distance=distance,
        )

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
                assert box is not None  # locate() gives a box or a problem
                boxes[photo] = box

        distance: float | None = None
        copy: dict = {}
        if not reasons:
            t = time.perf_counter()
            live_face = self.face(images["live"], boxes["live"], image_hash=live_phash)
            id_face = self.face(images["id"], boxes["id"])
            distance, copy = self.measure(id_face, live_face)
            timings["encode"] = (time.perf_counter() - t) * 1000
            if copy["copy"]:
                # H3/U5: a copy of the ID photo (a re-encode, a rescale, the portrait cut out) is no live photo.
                reasons.append(reason("live_photo_is_id_copy", "live"))

        timings["total"] = (time.perf_counter() - started) * 1000
        return ComparisonResult(
            # No reasons means both faces were measured: a distance.
            outcome=REJECTED if reasons or distance is None else outcome_for(distance, t_pass, t_fail),
            distance=distance,
            reasons=reasons,
            timings_ms={key: round(value, 1) for key, value in timings.items()},
            threshold_pass=t_pass,
            threshold_fail=t_fail,
            engine=self.name,
            engine_version=self.version,
            live_phash=live_phash,
            copy_signals=copy,
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
        outcome = settings.FACE_SCRIPTED_OUTCOME or self.outcome
        if outcome not in OUTCOMES:
            raise ImproperlyConfigured(f"FACE_SCRIPTED_OUTCOME must be one of {OUTCOMES}")
        distance = settings.FACE_SCRIPTED_DISTANCE
        reasons = settings.FACE_SCRIPTED_REASONS or self.reasons
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
            live_phash=settings.FACE_SCRIPTED_PHASH or self.phash,
        )


# --------------------------------------------------------------------------
# the sandbox's engine


class SandboxEngine:
    """The engine of a sandbox enterprise's comparisons (issue 10 §5): no face matching, a fixed outcome.

    Chosen per record, never per process (verification.matching.engine_for), so a real comparison on the same
    worker still goes to the real engine. The outcome comes from the card user's magic ID number (cards). No
    perceptual hash: a platform's test photos, sent again and again, are no replays, and no real photo is
    ever compared with them.
    """

    name = "sandbox"
    version = "1"
    DISTANCES = {PASS: 0.2, REVIEW: 0.5, FAIL: 0.8, REJECTED: None}

    def __init__(self, outcome: str = PASS) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"sandbox outcome must be one of {OUTCOMES}")
        self.outcome = outcome

    def compare(self, id_image_bytes: bytes, live_image_bytes: bytes) -> ComparisonResult:
        t_pass, t_fail = thresholds()
        reasons = {REJECTED: [reason("no_face", "live")], FAIL: [reason("face_mismatch")]}.get(self.outcome, [])
        return ComparisonResult(
            outcome=self.outcome,
            distance=self.DISTANCES[self.outcome],
            reasons=reasons,
            timings_ms={"decode": 0.0, "detect": 0.0, "encode": 0.0, "total": 0.0},
            threshold_pass=t_pass,
            threshold_fail=t_fail,
            engine=self.name,
            engine_version=self.version,
            live_phash="",
        )
