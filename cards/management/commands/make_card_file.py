"""Write a card file for the bulk import: `manage.py make_card_file out.csv --rows 100000`.

The rows are valid (ICCIDs with a Luhn check digit, unique numbers, one card in
ten on the 149 segment) for the package code given, by default an available
commercial package of the catalogue; `--start` shifts the serial numbers so that
several files do not clash.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from django.core.management.base import BaseCommand, CommandError

from cards.imports.parsing import EXAMPLE_PACKAGE_CODE
from cards.models import Package
from cards.validation import iccid_with_check_digit

COLUMNS = ("iccid", "msisdn", "imsi", "package_code", "data", "voice", "sms")
_LEVELS = ("none", "directed", "non_directed")


def card_rows(count: int, *, package_code: str, start: int = 0) -> Iterator[tuple[str, ...]]:
    for n in range(start, start + count):
        iccid = iccid_with_check_digit(f"8986{n:015d}")  # the importer's own Luhn check
        if n % 10 == 0:
            msisdn = f"149{n:08d}"
        else:
            msisdn = f"1064{n:09d}"
        imsi = f"46011{n:010d}"
        yield (iccid, msisdn, imsi, package_code, _LEVELS[n % 3], _LEVELS[(n // 3) % 3], _LEVELS[(n // 9) % 3])


def card_csv(count: int, *, package_code: str, start: int = 0, bom: bool = True) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(card_rows(count, package_code=package_code, start=start))
    return (("\ufeff" if bom else "") + out.getvalue()).encode("utf-8")


def card_xlsx(count: int, *, package_code: str, start: int = 0) -> bytes:
    # openpyxl is large; only an XLSX file loads it.
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("cards")
    sheet.append(list(COLUMNS))
    for row in card_rows(count, package_code=package_code, start=start):
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def default_package_code() -> str:
    """A code the importer accepts with any services: an available commercial package of the
    catalogue (a test package would fix the rows' services), else the demo catalogue's."""
    code = (
        Package.objects.filter(is_active=True, is_test_package=False).order_by("code").values_list("code", flat=True)
    ).first()
    return code or EXAMPLE_PACKAGE_CODE


class Command(BaseCommand):
    help = "Write a valid card file (CSV or XLSX) for the bulk import."

    def add_arguments(self, parser):
        parser.add_argument("output", help="the file to write (.csv or .xlsx)")
        parser.add_argument("--rows", type=int, default=1000)
        parser.add_argument(
            "--package",
            default=None,
            help="the package code to put on every row (default: the first available commercial package)",
        )
        parser.add_argument("--start", type=int, default=0, help="the first serial number")

    def handle(self, *args, output, rows, package, start, **options):
        if rows < 1:
            raise CommandError("--rows must be at least 1")
        package = package or default_package_code()
        if output.lower().endswith(".xlsx"):
            content = card_xlsx(rows, package_code=package, start=start)
        else:
            content = card_csv(rows, package_code=package, start=start)
        with open(output, "wb") as handle:
            handle.write(content)
        self.stdout.write(f"wrote {rows} cards to {output}")
