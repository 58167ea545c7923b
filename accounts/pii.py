"""Personal data at rest: encrypted fields, a keyed blind index, masking.

ID and credential numbers are stored as MultiFernet tokens, so keys can be
rotated (`manage.py rotate_field_keys`). Exact lookups and the
one-ID-five-cards count use an HMAC blind index: Chinese ID numbers have so
little entropy that an unkeyed hash would be brute-forced in minutes.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.fernet import InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from core.crypto import field_fernet
from core.identity import mask_identifier, normalize_unit_name

__all__ = [
    "EncryptedTextField",
    "blind_index",
    "encrypt",
    "decrypt",
    "mask_identifier",
    "personal_id_index",
    "unit_name_index",
]


def _current_fernet() -> MultiFernet:
    # The same keys encrypt the stored files (core.storage): one rotation covers both.
    return field_fernet()


def encrypt(plaintext: str) -> str:
    return _current_fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _current_fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured("An encrypted field cannot be read with the configured keys") from exc


def rotate_token(token: str) -> str:
    """Re-encrypt a token under the first (primary) key."""
    return _current_fernet().rotate(token.encode()).decode()


def blind_index(value: str, *, purpose: str) -> str:
    """Keyed, deterministic index of a normalised value; `purpose` keeps domains apart."""
    key = settings.BLIND_INDEX_KEY.encode()
    message = f"{purpose}\x00{value}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def personal_id_index(id_type: str, number: str) -> str:
    """Blind index of a person's ID document.

    18-digit numbers share one namespace whatever type was chosen (a Taiwan
    resident's permit can be entered as a resident ID), so one document cannot
    dodge the five-card limit by being registered under two types.
    """
    family = "cn18" if len(number) == 18 and number[:17].isdigit() else id_type
    return blind_index(number, purpose=f"personal_id:{family}")


def credential_index(number: str) -> str:
    return blind_index(number, purpose="org_credential")


def unit_name_index(name: str) -> str:
    """Blind index of a unit's normalised name: how a letter unit, which has no number, is found again (E1)."""
    return blind_index(normalize_unit_name(name), purpose="unit_name")


class EncryptedTextField(models.TextField):
    """Stores a string as a MultiFernet token; Python code sees the plaintext."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)

    def get_lookup(self, lookup_name):
        # A token differs on every write: only null checks make sense.
        if lookup_name not in {"isnull"}:
            return None
        return super().get_lookup(lookup_name)
