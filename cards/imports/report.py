"""What an import tells its uploader: the stored error rows in the reader's language, the error
report CSV, and the CSV and XLSX templates."""

from __future__ import annotations

import csv
import io

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cards.imports.parsing import COLUMN_DOCS, COLUMNS
from cards.imports.rows import RowError
from cards.models import CardImport, ImportStatus
from cards.validation import MSG_SANDBOX_RANGE, MSG_SANDBOX_RESERVED

ERRORS_SHOWN = 100


def _max_stored_errors() -> int:
    return settings.CARD_IMPORT_MAX_STORED_ERRORS


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
    "sandbox_number_range": MSG_SANDBOX_RANGE,
    "sandbox_number_reserved": MSG_SANDBOX_RESERVED,
    "test_package_services": _(
        "The IoT test-card package %(package)s fixes this service to %(level)s: a card on it cannot have "
        "another (rule U4)."
    ),
}


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


def example_csv(package_code: str) -> str:
    """The header and one row made of the columns' examples, on `package_code`; it imports as it is."""
    examples = {doc.name: doc.example for doc in COLUMN_DOCS}
    examples["package_code"] = package_code
    return ",".join(COLUMNS) + "\r\n" + ",".join(examples[name] for name in COLUMNS) + "\r\n"


def template_csv() -> bytes:
    """The header row, as UTF-8 with BOM (Excel then opens Chinese service labels correctly)."""
    return ("\ufeff" + ",".join(COLUMNS) + "\r\n").encode("utf-8")


def template_xlsx() -> bytes:
    """A workbook whose first sheet has the header and text-formatted columns, and a help sheet."""
    # openpyxl is large; only the template download and XLSX reading load it.
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


__all__ = [
    "example_csv",
    "error_message",
    "error_rows",
    "error_report_csv",
    "template_csv",
    "template_xlsx",
]
