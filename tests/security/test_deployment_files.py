"""Issue 7 §5: the container runs as a non-root user with production settings by default, and
neither the image nor the repository takes secrets (.env) or local state along.

No Docker engine runs on these machines (DESIGN §5), so the files are checked as text.
"""

from __future__ import annotations

import re

from tests.conftest import REPO


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n\s*", " ", text)
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in (raw.strip() for raw in joined.splitlines())
        if line and not line.startswith("#")
    ]


def test_7_5_the_image_runs_as_a_non_root_user():
    steps = _instructions((REPO / "Dockerfile").read_text())
    users = [value.strip() for op, value in steps if op == "USER"]
    assert users, "the image runs as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    last_user = max(i for i, (op, _v) in enumerate(steps) if op == "USER")
    assert last_user > max(i for i, (op, _v) in enumerate(steps) if op == "RUN"), "a RUN step after USER runs as root"


def test_7_5_the_image_defaults_to_production_settings():
    steps = _instructions((REPO / "Dockerfile").read_text())
    env = " ".join(value for op, value in steps if op == "ENV")
    assert re.search(r"\bAPP_ENV=production\b", env)


def test_7_5_the_build_context_leaves_secrets_and_local_state_out():
    ignored = {
        line.strip().rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for entry in (".env", "var", ".venv", ".git", ".pytest_cache"):
        assert entry in ignored, entry


def test_7_5_dot_env_is_never_committed():
    ignored = {line.strip() for line in (REPO / ".gitignore").read_text().splitlines()}
    assert ".env" in ignored or "/.env" in ignored
