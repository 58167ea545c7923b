"""The layout rules that a linter does not check (issue 8 item 1).

An import inside a function hides a dependency from the reader and from lint-imports, so one is allowed
only where a comment directly above it (or on its line) says why: a cycle at import time, a slow library,
the app registry, a script that runs before django.setup().
"""

from __future__ import annotations

import ast
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
APPS = ["accounts", "approvals", "cards", "core", "enterprises", "portal", "verification", "config", "bench"]


def _uncommented_function_imports(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    for function in ast.walk(ast.parse("\n".join(lines), filename=str(path))):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            index = node.lineno - 1
            if "#" in lines[index]:
                continue
            # Walk up through the imports of the same group to the comment that heads it.
            above = index - 1
            while above >= 0 and lines[above].strip().startswith(("from ", "import ")):
                above -= 1
            if above >= 0 and lines[above].strip().startswith("#"):
                continue
            found.append(f"{path.relative_to(BASE_DIR)}:{node.lineno}: {lines[index].strip()}")
    return found


def test_every_import_inside_a_function_says_why():
    found = []
    for app in APPS:
        for path in sorted((BASE_DIR / app).rglob("*.py")):
            if "migrations" not in path.parts:
                found.extend(_uncommented_function_imports(path))
    assert not found, "imports inside functions without a comment above them saying why:\n" + "\n".join(found)
