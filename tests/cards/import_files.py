"""Card import files for the tests: rows, CSV and XLSX bytes, computed apart from the code under test."""

from __future__ import annotations

import csv
import io

from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

HEADER = "iccid,msisdn,imsi,package_code,data,voice,sms"


def luhn_complete(body: str) -> str:
    """Append the Luhn check digit (written from the ISO/IEC 7812 definition)."""
    digits = [int(c) for c in body + "0"]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit * 2 > 9 else digit * 2
        total += digit
    return body + str((10 - total % 10) % 10)


def iccid(n: int) -> str:
    return luhn_complete(f"8986031{n:012d}")


def bad_check_digit(value: str) -> str:
    return value[:-1] + str((int(value[-1]) + 1) % 10)


def row(n: int, *, package="IOT-BASIC", data="none", voice="none", sms="none", msisdn=None, imsi=None, icc=None):
    return [
        icc if icc is not None else iccid(n),
        msisdn if msisdn is not None else f"1064{n:09d}",
        imsi if imsi is not None else f"46011{n:010d}",
        package,
        data,
        voice,
        sms,
    ]


def csv_bytes(rows, *, header=HEADER, encoding="utf-8", bom=False) -> bytes:
    out = io.StringIO()
    out.write(header + "\r\n")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(rows)
    text = out.getvalue()
    if bom:
        text = "\ufeff" + text
    return text.encode(encoding)


def xlsx_bytes(rows, header: list[str] | None = None) -> bytes:
    header = header or HEADER.split(",")
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for r in rows:
        sheet.append(r)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def upload(content: bytes, name="cards.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")
