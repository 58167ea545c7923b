"""Bulk import of card lists (issue 3 §2): CSV or XLSX files, imported whole or not at all.

Two steps, two entry points:

* :func:`card_import_create` (the page and the API call it) checks the role,
  the size, the file type, the text encoding and the header row, stores the
  file in private storage and queues :func:`cards.tasks.run_card_import` once
  the row is committed. A file that fails these checks is refused at once
  with a ValidationFailed on ``file``; no row and no file are kept.
* :func:`card_import_run` (the Celery task calls it; safe to repeat) reads
  the stored file, validates every row (ICCID, MSISDN, IMSI, package, service
  levels, which on an IoT test-card package must be the package's (U4),
  duplicates within the file and against the database) while saving
  its progress, and then either writes every card in one transaction
  (``COPY`` on PostgreSQL, ``bulk_create`` elsewhere) or records the errors
  and writes no card at all.

Cards created here are in stock, carry the cached rule decision
(:func:`cards.services.decision_cache_fields`) and the U4 facts (a card on a
test package starts its trial, one on a commercial package has been commercial),
and point at their import
through ``Card.import_job``. No CardEvent is written per card: a card's
history shows that it came from an import through ``card.import_job``.

Error rows are stored as dicts ``{"row", "column", "code", "value",
"params", "message"}``: ``row`` is the row number Excel shows (the header is
row 1), ``message`` is the English text; :func:`error_message` renders it in
the reader's language from the code.
"""

from __future__ import annotations

import csv
import io
import itertools
import logging
import operator
import re
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from accounts.access import scoped
from accounts.models import User
from accounts.roles import Role
from accounts.services import audit_record
from cards import policy
from cards.models import Card, CardImport, CardStatus, ImportStatus, Package
from cards.rules import CardFacts, ServiceLevel, evaluate
from cards.services import decision_cache_fields
from cards.validation import validate_card_msisdn, validate_iccid, validate_imsi
from core.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from core.files import atomic_with_files

logger = logging.getLogger(__name__)

__all__ = [
    "COLUMNS",
    "COLUMN_DOCS",
    "LEVEL_ALIASES",
    "card_import_create",
    "card_import_run",
    "card_imports_visible_to",
    "card_import_for_user",
    "enterprises_for_import",
    "may_import",
    "may_upload_any",
    "error_message",
    "error_rows",
    "error_report_csv",
    "template_csv",
    "template_xlsx",
    "progress_percent",
    "max_bytes",
    "COLUMNS_HELP",
    "ParsedFile",
    "ValidRow",
    "read_upload",
    "detect_format",
    "decode_text",
    "inspect_file",
    "parse_file",
    "validate_rows",
    "database_duplicates",
    "copy_sql",
    "copy_stream",
    "copy_into",
]

# --- the file format ----------------------------------------------------------

COLUMNS: tuple[str, ...] = ("iccid", "msisdn", "imsi", "package_code", "data", "voice", "sms")
SERVICE_COLUMNS = ("data", "voice", "sms")


@dataclass(frozen=True)
class ColumnDoc:
    name: str
    required: bool
    description: str  # an English msgid (gettext_noop); translate with gettext() when shown
    example: str

    @property
    def description_text(self) -> str:
        return gettext(self.description)


COLUMN_DOCS: tuple[ColumnDoc, ...] = (
    ColumnDoc(
        "iccid",
        True,
        gettext_noop(
            "The SIM card's ICCID: 19 or 20 digits starting with 89, with a valid check digit (Luhn). "
            "Unique: it may appear once in the file and must not be registered yet."
        ),
        "89860012345678901237",
    ),
    ColumnDoc(
        "msisdn",
        True,
        gettext_noop(
            "The card's number: 11 digits starting with 1 (the 149 segment is detected), or a 13-digit IoT "
            "number. Unique like the ICCID."
        ),
        "14912345678",
    ),
    ColumnDoc(
        "imsi", False, gettext_noop("The IMSI: 15 digits starting with 460. May be left empty."), "460110123456789"
    ),
    ColumnDoc("package_code", True, gettext_noop("The code of an available package in the catalogue."), "IOT-BASIC"),
    ColumnDoc(
        "data",
        False,
        gettext_noop("Data service: none, directed or non_directed (also 无, 定向, 非定向). Empty means none."),
        "directed",
    ),
    ColumnDoc(
        "voice",
        False,
        gettext_noop("Voice service: none, directed or non_directed (also 无, 定向, 非定向). Empty means none."),
        "none",
    ),
    ColumnDoc(
        "sms",
        False,
        gettext_noop("SMS service: none, directed or non_directed (also 无, 定向, 非定向). Empty means none."),
        "非定向",
    ),
)

# Plain English, for the OpenAPI schema (built at import time, so no translation).
COLUMNS_HELP = (
    "The first row names the columns, in any order (names are case-insensitive): "
    + ", ".join(COLUMNS)
    + ". "
    + " ".join(f"`{doc.name}`{'' if doc.required else ' (optional)'}: {doc.description}" for doc in COLUMN_DOCS)
    + " CSV files may be UTF-8 (with or without BOM) or GBK; XLSX files are read from their first sheet. "
    "A file is imported whole or not at all."
)

LEVEL_ALIASES: dict[str, str] = {
    "": ServiceLevel.NONE.value,
    "none": ServiceLevel.NONE.value,
    "directed": ServiceLevel.DIRECTED.value,
    "non_directed": ServiceLevel.NON_DIRECTED.value,
    "non-directed": ServiceLevel.NON_DIRECTED.value,
    "non directed": ServiceLevel.NON_DIRECTED.value,
    "nondirected": ServiceLevel.NON_DIRECTED.value,
    "无": ServiceLevel.NONE.value,
    "不开通": ServiceLevel.NONE.value,
    "定向": ServiceLevel.DIRECTED.value,
    "非定向": ServiceLevel.NON_DIRECTED.value,
}

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_ROWS = 300_000
DEFAULT_MAX_STORED_ERRORS = 1000
# An XLSX file is a zip: refuse one that unpacks to far more than the upload limit.
XLSX_MAX_UNPACKED_FACTOR = 15
PROGRESS_EVERY = 2000
ERRORS_SHOWN = 100
# Values per `IN (...)` duplicate lookup where there is no COPY (SQLite).
SQL_LOOKUP_CHUNK = 500
BULK_BATCH = 2000
NULL = "\\N"  # COPY text format


def max_bytes() -> int:
    return int(getattr(settings, "CARD_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))


def _max_rows() -> int:
    return int(getattr(settings, "CARD_IMPORT_MAX_ROWS", DEFAULT_MAX_ROWS))


def _max_stored_errors() -> int:
    return int(getattr(settings, "CARD_IMPORT_MAX_STORED_ERRORS", DEFAULT_MAX_STORED_ERRORS))


# --- messages -----------------------------------------------------------------

# File-level refusals (raised as ValidationFailed on "file").
MSG_EMPTY = _("The file is empty.")
MSG_TOO_LARGE = _("The file is larger than %(limit)s MB. Split the card list into smaller files.")
MSG_UNSUPPORTED = _(
    "This file is neither a CSV nor an XLSX file. Save the card list as CSV (UTF-8 or GBK) "
    "or as an Excel workbook (.xlsx)."
)
MSG_LEGACY_XLS = _(
    "Old Excel files (.xls) are not supported. Save the card list as an Excel workbook (.xlsx) or as CSV."
)
MSG_ENCODING = _(
    'The CSV file is neither UTF-8 nor GBK text. Save it as "CSV UTF-8" or as GBK CSV and upload it again.'
)
MSG_CORRUPT_XLSX = _(
    "The Excel file is damaged or cannot be read. Open it in Excel, save it again as .xlsx and upload it again."
)
MSG_XLSX_UNPACKED = _("The Excel file unpacks to far more data than a card list holds. It is refused.")
MSG_MALFORMED_CSV = _("The CSV file cannot be read near line %(line)s (for example a quote that is never closed).")
MSG_NO_HEADER = _("The file holds no header row and no cards.")
MSG_WRONG_HEADER = _(
    "The header row is wrong (%(details)s). The first row must name exactly these columns: %(expected)s."
)
MSG_HEADER_MISSING = _("missing: %(names)s")
MSG_HEADER_UNKNOWN = _("not expected: %(names)s")
MSG_HEADER_REPEATED = _("repeated: %(names)s")
MSG_NO_ROWS = _("The file has a header row but no cards.")
MSG_TOO_MANY_ROWS = _("The file holds more than %(limit)s cards. Split it into smaller files.")
MSG_NOT_ALLOWED = _("Your role may not import cards for this enterprise.")
MSG_IMPORT_NOT_FOUND = _("The card import does not exist or you have no access to it.")

# Run-level outcomes, stored in CardImport.failure_message.
MSG_ROWS_REFUSED = _(
    "%(count)s errors were found in the file. Nothing was imported: correct the rows and upload the file again."
)
MSG_INTERNAL = _("The import failed because of an internal error. Nothing was imported. Try again later.")
MSG_TIMEOUT = _("The import took too long and was stopped. Nothing was imported. Split the file and try again.")

# Row-level errors, by code. Several msgids are the ones cards.validation uses.
ROW_MESSAGES = {
    "missing_value": _("This column must not be empty."),
    "invalid_iccid": _("An ICCID has 19 or 20 digits and starts with 89."),
    "invalid_iccid_checksum": _("The ICCID's check digit is wrong (Luhn)."),
    "invalid_msisdn": _("The number must have 11 digits, or 13 digits for IoT numbers, and start with 1."),
    "invalid_imsi": _("An IMSI has 15 digits and starts with 460 (China)."),
    "rounded_number": _(
        "Excel stored this as a rounded number. Format the column as text and enter the full number again."
    ),
    "unknown_package": _("There is no package with this code."),
    "package_unavailable": _("This package is no longer available."),
    "invalid_level": _("Use none, directed or non_directed (or 无, 定向, 非定向)."),
    "duplicate_in_file": _("This value also appears on row %(first_row)s of the file."),
    "already_registered": _("A card with this %(label)s is already registered."),
    "extra_cells": _("This row has more cells than the header row has columns."),
    "test_package_services": _(
        "The IoT test-card package %(package)s fixes this service to %(level)s: a card on it cannot have "
        "another (rule U4)."
    ),
}

COLUMN_LABELS = {"iccid": "ICCID", "msisdn": "MSISDN", "imsi": "IMSI"}


def _file_error(message, code: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, field="file")


# --- who may do what ----------------------------------------------------------


def may_upload_any(user) -> bool:
    """Account managers (for their province's enterprises) and enterprise admins (their own)."""
    return policy.may_manage_cards_somewhere(user)


def may_import(user, enterprise) -> bool:
    return policy.can_manage_enterprise_cards(user, enterprise)


def enterprises_for_import(user) -> QuerySet:
    """The enterprises the user may import cards for: their province's (account manager) or their own."""
    from enterprises.models import Enterprise

    if not may_upload_any(user):
        return Enterprise.objects.none()
    if user.role == Role.ACCOUNT_MANAGER:
        return Enterprise.objects.filter(province_id=user.province_id).order_by("name", "pk")
    return Enterprise.objects.filter(pk=user.enterprise_id)


def card_imports_visible_to(user) -> QuerySet[CardImport]:
    """Imports the user may see: scoped like the enterprise (approvers and ops read only)."""
    return scoped(CardImport.objects.all(), user, path="enterprise__").select_related("enterprise", "created_by")


def card_import_for_user(user, public_id) -> CardImport:
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        key = None
    job = card_imports_visible_to(user).filter(public_id=key).first() if key else None
    if job is None:
        raise NotFound(MSG_IMPORT_NOT_FOUND)
    return job


def progress_percent(job: CardImport) -> int:
    """Like CardImport.progress_percent, but a running import never shows 100 % before it is written."""
    if job.status == ImportStatus.SUCCEEDED:
        return 100
    percent = job.progress_percent
    return min(percent, 99) if job.status in (ImportStatus.RUNNING, ImportStatus.PENDING) else percent


# --- reading files --------------------------------------------------------------

_BINARY_MAGIC = (
    b"%PDF",
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"BM",
    b"\x1f\x8b",
    b"Rar!",
    b"7z\xbc\xaf",
    b"RIFF",
    b"II*\x00",
    b"MM\x00*",
    b"\x7fELF",
    b"MZ",
)
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def read_upload(upload) -> bytes:
    """The upload's bytes, refusing an empty file or one over the size limit before reading it all."""
    limit = max_bytes()
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise _file_error(MSG_TOO_LARGE % {"limit": _mb(limit)}, "too_large")
    if hasattr(upload, "seek"):
        upload.seek(0)
    content = upload.read(limit + 1)
    if len(content) > limit:
        raise _file_error(MSG_TOO_LARGE % {"limit": _mb(limit)}, "too_large")
    if not content:
        raise _file_error(MSG_EMPTY, "empty")
    return content


def _mb(limit: int) -> str:
    value = limit / (1024 * 1024)
    return f"{value:.0f}" if value >= 1 else f"{value:.2f}"


def detect_format(content: bytes) -> str:
    """'xlsx' or 'csv' from the content (never from the file name), else a clear refusal."""
    if not content:
        raise _file_error(MSG_EMPTY, "empty")
    if content.startswith(_ZIP_MAGIC):
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                names = set(archive.namelist())
                unpacked = sum(info.file_size for info in archive.infolist())
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
            raise _file_error(MSG_CORRUPT_XLSX, "corrupt") from None
        if "xl/workbook.xml" not in names:
            raise _file_error(MSG_UNSUPPORTED, "unsupported_type")
        if unpacked > max(max_bytes(), 1024 * 1024) * XLSX_MAX_UNPACKED_FACTOR:
            raise _file_error(MSG_XLSX_UNPACKED, "too_large")
        return "xlsx"
    if content.startswith(_OLE_MAGIC):
        raise _file_error(MSG_LEGACY_XLS, "unsupported_type")
    if content.startswith(_UTF16_BOMS):
        raise _file_error(MSG_ENCODING, "unknown_encoding")
    if any(content.startswith(magic) for magic in _BINARY_MAGIC) or b"\x00" in content[:65536]:
        raise _file_error(MSG_UNSUPPORTED, "unsupported_type")
    return "csv"


def decode_text(content: bytes) -> str:
    """UTF-8 (with or without BOM), strictly; else GB 18030 (a superset of GBK); else a clear refusal."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = content.decode("gb18030")
    except UnicodeDecodeError:
        raise _file_error(MSG_ENCODING, "unknown_encoding") from None
    if "\x00" in text:
        raise _file_error(MSG_UNSUPPORTED, "unsupported_type")
    return text


def _normalise_header(cell) -> str:
    return str(cell if cell is not None else "").replace("\ufeff", "").strip().lower()


def header_positions(header: list) -> dict[str, int]:
    """Map each expected column to its position; a wrong header names the expected columns."""
    names = [_normalise_header(cell) for cell in header]
    while names and not names[-1]:
        names.pop()
    positions: dict[str, int] = {}
    repeated, unknown = [], []
    for index, name in enumerate(names):
        if name in COLUMNS:
            if name in positions:
                repeated.append(name)
            else:
                positions[name] = index
        else:
            unknown.append(name or gettext("(empty)"))
    missing = [name for name in COLUMNS if name not in positions]
    if missing or unknown or repeated:
        details = []
        if missing:
            details.append(MSG_HEADER_MISSING % {"names": ", ".join(missing)})
        if unknown:
            details.append(MSG_HEADER_UNKNOWN % {"names": ", ".join(_clip(u) for u in unknown[:10])})
        if repeated:
            details.append(MSG_HEADER_REPEATED % {"names": ", ".join(repeated)})
        raise ValidationFailed(
            MSG_WRONG_HEADER % {"details": "; ".join(str(d) for d in details), "expected": ", ".join(COLUMNS)},
            code="wrong_header",
            field="file",
            params={"expected": list(COLUMNS), "missing": missing},
        )
    return positions


def _clip(value: str, length: int = 40) -> str:
    return value if len(value) <= length else value[: length - 1] + "…"


def _csv_dialect(first_line: str):
    """Excel writes commas; some locales write semicolons or tabs. Pick the one the header uses."""
    for delimiter in (",", ";", "\t"):
        if delimiter in first_line:
            return delimiter
    return ","


def _csv_records(text: str) -> Iterator[list[str]]:
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_csv_dialect(first_line))
    try:
        yield from reader
    except csv.Error:
        raise _file_error(MSG_MALFORMED_CSV % {"line": reader.line_num}, "malformed_csv") from None


def _xlsx_cell(value) -> str:
    """Cells become text. Whole numbers that Excel kept exactly become their digits; a long number
    Excel rounded (an ICCID typed as a number) becomes e.g. '8.986e+19', refused as rounded_number."""
    if value is None:
        return ""
    kind = type(value)
    if kind is str:
        return value
    if kind is int:
        return str(value)
    if kind is float:
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value)


def _xlsx_records(content: bytes) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many types on damaged files; all mean the same here
        raise _file_error(MSG_CORRUPT_XLSX, "corrupt") from None
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise _file_error(MSG_NO_HEADER, "empty")
        if hasattr(sheet, "reset_dimensions"):
            # Ignore the stored dimensions: some writers claim a million rows.
            sheet.reset_dimensions()
        cell = _xlsx_cell
        try:
            for row in sheet.iter_rows(values_only=True):
                yield [cell(value) for value in row]
        except Exception:
            raise _file_error(MSG_CORRUPT_XLSX, "corrupt") from None
    finally:
        workbook.close()


def _records(content: bytes, file_format: str) -> Iterator[list[str]]:
    if file_format == "xlsx":
        return _xlsx_records(content)
    return _csv_records(decode_text(content))


def _blank(record: list[str]) -> bool:
    for cell in record:
        if cell and not cell.isspace():
            return False
    return True


@dataclass
class ParsedFile:
    file_format: str
    positions: dict[str, int]
    width: int
    rows: list[tuple[int, list[str]]]  # (row number as Excel shows it, cells)


def _header_and_rows(records: Iterable[list[str]]) -> tuple[dict[str, int], int, Iterator[tuple[int, list[str]]]]:
    iterator = iter(records)
    row_number = 0
    for record in iterator:
        row_number += 1
        if not _blank(record):
            positions = header_positions(record)
            break
    else:
        raise _file_error(MSG_NO_HEADER, "empty")
    width = max(positions.values()) + 1

    def data_rows() -> Iterator[tuple[int, list[str]]]:
        blank = _blank
        for number, record in enumerate(iterator, start=row_number + 1):
            # Most rows start with their ICCID: skip the blank check for them.
            if (record and record[0] and not record[0].isspace()) or not blank(record):
                yield number, record

    return positions, width, data_rows()


def inspect_file(content: bytes) -> str:
    """The quick checks at upload time: type, encoding, header, at least one card. Returns the format."""
    file_format = detect_format(content)
    _positions, _width, rows = _header_and_rows(_records(content, file_format))
    if next(rows, None) is None:
        raise _file_error(MSG_NO_ROWS, "no_rows")
    return file_format


def parse_file(content: bytes, file_format: str | None = None) -> ParsedFile:
    file_format = file_format or detect_format(content)
    positions, width, data_rows = _header_and_rows(_records(content, file_format))
    limit = _max_rows()
    rows = list(itertools.islice(data_rows, limit + 1))
    if len(rows) > limit:
        raise _file_error(MSG_TOO_MANY_ROWS % {"limit": limit}, "too_many_rows")
    if not rows:
        raise _file_error(MSG_NO_ROWS, "no_rows")
    return ParsedFile(file_format, positions, width, rows)


# --- validating rows ------------------------------------------------------------

# Luhn: the digits in odd places from the right are doubled (and 9 taken off above 9).
_LUHN_DOUBLED = str.maketrans("0123456789", "0246813579")


def _luhn_ok(digits: str) -> bool:
    """For ASCII digits only. Sums the character codes in C rather than digit by digit in Python."""
    total = sum(digits[-1::-2].encode()) + sum(digits[-2::-2].translate(_LUHN_DOUBLED).encode())
    return (total - 48 * len(digits)) % 10 == 0


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
    p_iccid, p_msisdn, p_imsi = positions["iccid"], positions["msisdn"], positions["imsi"]
    p_package, p_data, p_voice, p_sms = (positions[c] for c in ("package_code", "data", "voice", "sms"))
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
                msisdn = value
        if msisdn_ok:
            first = msisdn_first(msisdn, row)
            if first != row:
                error((row, c_msisdn, "duplicate_in_file", msisdn, {"first_row": first}))
                msisdn_ok = False
        bad = bad or not msisdn_ok

        imsi = cells[p_imsi].strip()
        if imsi and not (len(imsi) == 15 and imsi.isdigit() and imsi.isascii() and imsi.startswith("460")):
            value, code = _slow_check(validate_imsi, imsi)
            if code:
                error((row, c_imsi, code, _clip(imsi), {}))
                bad = True
            else:
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

        data = cells[p_data].strip()
        data = levels_get(data) or levels_get(data.lower())
        voice = cells[p_voice].strip()
        voice = levels_get(voice) or levels_get(voice.lower())
        sms = cells[p_sms].strip()
        sms = levels_get(sms) or levels_get(sms.lower())
        if data is None or voice is None or sms is None:
            for value, position, column in ((data, p_data, c_data), (voice, p_voice, c_voice), (sms, p_sms, c_sms)):
                if value is None:
                    error((row, column, "invalid_level", _clip(cells[position].strip()), {}))
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
                            _clip(cells[position].strip()),
                            {"package": package[4], "level": fixed},
                        )
                    )
            continue
        if bad:
            continue
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
    iccid_col, msisdn_col = (quote(Card._meta.get_field(name).column) for name in ("iccid", "msisdn"))
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


# --- errors: storing and showing ----------------------------------------------------


def _render(code: str, params: dict) -> str:
    message = ROW_MESSAGES.get(code)
    if message is None:
        return code
    return str(message % params) if params else str(message)


def _error_dicts(errors: list[RowError], limit: int) -> list[dict]:
    ordered = sorted(errors, key=lambda e: (e[0], e[1]))[:limit]
    out = []
    with translation.override("en"):
        for row, column, code, value, params in ordered:
            out.append(
                {
                    "row": row,
                    "column": COLUMNS[column] if column < len(COLUMNS) else "",
                    "code": code,
                    "value": value,
                    "params": params,
                    "message": _render(code, params),
                }
            )
    return out


def error_message(error: dict) -> str:
    """An error row's message in the current language."""
    if error.get("code") in ROW_MESSAGES:
        try:
            return _render(error["code"], error.get("params") or {})
        except (KeyError, TypeError, ValueError):
            pass
    return str(error.get("message", ""))


def error_rows(job: CardImport, limit: int | None = None) -> list[dict]:
    """The stored errors with messages in the current language (for pages, the API and the report)."""
    stored = job.errors or []
    if limit is not None:
        stored = stored[:limit]
    return [{**error, "message": error_message(error)} for error in stored]


def _csv_safe(value) -> str:
    """Excel runs a cell starting with = + - @ as a formula: quote it (CSV injection)."""
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def error_report_csv(job: CardImport) -> bytes:
    """The error report: UTF-8 with BOM so that Excel shows Chinese correctly."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([gettext("Row"), gettext("Column"), gettext("Value"), gettext("Code"), gettext("Message")])
    for error in error_rows(job):
        writer.writerow(
            [
                error.get("row", ""),
                error.get("column", ""),
                _csv_safe(error.get("value", "")),
                error.get("code", ""),
                _csv_safe(error["message"]),
            ]
        )
    stored = len(job.errors or [])
    if job.error_count > stored:
        writer.writerow(
            [
                "",
                "",
                "",
                "truncated",
                gettext(
                    "Only the first %(shown)s of %(count)s errors are listed. Correct them and upload the file again."
                )
                % {"shown": stored, "count": job.error_count},
            ]
        )
    if job.status == ImportStatus.FAILED and not stored and job.failure_message:
        writer.writerow(["", "", "", "file", _csv_safe(job.failure_message)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# --- templates ----------------------------------------------------------------------


def template_csv() -> bytes:
    """The header row, as UTF-8 with BOM (Excel then opens Chinese service labels correctly)."""
    return ("\ufeff" + ",".join(COLUMNS) + "\r\n").encode("utf-8")


def template_xlsx() -> bytes:
    """A workbook whose first sheet has the header and text-formatted columns, and a help sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "cards"
    sheet.append(list(COLUMNS))
    bold = Font(bold=True)
    for index, name in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        sheet[f"{letter}1"].font = bold
        # Text format, so Excel keeps all 20 digits of an ICCID.
        sheet.column_dimensions[letter].number_format = "@"
        sheet.column_dimensions[letter].width = 24 if name in ("iccid", "msisdn", "imsi") else 16
        for row in range(2, 1002):
            sheet.cell(row=row, column=index).number_format = "@"
    sheet.freeze_panes = "A2"
    help_sheet = workbook.create_sheet("help")
    help_sheet.append([gettext("Column"), gettext("Required"), gettext("Description"), gettext("Example")])
    for cell in help_sheet[1]:
        cell.font = bold
    for doc in COLUMN_DOCS:
        help_sheet.append(
            [doc.name, gettext("yes") if doc.required else gettext("no"), doc.description_text, doc.example]
        )
    help_sheet.append([])
    help_sheet.append([gettext("Only the first sheet is imported. A file is imported whole or not at all.")])
    help_sheet.column_dimensions["C"].width = 90
    help_sheet.column_dimensions["D"].width = 24
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# --- the services ------------------------------------------------------------------


def card_import_create(*, actor: User, enterprise, upload) -> CardImport:
    """Accept a card file for an enterprise and queue its import. Bad files are refused here, whole."""
    if not may_import(actor, enterprise):
        raise PermissionDenied(MSG_NOT_ALLOWED)
    if upload is None:
        raise ValidationFailed(_("Choose a card file (CSV or XLSX)."), code="required", field="file")
    content = read_upload(upload)
    file_format = inspect_file(content)
    job = CardImport(enterprise=enterprise, file_format=file_format, created_by=actor)
    with atomic_with_files() as stored:
        storage = job.file.storage
        job.file.name = stored.add(
            storage, storage.save(f"card-imports/{job.public_id}.{file_format}", ContentFile(content))
        )
        job.save()
        audit_record(
            actor=actor,
            action="card_import.created",
            obj=job,
            data={"enterprise": str(enterprise.public_id), "format": file_format, "size": len(content)},
        )
        transaction.on_commit(lambda: _queue(job.pk), robust=True)
    return job


def _queue(import_id: int) -> bool:
    """Queue the import. With the broker down it stays pending and the upload is still answered 202;
    cards.tasks.requeue_pending_imports sends it again later."""
    from cards.tasks import run_card_import
    from core.queueing import enqueue

    return enqueue(run_card_import, import_id, model=CardImport, what="card import")


def _save_progress(import_id: int, processed: int) -> None:
    # Outside the write transaction, so other sessions see it while the import runs.
    CardImport.objects.filter(pk=import_id, status=ImportStatus.RUNNING).update(processed_rows=processed)


def _packages() -> dict[str, tuple]:
    """code -> (pk, test package, available, its fixed services or None, code, test period days or None)."""
    rows = Package.objects.values_list(
        "pk", "code", "is_test_package", "is_active", "data_service", "voice_service", "sms_service", "test_period_days"
    )
    return {
        code: (pk, test, active, (data, voice, sms) if test else None, code, days if test else None)
        for pk, code, test, active, data, voice, sms, days in rows
    }


def _finish_failed(
    job: CardImport, *, message, errors: list[RowError] | None = None, processed: int | None = None
) -> str:
    errors = errors or []
    stored = _error_dicts(errors, _max_stored_errors())
    with translation.override(settings.LANGUAGE_CODE):
        text = str(message)
    fields = {
        "status": ImportStatus.FAILED,
        "error_count": len(errors),
        "errors": stored,
        "failure_message": text,
        "imported_rows": 0,
        "finished_at": timezone.now(),
    }
    if processed is not None:
        fields["processed_rows"] = processed
    with transaction.atomic():
        updated = CardImport.objects.filter(pk=job.pk).exclude(status=ImportStatus.SUCCEEDED).update(**fields)
        if updated:
            job.refresh_from_db()
            audit_record(
                actor=None,
                action="card_import.failed",
                obj=job,
                data={"error_count": len(errors), "total_rows": job.total_rows},
            )
    return ImportStatus.FAILED


def card_import_run(*, import_id: int, task_id: str | None = None) -> str:
    """Import a stored card file: every row or none. Safe to repeat: a finished import does nothing.

    `task_id` is the Celery task's id. A pending import is taken by the first task that runs; a
    redelivery of that same task (worker lost mid-way) finds it running under its own id and runs
    it again, which is safe because nothing is written until the final transaction, which checks
    the state under a row lock. Another message for the same import (the beat task sends one when
    the first seemed lost) finds it taken and does nothing. Without a task id (a direct call) a
    running import is taken over.
    """
    claimable = Q(status=ImportStatus.PENDING)
    claimable |= Q(status=ImportStatus.RUNNING) if task_id is None else Q(status=ImportStatus.RUNNING, task_id=task_id)
    claimed = CardImport.objects.filter(claimable, pk=import_id).update(
        status=ImportStatus.RUNNING, processed_rows=0, task_id=task_id or ""
    )
    if not claimed:
        return "nothing_to_do"
    job = CardImport.objects.select_related("enterprise").get(pk=import_id)
    try:
        return _run(job)
    except ValidationFailed as exc:
        return _finish_failed(job, message=exc.message)
    except Exception as exc:  # never leave an import running; the task must not crash the request in eager mode
        from celery.exceptions import SoftTimeLimitExceeded

        if isinstance(exc, SoftTimeLimitExceeded):
            return _finish_failed(job, message=MSG_TIMEOUT)
        logger.exception("card import %s failed", job.public_id)
        return _finish_failed(job, message=MSG_INTERNAL)


_by_iccid = operator.attrgetter("iccid")
_by_row = operator.attrgetter("row")


def _run(job: CardImport) -> str:
    with job.file.open("rb") as handle:
        content = handle.read()
    parsed = parse_file(content, job.file_format or None)
    total = len(parsed.rows)
    CardImport.objects.filter(pk=job.pk).update(total_rows=total)
    job.total_rows = total

    valid, errors = validate_rows(parsed, _packages(), progress=lambda done: _save_progress(job.pk, done))
    del parsed
    if errors:
        # The report lists every problem, the clashes with registered cards too.
        errors.extend(database_duplicates(valid))
        return _finish_failed(job, message=MSG_ROWS_REFUSED % {"count": len(errors)}, errors=errors, processed=total)

    # A clean file is written at once: the unique indexes on ICCID and MSISDN refuse a card that is
    # already registered (or registered meanwhile by another import), the transaction rolls back,
    # and the rows that clash are then looked up for the report. That spares the look-up of
    # 100,000 keys for every good file. In ICCID order, the index insertions are mostly appends.
    valid.sort(key=_by_iccid)
    try:
        with transaction.atomic():
            locked = CardImport.objects.select_for_update(of=("self",)).get(pk=job.pk)
            if locked.status != ImportStatus.RUNNING:
                return "nothing_to_do"  # another delivery finished it meanwhile
            _write_cards(valid, enterprise_id=job.enterprise_id, import_id=job.pk)
            locked.status = ImportStatus.SUCCEEDED
            locked.processed_rows = total
            locked.imported_rows = len(valid)
            locked.error_count = 0
            locked.errors = []
            locked.failure_message = ""
            locked.finished_at = timezone.now()
            locked.save(
                update_fields=[
                    "status",
                    "processed_rows",
                    "imported_rows",
                    "error_count",
                    "errors",
                    "failure_message",
                    "finished_at",
                ]
            )
            audit_record(
                actor=None,
                action="card_import.succeeded",
                obj=locked,
                data={"imported_rows": len(valid), "enterprise": str(job.enterprise.public_id)},
            )
    except IntegrityError:
        # Nothing was written; report which rows clash with registered cards.
        valid.sort(key=_by_row)
        duplicates = database_duplicates(valid)
        if not duplicates:
            raise
        return _finish_failed(
            job, message=MSG_ROWS_REFUSED % {"count": len(duplicates)}, errors=duplicates, processed=total
        )
    return ImportStatus.SUCCEEDED


# --- writing ---------------------------------------------------------------------

_CARD_COLUMNS = (
    "iccid",
    "msisdn",
    "imsi",
    "enterprise",
    "package",
    "data_service",
    "voice_service",
    "sms_service",
    "status",
    "realname_required",
    "realname_rules",
    "exemption_needed",
    "has_been_commercial",
    "test_period_started_at",
    "test_period_ends_at",
    "import_job",
    "created_at",
    "updated_at",
)


def _trial_columns(valid: list[ValidRow], now) -> dict:
    """has_been_commercial, test_period_started_at, test_period_ends_at per test period length (U4):
    a card on a test package starts its trial now, one on a commercial package has been commercial."""
    columns = {None: (True, None, None)}
    for days in {r.test_period_days for r in valid} - {None}:
        columns[days] = (False, now, now + timedelta(days=days))
    return columns


def _write_cards(valid: list[ValidRow], *, enterprise_id: int, import_id: int) -> None:
    if connection.vendor == "postgresql":
        _copy_cards(valid, enterprise_id=enterprise_id, import_id=import_id)
    else:
        _bulk_create_cards(valid, enterprise_id=enterprise_id, import_id=import_id)


def copy_sql() -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(Card._meta.get_field(name).column) for name in _CARD_COLUMNS)
    return f"COPY {quote(Card._meta.db_table)} ({columns}) FROM STDIN"


def copy_stream(valid: list[ValidRow], *, enterprise_id: int, import_id: int, now=None) -> io.StringIO:
    """The rows in COPY text format. Every value was validated to digits or a known code: nothing to escape."""
    now = now or timezone.now()
    stamp = now.isoformat()
    head = f"\t{enterprise_id}\t"
    tail = f"\t{import_id}\t{stamp}\t{stamp}\n"
    trial = {
        days: f"\t{'t' if commercial else 'f'}\t{started.isoformat() if started else NULL}\t"
        f"{ends.isoformat() if ends else NULL}"
        for days, (commercial, started, ends) in _trial_columns(valid, now).items()
    }
    status = CardStatus.IN_STOCK.value
    buffer = io.StringIO()
    buffer.writelines(
        f"{r.iccid}\t{r.msisdn}\t{r.imsi}{head}{r.package_id}\t{r.data}\t{r.voice}\t{r.sms}\t{status}\t"
        f"{'t' if r.realname_required else 'f'}\t{r.realname_rules}\t{r.exemption_needed}"
        f"{trial[r.test_period_days]}{tail}"
        for r in valid
    )
    buffer.seek(0)
    return buffer


def copy_into(cursor, sql: str, stream: io.StringIO) -> None:
    """COPY through the driver's cursor: psycopg2 (copy_expert) or psycopg 3 (copy)."""
    raw = getattr(cursor, "cursor", cursor)
    # The driver's own errors become Django's (IntegrityError on a unique violation).
    with connection.wrap_database_errors:
        if hasattr(raw, "copy_expert"):
            raw.copy_expert(sql, stream)
        else:  # psycopg 3
            with raw.copy(sql) as copy:
                copy.write(stream.getvalue())


def _copy_cards(valid: list[ValidRow], *, enterprise_id: int, import_id: int) -> None:
    stream = copy_stream(valid, enterprise_id=enterprise_id, import_id=import_id)
    with connection.cursor() as cursor:
        copy_into(cursor, copy_sql(), stream)


def _bulk_create_cards(valid: list[ValidRow], *, enterprise_id: int, import_id: int) -> None:
    status = CardStatus.IN_STOCK
    trial = _trial_columns(valid, timezone.now())
    Card.objects.bulk_create(
        (
            Card(
                iccid=r.iccid,
                msisdn=r.msisdn,
                imsi=r.imsi,
                enterprise_id=enterprise_id,
                package_id=r.package_id,
                data_service=r.data,
                voice_service=r.voice,
                sms_service=r.sms,
                status=status,
                realname_required=r.realname_required,
                realname_rules=r.realname_rules,
                exemption_needed=r.exemption_needed,
                import_job_id=import_id,
                has_been_commercial=trial[r.test_period_days][0],
                test_period_started_at=trial[r.test_period_days][1],
                test_period_ends_at=trial[r.test_period_days][2],
            )
            for r in valid
        ),
        batch_size=BULK_BATCH,
    )
