"""Bulk card import (issue 3 §2, §7): good files import whole, bad files get a clear error and write nothing.

The pages and the API are in test_import_pages.py.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.conf import settings

from cards.imports import report as import_report
from cards.imports import selectors as import_selectors
from cards.imports import services as import_services
from cards.imports import validation as import_validation
from cards.models import Card, CardEvent, CardImport, CardStatus, ImportStatus, Package, card_scope_columns
from cards.tasks import run_card_import
from core.errors import PermissionDenied, ValidationFailed
from tests.cards.import_files import HEADER, bad_check_digit, csv_bytes, iccid, row, upload, xlsx_bytes
from tests.images import jpeg_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def packages(db):
    return {
        "basic": Package.objects.create(code="IOT-BASIC", name="物联网基础套餐"),
        # U4: a test package fixes its cards' services (those of the test rows below).
        "test": Package.objects.create(
            code="IOT-TEST",
            name="物联网测试卡套餐",
            is_test_package=True,
            test_period_days=90,
            data_service="non_directed",
            voice_service="none",
            sms_service="none",
        ),
        "old": Package.objects.create(code="IOT-OLD", name="停售套餐", is_active=False),
    }


@pytest.fixture
def manager(world):
    return world["users"]["account_manager"]


@pytest.fixture
def do_import(world, manager, packages, django_capture_on_commit_callbacks):
    """Upload a file and run the task the way the page does (on commit; eager in tests)."""

    def run(content: bytes, name="cards.csv", *, actor=None, enterprise=None) -> CardImport:
        with django_capture_on_commit_callbacks(execute=True):
            job = import_services.card_import_create(
                actor=actor or manager, enterprise=enterprise or world["enterprise"], upload=upload(content, name)
            )
        job.refresh_from_db()
        return job

    return run


def refused(do_import, content: bytes, name="cards.csv") -> ValidationFailed:
    """A file refused at upload: a clear error on `file`, and no import, card or file kept."""
    with pytest.raises(ValidationFailed) as caught:
        do_import(content, name)
    assert caught.value.field == "file"
    assert str(caught.value.message)
    assert CardImport.objects.count() == 0
    assert Card.objects.count() == 0
    folder = Path(settings.PRIVATE_MEDIA_ROOT) / "card-imports"
    assert not folder.exists() or not [p for p in folder.rglob("*") if p.is_file()]
    return caught.value


def failed(job: CardImport) -> list[dict]:
    """An import refused row by row: failed, with errors, and no card written."""
    assert job.status == ImportStatus.FAILED
    assert job.imported_rows == 0
    assert job.error_count >= 1
    assert job.errors
    assert job.failure_message
    assert Card.objects.count() == 0
    return job.errors


def codes(errors) -> set[tuple[int, str, str]]:
    return {(e["row"], e["column"], e["code"]) for e in errors}


# --- good files ------------------------------------------------------------------------


def test_utf8_csv_imports_every_card_in_stock_with_the_rule_decision(do_import, world):
    rows = [
        row(1),
        row(2, msisdn="14900000002", sms="non_directed"),
        row(3, msisdn="14900000003", voice="directed", data="non_directed"),
        row(4, package="IOT-TEST", data="non_directed", imsi=""),
    ]
    job = do_import(csv_bytes(rows))

    assert job.status == ImportStatus.SUCCEEDED
    assert (job.total_rows, job.processed_rows, job.imported_rows, job.error_count) == (4, 4, 4, 0)
    assert job.file_format == "csv"
    cards = {card.iccid: card for card in Card.objects.all()}
    assert set(cards) == {iccid(n) for n in (1, 2, 3, 4)}
    for card in cards.values():
        assert card.status == CardStatus.IN_STOCK
        assert card.enterprise == world["enterprise"]
        assert card.import_job == job
    plain, u2, u1_u3, test = (cards[iccid(n)] for n in (1, 2, 3, 4))
    assert (plain.realname_required, plain.realname_rules, plain.exemption_needed) == (False, "U0", "")
    assert (u2.realname_required, u2.realname_rules, u2.exemption_needed) == (True, "U2", "none_possible")
    assert (u1_u3.realname_required, u1_u3.realname_rules, u1_u3.exemption_needed) == (
        True,
        "U1,U3",
        "province_and_group",
    )
    assert (test.realname_required, test.realname_rules, test.imsi) == (False, "U4", "")
    assert u2.sms_service == "non_directed" and u1_u3.voice_service == "directed"
    # 100k rows would mean 100k events: the history reads card.import_job instead.
    assert CardEvent.objects.count() == 0


def test_utf8_with_bom_csv(do_import):
    job = do_import(csv_bytes([row(1), row(2)], bom=True))
    assert job.status == ImportStatus.SUCCEEDED, job.errors
    assert Card.objects.count() == 2


def test_gbk_csv_with_chinese_service_labels(do_import):
    rows = [
        row(1, msisdn="14900000001", data="定向", voice="非定向", sms="无"),
        row(2, data="非定向", voice="无", sms="定向"),
    ]
    content = csv_bytes(rows, encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")  # really not UTF-8
    job = do_import(content)
    assert job.status == ImportStatus.SUCCEEDED, job.errors
    first = Card.objects.get(iccid=iccid(1))
    assert (first.data_service, first.voice_service, first.sms_service) == ("directed", "non_directed", "none")
    assert (first.realname_rules, first.exemption_needed) == ("U2", "none_possible")
    second = Card.objects.get(iccid=iccid(2))
    assert (second.data_service, second.sms_service) == ("non_directed", "directed")


def test_header_is_case_insensitive_trimmed_and_in_any_order(do_import):
    header = " SMS ,Voice,DATA,Package_Code,imsi,MSISDN,ICCID"
    rows = [list(reversed(row(1, sms="non_directed")))]
    job = do_import(csv_bytes(rows, header=header))
    assert job.status == ImportStatus.SUCCEEDED, job.errors
    assert Card.objects.get().sms_service == "non_directed"


def test_xlsx_file(do_import):
    rows = [row(1), row(2, sms="非定向", msisdn="14900000002")]
    rows[0][1] = 1064000000001  # a number typed as a number: Excel keeps these 13 digits exactly
    job = do_import(xlsx_bytes(rows), name="cards.xlsx")
    assert job.status == ImportStatus.SUCCEEDED, job.errors
    assert job.file_format == "xlsx"
    assert set(Card.objects.values_list("msisdn", flat=True)) == {"1064000000001", "14900000002"}


def test_xlsx_detected_by_content_not_by_name(do_import):
    job = do_import(xlsx_bytes([row(1)]), name="cards.csv")
    assert job.status == ImportStatus.SUCCEEDED
    assert job.file_format == "xlsx"


def test_xlsx_iccid_typed_as_a_number_is_refused_clearly(do_import):
    rows = [row(1)]
    rows[0][0] = float(iccid(1))  # what Excel stores: rounded to 15 significant digits
    job = do_import(xlsx_bytes(rows), name="cards.xlsx")
    assert codes(failed(job)) == {(2, "iccid", "rounded_number")}


def test_blank_rows_are_skipped_and_row_numbers_are_as_excel_shows_them(do_import):
    content = (
        HEADER
        + "\r\n"
        + ",".join(row(1))
        + "\r\n\r\n,,,,,,\r\n"
        + ",".join(row(2, icc=bad_check_digit(iccid(2))))
        + "\r\n"
    ).encode()
    job = do_import(content)
    assert codes(failed(job)) == {(5, "iccid", "invalid_iccid_checksum")}


def test_the_stored_file_is_private_and_not_named_by_the_user(do_import):
    job = do_import(csv_bytes([row(1)]), name="../../etc/客户名单.csv")
    assert job.file.name.startswith("card-imports/") and str(job.public_id) in job.file.name
    assert "客户" not in job.file.name
    assert Path(job.file.path).resolve().is_relative_to(Path(settings.PRIVATE_MEDIA_ROOT).resolve())


# --- bad rows: the import fails whole ---------------------------------------------------


def test_wrong_iccid_check_digit(do_import):
    job = do_import(csv_bytes([row(1), row(2, icc=bad_check_digit(iccid(2))), row(3)]))
    errors = failed(job)
    assert codes(errors) == {(3, "iccid", "invalid_iccid_checksum")}
    assert errors[0]["value"] == bad_check_digit(iccid(2))
    assert "check digit" in errors[0]["message"]


def test_iccid_of_wrong_shape(do_import):
    job = do_import(csv_bytes([row(1, icc="12345"), row(2, icc=""), row(3, icc="8986ABC0000000000001")]))
    assert codes(failed(job)) == {
        (2, "iccid", "invalid_iccid"),
        (3, "iccid", "missing_value"),
        (4, "iccid", "invalid_iccid"),
    }


def test_duplicate_iccid_within_the_file(do_import):
    job = do_import(csv_bytes([row(1), row(2), row(3, icc=iccid(1))]))
    errors = failed(job)
    assert codes(errors) == {(4, "iccid", "duplicate_in_file")}
    assert errors[0]["params"] == {"first_row": 2}
    assert "row 2" in errors[0]["message"]


def test_duplicate_msisdn_within_the_file(do_import):
    job = do_import(csv_bytes([row(1, msisdn="14900000001"), row(2, msisdn="14900000001")]))
    assert codes(failed(job)) == {(3, "msisdn", "duplicate_in_file")}


def test_duplicate_against_the_database(do_import):
    assert do_import(csv_bytes([row(1), row(2)])).status == ImportStatus.SUCCEEDED
    before = set(Card.objects.values_list("pk", flat=True))

    job = do_import(csv_bytes([row(3), row(4, icc=iccid(1)), row(5, msisdn=f"1064{2:09d}")]))
    assert job.status == ImportStatus.FAILED
    assert codes(job.errors) == {(3, "iccid", "already_registered"), (4, "msisdn", "already_registered")}
    assert "already registered" in job.errors[0]["message"]
    assert set(Card.objects.values_list("pk", flat=True)) == before  # nothing added


def test_unknown_and_unavailable_package(do_import):
    job = do_import(csv_bytes([row(1, package="NO-SUCH"), row(2, package="IOT-OLD"), row(3, package="")]))
    assert codes(failed(job)) == {
        (2, "package_code", "unknown_package"),
        (3, "package_code", "package_unavailable"),
        (4, "package_code", "missing_value"),
    }


@pytest.mark.parametrize(
    ("overrides", "column", "code"),
    [
        ({"msisdn": "1490000001"}, "msisdn", "invalid_msisdn"),  # 10 digits
        ({"msisdn": "24900000001"}, "msisdn", "invalid_msisdn"),
        ({"msisdn": "149-0000-000x"}, "msisdn", "invalid_msisdn"),
        ({"msisdn": ""}, "msisdn", "missing_value"),
        ({"imsi": "12345"}, "imsi", "invalid_imsi"),
        ({"imsi": "310150123456789"}, "imsi", "invalid_imsi"),
        ({"data": "unlimited"}, "data", "invalid_level"),
        ({"sms": "定向流量"}, "sms", "invalid_level"),
    ],
)
def test_malformed_values(do_import, overrides, column, code):
    job = do_import(csv_bytes([row(1), row(2, **overrides)]))
    errors = failed(job)
    assert codes(errors) == {(3, column, code)}


def test_every_error_is_reported_with_row_column_and_code(do_import):
    rows = [row(1, icc=bad_check_digit(iccid(1)), msisdn="123", package="X"), row(2, sms="bogus"), row(3)]
    job = do_import(csv_bytes(rows))
    assert codes(failed(job)) == {
        (2, "iccid", "invalid_iccid_checksum"),
        (2, "msisdn", "invalid_msisdn"),
        (2, "package_code", "unknown_package"),
        (3, "sms", "invalid_level"),
    }
    assert job.error_count == 4
    assert [e["row"] for e in job.errors] == sorted(e["row"] for e in job.errors)


def test_one_bad_row_among_many_writes_nothing(do_import):
    rows = [row(n) for n in range(1, 301)]
    rows[250][1] = "999"
    job = do_import(csv_bytes(rows))
    assert codes(failed(job)) == {(252, "msisdn", "invalid_msisdn")}
    assert job.total_rows == 300


def test_stored_errors_are_capped_but_counted(do_import, settings):
    settings.CARD_IMPORT_MAX_STORED_ERRORS = 5
    job = do_import(csv_bytes([row(n, msisdn="x") for n in range(1, 13)]))
    assert job.status == ImportStatus.FAILED
    assert job.error_count == 12
    assert len(job.errors) == 5
    assert "12" in job.failure_message
    report = import_report.error_report_csv(job).decode("utf-8-sig")
    assert report.strip().splitlines()[-1].split(",")[3] == "truncated"


def test_extra_cells_beyond_the_header_are_refused(do_import):
    job = do_import(csv_bytes([row(1) + ["surprise"], row(2) + ["", ""]]))
    assert codes(failed(job)) == {(2, "", "extra_cells")}


# --- bad files: refused at upload ------------------------------------------------------


def test_empty_file(do_import):
    assert refused(do_import, b"").code == "empty"


def test_blank_file(do_import):
    assert refused(do_import, b"\r\n , ,\r\n\r\n").code == "empty"


def test_header_only(do_import):
    error = refused(do_import, (HEADER + "\r\n").encode())
    assert error.code == "no_rows"
    assert refused(do_import, xlsx_bytes([]), "cards.xlsx").code == "no_rows"


@pytest.mark.parametrize(
    "header",
    [
        "iccid,msisdn,imsi,package,data,voice,sms",  # a wrong name
        "iccid,imsi,package_code,data,voice,sms",  # a missing required column (optional ones may be left out)
        "iccid,msisdn,imsi,package_code,data,voice,sms,notes",  # an extra column
        "iccid,iccid,msisdn,imsi,package_code,data,voice,sms",  # repeated
        "ICCID号,手机号,IMSI,套餐,流量,语音,短信",
    ],
)
def test_wrong_header_names_the_expected_columns(do_import, header):
    error = refused(do_import, csv_bytes([row(1)], header=header))
    assert error.code == "wrong_header"
    assert "iccid, msisdn, imsi, package_code, data, voice, sms" in str(error.message)


def test_wrong_header_in_xlsx(do_import):
    error = refused(do_import, xlsx_bytes([row(1)], header=["卡号", "号码"]), "cards.xlsx")
    assert error.code == "wrong_header"


def test_file_over_the_size_limit(do_import, settings):
    settings.CARD_IMPORT_MAX_BYTES = 1024
    content = csv_bytes([row(n) for n in range(1, 40)])
    assert len(content) > 1024
    error = refused(do_import, content)
    assert error.code == "too_large"
    assert "MB" in str(error.message)


def test_file_just_under_the_size_limit_is_accepted(do_import, settings):
    content = csv_bytes([row(1)])
    settings.CARD_IMPORT_MAX_BYTES = len(content)
    assert do_import(content).status == ImportStatus.SUCCEEDED


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (jpeg_bytes(), "unsupported_type"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n", "unsupported_type"),
        (bytes(range(256)) * 8, "unsupported_type"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "unsupported_type"),  # old .xls
        (b"PK\x03\x04garbage that is not a zip", "corrupt"),
        ("iccid,msisdn".encode("utf-16"), "unknown_encoding"),
        (b"iccid,msisdn,imsi,package_code,data,voice,sms\r\n\xff\xfe\xfa,1\r\n", "unknown_encoding"),
    ],
    ids=["jpeg", "pdf", "binary", "xls", "broken-zip", "utf16", "not-gbk"],
)
def test_files_that_are_not_card_lists(do_import, content, code):
    error = refused(do_import, content, "cards.csv")
    assert error.code == code


def test_a_zip_that_is_not_a_workbook(do_import):
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    assert refused(do_import, out.getvalue(), "cards.xlsx").code == "unsupported_type"


def test_unclosed_quote_in_csv_is_a_clear_error(do_import, settings):
    settings.LANGUAGE_CODE = "en"
    content = (
        HEADER + "\r\n" + ",".join(row(1)) + "\r\n" + ",".join(row(2)) + '\r\n"' + "x" * 200_000 + "\r\n"
    ).encode()
    job = do_import(content)  # the first rows are fine: found when the whole file is read
    assert job.status == ImportStatus.FAILED
    assert "line 4" in job.failure_message
    assert Card.objects.count() == 0


def test_too_many_rows(do_import, settings):
    settings.CARD_IMPORT_MAX_ROWS = 3
    job = do_import(csv_bytes([row(n) for n in range(1, 6)]))
    assert job.status == ImportStatus.FAILED
    assert "3" in job.failure_message
    assert Card.objects.count() == 0


def test_only_managing_roles_may_import(world, packages):
    for role in (
        "provincial_approver",
        "group_approver",
        "ops",
        "account_manager_other_province",
        "enterprise_admin_other_enterprise",
    ):
        with pytest.raises(PermissionDenied):
            import_services.card_import_create(
                actor=world["users"][role], enterprise=world["enterprise"], upload=upload(csv_bytes([row(1)]))
            )
    assert CardImport.objects.count() == 0


def test_enterprise_admin_imports_for_their_own_enterprise(do_import, world):
    job = do_import(csv_bytes([row(1)]), actor=world["users"]["enterprise_admin"])
    assert job.status == ImportStatus.SUCCEEDED
    assert Card.objects.get().enterprise == world["enterprise"]


# --- the error report ------------------------------------------------------------------


def test_error_report_csv_has_a_bom_and_one_line_per_error(do_import):
    job = do_import(csv_bytes([row(1, icc=bad_check_digit(iccid(1))), row(2, data="=HYPERLINK(1)")]))
    failed(job)
    content = import_report.error_report_csv(job)
    assert content.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert len(lines) == 3
    assert lines[1][0] == "2" and lines[1][1] == "iccid" and lines[1][3] == "invalid_iccid_checksum"
    assert lines[2][1] == "data" and lines[2][2].startswith("'=")  # no formula for Excel to run


def test_error_report_is_in_the_readers_language(do_import):
    from django.utils import translation

    job = do_import(csv_bytes([row(1, icc="123")]))
    with translation.override("en"):
        english = import_report.error_report_csv(job).decode("utf-8-sig")
    assert "Row" in english and "19 or 20 digits" in english


# --- the task ----------------------------------------------------------------------------


def test_the_task_is_idempotent(do_import):
    job = do_import(csv_bytes([row(1), row(2)]))
    assert job.status == ImportStatus.SUCCEEDED
    finished_at = job.finished_at

    assert run_card_import.apply(args=[job.pk]).get() == "nothing_to_do"
    assert run_card_import(job.pk) == "nothing_to_do"
    job.refresh_from_db()
    assert (job.status, job.imported_rows, job.finished_at) == (ImportStatus.SUCCEEDED, 2, finished_at)
    assert Card.objects.count() == 2


def test_a_failed_import_is_not_run_again(do_import):
    job = do_import(csv_bytes([row(1, msisdn="1")]))
    assert job.status == ImportStatus.FAILED
    assert run_card_import(job.pk) == "nothing_to_do"
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED and Card.objects.count() == 0


def test_a_redelivered_task_of_an_import_left_running_finishes_it_once(world, manager, packages):
    job = import_services.card_import_create(
        actor=manager, enterprise=world["enterprise"], upload=upload(csv_bytes([row(1)]))
    )
    CardImport.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING, processed_rows=1)  # worker died
    assert run_card_import(job.pk) == ImportStatus.SUCCEEDED
    assert run_card_import(job.pk) == "nothing_to_do"
    assert Card.objects.count() == 1


def test_an_unknown_import_id_is_ignored(db):
    assert run_card_import(987654) == "nothing_to_do"


def test_the_task_is_queued_only_after_commit(world, manager, packages, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = import_services.card_import_create(
            actor=manager, enterprise=world["enterprise"], upload=upload(csv_bytes([row(1)]))
        )
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert job.status == ImportStatus.PENDING and Card.objects.count() == 0


def test_task_options():
    assert run_card_import.acks_late is True
    assert run_card_import.time_limit and run_card_import.soft_time_limit
    assert run_card_import.soft_time_limit < run_card_import.time_limit


def test_progress_is_saved_as_it_goes_and_reaches_100(do_import, monkeypatch):
    monkeypatch.setattr(import_validation, "PROGRESS_EVERY", 10)
    seen = []
    real = import_services._save_progress

    def spy(import_id, processed):
        real(import_id, processed)
        job = CardImport.objects.get(pk=import_id)
        seen.append((job.status, job.processed_rows, job.total_rows, import_selectors.progress_percent(job)))

    monkeypatch.setattr(import_services, "_save_progress", spy)
    job = do_import(csv_bytes([row(n) for n in range(1, 36)]))

    assert [s[1] for s in seen] == [10, 20, 30, 35]
    assert all(s[0] == ImportStatus.RUNNING and s[2] == 35 for s in seen)
    assert [s[3] for s in seen] == [28, 57, 85, 99]  # never 100 % before the cards are written
    assert job.status == ImportStatus.SUCCEEDED
    assert job.processed_rows == job.total_rows == 35
    assert import_selectors.progress_percent(job) == 100 == job.progress_percent


def test_cards_added_meanwhile_make_the_import_fail_whole(do_import, monkeypatch, world, packages):
    real = import_validation.validate_rows

    def late(*args, **kwargs):
        result = real(*args, **kwargs)
        # Another process registers row 3's card after the rows were checked, before the write.
        Card.objects.create(
            iccid=iccid(2),
            msisdn="1064000009999",
            enterprise=world["enterprise"],
            **card_scope_columns(world["enterprise"]),
            package=packages["basic"],
        )
        return result

    monkeypatch.setattr(import_services, "validate_rows", late)
    job = do_import(csv_bytes([row(1), row(2), row(3)]))
    assert job.status == ImportStatus.FAILED
    assert codes(job.errors) == {(3, "iccid", "already_registered")}
    assert list(Card.objects.values_list("msisdn", flat=True)) == ["1064000009999"]  # only the other card


def test_duplicates_against_the_database_are_reported_with_the_other_errors(do_import):
    assert do_import(csv_bytes([row(1)])).status == ImportStatus.SUCCEEDED
    job = do_import(csv_bytes([row(2, msisdn="1"), row(3, icc=iccid(1))]))
    assert codes(job.errors) == {(2, "msisdn", "invalid_msisdn"), (3, "iccid", "already_registered")}
    assert Card.objects.count() == 1


def test_an_internal_error_fails_the_import_without_a_crash(do_import, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(import_services, "_write_cards", boom)
    job = do_import(csv_bytes([row(1)]))
    assert job.status == ImportStatus.FAILED
    assert "disk" not in job.failure_message
    assert job.finished_at is not None
    assert Card.objects.count() == 0


# --- templates ---------------------------------------------------------------------------


def test_csv_template_is_the_header_with_a_bom():
    content = import_report.template_csv()
    assert content.startswith(b"\xef\xbb\xbf")
    assert content.decode("utf-8-sig").strip() == HEADER


def test_xlsx_template_has_the_header_and_text_columns():
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(import_report.template_xlsx()))
    sheet = workbook.worksheets[0]
    assert [c.value for c in sheet[1]] == HEADER.split(",")
    assert sheet["A2"].number_format == "@"
    assert workbook.worksheets[1].max_row > len(HEADER.split(","))


def test_a_filled_in_xlsx_template_imports(do_import):
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(import_report.template_xlsx()))
    sheet = workbook.worksheets[0]
    for index, value in enumerate(row(1), start=1):
        sheet.cell(row=2, column=index, value=value)
    out = io.BytesIO()
    workbook.save(out)
    job = do_import(out.getvalue(), "template.xlsx")
    assert job.status == ImportStatus.SUCCEEDED, job.errors


# --- PostgreSQL: the COPY path -------------------------------------------------------------


@pytest.mark.postgres
def test_copy_path_on_postgresql(do_import, world):
    rows = [row(n, msisdn=f"149{n:08d}" if n % 2 else None, sms="non_directed") for n in range(1, 501)]
    job = do_import(csv_bytes(rows))
    assert job.status == ImportStatus.SUCCEEDED, job.errors
    assert Card.objects.filter(import_job=job, status=CardStatus.IN_STOCK).count() == 500
    card = Card.objects.get(iccid=iccid(1))
    assert (card.realname_required, card.realname_rules, card.exemption_needed) == (True, "U2", "none_possible")
    assert card.created_at is not None and card.updated_at is not None
    # And a clash with the database is found by the array lookup.
    again = do_import(csv_bytes([row(1000), row(7, icc=iccid(7))]))
    assert codes(again.errors) == {(3, "iccid", "already_registered")}
    assert Card.objects.count() == 500


# --- the test-file generator ---------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_make_card_file_writes_a_file_that_imports(do_import, tmp_path, suffix):
    from django.core.management import call_command

    path = tmp_path / f"cards.{suffix}"
    call_command("make_card_file", str(path), rows=60, package="IOT-BASIC", start=7, stdout=io.StringIO())
    job = do_import(path.read_bytes(), path.name)
    assert job.status == ImportStatus.SUCCEEDED, job.errors
    assert job.imported_rows == 60
    assert Card.objects.filter(msisdn__startswith="149").count() == 6  # one card in ten


# --- issue 11 §1.6: optional columns may be left out of the header --------------------------


def test_issue11_a_file_without_the_optional_columns_imports(do_import):
    rows = [[iccid(n), f"1064{n:09d}", "IOT-BASIC"] for n in (1, 2)]
    job = do_import(csv_bytes(rows, header="iccid,msisdn,package_code"))
    assert job.status == ImportStatus.SUCCEEDED, job.errors
    card = Card.objects.get(iccid=iccid(1))
    assert (card.imsi, card.data_service, card.voice_service, card.sms_service) == ("", "none", "none", "none")


def test_issue11_some_optional_columns_left_out_in_any_order_and_in_xlsx(do_import):
    rows = [["directed", "IOT-BASIC", iccid(n), f"1064{n:09d}"] for n in (3, 4)]
    job = do_import(xlsx_bytes(rows, header=["data", "package_code", "iccid", "msisdn"]), "cards.xlsx")
    assert job.status == ImportStatus.SUCCEEDED, job.errors
    assert Card.objects.get(iccid=iccid(3)).data_service == "directed"


def test_issue11_a_test_package_row_without_service_columns_names_the_fixed_services(do_import):
    job = do_import(csv_bytes([[iccid(5), f"1064{5:09d}", "IOT-TEST"]], header="iccid,msisdn,package_code"))
    assert codes(failed(job)) == {(2, "data", "test_package_services")}


def test_issue11_a_missing_required_column_is_still_refused(do_import):
    error = refused(do_import, csv_bytes([[iccid(6), "IOT-BASIC"]], header="iccid,package_code"))
    assert error.code == "wrong_header"
    assert "msisdn" in str(error.message) and "imsi, data, voice, sms" in str(error.message)


def test_issue11_make_card_file_defaults_to_an_available_commercial_package(do_import, tmp_path):
    from django.core.management import call_command

    path = tmp_path / "cards.csv"
    call_command("make_card_file", str(path), rows=5, stdout=io.StringIO())
    assert {line.split(",")[3] for line in path.read_text(encoding="utf-8-sig").splitlines()[1:]} == {"IOT-BASIC"}
    job = do_import(path.read_bytes(), path.name)
    assert job.status == ImportStatus.SUCCEEDED, job.errors
