"""The active liveness check's time per sequence, on the real sequences of ../shared/testdata/liveness.

    python -m bench --only liveness        # merged into var/bench.json

Figures:
- liveness_check_ms_per_sequence: milliseconds per verification.liveness.check_liveness, the mean over
  every sequence (each checked against the move it shows). Baseline: the bare library on the same frames
  in the same run (face_recognition's detection, 68 landmarks and encoding, no checks): the check's own
  cost is the ratio above 1.
- liveness_turns_passed / liveness_static_refused / liveness_spliced_refused: how many real turning
  sequences pass, how many static and identity-changing (spliced) sequences are refused.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from django.conf import settings

from verification.engine import decode_image
from verification.liveness import check_liveness, timestamp_from_name

BASE_DIR = Path(__file__).resolve().parent.parent


def _root() -> Path | None:
    for candidate in (os.environ.get("LIVENESS_TESTDATA"), BASE_DIR.parent / "shared" / "testdata" / "liveness"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def _bare(frames: list[bytes]) -> None:
    # Lazy: face_recognition loads dlib's models for seconds; only the bare-library figure needs it.
    import face_recognition

    for data in frames:
        pixels = np.asarray(decode_image(data, max_side=settings.LIVENESS_MAX_IMAGE_PX))
        boxes = face_recognition.face_locations(pixels, number_of_times_to_upsample=1, model="hog")
        face_recognition.face_landmarks(pixels, boxes, model="large")
        face_recognition.face_encodings(pixels, boxes, num_jitters=1, model="small")


def run(results: dict) -> None:
    root = _root()
    if root is None:
        print("[bench] liveness: no frames at ../shared/testdata/liveness or $LIVENESS_TESTDATA, skipped")
        return
    sequences = {path.name: sorted(path.glob("*.jpg")) for path in sorted(root.iterdir()) if path.is_dir()}

    def load(files):
        return [path.read_bytes() for path in files], [timestamp_from_name(path.name) for path in files]

    turns = {name: files for name, files in sequences.items() if name.startswith("turn_")}
    statics = {name: files for name, files in sequences.items() if name.startswith("static_")}
    check_s = bare_s = 0.0
    checks = passed = refused = 0
    for name, files in turns.items():
        frames, times = load(files)
        start = time.perf_counter()
        result = check_liveness(frames, times, ["left" if name.startswith("turn_left") else "right"])
        check_s += time.perf_counter() - start
        start = time.perf_counter()
        _bare(frames)
        bare_s += time.perf_counter() - start
        checks += 1
        passed += result.passed
        print(f"  {name}: {result.outcome} {result.figures}")
    for name, files in statics.items():
        frames, times = load(files)
        for challenge in (["left"], ["right"]):
            start = time.perf_counter()
            result = check_liveness(frames, times, challenge)
            check_s += time.perf_counter() - start
            start = time.perf_counter()
            _bare(frames)
            bare_s += time.perf_counter() - start
            checks += 1
            refused += result.outcome == "fail"
            print(f"  {name} {challenge}: {result.outcome} {[r['code'] for r in result.reasons]}")
    spliced_refused = spliced = 0
    pairs = [("turn_left_intel_female", "static_intel_male", "left")]
    pairs += [("turn_right_intel_female", "turn_right_liveportrait_d3", "right")]
    for first, second, move in pairs:
        if first in sequences and second in sequences:
            files = sequences[first][:5] + sequences[second][8:13]
            frames, _ = load(files)
            result = check_liveness(frames, [i * 0.1 for i in range(len(frames))], [move])
            spliced += 1
            spliced_refused += "identity_changed" in {r["code"] for r in result.reasons}
            print(f"  spliced {first}+{second}: {result.outcome} {result.figures}")
    ms, bare_ms = 1000 * check_s / checks, 1000 * bare_s / checks
    results["liveness_check_ms_per_sequence"] = {
        "value": round(ms, 1),
        "unit": "ms",
        "baseline": round(bare_ms, 1),
        "ratio": round(ms / bare_ms, 3),
    }
    results["liveness_turns_passed"] = {"value": passed, "unit": f"of {len(turns)}", "baseline": None, "ratio": None}
    results["liveness_static_refused"] = {"value": refused, "unit": f"of {checks - len(turns)} checks"}
    results["liveness_spliced_refused"] = {"value": spliced_refused, "unit": f"of {spliced}"}
    for key in ("liveness_static_refused", "liveness_spliced_refused"):
        results[key].update(baseline=None, ratio=None)
