"""Files written inside a transaction are removed when it does not commit (issue 7 §3).

A refused or failed write must leave no rows and no files: an ID photo with no
row pointing to it is personal data nobody can reach, delete or account for.
Every service that stores files in a transaction does it inside
`atomic_with_files()` and stores through the object it yields:

    with atomic_with_files() as stored:
        card_user = CardUser(...)
        stored.save(card_user.id_photo, "id.jpg", clean.content)
        card_user.save()

When the block raises, its files are deleted. When it succeeds inside an outer
`atomic_with_files()` (a service calling another one: an order stores its
verification's photos and the enterprise's fresh documents), its files are handed
to the outer block, and go if that one fails later. A plain `transaction.atomic()`
around the outermost block is not watched (ATOMIC_REQUESTS is off for this reason:
the services own their transactions).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.db import transaction

logger = logging.getLogger(__name__)

_local = threading.local()


class StoredFiles:
    """The files one `atomic_with_files()` block wrote."""

    def __init__(self) -> None:
        self._files: list[tuple[Storage, str]] = []

    def save(self, field_file, name: str, content: bytes) -> str:
        """Store `content` in a model's FileField (not saving the row) and remember it."""
        field_file.save(name, ContentFile(content), save=False)
        return self.add(field_file.storage, field_file.name)

    def add(self, storage: Storage, name: str) -> str:
        """Remember a file written straight through a storage."""
        self._files.append((storage, name))
        return name

    def __len__(self) -> int:
        return len(self._files)

    def _delete_all(self) -> None:
        for storage, name in reversed(self._files):
            try:
                storage.delete(name)
            except OSError:
                # Names are opaque ids, never personal data.
                logger.exception("Could not remove the private file %s of a failed write", name)
        self._files.clear()


def _stack() -> list[StoredFiles]:
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


@contextlib.contextmanager
def atomic_with_files(using: str | None = None) -> Iterator[StoredFiles]:
    """`transaction.atomic()` that deletes the files stored in it when it does not commit."""
    stack = _stack()
    stored = StoredFiles()
    stack.append(stored)
    try:
        with transaction.atomic(using=using):
            yield stored
    except BaseException:
        stored._delete_all()
        raise
    else:
        if len(stack) > 1:
            # Nested: the rows are only savepointed, so the files share the outer block's fate.
            stack[-2]._files.extend(stored._files)
    finally:
        stack.pop()
