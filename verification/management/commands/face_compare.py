"""`python manage.py face_compare ID_PHOTO LIVE_PHOTO`: one comparison, for ops checking a disputed case.

Runs the configured engine with the configured thresholds, without the
database, and prints one JSON object:
{"outcome": "pass|review|fail|rejected", "distance": float|null, "reasons": [...], "timings_ms": {...}}
(with -v 2 also the engine, its version, the thresholds and the copy check's figures:
image_bits, face_bits, distance, copy; a live photo that is a copy of the ID photo is
"rejected" with the reason live_photo_is_id_copy).
Exit status: 0 for a result (rejected included), 2 when a path cannot be read, 1 when the engine cannot load.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from verification.engine import EngineUnavailable, get_engine


class Command(BaseCommand):
    help = "Compare an ID photo with a live photo using the configured face engine and thresholds; prints JSON."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("id_photo", help="path of the ID photo")
        parser.add_argument("live_photo", help="path of the live photo")

    def handle(self, *args, **options):
        photos = {}
        for key in ("id_photo", "live_photo"):
            path = Path(options[key])
            try:
                photos[key] = path.read_bytes()
            except OSError as exc:
                raise CommandError(
                    f"cannot read {key.replace('_', ' ')} {str(path)!r}: {exc.strerror or exc}", returncode=2
                ) from None
        try:
            engine = get_engine()
        except EngineUnavailable as exc:
            raise CommandError(str(exc), returncode=1) from None
        result = engine.compare(photos["id_photo"], photos["live_photo"])
        data = result.as_json()
        if options["verbosity"] >= 2:
            data.update(
                engine=result.engine,
                engine_version=result.engine_version,
                thresholds={"pass": result.threshold_pass, "fail": result.threshold_fail},
                copy_check=result.copy_signals,
            )
        self.stdout.write(json.dumps(data, ensure_ascii=False))
