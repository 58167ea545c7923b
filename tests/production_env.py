"""The environment of a production start-up, for tests that run manage.py in a process of their own."""

from __future__ import annotations

import os
import secrets

from cryptography.fernet import Fernet


def production_env(tmp_dir, **overrides) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_dir),
        "LANG": "C.UTF-8",
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "portal.example.cn",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "BLIND_INDEX_KEY": secrets.token_urlsafe(32),
        "DATABASE_URL": f"sqlite:///{tmp_dir / 'prod.sqlite3'}",
        "PRIVATE_MEDIA_ROOT": str(tmp_dir / "private"),
        # Required in production (issue 7 §2.6); `check` never connects to it.
        "CACHE_URL": "redis://127.0.0.1:6379/11",
    }
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env
