"""Face matching: the threshold measurement and the benchmark, on testdata/faces.

    python -m bench --only faces        # the benchmark, merged into var/bench.json
    python -m bench.faces --measure     # same/different-person distances, for choosing T1 and T2
    python -m bench.faces --measure-copies   # copies of the ID photo against genuine pairs, for the
                                             # copy check (FACE_COPY_MAX_*_BITS, FACE_MATCH_COPY_FLOOR)

Benchmark figures (BENCH_FACE_PAIRS=N takes the first N pairs only, for trials):
- faces.throughput_1proc, faces.throughput_2proc: verifications per second
  with 1 and 2 worker processes, each running engine.compare (decode, EXIF,
  downscale, detect, encode, distance, perceptual hash) over the same pairs;
  the 2-process figure's baseline is the 1-process one (ratio = scaling);
- faces.pipeline_ms_per_verification: what a verification costs the portal,
  per pair: both photos sanitised as on upload (core.uploads.sanitize_upload:
  decode, EXIF, re-encode), the record stored with the sanitised photos, and
  run_comparison on it (storage reads, engine, replay scan, result stored).
  Baseline: the bare library on the same pixels the engine looks at (the
  sanitised photos decoded and downscaled by the engine's decode_image,
  outside the baseline's time), face_recognition.face_locations (HOG,
  upsample 1) + face_encodings + face_distance. So the ratio charges the
  pipeline with everything but the face work both do: sanitising, decoding,
  hashes, the ID photo's second look at upsample 2, storage and the database.
  Target ratio <= 1.3. It replaces faces.e2e_ms_per_verification, whose
  baseline ran on the full-size files (more pixels than the engine sees, so
  it flattered the engine) and which left sanitising out;
- faces.sanitise_ms_per_pair: the sanitising part of the pipeline alone (both photos);
- faces.compare_ms_per_verification: the rest of the pipeline (record stored +
  run_comparison), against the same baseline;
- faces.engine_same_pixels_ms_per_verification: engine.compare alone on the
  sanitised photos, against the same baseline (replaces
  faces.engine_ms_per_verification, whose baseline ran on the full-size files);
- faces.pipeline_ms_per_verification_small_photos: the pipeline on the 150 px
  johns/ crops only, against the bare library on them (replaces
  faces.e2e_ms_per_verification_small_photos);
- faces.cpu_ms_per_verification_2proc: CPU time per verification with 2
  processes against 1 (ratio near 1: no contention; the wall-clock scaling
  also depends on what else the machine runs).
"""

from __future__ import annotations

import io
import itertools
import logging
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path
from typing import cast

import django
import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image, ImageDraw

from bench import entry, scratch_database
from core.uploads import sanitize_upload
from verification.engine import FaceEngine, FaceRecognitionEngine, copy_limits, decode_image, get_engine

BASE_DIR = Path(__file__).resolve().parent.parent
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
OVERHEAD_TARGET = 1.3
# For trials: the first N pairs only (0: all).
PAIRS_LIMIT = int(os.environ.get("BENCH_FACE_PAIRS", "0"))
# Figures whose meaning changed: dropped from var/bench.json, so that no stale value is read for them.
RETIRED_FIGURES = (
    "faces.e2e_ms_per_verification",
    "faces.engine_ms_per_verification",
    "faces.e2e_ms_per_verification_small_photos",
)

# dlib's johns/ set holds four photographs twice: the same shot, not two photos of the person.
# 000378_*: byte for byte; 000375/000376 and 000189/000192: re-encoded (mean difference 2 and 4
# grey levels of 255); 000300/000304: re-processed (darker and softer; on the faces aligned by
# their landmarks only edges differ, correlation 0.99). The copy check rightly refuses them, so
# "genuine pairs of different photos" leaves them out, and --measure-copies shows them apart.
SAME_PHOTOGRAPH = frozenset(
    frozenset(pair)
    for pair in (
        ("johns/John_Shimkus/000378_02340151.jpg", "johns/John_Shimkus/000378_03227610.jpg"),
        ("johns/John_Shimkus/000375_03227651.jpg", "johns/John_Shimkus/000376_02340068.jpg"),
        ("johns/John_Salley/000189_02159361.jpg", "johns/John_Salley/000192_02159531.jpg"),
        ("johns/John_Simm/000300_00470148.jpg", "johns/John_Simm/000304_00470122.jpg"),
    )
)


def _face_recognition_engine(engine: FaceEngine) -> FaceRecognitionEngine:
    """The bench times the steps of the face_recognition engine (FACE_ENGINE's default), which the
    FaceEngine protocol does not name."""
    return cast(FaceRecognitionEngine, engine)


def faces_dir() -> Path | None:
    for candidate in (os.environ.get("FACE_TESTDATA"), BASE_DIR.parent / "shared" / "testdata" / "faces"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def people(root: Path) -> dict[str, list[Path]]:
    """Person -> photos: every folder that holds images directly (johns/NAME included). two_people.jpg is no one's."""
    found: dict[str, list[Path]] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.parent != root:
            found.setdefault(str(path.parent.relative_to(root)), []).append(path)
    return found


def bench_pairs(root: Path, per_john: int = 2) -> list[tuple[Path, Path]]:
    """Same-person (ID photo, live photo) pairs: consecutive photos of each person,
    all the full-size portraits and `per_john` of each johns/ crop set (150 px)."""
    pairs = []
    for person, photos in people(root).items():
        consecutive = list(itertools.pairwise(photos))
        pairs.extend(consecutive[:per_john] if person.startswith("johns/") else consecutive)
    return pairs


# --------------------------------------------------------------------------
# measurement (not part of the test suite)


def measure(root: Path, *, verbose: bool = True) -> dict:
    """Distances of every same-person and different-person pair, each photo taken as the
    engine takes an ID photo (EXIF, downscale, HOG, largest face)."""
    engine = _face_recognition_engine(get_engine())
    cfg = engine.config()
    encodings, live_problems, owner = {}, {}, {}
    for person, photos in people(root).items():
        for path in photos:
            name = str(path.relative_to(root))
            img = decode_image(path.read_bytes(), max_side=cfg["max_side"])
            box, problem = engine.locate(img, "id", cfg)
            if problem:
                live_problems[name] = "as ID photo: " + problem["code"]
                continue
            assert box is not None  # locate() gives a box or a problem
            encodings[name] = engine.encode(img, box)
            owner[name] = person
            _box, live_problem = engine.locate(img, "live", cfg)
            if live_problem:
                live_problems[name] = "as live photo: " + live_problem["code"]

    same: list[tuple[float, str, str]] = []
    different: list[tuple[float, str, str]] = []
    for a, b in itertools.combinations(sorted(encodings), 2):
        distance = float(engine.fr.face_distance([encodings[a]], encodings[b])[0])
        (same if owner[a] == owner[b] else different).append((distance, a, b))
    same.sort()
    different.sort()
    t_pass, t_fail = settings.FACE_MATCH_PASS_THRESHOLD, settings.FACE_MATCH_FAIL_THRESHOLD

    def bands(rows):
        return {
            "pass": sum(d <= t_pass for d, *_ in rows),
            "review": sum(t_pass < d <= t_fail for d, *_ in rows),
            "fail": sum(d > t_fail for d, *_ in rows),
        }

    report = {
        "same": same,
        "different": different,
        "images": len(encodings),
        "same_pairs": len(same),
        "different_pairs": len(different),
        "max_same": same[-1],
        "min_different": different[0],
        "same_quantiles": statistics.quantiles([d for d, *_ in same], n=20)[-3:] if len(same) > 2 else [],
        "thresholds": (t_pass, t_fail),
        "same_bands": bands(same),
        "different_bands": bands(different),
        "not_usable": live_problems,
    }
    if verbose:
        print(
            f"images encoded: {report['images']}; same-person pairs {len(same)}, "
            f"different-person pairs {len(different)}"
        )
        print("largest same-person distances:")
        for distance, a, b in same[-5:]:
            print(f"  {distance:.4f}  {a}  {b}")
        print("smallest different-person distances:")
        for distance, a, b in different[:5]:
            print(f"  {distance:.4f}  {a}  {b}")
        print(f"max same {same[-1][0]:.4f}, min different {different[0][0]:.4f}")
        print(f"with T1={t_pass} T2={t_fail}: same {report['same_bands']}, different {report['different_bands']}")
        for name, problem in sorted(live_problems.items()):
            print(f"  not usable {problem}: {name}")
    return report


# --------------------------------------------------------------------------
# copies of the ID photo (issue 7 §1.1; not part of the test suite: minutes of CPU)

COPY_KINDS = (
    "same file",
    "jpeg q60",
    "jpeg q70",
    "jpeg q80",
    "jpeg q95",
    "png",
    "webp",
    "50%",
    "200%",
    "face crop 10%",
    "face crop 10% x2",
    "face crop 30%",
    "face crop 30% x2",
    "face crop 60%",
    "face crop 60% x2",
    "rotated 3deg",
    "rotated -5deg",
    "card: same file",
    "card: portrait",
    "card: portrait x2",
    "card: portrait x3",
    "card: portrait+margin x2",
)


def _encoded(img, fmt: str = "JPEG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def id_card_of(img):
    """A synthetic ID card (640x404, text bars, the portrait on the right, at most 200x260 px) and
    the portrait's box on it: the usual ID photo is a whole card with a small portrait."""
    card = Image.new("RGB", (640, 404), (228, 232, 236))
    draw = ImageDraw.Draw(card)
    for row in range(6):
        draw.rectangle((40, 60 + 45 * row, 100 + (row * 97) % 200, 80 + 45 * row), fill=(60, 60, 70))
    portrait = img.copy()
    portrait.thumbnail((200, 260))
    left, top = 640 - 40 - portrait.width, 60
    card.paste(portrait, (left, top))
    return card, (left, top, left + portrait.width, top + portrait.height)


def _copies(data: bytes, img, box, card, region):
    """(kind, ID-photo role "photo" or "card", live bytes) for every copy of one photo."""
    full = decode_image(data, max_side=4096)
    lanczos = Image.Resampling.LANCZOS
    made = [("same file", "photo", data)]
    made += [(f"jpeg q{q}", "photo", _encoded(full, quality=q)) for q in (60, 70, 80, 95)]
    made += [("png", "photo", _encoded(full, "PNG")), ("webp", "photo", _encoded(full, "WEBP", quality=80))]
    for scale, name in ((0.5, "50%"), (2.0, "200%")):
        made.append(
            (
                name,
                "photo",
                _encoded(full.resize((int(full.width * scale), int(full.height * scale)), lanczos), quality=85),
            )
        )
    top, right, bottom, left = box
    for margin in (0.1, 0.3, 0.6):
        m = int(round(margin * max(bottom - top, right - left)))
        crop = img.crop((left - m, top - m, right + m, bottom + m))
        made.append((f"face crop {int(margin * 100)}%", "photo", _encoded(crop, quality=90)))
        made.append(
            (
                f"face crop {int(margin * 100)}% x2",
                "photo",
                _encoded(crop.resize((crop.width * 2, crop.height * 2), lanczos), quality=90),
            )
        )
    for degrees in (3, -5):
        made.append(
            (
                f"rotated {degrees}deg",
                "photo",
                _encoded(full.rotate(degrees, resample=Image.Resampling.BICUBIC), quality=90),
            )
        )
    made.append(("card: same file", "card", _encoded(card, quality=90)))
    portrait = card.crop(region)
    for scale in (1, 2, 3):
        name = "card: portrait" + (f" x{scale}" if scale > 1 else "")
        made.append(
            (
                name,
                "card",
                _encoded(portrait.resize((portrait.width * scale, portrait.height * scale), lanczos), quality=85),
            )
        )
    left, top, right, bottom = region
    wide = card.crop((left - 20, top - 20, min(card.width, right + 20), bottom + 20))
    made.append(
        ("card: portrait+margin x2", "card", _encoded(wide.resize((wide.width * 2, wide.height * 2), lanczos), "PNG"))
    )
    return made


def measure_copies(root: Path, *, verbose: bool = True) -> dict:
    """Copies of each test photo (and of a synthetic ID card made from it) against genuine same-person
    pairs of different photos, through the engine's own face() and measure(): the figures behind
    FACE_COPY_MAX_IMAGE_BITS, FACE_COPY_MAX_FACE_BITS and FACE_MATCH_COPY_FLOOR."""
    engine = _face_recognition_engine(get_engine())
    cfg = engine.config()
    limits = copy_limits()

    def face_of(data: bytes, photo: str):
        img = decode_image(data, max_side=cfg["max_side"])
        box, _problem = engine.locate(img, photo, cfg)
        # locate() gives a box or a problem.
        return (img, box, engine.face(img, box)) if box is not None else (img, None, None)

    photos, cards, owner = {}, {}, {}
    for person, paths in people(root).items():
        for path in paths:
            name = str(path.relative_to(root))
            img, box, face = face_of(path.read_bytes(), "id")
            if face is None:
                continue
            photos[name], owner[name] = (img, box, face), person
            card, region = id_card_of(img)
            card_face = face_of(_encoded(card, quality=90), "id")[2]
            if card_face is not None:
                cards[name] = (card, region, card_face)

    def signals(id_face, live_face) -> dict:
        return engine.measure(id_face, live_face)[1]

    genuine: list[tuple[dict, str, str]] = []
    same_photograph: list[tuple[dict, str, str]] = []
    for a, b in itertools.combinations(sorted(photos), 2):
        if owner[a] != owner[b]:
            continue
        pair = (signals(photos[a][2], photos[b][2]), a, b)
        (same_photograph if frozenset((a, b)) in SAME_PHOTOGRAPH else genuine).append(pair)
    for a, (_card, _region, card_face) in cards.items():
        for b, (_img, _box, face) in photos.items():
            if a != b and owner[a] == owner[b] and frozenset((a, b)) not in SAME_PHOTOGRAPH:
                genuine.append((signals(card_face, face), f"card of {a}", b))

    copies: dict[str, list[dict]] = {kind: [] for kind in COPY_KINDS}
    unusable: dict[str, int] = {}
    for name, (img, box, face) in photos.items():
        card, region, card_face = cards.get(name, (*id_card_of(img), None))
        for kind, role, live in _copies((root / name).read_bytes(), img, box, card, region):
            reference = face if role == "photo" else card_face
            live_face = face_of(live, "live")[2] if reference is not None else None
            if live_face is None:  # refused for another reason (no face, face too small)
                unusable[kind] = unusable.get(kind, 0) + 1
                continue
            copies[kind].append(signals(reference, live_face))

    def spread(values) -> str:
        values = sorted(values)
        return (
            f"p50 {values[len(values) // 2]:g}, p90 {values[int(len(values) * 0.9)]:g}, max {values[-1]:g}"
            if values
            else "-"
        )

    all_copies = [row for rows in copies.values() for row in rows]
    missed = [kind for kind, rows in copies.items() for row in rows if not row["copy"]]
    false_copies = [(a, b, row) for row, a, b in genuine if row["copy"]]
    minima = {key: min(row[key] for row, *_ in genuine) for key in ("image_bits", "face_bits", "distance")}
    report = {
        "limits": limits,
        "genuine_pairs": len(genuine),
        "genuine_min": minima,
        "copies": len(all_copies),
        "copies_found": len(all_copies) - len(missed),
        "missed": missed,
        "false_copies": false_copies,
        "same_photograph": same_photograph,
        "by_kind": copies,
        "unusable": unusable,
    }
    if verbose:
        print(f"{len(photos)} photos, {len(cards)} synthetic ID cards; limits {limits}")
        print(f"genuine same-person pairs of different photos: {len(genuine)} (photo/photo and card/photo)")
        print(
            f"  min image bits {minima['image_bits']}, min face bits {minima['face_bits']}, "
            f"min distance {minima['distance']:.4f}"
        )
        for key in ("image_bits", "face_bits", "distance"):
            row, a, b = min(genuine, key=lambda item: item[0][key])
            print(f"  closest by {key}: {a} / {b}: {row}")
        print("copies (image bits | face bits | distance), found / measured:")
        for kind, rows in copies.items():
            found = sum(row["copy"] for row in rows)
            print(
                f"  {kind:26s} {found:3d}/{len(rows):3d}  image {spread([r['image_bits'] for r in rows])} | "
                f"face {spread([r['face_bits'] for r in rows])} | distance {spread([r['distance'] for r in rows])}"
            )
        print(
            f"  all copies: max distance {max(r['distance'] for r in all_copies):.4f}; "
            f"found {report['copies_found']}/{len(all_copies)}; live photo refused for another reason: {unusable}"
        )
        print(f"genuine pairs taken for copies: {len(false_copies)}")
        for a, b, row in false_copies:
            print(f"  {a} / {b}: {row}")
        print("the same photograph twice in the test data (refused as copies):")
        for row, a, b in same_photograph:
            print(f"  {a} / {b}: {row}")
        # What each check alone would catch, and where each limit could go without a false copy.
        for key, bound in (("image_bits", limits["image_bits"]), ("face_bits", limits["face_bits"])):
            alone = sum(r[key] <= bound for r in all_copies)
            print(f"{key} <= {bound} alone: {alone}/{len(all_copies)} copies (genuine minimum {minima[key]})")
        alone = sum(r["distance"] < limits["floor"] for r in all_copies)
        print(
            f"distance < {limits['floor']} alone: {alone}/{len(all_copies)} copies "
            f"(genuine minimum {minima['distance']:.4f})"
        )
    return report


# --------------------------------------------------------------------------
# benchmark

_pool_engine: FaceEngine | None = None


def _pool_init() -> None:
    global _pool_engine

    if not django.apps.apps.ready:
        django.setup()

    _pool_engine = get_engine()


def _compare_pair(pair: tuple[str, str]) -> tuple[str, float]:
    started = time.process_time()
    id_path, live_path = pair
    with open(id_path, "rb") as a, open(live_path, "rb") as b:
        assert _pool_engine is not None  # _pool_init() ran in this worker
        outcome = _pool_engine.compare(a.read(), b.read()).outcome
    return outcome, time.process_time() - started


def _throughput(tasks: list[tuple[str, str]], processes: int) -> tuple[float, float]:
    """(verifications per second of wall time, CPU seconds per verification)."""
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with context.Pool(processes, initializer=_pool_init) as pool:
        pool.map(_compare_pair, tasks[-processes:], chunksize=1)  # warm-up
        started = time.perf_counter()
        done = list(pool.imap_unordered(_compare_pair, tasks, chunksize=1))
        elapsed = time.perf_counter() - started
    assert len(done) == len(tasks)
    return len(tasks) / elapsed, sum(cpu for _outcome, cpu in done) / len(tasks)


def _bare(fr, id_pixels: np.ndarray, live_pixels: np.ndarray) -> float:
    """Seconds for the bare library on pixels already decoded: what any face pipeline must spend."""
    started = time.perf_counter()
    encodings = []
    for image in (id_pixels, live_pixels):
        locations = fr.face_locations(image, number_of_times_to_upsample=1, model="hog")
        encodings.append(fr.face_encodings(image, known_face_locations=locations, num_jitters=1))
    if encodings[0] and encodings[1]:
        fr.face_distance([encodings[0][0]], encodings[1][0])
    return time.perf_counter() - started


def _scratch_enterprise():
    """An enterprise to hang verification records on (scratch database only)."""
    # Inside the function: this module runs as a script before django.setup(); the models load after it.
    from accounts.models import Province, User
    from enterprises.models import Enterprise, UnitKind

    province = Province.objects.order_by("code").first()
    user = User.objects.create_user(username="bench", password=None, role="account_manager", province=province)
    return Enterprise.objects.create(
        name="基准测试物联有限公司",
        credential_type="official_letter",
        credential_address="-",
        province=province,
        account_manager=user,
        created_by=user,
        unit_kind=UnitKind.objects.get(code="party_government"),
    )


def _scratch_card_user(enterprise, number: int):
    """A card user whose registration the verification settles: one per verification, since a
    settled registration refuses a second outcome (scratch database only)."""
    # Inside the function: this module runs as a script before django.setup(); the models load after it.
    from cards.models import CardUser

    return CardUser.objects.create(
        enterprise=enterprise,
        name="测试",
        id_type="resident_id",
        id_number=f"bench-{number}",
        id_number_index=f"bench-{number}",
        biometric_consent_at=timezone.now(),
    )


def _e2e(root_pairs, rounds: int) -> dict[str, list[float]]:
    """Seconds per pair for sanitising both photos ("sanitise"), storing the record and running
    run_comparison on it ("compare"), engine.compare on the sanitised photos ("engine") and the bare
    library on the pixels the engine decodes from them ("bare"), interleaved pair by pair so that a
    busy moment hits all four; best of `rounds`."""
    # Inside the function: this module runs as a script before django.setup(); the models load after it.
    from verification.matching import run_comparison
    from verification.models import Verification

    logging.getLogger("verification").setLevel(logging.WARNING)  # replays among the rounds are expected
    engine = _face_recognition_engine(get_engine())
    max_side = engine.config()["max_side"]
    best = {kind: [float("inf")] * len(root_pairs) for kind in ("sanitise", "compare", "engine", "bare")}

    def keep(kind, index, seconds):
        best[kind][index] = min(best[kind][index], seconds)

    with scratch_database():
        enterprise = _scratch_enterprise()
        for round_number in range(rounds):
            for index, (id_path, live_path) in enumerate(root_pairs):
                card_user = _scratch_card_user(enterprise, round_number * len(root_pairs) + index)
                id_bytes, live_bytes = id_path.read_bytes(), live_path.read_bytes()
                started = time.perf_counter()
                id_clean, live_clean = sanitize_upload(id_bytes), sanitize_upload(live_bytes)
                keep("sanitise", index, time.perf_counter() - started)
                started = time.perf_counter()
                record = Verification(purpose="card_user", enterprise=enterprise, card_user=card_user)
                record.id_photo.save("id" + id_clean.extension, ContentFile(id_clean.content), save=False)
                record.live_photo.save("live" + live_clean.extension, ContentFile(live_clean.content), save=False)
                record.save()
                run_comparison(record.pk)
                keep("compare", index, time.perf_counter() - started)
                started = time.perf_counter()
                engine.compare(id_clean.content, live_clean.content)
                keep("engine", index, time.perf_counter() - started)
                # The baseline's input: the very pixels engine.compare works on, decoded outside its time.
                id_pixels, live_pixels = (
                    np.asarray(decode_image(clean.content, max_side=max_side)) for clean in (id_clean, live_clean)
                )
                keep("bare", index, _bare(engine.fr, id_pixels, live_pixels))
    return best


def run(results: dict) -> None:
    root = faces_dir()
    if root is None:
        print("[bench] faces: no face photos at ../shared/testdata/faces or $FACE_TESTDATA, skipped")
        return

    get_engine()  # loaded before forking, so the pool's processes share it
    pairs = bench_pairs(root)
    if PAIRS_LIMIT:
        pairs = pairs[:PAIRS_LIMIT]
    # Largest first, so two processes finish together.
    tasks = sorted(((str(a), str(b)) for a, b in pairs), key=lambda p: -sum(os.path.getsize(x) for x in p))
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"[bench] faces: {len(pairs)} same-person pairs from {root}, {cores} CPU cores, load average {load:.1f}")
    if load > cores:
        print("[bench] faces: the machine is busy: throughput and scaling come out low; CPU per verification does not")

    one, cpu_one = _throughput(tasks, 1)
    two, cpu_two = _throughput(tasks, 2)
    results["faces.throughput_1proc"] = entry(one, "verifications/s")
    results["faces.throughput_2proc"] = entry(two, "verifications/s", baseline=one)
    # The same CPU time per verification in 2 processes as in 1: nothing in the pipeline contends.
    results["faces.cpu_ms_per_verification_2proc"] = entry(cpu_two * 1000, "ms", baseline=cpu_one * 1000)

    best = _e2e(pairs, rounds=2)
    small = [i for i, (a, _b) in enumerate(pairs) if "johns" in a.parts]

    def per_pair(*kinds, indexes=None):
        indexes = range(len(pairs)) if indexes is None else indexes
        return 1000 * sum(best[kind][i] for kind in kinds for i in indexes) / len(indexes)

    bare, sanitise, compare = per_pair("bare"), per_pair("sanitise"), per_pair("compare")
    pipeline = sanitise + compare
    results["faces.pipeline_ms_per_verification"] = entry(pipeline, "ms", baseline=bare)
    results["faces.sanitise_ms_per_pair"] = entry(sanitise, "ms")
    results["faces.compare_ms_per_verification"] = entry(compare, "ms", baseline=bare)
    results["faces.engine_same_pixels_ms_per_verification"] = entry(per_pair("engine"), "ms", baseline=bare)
    if small:
        # 150 px crops: no downscaling to gain from, so the pipeline's own overhead shows.
        results["faces.pipeline_ms_per_verification_small_photos"] = entry(
            per_pair("sanitise", "compare", indexes=small), "ms", baseline=per_pair("bare", indexes=small)
        )
    print(
        f"[bench] faces: 1 process {one:.2f}/s, 2 processes {two:.2f}/s (scaling {two / one:.2f}x; "
        f"CPU per verification {cpu_one * 1000:.0f} ms / {cpu_two * 1000:.0f} ms); "
        f"pipeline {pipeline:.0f} ms a verification = sanitise {sanitise:.1f} ms a pair + compare {compare:.0f} ms "
        f"(engine.compare alone {per_pair('engine'):.0f} ms) vs bare library on the same pixels {bare:.0f} ms "
        f"(ratio {pipeline / bare:.2f}, target <= {OVERHEAD_TARGET})"
    )


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

    django.setup()
    root = faces_dir()
    if root is None:
        print("no face photos found (../shared/testdata/faces or $FACE_TESTDATA)", file=sys.stderr)
        return 2
    if "--measure-copies" in argv:
        report = measure_copies(root)
        return 1 if report["false_copies"] else 0
    if "--measure" in argv:
        measure(root)
        return 0
    results: dict = {}
    run(results)
    for key, value in results.items():
        print(key, value)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
