"""Bulk card import through the portal pages and the REST API, with the access matrix.

What the import does with each kind of file is in test_import.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re

import pytest
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from cards.imports import parsing as import_parsing
from cards.imports import services as import_services
from cards.imports.views import RECENT_IMPORTS
from cards.models import Card, CardImport, ImportStatus, Package
from tests.cards.import_files import HEADER, bad_check_digit, csv_bytes, iccid, row, xlsx_bytes
from tests.images import jpeg_bytes

pytestmark = pytest.mark.django_db

API = "/api/v1/card-imports/"
ROLES = [
    "anonymous",
    "account_manager",
    "account_manager_other_province",
    "enterprise_admin",
    "enterprise_admin_other_enterprise",
    "provincial_approver",
    "provincial_approver_other_province",
    "group_approver",
    "ops",
]
# Who sees an import of world["enterprise"] (Beijing, the enterprise admin's own).
READS = {
    "anonymous": "login",
    "account_manager": 200,
    "account_manager_other_province": 404,
    "enterprise_admin": 200,
    "enterprise_admin_other_enterprise": 404,
    "provincial_approver": 200,
    "provincial_approver_other_province": 404,
    "group_approver": 200,
    "ops": 200,
}
# Who may upload a file for world["enterprise"] through the API.
UPLOADS = {
    "anonymous": "login",
    "account_manager": 202,
    "account_manager_other_province": 404,
    "enterprise_admin": 202,
    "enterprise_admin_other_enterprise": 404,
    "provincial_approver": 403,
    "provincial_approver_other_province": 403,
    "group_approver": 403,
    "ops": 403,
}


@pytest.fixture
def package(db):
    return Package.objects.create(code="IOT-BASIC", name="物联网基础套餐")


def api_client(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def page_client(client, user):
    if user is not None:
        client.force_login(user)
    return client


def upload(content: bytes, name="cards.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


@pytest.fixture
def finished_import(world, package, django_capture_on_commit_callbacks):
    def make(content: bytes, name="cards.csv") -> CardImport:
        with django_capture_on_commit_callbacks(execute=True):
            job = import_services.card_import_create(
                actor=world["users"]["account_manager"], enterprise=world["enterprise"], upload=upload(content, name)
            )
        job.refresh_from_db()
        return job

    return make


@pytest.fixture
def good_import(finished_import):
    return finished_import(csv_bytes([row(1), row(2, msisdn="14900000002", sms="non_directed")]))


@pytest.fixture
def bad_import(finished_import):
    return finished_import(csv_bytes([row(1), row(2, icc=bad_check_digit(iccid(2))), row(3, package="NOPE")]))


def assert_login_required(response):
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def assert_api_refused_anonymous(response):
    assert response.status_code in (401, 403)


# --- access matrix --------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_access_matrix_status_page_api_and_error_report(world, bad_import, client, role):
    user = world["users"][role]
    expected = READS[role]
    pages = [
        reverse("card_imports:detail", kwargs={"public_id": bad_import.public_id}),
        reverse("card_imports:errors_csv", kwargs={"public_id": bad_import.public_id}),
    ]
    apis = [f"{API}{bad_import.public_id}/", f"{API}{bad_import.public_id}/errors.csv"]
    browser = page_client(client, user)
    for url in pages:
        response = browser.get(url)
        if expected == "login":
            assert_login_required(response)
        else:
            assert response.status_code == expected, (role, url)
    for url in apis:
        response = api_client(user).get(url)
        if expected == "login":
            assert_api_refused_anonymous(response)
        else:
            assert response.status_code == expected, (role, url)
            if expected == 404:
                assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("role", ROLES)
def test_access_matrix_upload_through_the_api(world, package, role, django_capture_on_commit_callbacks):
    user = world["users"][role]
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client(user).post(
            API,
            {"enterprise": str(world["enterprise"].public_id), "file": upload(csv_bytes([row(1)]))},
            format="multipart",
        )
    expected = UPLOADS[role]
    if expected == "login":
        assert_api_refused_anonymous(response)
    else:
        assert response.status_code == expected, (role, response.content)
    if expected == 202:
        assert CardImport.objects.count() == 1 and Card.objects.count() == 1
    else:
        assert CardImport.objects.count() == 0 and Card.objects.count() == 0


@pytest.mark.parametrize("role", ROLES)
def test_access_matrix_upload_page(world, package, client, role, django_capture_on_commit_callbacks):
    user = world["users"][role]
    browser = page_client(client, user)
    url = reverse("card_imports:new")
    response = browser.get(url)
    if user is None:
        assert_login_required(response)
        assert_login_required(browser.post(url, {}))
        return
    assert response.status_code == 200
    # Account managers and enterprise admins have a form (for the enterprises in their own scope).
    assert (b'type="file"' in response.content) is (UPLOADS[role] in (202, 404)), role
    may_upload = UPLOADS[role] == 202
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(
            url, {"enterprise": str(world["enterprise"].public_id), "file": upload(csv_bytes([row(1)]))}
        )
    if may_upload:
        job = CardImport.objects.get()
        assert response.status_code == 302
        assert response["Location"] == reverse("card_imports:detail", kwargs={"public_id": job.public_id})
        assert Card.objects.count() == 1
    elif UPLOADS[role] == 404:
        # The other enterprise is not among the choices: a form error, nothing imported.
        assert response.status_code == 200
        assert "The enterprise does not exist or you may not choose it." in response.content.decode()
        assert CardImport.objects.count() == 0
    else:
        assert response.status_code == 403
        assert CardImport.objects.count() == 0


@pytest.mark.parametrize("role", ROLES)
def test_access_matrix_list_api(world, good_import, finished_import, role):
    other_manager = world["users"]["account_manager_other_province"]
    import_services.card_import_create(
        actor=other_manager, enterprise=world["enterprise_other"], upload=upload(csv_bytes([row(50)]))
    )
    response = api_client(world["users"][role]).get(API)
    if role == "anonymous":
        assert_api_refused_anonymous(response)
        return
    assert response.status_code == 200
    seen = {item["enterprise"] for item in response.json()["results"]}
    expected = set()
    if READS[role] == 200:
        expected.add(str(world["enterprise"].public_id))
    if role in ("account_manager_other_province", "provincial_approver_other_province", "group_approver", "ops"):
        expected.add(str(world["enterprise_other"].public_id))
    assert seen == expected, role


@pytest.mark.parametrize("role", ROLES)
def test_templates_need_a_login(world, client, role):
    user = world["users"][role]
    browser = page_client(client, user)
    for url in (reverse("card_imports:template_csv"), f"{API}template.csv"):
        response = browser.get(url) if url.startswith("/cards") else api_client(user).get(url)
        if user is None:
            assert response.status_code in (302, 401, 403)
        else:
            assert response.status_code == 200
            assert response.content.decode("utf-8-sig").strip() == HEADER


# --- the API ----------------------------------------------------------------------------


def test_api_upload_answers_202_with_the_status_url(world, package, django_capture_on_commit_callbacks):
    client = api_client(world["users"]["account_manager"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            API,
            {"enterprise": str(world["enterprise"].public_id), "file": upload(xlsx_bytes([row(1)]), "c.xlsx")},
            format="multipart",
        )
    assert response.status_code == 202, response.content
    body = response.json()
    job = CardImport.objects.get()
    assert body["id"] == str(job.public_id)
    assert body["status_url"].endswith(f"{API}{job.public_id}/")
    assert response["Location"] == body["status_url"]
    assert response["Cache-Control"].startswith("no-store")

    status = client.get(f"{API}{job.public_id}/").json()
    assert status["status"] == "succeeded"
    assert (status["total_rows"], status["processed_rows"], status["imported_rows"]) == (1, 1, 1)
    assert status["progress_percent"] == 100
    assert status["error_count"] == 0 and status["errors"] == []
    assert status["file_format"] == "xlsx"


def test_api_shows_progress_while_the_import_waits_and_runs(world, package, django_capture_on_commit_callbacks):
    client = api_client(world["users"]["enterprise_admin"])
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(
            API,
            {"enterprise": str(world["enterprise"].public_id), "file": upload(csv_bytes([row(1)]))},
            format="multipart",
        )
    assert response.status_code == 202
    assert response.json()["status"] == "pending" and response.json()["progress_percent"] == 0
    job = CardImport.objects.get()
    CardImport.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING, total_rows=400, processed_rows=100)
    status = client.get(f"{API}{job.public_id}/").json()
    assert (status["status"], status["processed_rows"], status["progress_percent"]) == ("running", 100, 25)
    CardImport.objects.filter(pk=job.pk).update(processed_rows=400)
    assert client.get(f"{API}{job.public_id}/").json()["progress_percent"] == 99  # validated, not yet written


def test_api_failed_import_lists_its_errors_and_the_report(world, bad_import):
    client = api_client(world["users"]["enterprise_admin"])
    status = client.get(f"{API}{bad_import.public_id}/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert status["status"] == "failed"
    assert status["error_count"] == 2 and status["imported_rows"] == 0
    assert [(e["row"], e["column"], e["code"]) for e in status["errors"]] == [
        (3, "iccid", "invalid_iccid_checksum"),
        (4, "package_code", "unknown_package"),
    ]
    assert "check digit" in status["errors"][0]["message"]

    report = client.get(status["errors_csv_url"])
    assert report.status_code == 200
    assert report["Content-Type"].startswith("text/csv")
    assert report["Cache-Control"].startswith("no-store")
    assert "attachment" in report["Content-Disposition"]
    assert report.content.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert [line[0] for line in lines[1:]] == ["3", "4"]


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "empty"),
        ((HEADER + "\r\n").encode(), "no_rows"),
        (csv_bytes([row(1)], header="iccid,number,imsi,package_code,data,voice,sms"), "wrong_header"),
        (jpeg_bytes(), "unsupported_type"),
    ],
)
def test_api_refuses_a_bad_file_with_400_and_writes_nothing(world, package, content, code):
    response = api_client(world["users"]["account_manager"]).post(
        API,
        {"enterprise": str(world["enterprise"].public_id), "file": upload(content)},
        format="multipart",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert (body["code"], body["field"]) == (code, "file")
    assert body["detail"]
    if code == "wrong_header":
        assert "iccid, msisdn, imsi, package_code, data, voice, sms" in body["detail"]
    assert CardImport.objects.count() == 0 and Card.objects.count() == 0


def test_api_refuses_a_file_over_the_limit(world, package, settings):
    settings.CARD_IMPORT_MAX_BYTES = 200
    response = api_client(world["users"]["account_manager"]).post(
        API,
        {"enterprise": str(world["enterprise"].public_id), "file": upload(csv_bytes([row(n) for n in range(9)]))},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "too_large"


@pytest.mark.parametrize(
    ("data", "status", "field"),
    [
        ({}, 400, "enterprise"),
        ({"enterprise": "not-a-uuid"}, 404, None),
        ({"enterprise": "00000000-0000-0000-0000-000000000000"}, 404, None),
        ({"enterprise": "ENTERPRISE"}, 400, "file"),
    ],
)
def test_api_upload_request_errors(world, package, data, status, field):
    if data.get("enterprise") == "ENTERPRISE":
        data = {"enterprise": str(world["enterprise"].public_id)}
    response = api_client(world["users"]["account_manager"]).post(API, data, format="multipart")
    assert response.status_code == status
    if field:
        assert response.json()["field"] == field


def test_api_malformed_import_id_is_404(world):
    client = api_client(world["users"]["ops"])
    for url in (f"{API}nonsense/", f"{API}nonsense/errors.csv", f"{API}{'0' * 8}-0000-0000-0000-{'0' * 12}/"):
        response = client.get(url)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_api_xlsx_template(world):
    from openpyxl import load_workbook

    response = api_client(world["users"]["enterprise_admin"]).get(f"{API}template.xlsx")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    assert [c.value for c in sheet[1]] == HEADER.split(",")


def test_schema_documents_the_import_and_its_columns(db):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/card-imports/"])
    for path in (
        "/api/v1/card-imports/{public_id}/",
        "/api/v1/card-imports/{public_id}/errors.csv",
        "/api/v1/card-imports/template.csv",
        "/api/v1/card-imports/template.xlsx",
    ):
        assert "get" in paths[path], path
    post = paths["/api/v1/card-imports/"]["post"]
    assert set(post["requestBody"]["content"]) == {"multipart/form-data"}
    assert "202" in post["responses"] and "400" in post["responses"]
    for column in import_parsing.COLUMNS:
        assert f"`{column}`" in post["description"]


# --- the pages ---------------------------------------------------------------------------


def test_upload_page_documents_the_columns_and_offers_the_templates(world, package, client):
    client.force_login(world["users"]["account_manager"])
    page = client.get(reverse("card_imports:new"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for column in import_parsing.COLUMNS:
        assert f'<td class="mono">{column}</td>' in page
    assert reverse("card_imports:template_csv") in page and reverse("card_imports:template_xlsx") in page
    # The account manager picks one of the province's enterprises, not another province's: the page holds a
    # text box (issue 12 §1.2), and the suggestions it asks for are the province's.
    assert str(world["enterprise"].public_id) not in page
    assert 'role="combobox"' in page and "capability=cards.import" in page
    suggested = client.get(reverse("enterprises:suggest"), {"capability": "cards.import"}).json()["results"]
    ids = {item["id"] for item in suggested}
    assert {str(world["enterprise"].public_id), str(world["enterprise_same_province"].public_id)} <= ids
    assert str(world["enterprise_other"].public_id) not in ids


def test_enterprise_admin_imports_for_their_own_enterprise_without_choosing(
    world, package, client, django_capture_on_commit_callbacks
):
    admin = world["users"]["enterprise_admin"]
    client.force_login(admin)
    page = client.get(reverse("card_imports:new")).content.decode()
    assert 'type="hidden" name="enterprise"' in page
    assert str(world["enterprise_same_province"].public_id) not in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("card_imports:new"),
            {"enterprise": str(world["enterprise"].public_id), "file": upload(csv_bytes([row(1)]))},
        )
    assert response.status_code == 302
    assert Card.objects.get().enterprise == world["enterprise"]
    # Tampering with the hidden field does not reach another enterprise.
    response = client.post(
        reverse("card_imports:new"),
        {"enterprise": str(world["enterprise_same_province"].public_id), "file": upload(csv_bytes([row(2)]))},
    )
    assert response.status_code == 200
    assert CardImport.objects.count() == 1


def test_page_upload_of_a_bad_file_shows_the_error_on_the_form(world, package, client):
    client.force_login(world["users"]["account_manager"])
    response = client.post(
        reverse("card_imports:new"),
        {"enterprise": str(world["enterprise"].public_id), "file": upload(b"iccid;number\r\n1;2\r\n")},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "The header row is wrong" in page
    assert "iccid, msisdn, imsi, package_code, data, voice, sms" in page
    assert CardImport.objects.count() == 0


def test_page_upload_without_a_file(world, package, client):
    client.force_login(world["users"]["account_manager"])
    response = client.post(
        reverse("card_imports:new"), {"enterprise": str(world["enterprise"].public_id)}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    assert "Choose a card file" in response.content.decode()


def test_status_page_of_a_successful_import_links_to_the_card_list(world, good_import, client):
    client.force_login(world["users"]["account_manager"])
    page = client.get(
        reverse("card_imports:detail", kwargs={"public_id": good_import.public_id}), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert 'value="100"' in page
    assert "2 cards were imported" in page
    assert 'id="import-cards-link"' in page and 'href="/cards/"' in page
    assert "import_progress.js" not in page  # finished: nothing to poll


def test_status_page_of_a_failed_import_shows_the_errors_and_the_report(world, bad_import, client):
    client.force_login(world["users"]["enterprise_admin"])
    page = client.get(
        reverse("card_imports:detail", kwargs={"public_id": bad_import.public_id}), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "2 errors were found in the file." in page
    assert "Nothing was imported" in page
    # The table says what is wrong in words; the codes are left to machines (issue 11 §5).
    table = page.split('id="import-errors"', 1)[1].split("</table>", 1)[0]
    assert 'data-code="invalid_iccid_checksum"' in table and 'data-code="unknown_package"' in table
    words = html.unescape(re.sub(r"<[^>]+>", " ", table))
    assert "The ICCID's check digit is wrong (Luhn)." in words
    assert "invalid_iccid_checksum" not in words and "unknown_package" not in words and "(" + "unknown" not in words
    assert reverse("card_imports:errors_csv", kwargs={"public_id": bad_import.public_id}) in page
    assert 'id="import-cards-link"' not in page


def test_status_page_shows_only_the_first_100_errors(world, finished_import, client):
    job = finished_import(csv_bytes([row(n, msisdn="0") for n in range(1, 131)]))
    client.force_login(world["users"]["account_manager"])
    page = client.get(
        reverse("card_imports:detail", kwargs={"public_id": job.public_id}), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    table = page.split('id="import-errors"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 101  # the header and 100 errors
    assert "The first 100 of 130 errors are shown here" in page
    report = client.get(reverse("card_imports:errors_csv", kwargs={"public_id": job.public_id}))
    assert len(report.content.decode("utf-8-sig").strip().splitlines()) == 131


def test_status_page_of_a_running_import_polls_the_api(world, package, client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        job = import_services.card_import_create(
            actor=world["users"]["account_manager"], enterprise=world["enterprise"], upload=upload(csv_bytes([row(1)]))
        )
    client.force_login(world["users"]["account_manager"])
    page = client.get(reverse("card_imports:detail", kwargs={"public_id": job.public_id})).content.decode()
    assert f'data-import-status-url="{API}{job.public_id}/"' in page
    assert 'data-import-status="pending"' in page
    assert "<progress" in page and "js/import_progress.js" in page
    script = finders.find("js/import_progress.js")
    assert script, "static/js/import_progress.js is missing"
    source = open(script, encoding="utf-8").read()
    assert "1000" in source and "fetch(" in source and "progress_percent" in source


def test_pages_render_in_chinese(world, bad_import, client):
    client.force_login(world["users"]["account_manager"])
    for url in (
        reverse("card_imports:new"),
        reverse("card_imports:detail", kwargs={"public_id": bad_import.public_id}),
    ):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert response.status_code == 200
        assert '<html lang="zh-hans">' in response.content.decode()


def test_import_pages_are_not_cached(world, bad_import, client):
    client.force_login(world["users"]["account_manager"])
    for url in (
        reverse("card_imports:new"),
        reverse("card_imports:detail", kwargs={"public_id": bad_import.public_id}),
        reverse("card_imports:errors_csv", kwargs={"public_id": bad_import.public_id}),
    ):
        assert "no-store" in client.get(url)["Cache-Control"], url


# --- issue 11 §1.6: the page's own example passes the page's own checks -----------------------


def _page_example(page: str) -> str:
    match = re.search(r'<pre class="mono sample" id="import-example">(.*?)</pre>', page, re.S)
    assert match, "the page shows an example file"
    return html.unescape(match.group(1))


def test_issue11_the_pages_example_file_imports_cleanly(world, client, django_capture_on_commit_callbacks):
    Package.objects.create(
        code="IOT-TRIAL",
        name="试用套餐",
        is_test_package=True,
        test_period_days=30,
        data_service="directed",
        voice_service="none",
        sms_service="none",
    )
    Package.objects.create(code="IOT-GONE", name="停售套餐", is_active=False)
    Package.objects.create(code="IOT-STD", name="物联网标准套餐")
    client.force_login(world["users"]["account_manager"])
    page = client.get(reverse("card_imports:new"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # The real, available codes are listed; a retired one is not.
    assert '<td class="mono">IOT-STD</td>' in page and '<td class="mono">IOT-TRIAL</td>' in page
    assert "IOT-GONE" not in page and "IOT-BASIC" not in page
    example = _page_example(page)
    [row_cells] = list(csv.reader(io.StringIO(example)))[1:]
    assert row_cells[import_parsing.COLUMNS.index("package_code")] == "IOT-STD"
    # Every example in the column table is the one in the file.
    for value in row_cells:
        assert f'<td class="mono">{value}</td>' in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("card_imports:new"),
            {"enterprise": str(world["enterprise"].public_id), "file": upload(example.encode())},
        )
    assert response.status_code == 302, response.content
    job = CardImport.objects.get()
    assert job.status == ImportStatus.SUCCEEDED, job.errors
    assert Card.objects.get().iccid == import_parsing.EXAMPLE_ICCID


def test_issue11_the_example_iccid_passes_luhn():
    from stdnum import luhn

    assert luhn.is_valid(import_parsing.EXAMPLE_ICCID) and len(import_parsing.EXAMPLE_ICCID) == 20


def test_the_upload_page_shows_the_latest_imports_and_the_full_list_pages_by_cursor(world, client):
    """Issue 12 §1.4: the panel is bounded (the latest RECENT_IMPORTS) and links to the keyset-paged list."""
    start = timezone.now() - dt.timedelta(days=3)
    jobs = []
    for minutes in range(27):
        job = CardImport.objects.create(
            enterprise=world["enterprise"], file_format="csv", status=ImportStatus.SUCCEEDED
        )
        CardImport.objects.filter(pk=job.pk).update(created_at=start + dt.timedelta(minutes=minutes))
        jobs.append(str(job.public_id))
    newest_first = jobs[::-1]
    client.force_login(world["users"]["account_manager"])

    def rows(body: str) -> list[str]:
        return re.findall(r'href="/cards/imports/([0-9a-f-]{36})/"', body)

    panel = client.get(reverse("card_imports:new")).content.decode()
    assert rows(panel) == newest_first[:RECENT_IMPORTS]
    assert f'href="{reverse("card_imports:list")}"' in panel
    first = client.get(reverse("card_imports:list")).content.decode()
    following = html.unescape(re.search(r'href="([^"]*)"[^>]*data-page="next"', first).group(1))
    second = client.get(reverse("card_imports:list") + following).content.decode()
    assert rows(first) + rows(second) == newest_first
