"""The field-encryption keys (FIELD_ENCRYPTION_KEYS) as one MultiFernet.

ID and credential numbers (accounts.pii) and the stored documents and photos
(core.storage) are encrypted with the same keys, so one rotation
(`manage.py rotate_field_keys`) covers both. The first key encrypts; every key
decrypts.
"""

from __future__ import annotations

import functools

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@functools.lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS holds a key that is not a Fernet key") from exc


def field_fernet() -> MultiFernet:
    """The MultiFernet of the keys configured now (settings may change under tests)."""
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))
