"""Active liveness check (issue 9 §3): a challenge of head moves, checked on a short burst of frames.

Pure: JPEG frames (bytes) and their capture timestamps in, :class:`LivenessResult` out; no database.
It uses the 68 face landmarks and the 128-d encoder that face_recognition already ships (HOG, CPU).

Per frame: exactly one face; its yaw proxy ``(x30 - (x36 + x45) / 2) / |p45 - p36|`` (nose tip
against the midpoint of the outer eye corners, normalised by their distance; > 0 = turned towards
the image's right edge, as captured, not mirrored); its encoding. Then over the sequence:

- ``left`` / ``right``: from where the previous move ended, the yaw must fall (left) or rise
  (right) by LIVENESS_TURN_MARGIN; a later move is measured from that move's extreme, so
  ``left,right`` needs the head to come back; ``straight``: a frame within LIVENESS_STRAIGHT_MAX_YAW;
- identical frames (a photo held up, a still image sent N times) fail: landmarks that never move;
- one identity: every encoding within LIVENESS_IDENTITY_TOLERANCE of the sequence's mean;
- plausible timing: timestamps rising, each gap and the whole span within the settings.

The frame that best faces the camera (smallest |yaw|) is named for the comparison with the ID photo.
Outcome: ``fail`` with reason codes when the frames prove something wrong; ``inconclusive`` when they
cannot tell (too few usable frames, no timestamps); ``pass`` otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from verification.engine import ImageUnreadable, decode_image, load_face_recognition

__all__ = ["MOVES", "FrameMeasure", "LivenessResult", "check_liveness", "parse_challenge", "timestamp_from_name"]

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
MOVES = ("left", "right", "straight")

# Said to the person who took the capture, in the language of the answer.
_MESSAGES = {
    "too_few_frames": _("Too few frames: take the capture again"),
    "too_many_frames": _("Too many frames in one capture"),
    "unreadable_frame": _("A frame could not be read as an image"),
    "no_face": _("No face in some frames: keep your face in the picture"),
    "multiple_faces": _("More than one face in a frame: only you should be in the picture"),
    "move_missing": _("The requested head move was not seen"),
    "frames_identical": _("The frames do not move: a still picture is not a live person"),
    "identity_changed": _("The face changes between frames"),
    "timing_implausible": _("The frame timing is not plausible for a live capture"),
    "no_timestamps": _("The frames carry no capture times"),
}

_TIME_IN_NAME = re.compile(r"_t(\d+(?:\.\d+)?)\.[A-Za-z]+$")


def timestamp_from_name(name: str) -> float | None:
    """Seconds from a frame file name ``..._tSSS.sss.jpg`` (the page and the test data name frames so)."""
    match = _TIME_IN_NAME.search(name)
    return float(match.group(1)) if match else None


def parse_challenge(text: str) -> list[str]:
    moves = [move.strip().lower() for move in text.split(",") if move.strip()]
    unknown = [move for move in moves if move not in MOVES]
    if not moves or unknown:
        raise ValueError(f"challenge moves must be among {', '.join(MOVES)}: {text!r}")
    return moves


@dataclass
class FrameMeasure:
    faces: int
    yaw: float | None = None
    points: np.ndarray | None = field(default=None, repr=False)  # 68x2, normalised by the eye distance
    encoding: np.ndarray | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"yaw": None if self.yaw is None else round(self.yaw, 4), "faces": self.faces}


@dataclass
class LivenessResult:
    outcome: str
    reasons: list[dict[str, Any]]
    frames: list[FrameMeasure]
    best_frame: int | None = None  # index of the most frontal frame, for the ID photo comparison
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.outcome == PASS

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "outcome": self.outcome,
            "reasons": self.reasons,
            "frames": [frame.as_dict() for frame in self.frames],
            "best_frame": self.best_frame,
            "figures": self.figures,
        }


def _reason(code: str) -> dict[str, Any]:
    return {"code": code, "message": str(_MESSAGES[code])}


_LIBRARY = None


def _library() -> Any:  # the library has no type information
    """face_recognition, loaded through the engine's guard: a bare import would switch Pillow's
    LOAD_TRUNCATED_IMAGES on for the whole process, and a broken install would quit() it."""
    global _LIBRARY
    if _LIBRARY is None:
        _LIBRARY, _dlib = load_face_recognition()
    return _LIBRARY


def measure_frame(data: bytes) -> FrameMeasure:
    """One frame: face count and, for exactly one face, yaw proxy, normalised landmarks and encoding."""
    fr = _library()
    img = decode_image(data, max_side=settings.LIVENESS_MAX_IMAGE_PX)
    pixels = np.asarray(img)
    boxes = fr.face_locations(pixels, number_of_times_to_upsample=1, model="hog")
    if len(boxes) != 1:
        return FrameMeasure(faces=len(boxes))
    marks = fr.face_landmarks(pixels, boxes, model="large")[0]
    points = np.array([p for part in marks.values() for p in part], dtype=float)
    nose, left_corner, right_corner = (
        np.array(marks["nose_bridge"][3], float),
        np.array(marks["left_eye"][0], float),
        np.array(marks["right_eye"][3], float),
    )
    eye_distance = float(np.linalg.norm(right_corner - left_corner)) or 1.0
    yaw = float((nose[0] - (left_corner[0] + right_corner[0]) / 2.0) / eye_distance)
    normalised = (points - points.mean(axis=0)) / eye_distance
    encoding = np.array(fr.face_encodings(pixels, boxes, num_jitters=1, model="small")[0])
    return FrameMeasure(faces=1, yaw=yaw, points=normalised, encoding=encoding)


def _moves_seen(yaws: list[float], moves: list[str]) -> bool:
    margin, straight = settings.LIVENESS_TURN_MARGIN, settings.LIVENESS_STRAIGHT_MAX_YAW
    start = 0
    for move in moves:
        found = None
        peak = low = yaws[start]
        for j in range(start, len(yaws)):
            peak, low = max(peak, yaws[j]), min(low, yaws[j])
            if (
                (move == "straight" and abs(yaws[j]) <= straight)
                or (move == "left" and yaws[j] <= peak - margin)
                or (move == "right" and yaws[j] >= low + margin)
            ):
                found = j
                break
        if found is None:
            return False
        # The next move starts from this move's extreme: run on while the head keeps turning.
        step = {"left": -1, "right": 1}.get(move, 0)
        while step and found + 1 < len(yaws) and (yaws[found + 1] - yaws[found]) * step >= 0:
            found += 1
        start = found
    return True


def _timing_plausible(times: list[float]) -> bool:
    gaps = np.diff(times)
    span = times[-1] - times[0]
    return bool(
        (gaps >= settings.LIVENESS_MIN_FRAME_GAP_S).all()
        and (gaps <= settings.LIVENESS_MAX_FRAME_GAP_S).all()
        and settings.LIVENESS_MIN_SPAN_S <= span <= settings.LIVENESS_MAX_SPAN_S
    )


def check_liveness(frames: list[bytes], timestamps: list[float] | None, challenge: list[str]) -> LivenessResult:
    """Check one capture: frames in capture order, their times in seconds (None: unknown), the moves asked."""
    if len(frames) < settings.LIVENESS_MIN_FRAMES:
        return LivenessResult(INCONCLUSIVE, [_reason("too_few_frames")], [])
    if len(frames) > settings.LIVENESS_MAX_FRAMES:
        return LivenessResult(FAIL, [_reason("too_many_frames")], [])
    measures = []
    for data in frames:
        try:
            measures.append(measure_frame(data))
        except ImageUnreadable:
            return LivenessResult(FAIL, [_reason("unreadable_frame")], measures)
    failures, doubts = [], []
    if any(m.faces > 1 for m in measures):
        failures.append("multiple_faces")
    usable = [m for m in measures if m.faces == 1]
    if len(usable) < len(measures):
        doubts.append("no_face")
    figures: dict[str, float] = {}
    best = None
    if len(usable) >= settings.LIVENESS_MIN_FRAMES:
        # measure_frame() fills yaw, points and encoding of every frame with one face: the filters keep all.
        yaws = [m.yaw for m in usable if m.yaw is not None]
        points = np.stack([m.points for m in usable if m.points is not None])
        motion = float(np.abs(points - points[0]).max())
        encodings = np.stack([m.encoding for m in usable if m.encoding is not None])
        # Between neighbouring frames: a turning head changes its encoding gradually, a swapped face at once.
        spread = float(np.linalg.norm(np.diff(encodings, axis=0), axis=1).max())
        figures = {
            "yaw_range": round(max(yaws) - min(yaws), 4),
            "motion": round(motion, 4),
            "identity": round(spread, 4),
        }
        if motion < settings.LIVENESS_MIN_LANDMARK_MOTION:
            failures.append("frames_identical")
        elif not _moves_seen(yaws, challenge):
            failures.append("move_missing")
        if spread > settings.LIVENESS_IDENTITY_TOLERANCE:
            failures.append("identity_changed")
        yaw_of = {i: m.yaw for i, m in enumerate(measures) if m.faces == 1 and m.yaw is not None}
        best = min(yaw_of, key=lambda i: abs(yaw_of[i]))
    elif not failures:
        doubts.append("too_few_frames")
    if timestamps is None:
        doubts.append("no_timestamps")
    elif len(timestamps) != len(frames) or not _timing_plausible(list(timestamps)):
        failures.append("timing_implausible")
    if failures:
        return LivenessResult(FAIL, [_reason(c) for c in failures], measures, best, figures)
    if doubts:
        return LivenessResult(INCONCLUSIVE, [_reason(c) for c in doubts], measures, best, figures)
    return LivenessResult(PASS, [], measures, best, figures)
