"""`python manage.py liveness_check --challenge left,right FRAME...`: one liveness check, without the database.

Frames in capture order; their capture times come from names like ``f0004_t000.330.jpg`` (seconds),
or from ``--interval-ms`` when the names carry none. Prints one JSON object and exits 0:
{"passed": bool, "outcome": "pass|fail|inconclusive", "reasons": [{"code", "message"}],
 "frames": [{"yaw": float, "faces": int}], "best_frame": int|null, "figures": {...}}
``left`` / ``right`` are in image coordinates as captured: for left the nose tip moves toward the image's left edge.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from verification.liveness import check_liveness, parse_challenge, timestamp_from_name


class Command(BaseCommand):
    help = "Check a burst of frames against a head-move challenge (active liveness); prints JSON."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--challenge", required=True, help="moves, comma-separated: left, right, straight")
        parser.add_argument("--interval-ms", type=float, help="frame interval when the names carry no times")
        parser.add_argument("frames", nargs="+", help="frame paths (JPEG), in capture order")

    def handle(self, *args, **options):
        try:
            challenge = parse_challenge(options["challenge"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        frames = []
        for name in options["frames"]:
            try:
                frames.append(Path(name).read_bytes())
            except OSError as exc:
                raise CommandError(f"cannot read frame {name!r}: {exc.strerror or exc}", returncode=2) from None
        times = [timestamp_from_name(Path(name).name) for name in options["frames"]]
        if None in times:
            interval = options["interval_ms"]
            times = None if interval is None else [i * interval / 1000.0 for i in range(len(frames))]
        result = check_liveness(frames, times, challenge)
        self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False))
