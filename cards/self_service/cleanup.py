"""Abandoned phone sessions (issue 9 §2): their photos and frames are deleted, not left to pile up.

A phone session keeps what it uploaded (the ID photo, the live photo, a capture's frames) under
self_service/<session id>/ in the private storage until it is submitted, restarted or found idle on its next
request. A session nobody comes back to would keep a person's ID photo for as long as the Django session row
lives (12 hours) and the files for ever. The beat task (cards.tasks.self_service_sweep_abandoned) runs this:

1. every unexpired Django session row: a self-service state idle past SELF_SERVICE_SESSION_IDLE_MINUTES and never
   submitted loses its files and its entry; a row left with nothing in it is deleted;
2. the storage: a session folder that no live state names (its row expired or was flushed) and whose files
   are all older than the idle lifetime is deleted too.

A submitted session stays: its status page is reachable from the same device (its photos went at submit).
Only counts are logged, never a name, an ID number or a path.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.files.storage import Storage, default_storage, storages
from django.db import transaction
from django.utils import timezone

from cards.self_service.phone import idle_lifetime, remove_session_files

logger = logging.getLogger(__name__)

PREFIX = "self_service"
STATE_KEY_PREFIX = "self_service:"
_DB_ENGINE = "django.contrib.sessions.backends.db"


@dataclass
class SweepResult:
    states: int = 0  # abandoned states removed from session rows
    rows: int = 0  # session rows deleted because nothing was left in them
    folders: int = 0  # orphan session folders deleted from the storage


def _storages() -> list[Storage]:
    """Where a session's files are: its photos in the private storage, a capture's frames in the default one
    (where the faces-queue task reads them); both are one encrypted folder in the shipped settings."""
    private, default = storages["private"], default_storage
    same = getattr(private, "location", None) == getattr(default, "location", object())
    return [private] if same else [private, default]


def _abandoned(state: object, cutoff: datetime) -> bool:
    if not isinstance(state, dict) or state.get("submitted") or not state.get("id"):
        return False
    try:
        seen = datetime.fromisoformat(str(state.get("seen", "")))
    except ValueError:
        return True  # an unreadable state resumes nothing: treat it as abandoned
    return seen < cutoff


def _states(data: dict) -> dict[str, object]:
    return {key: value for key, value in data.items() if key.startswith(STATE_KEY_PREFIX)}


def _sweep_rows(cutoff: datetime, result: SweepResult) -> set[str]:
    """Remove the abandoned states from the session rows; the ids of the states that stay live.

    Rows are read without a lock; only one that holds an abandoned state is locked, decoded again and
    written, so that a request saving that row meanwhile is not overwritten by what was read first. A row
    past its expiry names no live state (its cookie is gone): its folders are left to the orphan pass.
    """
    live_ids: set[str] = set()
    store = SessionStore()
    now = timezone.now()
    rows = Session.objects.filter(expire_date__gt=now).values_list("session_key", "session_data")
    to_clean: list[str] = []
    for key, encoded in rows.iterator(chunk_size=500):
        states = _states(store.decode(encoded))
        if any(_abandoned(state, cutoff) for state in states.values()):
            to_clean.append(key)
        live_ids.update(
            str(state.get("id"))
            for state in states.values()
            if isinstance(state, dict) and not _abandoned(state, cutoff)
        )
    for key in to_clean:
        with transaction.atomic():
            row = Session.objects.select_for_update().filter(session_key=key).first()
            if row is None:
                continue
            data = store.decode(row.session_data)
            gone = [name for name, state in _states(data).items() if _abandoned(state, cutoff)]
            for name in gone:
                state = data.pop(name)
                remove_session_files(state)
                for storage in _storages():
                    _remove_empty_folders(storage, f"{PREFIX}/{state['id']}")
                result.states += 1
            for state in _states(data).values():
                if isinstance(state, dict):
                    live_ids.add(str(state.get("id")))
            if data:
                row.session_data = store.encode(data)
                row.save(update_fields=["session_data"])
            else:
                row.delete()
                result.rows += 1
    return live_ids


def _folder_files(storage: Storage, folder: str) -> list[str]:
    directories, files = storage.listdir(folder)
    names = [f"{folder}/{name}" for name in files]
    for directory in directories:
        names += _folder_files(storage, f"{folder}/{directory}")
    return names


def _sweep_orphans(storage: Storage, cutoff: datetime, live_ids: set[str], result: SweepResult) -> None:
    if not storage.exists(PREFIX):
        return
    folders, _files = storage.listdir(PREFIX)
    for folder in folders:
        if folder in live_ids:
            continue
        names = _folder_files(storage, f"{PREFIX}/{folder}")
        if not names:  # emptied already (a submit, a restart): only the folder is left
            _remove_empty_folders(storage, f"{PREFIX}/{folder}")
            continue
        # A folder being written now (a session whose row is not saved yet) is younger than the cutoff.
        if any(storage.get_modified_time(name) >= cutoff for name in names):
            continue
        for name in names:
            storage.delete(name)
        _remove_empty_folders(storage, f"{PREFIX}/{folder}")
        result.folders += 1


def _remove_empty_folders(storage: Storage, folder: str) -> None:
    """FileSystemStorage deletes files only; the emptied folders go too, deepest first."""
    path = getattr(storage, "path", None)
    if path is None:
        return
    root = path(folder)
    if not os.path.isdir(root):
        return
    for current, _dirs, _files in sorted(os.walk(root), key=lambda entry: -len(entry[0])):
        try:
            os.rmdir(current)
        except OSError:
            pass  # not empty (a file arrived meanwhile): it stays


def sweep_abandoned(*, now: datetime | None = None) -> SweepResult:
    """Delete what abandoned phone sessions uploaded, and their session entries. Safe to repeat."""
    cutoff = (now or timezone.now()) - idle_lifetime()
    result = SweepResult()
    live_ids: set[str] | None = None
    if settings.SESSION_ENGINE == _DB_ENGINE:
        live_ids = _sweep_rows(cutoff, result)
    # Without database sessions the live states cannot be listed, and a live session touches its folder only
    # when it uploads: its folders are then left alone rather than risk deleting a session still going.
    if live_ids is not None:
        for storage in _storages():
            _sweep_orphans(storage, cutoff, live_ids, result)
    logger.info(
        "self-service sweep: %s abandoned sessions, %s session rows, %s orphan folders",
        result.states,
        result.rows,
        result.folders,
    )
    return result


__all__ = ["SweepResult", "sweep_abandoned"]
