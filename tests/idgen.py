"""Valid test identifiers, computed from the published check formulas.

Written apart from core.identity so the tests do not check the code
against itself.
"""

from __future__ import annotations

import itertools

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
_ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]

_serial = itertools.count(1)


def resident_id(area: str = "110105", birth: str = "19850712", seq: str | None = None) -> str:
    seq = seq or f"{next(_serial) % 1000:03d}"
    first17 = area + birth + seq
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first17))
    check = (12 - total % 11) % 11
    return first17 + ("X" if check == 10 else str(check))


def organisation_code(body8: str) -> str:
    total = sum(int(c, 36) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return body8 + {10: "X", 11: "0"}.get(check, str(check))


def uscc(prefix: str = "91", area: str = "110105", body8: str | None = None) -> str:
    body8 = body8 or f"{next(_serial):08d}"
    first17 = prefix + area + organisation_code(body8)
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return first17 + _USCC_ALPHABET[(31 - total % 31) % 31]


# --- cards ----------------------------------------------------------------------

_iccid_serial = itertools.count(1)


def luhn_check_digit(body: str) -> str:
    """The Luhn check digit to append to `body` (ISO/IEC 7812-1)."""
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char)
        if position % 2 == 0:  # these digits are doubled once the check digit is appended
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def iccid(prefix: str = "898602", length: int = 20) -> str:
    """A valid ICCID: `length` (19 or 20) digits, prefix 89, Luhn check digit; new on every call."""
    body = prefix + f"{next(_iccid_serial):0{length - 1 - len(prefix)}d}"
    return body + luhn_check_digit(body)
