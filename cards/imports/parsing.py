"""Reading an uploaded card file: its size, type (CSV or XLSX), text encoding and header row, then
its rows as lists of strings. A file that cannot be read is refused whole with a ValidationFailed
on ``file``."""

from __future__ import annotations

import csv
import io
import itertools
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from cards.rules import ServiceLevel
from cards.validation import iccid_with_check_digit
from core.errors import ValidationFailed

# --- the file format ----------------------------------------------------------

COLUMNS: tuple[str, ...] = ("iccid", "msisdn", "imsi", "package_code", "data", "voice", "sms")
SERVICE_COLUMNS = ("data", "voice", "sms")
# A file may leave these out of its header entirely: the cells read as empty (no IMSI, no service).
OPTIONAL_COLUMNS: tuple[str, ...] = ("imsi", *SERVICE_COLUMNS)
REQUIRED_COLUMNS: tuple[str, ...] = tuple(name for name in COLUMNS if name not in OPTIONAL_COLUMNS)

# The examples must pass the file's own checks (issue 11 §1.6): a real check digit, and the
# package code the demo catalogue holds (the import page shows the codes of the live catalogue).
EXAMPLE_ICCID = iccid_with_check_digit("8986001234567890123")
EXAMPLE_PACKAGE_CODE = "IOT-STD"


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
        EXAMPLE_ICCID,
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
    ColumnDoc(
        "package_code",
        True,
        gettext_noop("The code of an available package in the catalogue."),
        EXAMPLE_PACKAGE_CODE,
    ),
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
    + " Optional columns may be left empty or left out of the header."
    " CSV files may be UTF-8 (with or without BOM) or GBK; XLSX files are read from their first sheet. "
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

# An XLSX file is a zip: refuse one that unpacks to far more than the upload limit.
XLSX_MAX_UNPACKED_FACTOR = 15


def max_bytes() -> int:
    return settings.CARD_IMPORT_MAX_BYTES


def _max_rows() -> int:
    return settings.CARD_IMPORT_MAX_ROWS


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
    "The header row is wrong (%(details)s). The first row names these columns, each once: %(expected)s; "
    "%(optional)s may be left out."
)
MSG_HEADER_MISSING = _("missing: %(names)s")
MSG_HEADER_UNKNOWN = _("not expected: %(names)s")
MSG_HEADER_REPEATED = _("repeated: %(names)s")
MSG_NO_ROWS = _("The file has a header row but no cards.")
MSG_TOO_MANY_ROWS = _("The file holds more than %(limit)s cards. Split it into smaller files.")


def _file_error(message, code: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, field="file")


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
    """Map each column the header names to its position (an optional column left out has none);
    a wrong header names the expected columns."""
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
    missing = [name for name in REQUIRED_COLUMNS if name not in positions]
    if missing or unknown or repeated:
        details = []
        if missing:
            details.append(MSG_HEADER_MISSING % {"names": ", ".join(missing)})
        if unknown:
            details.append(MSG_HEADER_UNKNOWN % {"names": ", ".join(_clip(u) for u in unknown[:10])})
        if repeated:
            details.append(MSG_HEADER_REPEATED % {"names": ", ".join(repeated)})
        raise ValidationFailed(
            MSG_WRONG_HEADER
            % {
                "details": "; ".join(str(d) for d in details),
                "expected": ", ".join(COLUMNS),
                "optional": ", ".join(OPTIONAL_COLUMNS),
            },
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
    # openpyxl is large; only an XLSX file loads it.
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


__all__ = [
    "COLUMNS",
    "COLUMN_DOCS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "EXAMPLE_ICCID",
    "EXAMPLE_PACKAGE_CODE",
    "LEVEL_ALIASES",
    "max_bytes",
    "COLUMNS_HELP",
    "ParsedFile",
    "read_upload",
    "detect_format",
    "decode_text",
    "inspect_file",
    "parse_file",
]
