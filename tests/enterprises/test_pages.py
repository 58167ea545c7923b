"""The server-rendered enterprise pages (E1-E3, P1-P4) driven through the test client."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from accounts.models import AuditEvent, PiiAccessLog
from core.pending_uploads import FOLDER as KEPT  # a form's files kept for its next submit (issue 11 §2)
from enterprises.models import (
    ChangeRequest,
    ChangeRequestStatus,
    Document,
    DocumentKind,
    DocumentPurpose,
    Enterprise,
    EnterpriseStatus,
    ResponsiblePerson,
)
from tests import factories, idgen
from tests.images import jpeg_upload, pdf_upload

pytestmark = pytest.mark.django_db


# --- helpers --------------------------------------------------------------------


def counts() -> dict[str, int]:
    return {
        "enterprises": Enterprise.objects.count(),
        "persons": ResponsiblePerson.objects.count(),
        "documents": Document.objects.count(),
        "change_requests": ChangeRequest.objects.count(),
        "pii_views": PiiAccessLog.objects.count(),
    }


def private_files() -> set[Path]:
    root = Path(settings.PRIVATE_MEDIA_ROOT)
    return {path for path in root.rglob("*") if path.is_file() and KEPT not in path.parts} if root.exists() else set()


def register_payload(**overrides) -> dict:
    data = {
        "name": "北京新物联科技有限公司",
        "credential_type": "business_licence",
        "credential_number": idgen.uscc(),
        "credential_address": "北京市海淀区中关村大街1号",
        "credential_files": [jpeg_upload()],
        "responsible_name": "李四",
        "responsible_id_type": "resident_id",
        "responsible_id_number": idgen.resident_id(),
        "responsible_id_address": "北京市海淀区中关村大街2号",
        "responsible_is_legal_representative": "on",
        "responsible_id_files": [jpeg_upload("id-front.jpg"), jpeg_upload("id-back.jpg")],
        "business_reference": "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def field_errors(response, field: str) -> list:
    return response.context["form"].errors.as_data().get(field, [])


@pytest.fixture
def manager_client(client, world):
    client.force_login(world["users"]["account_manager"])
    return client


def detail_url(enterprise) -> str:
    return reverse("enterprises:detail", args=[enterprise.public_id])


# --- E1, P1, P2: registration ---------------------------------------------------


def test_e1_register_through_the_form_shows_only_masked_numbers(manager_client):
    payload = register_payload()
    number, id_number = payload["credential_number"], payload["responsible_id_number"]

    response = manager_client.post(reverse("enterprises:create"), payload)

    enterprise = Enterprise.objects.get(name="北京新物联科技有限公司")
    assert response.status_code == 302
    assert response["Location"] == detail_url(enterprise)
    assert number not in response["Location"]
    assert enterprise.credential_number == number
    assert enterprise.responsible_person.id_number == id_number
    assert enterprise.documents.filter(kind=DocumentKind.CREDENTIAL).count() == 1
    assert enterprise.documents.filter(kind=DocumentKind.RESPONSIBLE_ID).count() == 2

    page = manager_client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert enterprise.credential_number_masked in html
    assert enterprise.responsible_person.id_number_masked in html
    assert number not in html
    assert id_number not in html
    assert reverse("enterprises:reveal", args=[enterprise.public_id]) in html  # the manager may reveal

    listing = manager_client.get(reverse("enterprises:list")).content.decode()
    assert enterprise.credential_number_masked in listing
    assert number not in listing


def test_e1_official_letter_path_needs_no_number_and_takes_a_pdf(manager_client):
    payload = register_payload(
        name="某市人民政府办公室",
        credential_type="official_letter",
        credential_number="",
        unit_kind="party_government",
        credential_files=[pdf_upload()],
    )

    response = manager_client.post(reverse("enterprises:create"), payload)

    assert response.status_code == 302
    enterprise = Enterprise.objects.get(name="某市人民政府办公室")
    assert enterprise.credential_number == ""
    assert enterprise.credential_number_index is None
    letter = enterprise.documents.get(kind=DocumentKind.OFFICIAL_LETTER)
    assert letter.content_type == "application/pdf"
    assert manager_client.get(response["Location"]).status_code == 200


def test_e1_official_letter_refuses_a_number(manager_client):
    before, files_before = counts(), private_files()
    payload = register_payload(
        credential_type="official_letter", unit_kind="party_government", credential_files=[pdf_upload()]
    )

    response = manager_client.post(reverse("enterprises:create"), payload)

    assert response.status_code == 200
    assert [e.code for e in field_errors(response, "credential_number")] == ["number_not_allowed"]
    assert counts() == before
    assert private_files() == files_before


def test_p1_not_legal_representative_without_letter_writes_nothing(manager_client):
    before, files_before = counts(), private_files()
    payload = register_payload(responsible_is_legal_representative=None)

    response = manager_client.post(reverse("enterprises:create"), payload)

    assert response.status_code == 200
    errors = field_errors(response, "authorisation_letter_files")
    assert errors and errors[0].code == "required"
    assert str(errors[0].message) in response.content.decode()
    assert counts() == before
    assert private_files() == files_before
    # Entered values are kept, files must be chosen again.
    html = response.content.decode()
    assert "北京新物联科技有限公司" in html
    assert 'name="responsible_is_legal_representative"' in html


def test_p1_not_legal_representative_with_letter_is_registered(manager_client):
    payload = register_payload(
        responsible_is_legal_representative=None, authorisation_letter_files=[pdf_upload("auth.pdf")]
    )

    response = manager_client.post(reverse("enterprises:create"), payload)

    assert response.status_code == 302
    enterprise = Enterprise.objects.get(name="北京新物联科技有限公司")
    assert enterprise.responsible_person.is_legal_representative is False
    assert enterprise.documents.filter(kind=DocumentKind.AUTHORISATION_LETTER).count() == 1


@pytest.mark.zh
def test_p2_invalid_resident_id_shows_a_field_error_in_the_page_language(manager_client):
    valid = idgen.resident_id()
    wrong = valid[:-1] + ("0" if valid[-1] != "0" else "1")
    before = counts()

    response = manager_client.post(reverse("enterprises:create"), register_payload(responsible_id_number=wrong))

    assert response.status_code == 200
    errors = field_errors(response, "responsible_id_number")
    assert [e.code for e in errors] == ["invalid_checksum"]
    html = response.content.decode()
    assert '<html lang="zh-hans">' in html
    with translation.override("zh-hans"):
        # The message as the zh-hans catalogue renders it (Chinese once the .po is compiled).
        assert str(errors[0].message) in html
    assert counts() == before


def test_bad_upload_text_named_jpg_is_refused_with_a_clear_error(manager_client):
    before, files_before = counts(), private_files()
    fake = SimpleUploadedFile("licence.jpg", b"this is not an image", content_type="image/jpeg")

    response = manager_client.post(reverse("enterprises:create"), register_payload(credential_files=[fake]))

    assert response.status_code == 200
    assert [e.code for e in field_errors(response, "credential_files")] == ["unsupported_type"]
    assert counts() == before
    assert private_files() == files_before


def test_register_form_has_camera_and_file_inputs(manager_client):
    html = manager_client.get(reverse("enterprises:create")).content.decode()
    assert 'name="credential_files" accept="image/*,application/pdf"' in html
    assert 'capture="environment"' in html
    credential_input = html.split('name="credential_files"', 1)[1].split(">", 1)[0]
    assert "capture" not in credential_input and "multiple" in credential_input
    assert 'name="responsible_is_legal_representative"' in html and "checked" in html


def test_missing_fields_are_shown_next_to_each_field(manager_client):
    response = manager_client.post(reverse("enterprises:create"), {})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert {"name", "credential_address", "responsible_name", "responsible_id_address"} <= set(errors)


def test_duplicate_credential_number_points_to_the_returning_customer_page(manager_client, world):
    number = world["enterprise"].credential_number
    response = manager_client.post(reverse("enterprises:create"), register_payload(credential_number=number))
    assert response.status_code == 200
    assert [e.code for e in field_errors(response, "credential_number")] == ["already_registered"]


# --- E2, P3: returning customer ------------------------------------------------


def test_e2_returning_customer_found_by_post_then_upload_adds_version_2(manager_client, world):
    enterprise = world["enterprise"]
    number = enterprise.credential_number

    response = manager_client.post(reverse("enterprises:returning"), {"credential_number": number.lower()})

    upload_url = reverse("enterprises:upload", args=[enterprise.public_id])
    assert response.status_code == 302
    assert response["Location"] == upload_url
    assert number not in response["Location"]

    page = manager_client.get(upload_url)
    assert page.status_code == 200
    assert 'name="name"' not in page.content.decode()  # nothing is re-entered

    response = manager_client.post(
        upload_url,
        {
            "credential_files": [jpeg_upload()],
            "responsible_id_files": [jpeg_upload("id.jpg")],
            "business_reference": "ORD-2026-1",
        },
    )

    assert response.status_code == 302
    credential = enterprise.documents.get(kind=DocumentKind.CREDENTIAL, version=2)
    assert credential.purpose == DocumentPurpose.LATER_BUSINESS
    assert credential.business_reference == "ORD-2026-1"
    assert (
        enterprise.documents.get(kind=DocumentKind.RESPONSIBLE_ID, version=2).purpose == DocumentPurpose.LATER_BUSINESS
    )
    assert enterprise.documents.filter(kind=DocumentKind.CREDENTIAL, version=1).exists()  # kept


def test_e2_returning_customer_not_found_says_so_on_the_form(manager_client, world):
    response = manager_client.post(reverse("enterprises:returning"), {"credential_number": idgen.uscc()})
    assert response.status_code == 200
    assert [e.code for e in field_errors(response, "credential_number")] == ["not_found"]
    # Guangdong's record is not shown to the Beijing manager, who is told who keeps it (issue 7 §1.6).
    other = world["enterprise_other"]
    response = manager_client.post(reverse("enterprises:returning"), {"credential_number": other.credential_number})
    assert response.status_code == 200
    assert [e.code for e in field_errors(response, "credential_number")] == ["registered_in_other_province"]


def test_upload_without_files_asks_for_one(manager_client, world):
    before = counts()
    response = manager_client.post(reverse("enterprises:upload", args=[world["enterprise"].public_id]), {})
    assert response.status_code == 200
    assert field_errors(response, "credential_files")
    assert counts() == before


def test_enterprise_admin_uploads_for_their_own_enterprise(client, world):
    client.force_login(world["users"]["enterprise_admin"])
    enterprise = world["enterprise"]
    response = client.post(
        reverse("enterprises:upload", args=[enterprise.public_id]), {"responsible_id_files": [jpeg_upload()]}
    )
    assert response.status_code == 302
    assert enterprise.documents.filter(kind=DocumentKind.RESPONSIBLE_ID, version=2).exists()


# --- list and search -----------------------------------------------------------


def test_list_searches_by_name_and_status(manager_client, world):
    response = manager_client.get(reverse("enterprises:list"), {"q": "第二", "status": "active"})
    html = response.content.decode()
    assert response.status_code == 200
    assert world["enterprise_same_province"].name in html
    assert world["enterprise"].name not in html
    assert world["enterprise_other"].name not in html  # other province

    response = manager_client.get(reverse("enterprises:list"), {"status": EnterpriseStatus.CHANGE_PENDING})
    assert world["enterprise_same_province"].name not in response.content.decode()


def test_list_finds_by_credential_number_via_post_without_echoing_it(manager_client, world):
    enterprise = world["enterprise"]
    response = manager_client.post(reverse("enterprises:list"), {"credential_number": enterprise.credential_number})
    html = response.content.decode()
    assert response.status_code == 200
    assert list(response.context["enterprises"]) == [enterprise]
    assert enterprise.credential_number not in html
    assert enterprise.credential_number_masked in html

    response = manager_client.post(reverse("enterprises:list"), {"credential_number": "91110000000000000X"})
    assert response.status_code == 200
    assert [e.code for e in response.context["number_form"].errors.as_data()["credential_number"]] == ["not_found"]


@pytest.mark.parametrize("query", [{"page": "abc"}, {"page": "999"}, {"status": "bogus"}, {"q": "x" * 500}])
def test_list_never_fails_on_odd_queries(manager_client, world, query):
    assert manager_client.get(reverse("enterprises:list"), query).status_code == 200


def test_list_paginates_by_25(manager_client, world):
    manager = world["users"]["account_manager"]
    for _ in range(24):  # 2 + 24 = 26 in Beijing
        factories.enterprise(actor=manager)
    first = manager_client.get(reverse("enterprises:list"))
    assert len(first.context["enterprises"]) == 25
    following = first.context["page_obj"].next_cursor
    second = manager_client.get(reverse("enterprises:list"), {"cursor": following})
    assert len(second.context["enterprises"]) == 1
    assert not set(first.context["enterprises"]) & set(second.context["enterprises"])


def test_enterprise_admin_is_sent_to_their_enterprise(client, world):
    client.force_login(world["users"]["enterprise_admin"])
    target = detail_url(world["enterprise"])
    assert client.get(reverse("enterprises:list"))["Location"] == target
    assert client.get(reverse("enterprises:mine"))["Location"] == target


# --- full views of personal data ------------------------------------------------


def test_reveal_shows_the_number_once_logs_it_and_is_not_cached(manager_client, world):
    enterprise = world["enterprise"]
    manager = world["users"]["account_manager"]
    url = reverse("enterprises:reveal", args=[enterprise.public_id])

    response = manager_client.post(url, {"field": "credential_number"})

    assert response.status_code == 200
    assert enterprise.credential_number in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    log = PiiAccessLog.objects.get()
    assert (log.actor, log.field, log.object_id, log.ip_address) == (
        manager,
        "credential_number",
        str(enterprise.pk),
        "127.0.0.1",
    )
    # The ID number stays masked on that render, and the plain detail page shows nothing in full.
    assert enterprise.responsible_person.id_number not in response.content.decode()
    assert enterprise.credential_number not in manager_client.get(detail_url(enterprise)).content.decode()

    response = manager_client.post(url, {"field": "responsible_id_number"})
    assert enterprise.responsible_person.id_number in response.content.decode()
    assert PiiAccessLog.objects.filter(field="responsible_id_number").count() == 1


def test_page_reveals_share_the_api_budget_and_are_throttled(manager_client, world, monkeypatch):
    from rest_framework.test import APIClient

    from accounts.throttling import PiiRevealThrottle

    monkeypatch.setattr(PiiRevealThrottle, "THROTTLE_RATES", {"pii_reveal": "2/hour"})
    enterprise = world["enterprise"]
    api = APIClient()
    api.force_authenticate(world["users"]["account_manager"])
    assert (
        api.post(
            f"/api/v1/enterprises/{enterprise.public_id}/reveal/", {"field": "credential_number"}, format="json"
        ).status_code
        == 200
    )
    url = reverse("enterprises:reveal", args=[enterprise.public_id])
    assert manager_client.post(url, {"field": "credential_number"}).status_code == 200

    response = manager_client.post(url, {"field": "responsible_id_number"})

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert "Too many full views of personal data. Try again in" in html
    assert enterprise.responsible_person.id_number not in html
    assert PiiAccessLog.objects.count() == 2


def test_reveal_is_post_only_and_refuses_unknown_fields(manager_client, world):
    url = reverse("enterprises:reveal", args=[world["enterprise"].public_id])
    assert manager_client.get(url).status_code == 405
    response = manager_client.post(url, {"field": "notes"})
    assert response.status_code == 400
    assert PiiAccessLog.objects.count() == 0


@pytest.mark.parametrize("role", ["enterprise_admin", "ops"])
def test_reveal_is_forbidden_without_the_permission(client, world, role):
    client.force_login(world["users"][role])
    response = client.post(
        reverse("enterprises:reveal", args=[world["enterprise"].public_id]), {"field": "credential_number"}
    )
    assert response.status_code == 403
    assert PiiAccessLog.objects.count() == 0
    detail = client.get(detail_url(world["enterprise"])).content.decode()
    assert reverse("enterprises:reveal", args=[world["enterprise"].public_id]) not in detail


# --- documents -----------------------------------------------------------------


def test_download_sends_no_store_and_the_stored_content_type(manager_client, world):
    document = world["enterprise"].documents.get(kind=DocumentKind.CREDENTIAL)
    url = reverse("documents:download", args=[document.public_id])

    response = manager_client.get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "no-store, private"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == 'attachment; filename="document-credential-v1.jpg"'
    body = b"".join(response.streaming_content)
    assert body[:2] == b"\xff\xd8"
    assert len(body) == document.size

    inline = manager_client.get(url, {"inline": "1"})
    assert inline["Content-Disposition"].startswith("inline;")


def test_pdf_is_never_shown_inline(manager_client, world):
    enterprise = factories.enterprise(
        actor=world["users"]["account_manager"], credential_type="official_letter", credential_number=""
    )
    letter = enterprise.documents.get(kind=DocumentKind.OFFICIAL_LETTER)
    response = manager_client.get(reverse("documents:download", args=[letter.public_id]), {"inline": "1"})
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="document-official_letter-v1.pdf"'


def test_detail_shows_documents_grouped_with_links_not_thumbnails(manager_client, world):
    """Each opening of a document spends a full view (issue 7 §2.2): the page links to them and loads none."""
    enterprise = world["enterprise"]
    document = enterprise.documents.get(kind=DocumentKind.CREDENTIAL)
    page = manager_client.get(detail_url(enterprise))
    html = page.content.decode()
    assert f'href="{reverse("documents:download", args=[document.public_id])}?inline=1"' in html
    assert f'src="{reverse("documents:download", args=[document.public_id])}' not in html
    assert [group["kind"] for group in page.context["document_groups"]] == ["credential", "responsible_id"]


def test_ops_see_the_document_list_but_no_files(client, world):
    client.force_login(world["users"]["ops"])
    enterprise = world["enterprise"]
    page = client.get(detail_url(enterprise))
    assert page.status_code == 200
    assert page.context["document_groups"]
    for document in enterprise.documents.all():
        assert reverse("documents:download", args=[document.public_id]) not in page.content.decode()


def test_download_of_an_invisible_document_is_404_and_anonymous_goes_to_login(client, world):
    document = world["enterprise_other"].documents.first()
    url = reverse("documents:download", args=[document.public_id])
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    client.force_login(world["users"]["account_manager"])
    assert client.get(url).status_code == 404


# --- E3, P4: change requests -----------------------------------------------------


@pytest.mark.zh
def test_p4_change_request_starts_with_an_empty_number_and_ends_pending(manager_client, world):
    enterprise = world["enterprise"]
    person = enterprise.responsible_person
    url = reverse("enterprises:change_request", args=[enterprise.public_id]) + "?target=responsible_person"

    page = manager_client.get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert person.id_number not in html
    assert page.context["form"]["responsible_id_number"].value() in (None, "")
    assert page.context["form"]["responsible_name"].value() == person.name

    new_number = idgen.resident_id()
    response = manager_client.post(
        url,
        {
            "responsible_name": "王五",
            "responsible_id_type": "resident_id",
            "responsible_id_number": new_number,
            "responsible_id_address": "北京市西城区1号",
            "responsible_is_legal_representative": "on",
            "files": [jpeg_upload()],
            "reason": "法定代表人变更",
        },
    )

    assert response.status_code == 302
    change = ChangeRequest.objects.get(enterprise=enterprise)
    assert change.status == ChangeRequestStatus.SUBMITTED
    assert change.proposed_values["id_number"] == new_number
    enterprise.refresh_from_db()
    person.refresh_from_db()
    assert enterprise.status == EnterpriseStatus.CHANGE_PENDING
    assert person.name == "张三"  # unchanged until approved
    detail = manager_client.get(response["Location"]).content.decode()
    with translation.override("zh-hans"):
        assert str(ChangeRequestStatus.SUBMITTED.label) in detail
    assert new_number not in detail

    # A second request for the same data is refused on the form, nothing written.
    before = counts()
    again = manager_client.post(
        url,
        {
            "responsible_name": "赵六",
            "responsible_id_type": "resident_id",
            "responsible_id_number": idgen.resident_id(),
            "responsible_id_address": "北京市西城区2号",
            "responsible_is_legal_representative": "on",
            "files": [jpeg_upload()],
            "reason": "again",
        },
    )
    assert again.status_code == 200
    assert again.context["form"].non_field_errors()
    assert counts() == before


def test_e3_enterprise_change_request(manager_client, world):
    enterprise = world["enterprise"]
    url = reverse("enterprises:change_request", args=[enterprise.public_id]) + "?target=enterprise"
    page = manager_client.get(url)
    assert enterprise.credential_number not in page.content.decode()
    assert page.context["form"]["name"].value() == enterprise.name

    response = manager_client.post(
        url,
        {
            "name": "北京物联科技股份有限公司",
            "credential_type": "business_licence",
            "credential_number": enterprise.credential_number,
            "credential_address": enterprise.credential_address,
            "files": [jpeg_upload()],
            "reason": "改制",
        },
    )
    assert response.status_code == 302
    assert ChangeRequest.objects.get(enterprise=enterprise).proposed_values["name"] == "北京物联科技股份有限公司"
    assert enterprise.documents.filter(purpose=DocumentPurpose.CHANGE_REQUEST).count() == 1


def test_change_request_unknown_target_is_404(manager_client, world):
    url = reverse("enterprises:change_request", args=[world["enterprise"].public_id]) + "?target=cards"
    assert manager_client.get(url).status_code == 404


# --- editing -------------------------------------------------------------------


def test_edit_changes_notes_and_account_manager_of_the_same_province_only(manager_client, world, provinces):
    enterprise = world["enterprise"]
    colleague = factories.user(role="account_manager", province=provinces["beijing"], username="am_bj_2")
    url = reverse("enterprises:edit", args=[enterprise.public_id])

    page = manager_client.get(url).content.decode()
    assert reverse("enterprises:change_request", args=[enterprise.public_id]) + "?target=enterprise" in page
    assert 'name="name"' not in page  # real-name data is not editable here

    response = manager_client.post(url, {"account_manager": colleague.pk, "notes": "每月回访"})
    assert response.status_code == 302
    enterprise.refresh_from_db()
    assert (enterprise.account_manager, enterprise.notes) == (colleague, "每月回访")

    other = world["users"]["account_manager_other_province"]
    response = manager_client.post(url, {"account_manager": other.pk, "notes": ""})
    assert response.status_code == 200
    assert response.context["form"].errors["account_manager"]
    enterprise.refresh_from_db()
    assert enterprise.account_manager == colleague


# --- login, home, language ------------------------------------------------------


@pytest.mark.zh
def test_login_page_and_lockout(client, world):
    assert client.get(reverse("login")).status_code == 200
    response = client.post(reverse("login"), {"username": "am_bj", "password": factories.PASSWORD})
    assert response.status_code == 302
    client.logout()

    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        response = client.post(reverse("login"), {"username": "ga", "password": "wrong"})
    assert response.status_code == 429
    assert "registration/locked_out.html" in [t.name for t in response.templates]
    with translation.override("zh-hans"):
        assert translation.gettext("Too many failed attempts") in response.content.decode()


def test_logout_is_a_post(client, world):
    client.force_login(world["users"]["ops"])
    html = client.get(reverse("home")).content.decode()
    assert f'action="{reverse("logout")}" method="post"' in html
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("home")).status_code == 302


@pytest.mark.parametrize(
    "role, expected",
    [
        ("account_manager", "enterprises:create"),
        ("enterprise_admin", None),
        ("provincial_approver", "enterprises:list"),
        ("group_approver", "enterprises:list"),
        ("ops", "admin:index"),
    ],
)
def test_home_depends_on_the_role(client, world, role, expected):
    client.force_login(world["users"][role])
    response = client.get(reverse("home"))
    html = response.content.decode()
    assert response.status_code == 200
    if expected:
        assert f'href="{reverse(expected)}"' in html
    if role == "enterprise_admin":
        assert f'href="{detail_url(world["enterprise"])}"' in html
        assert reverse("enterprises:create") not in html


def test_home_counts_pending_changes_for_approvers(client, world):
    submit_change(world)
    client.force_login(world["users"]["provincial_approver"])
    assert client.get(reverse("home")).context["pending_changes"] == 1
    client.force_login(world["users"]["provincial_approver_other_province"])
    assert client.get(reverse("home")).context["pending_changes"] == 0


def submit_change(world):
    from enterprises.services import change_request_submit

    enterprise = world["enterprise"]
    return change_request_submit(
        actor=world["users"]["account_manager"],
        enterprise=enterprise,
        target="enterprise",
        values={
            "name": "新名称有限公司",
            "credential_type": "business_licence",
            "credential_number": enterprise.credential_number,
            "credential_address": enterprise.credential_address,
        },
        files=[jpeg_upload()],
    )


@pytest.mark.zh
def test_language_switch_to_english(client, world):
    client.force_login(world["users"]["account_manager"])
    assert '<html lang="zh-hans">' in client.get(reverse("home")).content.decode()

    response = client.post(reverse("set_language"), {"language": "en", "next": reverse("enterprises:list")})
    assert response.status_code == 302

    html = client.get(reverse("enterprises:list")).content.decode()
    assert '<html lang="en">' in html
    assert "Register an enterprise" in html
    assert "Find by credential number" in html


def test_unknown_pages_render_404_not_500(manager_client):
    assert manager_client.get("/enterprises/not-a-uuid/").status_code == 404
    assert manager_client.get("/enterprises/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert manager_client.get("/documents/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_audit_history_is_on_the_detail_page(manager_client, world):
    enterprise = world["enterprise"]
    page = manager_client.get(detail_url(enterprise))
    assert [item["event"].action for item in page.context["history"]] == ["enterprise.registered"]
    assert AuditEvent.objects.filter(object_id=str(enterprise.pk)).count() == 1


def test_document_download_is_a_logged_full_view(world, client):
    from accounts.models import PiiAccessLog
    from enterprises.models import Document

    manager = world["users"]["account_manager"]
    document = Document.objects.filter(enterprise=world["enterprise"]).first()
    client.force_login(manager)
    response = client.get(f"/documents/{document.public_id}/?inline=1")
    assert response.status_code == 200
    log = PiiAccessLog.objects.get(actor=manager, object_id=str(document.pk))
    assert log.field == "file"


# --- issue 11 §1.1: a change request's documents are not the record's until approved ------------


def _person_change(world, **values):
    from enterprises.services import change_request_submit

    person = world["enterprise"].responsible_person
    proposed = {
        "name": "王五",
        "id_type": person.id_type,
        "id_number": idgen.resident_id(),
        "id_address": person.id_address,
        "is_legal_representative": False,
        **values,
    }
    return change_request_submit(
        actor=world["users"]["account_manager"],
        enterprise=world["enterprise"],
        target="responsible_person",
        values=proposed,
        files=[jpeg_upload("new-id.jpg")],
        authorisation_letter_files=[pdf_upload("letter.pdf")],
    )


def _current_documents(client, enterprise) -> tuple[dict[str, str], set[str]]:
    """The newest version per kind on the page, and every document id the API lists for the record."""
    page = client.get(detail_url(enterprise))
    on_page = {group["kind"]: str(group["documents"][0].public_id) for group in page.context["document_groups"]}
    detail = client.get(f"/api/v1/enterprises/{enterprise.public_id}/").json()
    listed = client.get(f"/api/v1/enterprises/{enterprise.public_id}/documents/").json()
    listed = listed["results"] if isinstance(listed, dict) else listed
    assert {d["public_id"] for d in detail["documents"]} == {d["public_id"] for d in listed}
    return on_page, {d["public_id"] for d in listed}


def test_issue11_rejected_change_documents_never_become_current_approved_ones_do(manager_client, world):
    from approvals.services import change_request_decide

    enterprise = world["enterprise"]
    approver = world["users"]["provincial_approver"]
    before_page, before_api = _current_documents(manager_client, enterprise)

    pending = _person_change(world)
    attached = {str(d.public_id) for d in pending.documents.all()}
    assert len(attached) == 2  # the new ID photo and the authorisation letter
    assert _current_documents(manager_client, enterprise) == (before_page, before_api)
    assert "not part of the record" in manager_client.get(detail_url(enterprise)).content.decode()

    change_request_decide(change_request=pending, actor=approver, approve=False, comment="照片不清晰")
    assert _current_documents(manager_client, enterprise) == (before_page, before_api)
    # They still belong to the request, where the decision page shows them.
    detail = manager_client.get(f"/api/v1/change-requests/{pending.public_id}/")
    assert detail.status_code == 200
    assert {d["public_id"] for d in detail.json()["documents"]} == attached

    approved = _person_change(world, name="赵六")
    change_request_decide(change_request=approved, actor=approver, approve=True)
    new = {d.kind: str(d.public_id) for d in approved.documents.all()}
    page, listed = _current_documents(manager_client, enterprise)
    assert page["responsible_id"] == new["responsible_id"]
    assert page["authorisation_letter"] == new["authorisation_letter"]
    assert page["credential"] == before_page["credential"]
    assert set(new.values()) <= listed and not (attached & listed)


def test_issue11_approved_change_documents_outrank_an_upload_made_while_pending(world):
    from approvals.services import change_request_decide
    from enterprises.services import enterprise_upload_documents

    enterprise = world["enterprise"]
    request = _person_change(world)
    later = enterprise_upload_documents(
        actor=world["users"]["account_manager"],
        enterprise=enterprise,
        responsible_id_files=[jpeg_upload("later.jpg")],
    )
    change_request_decide(change_request=request, actor=world["users"]["provincial_approver"], approve=True)
    newest = enterprise.documents.filter(kind=DocumentKind.RESPONSIBLE_ID).order_by("-version").first()
    assert newest.change_request_id == request.pk
    assert newest.version > later[0].version
    versions = list(enterprise.documents.filter(kind=DocumentKind.RESPONSIBLE_ID).values_list("version", flat=True))
    assert len(versions) == len(set(versions))
