"""Checking every row of a card file (ICCID, MSISDN, IMSI, package, service levels, U4) and the
duplicates within the file and against the database."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

from django.db import connection, transaction

from cards.imports.copy_writer import copy_into
from cards.imports.parsing import COLUMNS, LEVEL_ALIASES, ParsedFile, _blank, _clip
from cards.imports.rows import RowError, ValidRow
from cards.inventory.services import decision_cache_fields
from cards.models import Card
from cards.rules import CardFacts, ServiceLevel, evaluate
from cards.validation import (
    number_range_refusal,
    sandbox_iccid_prefix,
    sandbox_msisdn_prefix,
    validate_card_msisdn,
    validate_iccid,
    validate_imsi,
)
from core.columns import db_column
from core.errors import DomainError

PROGRESS_EVERY = 2000
# Values per `IN (...)` duplicate lookup where there is no COPY (SQLite).
SQL_LOOKUP_CHUNK = 500

COLUMN_LABELS = {"iccid": "ICCID", "msisdn": "MSISDN", "imsi": "IMSI"}


# --- validating rows ------------------------------------------------------------

# Luhn: the digits in odd places from the right are doubled (and 9 taken off above 9).
_LUHN_DOUBLED = str.maketrans("0123456789", "0246813579")


def _luhn_ok(digits: str) -> bool:
    """For ASCII digits only. Sums the character codes in C rather than digit by digit in Python."""
    total = sum(digits[-1::-2].encode()) + sum(digits[-2::-2].translate(_LUHN_DOUBLED).encode())
    return (total - 48 * len(digits)) % 10 == 0


# What Excel makes of a long number: 8.98603E+19, 8.986031e+19.
_ROUNDED = re.compile(r"\d(?:\.\d*)?[eE]\+?\d+")


class _DecisionCache(dict):
    """The rule decision per combination of facts: at most 108 of them, so each is computed once."""

    def __missing__(self, key):
        segment_149, data, voice, sms, test = key
        fields = decision_cache_fields(
            evaluate(
                CardFacts(
                    segment_149=segment_149,
                    data=ServiceLevel(data),
                    voice=ServiceLevel(voice),
                    sms=ServiceLevel(sms),
                    test_package=test,
                )
            )
        )
        value = (fields["realname_required"], fields["realname_rules"], fields["exemption_needed"])
        self[key] = value
        return value


def _cell(cells: list[str], position: int | None) -> str:
    """A cell for an error report; a column left out of the header is empty."""
    return cells[position].strip() if position is not None else ""


def _slow_check(validator, value: str) -> tuple[str | None, str | None]:
    """The reference validators, for what the fast path did not accept: (value, None) or (None, code)."""
    if _ROUNDED.fullmatch(value):
        return None, "rounded_number"
    try:
        return validator(value), None
    except DomainError as exc:
        return None, exc.code


def validate_rows(
    parsed: ParsedFile,
    packages: dict[str, tuple],
    *,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[ValidRow], list[RowError]]:
    """Check each row; returns the good rows and every error. Cheap per row: no queries, no translation.

    Each identifier takes a fast path (plain ASCII digits of the right shape) that accepts only what
    cards.validation accepts; anything else goes through cards.validation itself.
    """
    col = COLUMNS.index
    positions = parsed.positions
    p_iccid, p_msisdn, p_package = positions["iccid"], positions["msisdn"], positions["package_code"]
    # An optional column left out of the header has no position: its cells read as empty.
    p_imsi, p_data, p_voice, p_sms = (positions.get(c) for c in ("imsi", "data", "voice", "sms"))
    width = parsed.width
    c_iccid, c_msisdn, c_imsi, c_package = col("iccid"), col("msisdn"), col("imsi"), col("package_code")
    c_data, c_voice, c_sms = col("data"), col("voice"), col("sms")
    levels_get = LEVEL_ALIASES.get
    packages_get = packages.get
    decisions = _DecisionCache()
    seen_iccid: dict[str, int] = {}
    seen_msisdn: dict[str, int] = {}
    iccid_first = seen_iccid.setdefault
    msisdn_first = seen_msisdn.setdefault
    luhn_ok = _luhn_ok
    valid: list[ValidRow] = []
    keep = valid.append
    errors: list[RowError] = []
    error = errors.append
    every = PROGRESS_EVERY

    for count, (row, cells) in enumerate(parsed.rows, start=1):
        if progress is not None and count % every == 0:
            progress(count)
        n = len(cells)
        if n != width:
            if n < width:
                cells = cells + [""] * (width - n)
            elif not _blank(cells[width:]):
                error((row, len(COLUMNS), "extra_cells", "", {}))
        bad = False

        iccid = cells[p_iccid].strip()
        if len(iccid) in (19, 20) and iccid.isdigit() and iccid.isascii() and iccid.startswith("89") and luhn_ok(iccid):
            pass
        elif not iccid:
            error((row, c_iccid, "missing_value", "", {}))
            bad = True
        else:
            value, code = _slow_check(validate_iccid, iccid)
            if code:
                error((row, c_iccid, code, _clip(iccid), {}))
                bad = True
            else:
                assert value is not None  # no code, so the validator's value
                iccid = value
        if not bad:
            first = iccid_first(iccid, row)
            if first != row:
                error((row, c_iccid, "duplicate_in_file", iccid, {"first_row": first}))
                bad = True

        msisdn = cells[p_msisdn].strip()
        msisdn_ok = True
        if len(msisdn) in (11, 13) and msisdn.isdigit() and msisdn.isascii() and msisdn[0] == "1":
            pass
        elif not msisdn:
            error((row, c_msisdn, "missing_value", "", {}))
            msisdn_ok = False
        else:
            value, code = _slow_check(validate_card_msisdn, msisdn)
            if code:
                error((row, c_msisdn, code, _clip(msisdn), {}))
                msisdn_ok = False
            else:
                assert value is not None  # no code, so the validator's value
                msisdn = value
        if msisdn_ok:
            first = msisdn_first(msisdn, row)
            if first != row:
                error((row, c_msisdn, "duplicate_in_file", msisdn, {"first_row": first}))
                msisdn_ok = False
        bad = bad or not msisdn_ok

        imsi = cells[p_imsi].strip() if p_imsi is not None else ""
        if imsi and not (len(imsi) == 15 and imsi.isdigit() and imsi.isascii() and imsi.startswith("460")):
            value, code = _slow_check(validate_imsi, imsi)
            if code:
                error((row, c_imsi, code, _clip(imsi), {}))
                bad = True
            else:
                assert value is not None  # no code, so the validator's value
                imsi = value

        code_value = cells[p_package].strip()
        package = packages_get(code_value)
        if package is None:
            if not code_value:
                error((row, c_package, "missing_value", "", {}))
            else:
                package = packages_get(code_value.upper()) or packages_get(code_value.lower())
                if package is None:
                    error((row, c_package, "unknown_package", _clip(code_value), {}))
            bad = bad or package is None
        if package is not None and not package[2]:
            error((row, c_package, "package_unavailable", _clip(code_value), {}))
            bad = True

        data_cell = cells[p_data].strip() if p_data is not None else ""
        data = levels_get(data_cell) or levels_get(data_cell.lower())
        voice_cell = cells[p_voice].strip() if p_voice is not None else ""
        voice = levels_get(voice_cell) or levels_get(voice_cell.lower())
        sms_cell = cells[p_sms].strip() if p_sms is not None else ""
        sms = levels_get(sms_cell) or levels_get(sms_cell.lower())
        if data is None or voice is None or sms is None:
            for value, position, column in ((data, p_data, c_data), (voice, p_voice, c_voice), (sms, p_sms, c_sms)):
                if value is None:
                    error((row, column, "invalid_level", _clip(_cell(cells, position)), {}))
            continue
        if package is not None and package[1] and (data, voice, sms) != package[3]:
            # U4: a test package fixes its cards' services.
            for value, fixed, position, column in zip(
                (data, voice, sms), package[3], (p_data, p_voice, p_sms), (c_data, c_voice, c_sms), strict=True
            ):
                if value != fixed:
                    error(
                        (
                            row,
                            column,
                            "test_package_services",
                            _clip(_cell(cells, position)),
                            {"package": package[4], "level": fixed},
                        )
                    )
            continue
        if bad:
            continue
        assert package is not None  # a missing package made the row bad
        required, rules, exemption = decisions[
            (len(msisdn) == 11 and msisdn.startswith("149"), data, voice, sms, package[1])
        ]
        keep(ValidRow(row, iccid, msisdn, imsi, package[0], data, voice, sms, required, rules, exemption, package[5]))

    if progress is not None:
        progress(len(parsed.rows))
    return valid, errors


def _existing_on_postgresql(valid: list[ValidRow]) -> tuple[set[str], set[str]]:
    """One COPY of the file's keys into a temporary table, and one join per column."""
    quote = connection.ops.quote_name
    table = quote(Card._meta.db_table)
    iccid_col, msisdn_col = (quote(db_column(Card, name)) for name in ("iccid", "msisdn"))
    keys = io.StringIO()
    keys.writelines(f"{r.iccid}\t{r.msisdn}\n" for r in valid)
    keys.seek(0)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS pg_temp.card_import_keys")
        cursor.execute("CREATE TEMPORARY TABLE card_import_keys (iccid varchar(20), msisdn varchar(13)) ON COMMIT DROP")
        copy_into(cursor, "COPY card_import_keys (iccid, msisdn) FROM STDIN", keys)
        cursor.execute("ANALYZE card_import_keys")
        cursor.execute(f"SELECT k.iccid FROM card_import_keys k JOIN {table} c ON c.{iccid_col} = k.iccid")
        iccids = {value for (value,) in cursor.fetchall()}
        cursor.execute(f"SELECT k.msisdn FROM card_import_keys k JOIN {table} c ON c.{msisdn_col} = k.msisdn")
        msisdns = {value for (value,) in cursor.fetchall()}
        cursor.execute("DROP TABLE pg_temp.card_import_keys")
    return iccids, msisdns


def _existing_elsewhere(valid: list[ValidRow]) -> tuple[set[str], set[str]]:
    found: dict[str, set[str]] = {"iccid": set(), "msisdn": set()}
    for column, values in found.items():
        keys = [getattr(r, column) for r in valid]
        for start in range(0, len(keys), SQL_LOOKUP_CHUNK):
            chunk = keys[start : start + SQL_LOOKUP_CHUNK]
            values.update(Card.objects.filter(**{f"{column}__in": chunk}).values_list(column, flat=True))
    return found["iccid"], found["msisdn"]


def number_range_errors(valid: list[ValidRow], enterprise) -> tuple[list[ValidRow], list[RowError]]:
    """The rows whose numbers `enterprise` may hold, and an error for each other (cards.validation:
    a sandbox keeps to its own range, a real enterprise out of every sandbox's). Checked before the
    look-up of registered numbers, so that a test key never learns which real numbers exist."""
    kept: list[ValidRow] = []
    errors: list[RowError] = []
    params = {
        "iccid": sandbox_iccid_prefix(enterprise.pk),
        "msisdn": sandbox_msisdn_prefix(enterprise.pk),
    }
    for r in valid:
        refusal = number_range_refusal(enterprise, r.iccid, r.msisdn)
        if refusal is None:
            kept.append(r)
            continue
        code, column = refusal
        errors.append((r.row, COLUMNS.index(column), code, getattr(r, column), params))
    return kept, errors


def database_duplicates(valid: list[ValidRow]) -> list[RowError]:
    """Rows whose ICCID or MSISDN is already registered, in a few queries for the whole file."""
    if not valid:
        return []
    if connection.vendor == "postgresql":
        iccids, msisdns = _existing_on_postgresql(valid)
    else:
        iccids, msisdns = _existing_elsewhere(valid)
    errors: list[RowError] = []
    for column, existing in (("iccid", iccids), ("msisdn", msisdns)):
        if existing:
            index = COLUMNS.index(column)
            label = {"label": COLUMN_LABELS[column]}
            for r in valid:
                value = getattr(r, column)
                if value in existing:
                    errors.append((r.row, index, "already_registered", value, label))
    return errors


__all__ = [
    "validate_rows",
    "number_range_errors",
    "database_duplicates",
]
