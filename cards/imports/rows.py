"""The two results of validating a row: a card to write, or an error to report."""

from __future__ import annotations

from typing import NamedTuple


class ValidRow(NamedTuple):
    row: int
    iccid: str
    msisdn: str
    imsi: str
    package_id: int
    data: str
    voice: str
    sms: str
    realname_required: bool
    realname_rules: str
    exemption_needed: str
    # U4: the trial's length on a test package; None on a commercial package.
    test_period_days: int | None = None


# (row, column index, code, value, params)
RowError = tuple[int, int, str, str, dict]


__all__ = [
    "ValidRow",
]
