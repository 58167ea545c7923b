"""Private storage of documents and photos: encrypted at rest, owner-only (DESIGN §3, PIPL art. 28).

ID-card images, face photos, licences, letters and approval forms are
sensitive personal information. `EncryptedFileSystemStorage` encrypts every
file it saves with the field-encryption keys (core.crypto, the MultiFernet of
FIELD_ENCRYPTION_KEYS) and decrypts on open, so a copy of the disk or of a
backup shows nothing without the keys, and one key rotation covers the ID
numbers and the files alike (`manage.py rotate_field_keys`).

On disk a file is `MAGIC` followed by the binary Fernet token (its base64 form
would be a third larger). A file without `MAGIC` was stored by a version before
this one: it still opens, as it is, until `manage.py encrypt_private_files`
(run by `make migrate`) has encrypted it, so an existing database keeps working
through the upgrade.

Files are written 0600 in folders 0700 (FILE_UPLOAD_PERMISSIONS,
FILE_UPLOAD_DIRECTORY_PERMISSIONS; owner-only also where those are unset).
"""

from __future__ import annotations

import base64
import contextlib
import io
import logging
import os
import tempfile
from collections import Counter
from collections.abc import Iterator

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, storages
from django.utils.functional import LazyObject, cached_property

from core.crypto import field_fernet

logger = logging.getLogger(__name__)

MAGIC = b"IOTRN-ENC1\n"
OWNER_ONLY_FILE = 0o600
OWNER_ONLY_DIRECTORY = 0o700
_TEMP_PREFIX = ".reencrypt-"


class PrivateFileUnreadable(ImproperlyConfigured):
    """A stored file that no key in FIELD_ENCRYPTION_KEYS decrypts (a key was dropped too early)."""


def seal(plaintext: bytes) -> bytes:
    """The bytes to write for `plaintext`: MAGIC and the binary token under the primary key."""
    return MAGIC + base64.urlsafe_b64decode(field_fernet().encrypt(plaintext))


def _token(raw: bytes) -> bytes:
    return base64.urlsafe_b64encode(raw[len(MAGIC) :])


def is_sealed(raw: bytes) -> bool:
    return raw.startswith(MAGIC)


def unseal(raw: bytes, *, name: str = "") -> bytes:
    """The plaintext of stored bytes; bytes of a version before encryption are returned as they are."""
    if not is_sealed(raw):
        # Only names (opaque ids) are logged, never content.
        logger.warning("Private file %s is not encrypted yet: run manage.py encrypt_private_files", name)
        return raw
    try:
        return field_fernet().decrypt(_token(raw))
    except InvalidToken as exc:
        raise PrivateFileUnreadable(
            f"Private file {name} cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS"
        ) from exc


class DecryptedFile(File):
    """An opened private file: the plaintext in memory; reopening reads the storage again."""

    def __init__(self, content: bytes, *, name: str, storage: EncryptedFileSystemStorage):
        super().__init__(io.BytesIO(content), name=name)
        self._storage = storage

    def open(self, mode=None, *args, **kwargs):
        if self.closed:
            self.file = io.BytesIO(self._storage.read_plaintext(self.name))
        else:
            self.seek(0)
        return self


class EncryptedFileSystemStorage(FileSystemStorage):
    """FileSystemStorage that encrypts on save and decrypts on open."""

    @cached_property
    def file_permissions_mode(self):
        mode = super().file_permissions_mode
        return OWNER_ONLY_FILE if mode is None else mode

    @cached_property
    def directory_permissions_mode(self):
        mode = super().directory_permissions_mode
        return OWNER_ONLY_DIRECTORY if mode is None else mode

    def _save(self, name, content):
        plaintext = b"".join(content.chunks())
        return super()._save(name, ContentFile(seal(plaintext)))

    def _open(self, name, mode="rb"):
        if any(flag in mode for flag in "wax+"):
            # A write through the file object would bypass the encryption: only save() writes.
            raise ValueError("Private files are written through save() only")
        return DecryptedFile(self.read_plaintext(name), name=name, storage=self)

    def read_plaintext(self, name: str) -> bytes:
        with open(self.path(name), "rb") as handle:
            raw = handle.read()
        return unseal(raw, name=name)

    def size(self, name):
        return len(self.read_plaintext(name))

    # --- encrypting what an older version stored, and key rotation ---------------------

    def stored_names(self) -> Iterator[str]:
        """Every file under the storage's root, as storage names (forward slashes)."""
        root = self.location
        for folder, _dirs, files in os.walk(root):
            for filename in files:
                if filename.startswith(_TEMP_PREFIX):
                    continue
                relative = os.path.relpath(os.path.join(folder, filename), root)
                yield relative.replace(os.sep, "/")

    def reencrypt(self, name: str, *, rotate: bool, dry_run: bool = False) -> str:
        """Encrypt a plaintext file; with `rotate`, re-encrypt an encrypted one under the primary key.

        Returns "encrypted", "rotated" or "checked" (encrypted, readable, left alone). The new
        bytes replace the old in one rename, so a concurrent reader sees one or the other.
        """
        path = self.path(name)
        with open(path, "rb") as handle:
            raw = handle.read()
        if not is_sealed(raw):
            outcome, new = "encrypted", seal(raw)
        else:
            try:
                if rotate:
                    new = MAGIC + base64.urlsafe_b64decode(field_fernet().rotate(_token(raw)))
                else:
                    field_fernet().decrypt(_token(raw))
                    new = None
            except InvalidToken as exc:
                raise PrivateFileUnreadable(
                    f"Private file {name} cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS"
                ) from exc
            outcome = "rotated" if rotate else "checked"
        if new is not None and not dry_run:
            self._replace(path, new)
        return outcome

    def _replace(self, path: str, content: bytes) -> None:
        folder = os.path.dirname(path)
        descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=_TEMP_PREFIX)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, self.file_permissions_mode)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


def encrypted_storages() -> list[EncryptedFileSystemStorage]:
    """The configured encrypted storages, one per folder ("default" and "private" may share one)."""
    found: dict[str, EncryptedFileSystemStorage] = {}
    for alias in settings.STORAGES:
        if alias == "staticfiles":
            continue
        storage = storages[alias]
        if isinstance(storage, EncryptedFileSystemStorage):
            found.setdefault(os.path.realpath(storage.location), storage)
    return list(found.values())


def reencrypt_private_files(*, rotate: bool, dry_run: bool = False) -> Counter:
    """Encrypt every plaintext private file (and with `rotate` re-encrypt the rest); counts by outcome."""
    counts: Counter = Counter()
    for storage in encrypted_storages():
        if not os.path.isdir(storage.location):
            continue
        for name in storage.stored_names():
            counts[storage.reencrypt(name, rotate=rotate, dry_run=dry_run)] += 1
    return counts


class _PrivateStorage(LazyObject):
    """`storages["private"]`, looked up on every use.

    A FileField calls a callable storage once, when the model class is built;
    returning `storages["private"]` itself would pin the STORAGES of import
    time, so a later change (tests/conftest.py gives every test its own
    folder) would be ignored and files would land in the real private folder.
    """

    def _setup(self):
        self._wrapped = storages["private"]

    def __getattr__(self, name):
        return getattr(storages["private"], name)


_private_storage = _PrivateStorage()


def private_storage():
    return _private_storage
