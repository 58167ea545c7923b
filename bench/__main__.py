"""`python -m bench [--only NAME ...]`: run the benchmarks, merge their figures into var/bench.json.

var/bench.json maps a benchmark name to {"value", "unit", "baseline", "ratio"}.
Figures of benchmarks not run this time are kept. A module may name in RETIRED_FIGURES the figures it
no longer makes because their meaning changed; a successful run of it drops them from the file.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import traceback
from pathlib import Path

import django

# Each is bench/<name>.py with run(results: dict) -> None. A module not written yet is skipped.
MODULES = ["faces", "cards_import", "replay", "liveness", "platform", "self_service", "scale"]

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = BASE_DIR / "var" / "bench.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only",
        action="append",
        choices=MODULES,
        metavar="NAME",
        help=f"run only this benchmark module (repeatable): {', '.join(MODULES)}",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON file to merge into")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

    django.setup()

    results: dict[str, dict] = {}
    retired: set[str] = set()
    failed = []
    for name in args.only or MODULES:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench.{name}":
                print(f"[bench] {name}: no module bench/{name}.py, skipped")
                continue
            raise
        print(f"[bench] {name} ...", flush=True)
        figures: dict[str, dict] = {}
        try:
            module.run(figures)
        except Exception:
            traceback.print_exc()
            failed.append(name)  # its figures, perhaps half made, are not merged
        else:
            results.update(figures)
            retired.update(getattr(module, "RETIRED_FIGURES", ()))

    merged = {}
    if args.output.exists():
        try:
            merged = json.loads(args.output.read_text())
        except ValueError:
            print(f"[bench] {args.output} is not JSON: rewritten")
    for name in retired - results.keys():
        merged.pop(name, None)
    merged.update(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_suffix(".tmp")
    tmp.write_text(json.dumps(merged, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    tmp.replace(args.output)

    for key in sorted(results):
        item = results[key]
        extra = ""
        if item.get("baseline") is not None:
            extra = f"  (baseline {item['baseline']:g}, ratio {item['ratio']:g})"
        print(f"{key:40s} {item['value']:>10g} {item['unit']}{extra}")
    print(f"[bench] {len(results)} figure(s) written to {args.output}")
    if failed:
        print(f"[bench] failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
