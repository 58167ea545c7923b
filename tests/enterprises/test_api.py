"""REST API for enterprise records (enterprises.api): E1-E3, P1-P4 through HTTP.

Who may call what is in test_api_access_matrix.py; this file checks what the
calls do: shapes, masking, error codes, and that a refused request writes
neither rows nor files.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from accounts.models import AuditEvent, PiiAccessLog
from accounts.pii import mask_identifier
from accounts.throttling import PiiRevealThrottle
from enterprises import services
from enterprises.models import (
    ChangeRequest,
    ChangeRequestStatus,
    Document,
    DocumentKind,
    Enterprise,
    EnterpriseStatus,
    ResponsiblePerson,
)
from tests import factories, idgen
from tests.images import jpeg_bytes, jpeg_upload, pdf_upload

pytestmark = pytest.mark.django_db

API = "/api/v1"


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def manager(world):
    return world["users"]["account_manager"]


@pytest.fixture
def api(manager):
    return client_for(manager)


@pytest.fixture
def lone_manager(provinces):
    """A Beijing account manager without the rest of `world`, for tests that need no other data."""
    return factories.user(role="account_manager", province=provinces["beijing"], username="am_alone")


@pytest.fixture
def lone_api(lone_manager):
    return client_for(lone_manager)


def stored_files() -> list[Path]:
    root = Path(settings.PRIVATE_MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def row_counts() -> tuple[int, ...]:
    return (
        Enterprise.objects.count(),
        ResponsiblePerson.objects.count(),
        Document.objects.count(),
        ChangeRequest.objects.count(),
        AuditEvent.objects.count(),
    )


def wrong_check(number: str) -> str:
    return number[:-1] + ("1" if number[-1] != "1" else "2")


def truncated_jpeg(name="broken.jpg") -> SimpleUploadedFile:
    data = jpeg_bytes(size=(400, 300))
    return SimpleUploadedFile(name, data[: len(data) // 2], content_type="image/jpeg")


def register_form(**overrides) -> dict:
    form = {
        "name": "上海测试物联有限公司",
        "credential_type": "business_licence",
        "credential_number": idgen.uscc(),
        "credential_address": "北京市朝阳区建国路1号",
        "responsible_name": "李四",
        "responsible_id_type": "resident_id",
        "responsible_id_number": idgen.resident_id(),
        "responsible_id_address": "北京市朝阳区建国路2号",
        "responsible_is_legal_representative": "true",
        "credential_files": [jpeg_upload()],
        "responsible_id_files": [jpeg_upload("id.jpg")],
        "business_reference": "ORDER-1",
    }
    form.update(overrides)
    return {key: value for key, value in form.items() if value is not None}


def register(api, **overrides):
    return api.post(f"{API}/enterprises/", register_form(**overrides), format="multipart")


def assert_error(response, status: int, *, field: str | None, code: str | None = None):
    assert response.status_code == status, response.content
    body = response.json()
    assert body.get("field") == field, body
    if code is not None:
        assert body["code"] == code, body
    else:
        assert body["code"], body
    assert body["detail"]


# --- E1, P1, P2: registration ----------------------------------------------------


def test_register_returns_201_with_masked_numbers_only(lone_api, lone_manager):
    form = register_form()
    response = lone_api.post(f"{API}/enterprises/", form, format="multipart")

    assert response.status_code == 201, response.content
    body = response.json()
    enterprise = Enterprise.objects.get(public_id=body["public_id"])
    assert response["Location"].endswith(f"/api/v1/enterprises/{enterprise.public_id}/")
    assert body["name"] == form["name"]
    assert body["province"] == {"code": "11", "name": lone_manager.province.name}
    assert body["account_manager"]["username"] == lone_manager.username
    assert body["status"] == "active"
    assert body["credential_number_masked"] == mask_identifier(form["credential_number"])
    assert body["responsible_person"]["id_number_masked"] == mask_identifier(form["responsible_id_number"])
    assert body["responsible_person"]["is_legal_representative"] is True
    # The full numbers are stored, and appear nowhere in the response.
    assert enterprise.credential_number == form["credential_number"]
    assert form["credential_number"] not in response.content.decode()
    assert form["responsible_id_number"] not in response.content.decode()
    assert sorted(d["kind"] for d in body["documents"]) == ["credential", "responsible_id"]
    assert all(d["download_url"].startswith("http://testserver/api/v1/documents/") for d in body["documents"])
    assert {d["business_reference"] for d in body["documents"]} == {"ORDER-1"}
    assert body["change_requests"] == []


def test_register_official_letter_has_no_number(lone_api):
    response = register(
        lone_api,
        credential_type="official_letter",
        credential_number="",
        unit_kind="party_government",
        credential_files=[pdf_upload()],
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["credential_type"] == "official_letter"
    assert body["credential_number_masked"] == ""
    assert [d["kind"] for d in body["documents"] if d["kind"] != "responsible_id"] == ["official_letter"]
    enterprise = Enterprise.objects.get(public_id=body["public_id"])
    assert enterprise.credential_number == "" and enterprise.credential_number_index is None


def test_register_official_letter_refuses_a_number(lone_api):
    before = row_counts()
    response = register(
        lone_api,
        credential_type="official_letter",
        credential_number=idgen.uscc(),
        unit_kind="party_government",
        credential_files=[pdf_upload()],
    )
    assert_error(response, 400, field="credential_number", code="number_not_allowed")
    assert row_counts() == before


def test_register_bad_credential_number_names_the_field(lone_api):
    before, files = row_counts(), stored_files()
    response = register(lone_api, credential_number=wrong_check(idgen.uscc()))
    assert_error(response, 400, field="credential_number", code="invalid_checksum")
    assert row_counts() == before and stored_files() == files


def test_register_bad_resident_id_names_the_field(lone_api):
    before = row_counts()
    response = register(lone_api, responsible_id_number=wrong_check(idgen.resident_id()))
    assert_error(response, 400, field="responsible_id_number", code="invalid_checksum")
    assert row_counts() == before


def test_register_p1_without_authorisation_letter_writes_nothing(lone_api):
    before, files = row_counts(), stored_files()
    response = register(lone_api, responsible_is_legal_representative="false")
    assert_error(response, 400, field="authorisation_letter_files", code="required")
    assert row_counts() == before and stored_files() == files


def test_register_p1_with_authorisation_letter(lone_api):
    response = register(
        lone_api, responsible_is_legal_representative="false", authorisation_letter_files=[pdf_upload("a.pdf")]
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["responsible_person"]["is_legal_representative"] is False
    assert "authorisation_letter" in {d["kind"] for d in body["documents"]}


def test_register_corrupt_upload_writes_no_rows_and_no_files(lone_api):
    before, files = row_counts(), stored_files()
    # The second file is broken: the first, valid one must not be stored either.
    response = register(lone_api, credential_files=[jpeg_upload(), truncated_jpeg()])
    assert_error(response, 400, field="credential_files", code="corrupt")
    assert row_counts() == before and stored_files() == files


def test_register_duplicate_credential_is_409(api, world):
    number = world["enterprise"].credential_number
    before = row_counts()
    response = register(api, credential_number=number)
    assert_error(response, 409, field="credential_number", code="already_registered")
    assert row_counts() == before
    assert number not in response.content.decode()


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"name": None}, "name", "required"),
        ({"name": ""}, "name", "blank"),
        ({"name": "名" * 201}, "name", "max_length"),
        ({"credential_type": "passport"}, "credential_type", "invalid_choice"),
        ({"responsible_id_type": "nope"}, "responsible_id_type", "invalid_choice"),
        ({"responsible_is_legal_representative": None}, "responsible_is_legal_representative", "required"),
        ({"responsible_is_legal_representative": "maybe"}, "responsible_is_legal_representative", "invalid"),
        ({"credential_files": None}, "credential_files", "required"),
        ({"credential_files": "not a file"}, "credential_files", "invalid"),
        ({"responsible_id_files": None}, "responsible_id_files", "required"),
        ({"responsible_id_number": "1101\x0005"}, "responsible_id_number", "null_characters_not_allowed"),
        (
            {"credential_files": [SimpleUploadedFile("e.jpg", b"", content_type="image/jpeg")]},
            "credential_files",
            "empty",
        ),
        (
            {"credential_files": [SimpleUploadedFile("x.gif", b"GIF89a....", content_type="image/gif")]},
            "credential_files",
            "unsupported_type",
        ),
    ],
)
def test_register_shape_errors_are_400_with_field_and_code(lone_api, overrides, field, code):
    before = row_counts()
    assert_error(register(lone_api, **overrides), 400, field=field, code=code)
    assert row_counts() == before


def test_register_needs_multipart(lone_api):
    response = lone_api.post(f"{API}/enterprises/", {"name": "x"}, format="json")
    assert response.status_code == 415


# --- list, detail, PATCH -----------------------------------------------------------


def test_list_is_paginated_scoped_and_filtered(api, world):
    response = api.get(f"{API}/enterprises/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and {"next", "previous", "results"} <= body.keys()
    assert {e["public_id"] for e in body["results"]} == {
        str(world["enterprise"].public_id),
        str(world["enterprise_same_province"].public_id),
    }
    content = response.content.decode()
    assert world["enterprise"].credential_number not in content
    assert world["enterprise"].responsible_person.id_number not in content

    by_name = api.get(f"{API}/enterprises/", {"name": "第二"}).json()
    assert [e["public_id"] for e in by_name["results"]] == [str(world["enterprise_same_province"].public_id)]
    assert api.get(f"{API}/enterprises/", {"status": "change_pending"}).json()["count"] == 0
    assert api.get(f"{API}/enterprises/", {"status": "active"}).json()["count"] == 2
    assert_error(api.get(f"{API}/enterprises/", {"status": "bogus"}), 400, field="status", code="invalid_choice")
    assert_error(api.get(f"{API}/enterprises/", {"name": "a\x00b"}), 400, field="name")
    assert api.get(f"{API}/enterprises/", {"page": "999"}).status_code == 404


def test_detail_is_masked_with_documents_and_change_requests(api, world, manager):
    enterprise = world["enterprise"]
    services.change_request_submit(
        actor=manager,
        enterprise=enterprise,
        target="responsible_person",
        values=vars(factories.responsible_data()),
        files=[jpeg_upload("new-id.jpg")],
    )
    response = api.get(f"{API}/enterprises/{enterprise.public_id}/")

    assert response.status_code == 200
    body = response.json()
    assert body["credential_number_masked"] == enterprise.credential_number_masked
    assert body["responsible_person"]["id_number_masked"] == enterprise.responsible_person.id_number_masked
    assert body["status"] == "change_pending"
    # The pending request's new ID photo belongs to the request, not yet to the record (issue 11 §1.1).
    assert len(body["documents"]) == 2
    assert all(document["change_request"] is None for document in body["documents"])
    [summary] = body["change_requests"]
    assert summary["target"] == "responsible_person" and summary["status"] == "submitted"
    assert summary["url"].endswith(f"/api/v1/change-requests/{summary['public_id']}/")
    content = response.content.decode()
    assert enterprise.credential_number not in content
    assert enterprise.responsible_person.id_number not in content


def test_patch_notes_and_account_manager(api, world, provinces):
    enterprise = world["enterprise"]
    other_manager = factories.user(role="account_manager", province=provinces["beijing"], username="am_bj_2")
    url = f"{API}/enterprises/{enterprise.public_id}/"

    response = api.patch(url, {"notes": "回访客户", "account_manager": other_manager.username}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["notes"] == "回访客户"
    assert response.json()["account_manager"]["username"] == "am_bj_2"
    enterprise.refresh_from_db()
    assert enterprise.notes == "回访客户" and enterprise.account_manager == other_manager
    assert AuditEvent.objects.filter(action="enterprise.updated", object_id=str(enterprise.pk)).exists()


@pytest.mark.parametrize("username", ["nobody-by-this-name", "am_gd", "pa_bj"])
def test_patch_refuses_unknown_or_unsuitable_account_manager_alike(api, world, username):
    enterprise = world["enterprise"]
    response = api.patch(f"{API}/enterprises/{enterprise.public_id}/", {"account_manager": username}, format="json")
    # Unknown and unsuitable users read the same: the API is no username oracle.
    assert_error(response, 400, field="account_manager", code="invalid_account_manager")
    enterprise.refresh_from_db()
    assert enterprise.account_manager == world["users"]["account_manager"]


@pytest.mark.parametrize("body", [{"notes": ["a"]}, {"notes": {"x": 1}}, ["notes"], {"account_manager": None}])
def test_patch_wrong_types_are_400(api, world, body):
    response = api.patch(f"{API}/enterprises/{world['enterprise'].public_id}/", body, format="json")
    assert response.status_code == 400, response.content


def test_put_and_delete_are_not_offered(api, world):
    url = f"{API}/enterprises/{world['enterprise'].public_id}/"
    assert api.put(url, {"notes": "x"}, format="json").status_code == 405
    assert api.delete(url).status_code == 405
    assert Enterprise.objects.filter(pk=world["enterprise"].pk).exists()


def test_answers_json_to_a_browser(world):
    client = APIClient()
    client.force_login(world["users"]["account_manager"])
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = client.get(f"{API}/enterprises/{world['enterprise'].public_id}/", HTTP_ACCEPT=accept)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert world["enterprise"].credential_number not in response.content.decode()


# --- E2: returning customer ------------------------------------------------------


def test_lookup_finds_a_returning_customer(api, world):
    enterprise = world["enterprise"]
    # Typed as people do: lower case, spaces.
    typed = " ".join(enterprise.credential_number.lower())
    response = api.post(f"{API}/enterprises/lookup/", {"credential_number": typed}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["public_id"] == str(enterprise.public_id)
    assert enterprise.credential_number not in response.content.decode()


def test_lookup_outside_scope_or_unknown_is_404(api, world):
    for number in [idgen.uscc(), "garbage"]:
        response = api.post(f"{API}/enterprises/lookup/", {"credential_number": number}, format="json")
        assert_error(response, 404, field=None, code="not_found")
    # Another province's record: an account manager is told who keeps it (issue 7 §1.6).
    response = api.post(
        f"{API}/enterprises/lookup/", {"credential_number": world["enterprise_other"].credential_number}, format="json"
    )
    assert_error(response, 409, field="credential_number", code="registered_in_other_province")


@pytest.mark.parametrize("body", [{}, {"credential_number": ""}, {"credential_number": ["x"]}, []])
def test_lookup_bad_body_is_400(lone_api, body):
    response = lone_api.post(f"{API}/enterprises/lookup/", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"]


def test_lookup_malformed_json_is_400(lone_api):
    response = lone_api.generic("POST", f"{API}/enterprises/lookup/", "{not json", content_type="application/json")
    assert response.status_code == 400


# --- E2, P3: fresh documents --------------------------------------------------------


def test_upload_adds_a_new_version(api, world, manager):
    enterprise = world["enterprise"]
    response = api.post(
        f"{API}/enterprises/{enterprise.public_id}/documents/",
        {"credential_files": [jpeg_upload("fresh.jpg")], "business_reference": "ORDER-2"},
        format="multipart",
    )

    assert response.status_code == 201, response.content
    [created] = response.json()
    assert created["kind"] == "credential" and created["version"] == 2
    assert created["purpose"] == "later_business" and created["business_reference"] == "ORDER-2"
    assert created["uploaded_by"] == manager.username
    versions = list(Document.objects.filter(enterprise=enterprise, kind="credential").values_list("version", flat=True))
    assert sorted(versions) == [1, 2]

    listing = api.get(f"{API}/enterprises/{enterprise.public_id}/documents/").json()
    assert listing["count"] == 3
    assert [d["version"] for d in listing["results"] if d["kind"] == "credential"] == [2, 1]


def test_upload_by_the_enterprise_admin(world):
    enterprise = world["enterprise"]
    client = client_for(world["users"]["enterprise_admin"])
    response = client.post(
        f"{API}/enterprises/{enterprise.public_id}/documents/",
        {"responsible_id_files": [jpeg_upload("id2.jpg")]},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()[0]["kind"] == "responsible_id" and response.json()[0]["version"] == 2


def test_upload_without_files_or_with_a_bad_file_writes_nothing(api, world):
    url = f"{API}/enterprises/{world['enterprise'].public_id}/documents/"
    before, files = row_counts(), stored_files()
    assert_error(api.post(url, {}, format="multipart"), 400, field="credential_files", code="required")
    response = api.post(
        url, {"credential_files": [jpeg_upload()], "responsible_id_files": [truncated_jpeg()]}, format="multipart"
    )
    assert_error(response, 400, field="responsible_id_files", code="corrupt")
    assert row_counts() == before and stored_files() == files


def test_download_serves_the_file_privately(api, world):
    document = Document.objects.filter(enterprise=world["enterprise"], kind="credential").get()
    response = api.get(f"{API}/documents/{document.public_id}/download/")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == document.file.open("rb").read()
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "no-store, private"
    assert response["X-Content-Type-Options"] == "nosniff"
    # A neutral name: no unit name, no number.
    assert response["Content-Disposition"] == 'attachment; filename="document-credential-v1.jpg"'
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_download_ignores_the_accept_header_and_errors_stay_json(api, world):
    document = Document.objects.filter(enterprise=world["enterprise"]).first()
    assert api.get(f"{API}/documents/{document.public_id}/download/", HTTP_ACCEPT="image/jpeg").status_code == 200
    other = Document.objects.filter(enterprise=world["enterprise_other"]).first()
    response = api.get(f"{API}/documents/{other.public_id}/download/", HTTP_ACCEPT="image/jpeg")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_download_of_a_missing_file_is_404_not_500(api, world):
    document = Document.objects.filter(enterprise=world["enterprise"]).first()
    document.file.storage.delete(document.file.name)
    response = api.get(f"{API}/documents/{document.public_id}/download/")
    assert response.status_code == 404 and response.json()["code"] == "file_missing"


# --- full views of personal data ----------------------------------------------------


@pytest.mark.parametrize("field", ["credential_number", "responsible_id_number"])
def test_reveal_returns_the_value_logs_it_and_is_not_cached(api, world, manager, field):
    enterprise = world["enterprise"]
    expected = enterprise.credential_number if field == "credential_number" else enterprise.responsible_person.id_number

    response = api.post(f"{API}/enterprises/{enterprise.public_id}/reveal/", {"field": field}, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == {"field": field, "value": expected}
    assert "no-store" in response["Cache-Control"]
    log = PiiAccessLog.objects.get()
    assert (log.actor, log.field, log.ip_address) == (manager, field, "127.0.0.1")
    target = enterprise if field == "credential_number" else enterprise.responsible_person
    assert log.object_id == str(target.pk)


@pytest.mark.parametrize("body", [{}, {"field": "name"}, {"field": "password"}, {"field": ["credential_number"]}])
def test_reveal_bad_field_is_400_and_logs_nothing(api, world, body):
    response = api.post(f"{API}/enterprises/{world['enterprise'].public_id}/reveal/", body, format="json")
    assert_error(response, 400, field="field")
    assert not PiiAccessLog.objects.exists()


def test_reveal_is_throttled(api, world, monkeypatch):
    monkeypatch.setattr(PiiRevealThrottle, "THROTTLE_RATES", {"pii_reveal": "2/hour"})
    url = f"{API}/enterprises/{world['enterprise'].public_id}/reveal/"
    statuses = [api.post(url, {"field": "credential_number"}, format="json").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert PiiAccessLog.objects.count() == 2


def test_reveal_rate_is_configured_and_choices_match_the_service():
    from enterprises.serializers import REVEAL_FIELD_CHOICES

    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["pii_reveal"]
    assert {value for value, _label in REVEAL_FIELD_CHOICES} == services.REVEALABLE_FIELDS


# --- E3, P4: change requests --------------------------------------------------------


def test_change_request_submit_is_pending_and_masked(api, world):
    enterprise = world["enterprise"]
    new_number = idgen.uscc()
    response = api.post(
        f"{API}/enterprises/{enterprise.public_id}/change-requests/",
        {
            "target": "enterprise",
            "name": "北京物联科技股份有限公司",
            "credential_type": "business_licence",
            "credential_number": new_number,
            "credential_address": "北京市海淀区中关村1号",
            "files": [jpeg_upload("new-licence.jpg")],
            "reason": "改制",
        },
        format="multipart",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == ChangeRequestStatus.SUBMITTED
    assert body["target"] == "enterprise" and body["enterprise"] == str(enterprise.public_id)
    assert body["proposed_values"] == {
        "name": "北京物联科技股份有限公司",
        "unit_kind": "enterprise",  # not sent: the record's kind is kept
        "credential_type": "business_licence",
        "credential_number_masked": mask_identifier(new_number),
        "credential_address": "北京市海淀区中关村1号",
    }
    assert new_number not in response.content.decode()
    assert [d["kind"] for d in body["documents"]] == ["credential"]
    enterprise.refresh_from_db()
    assert enterprise.status == EnterpriseStatus.CHANGE_PENDING
    # Nothing changes in the record until the request is approved.
    assert enterprise.name == "北京物联科技有限公司" and enterprise.credential_number != new_number

    detail = api.get(f"{API}/change-requests/{body['public_id']}/")
    assert detail.status_code == 200 and detail.json()["proposed_values"] == body["proposed_values"]
    assert new_number not in detail.content.decode()
    listing = api.get(f"{API}/enterprises/{enterprise.public_id}/change-requests/").json()
    assert [c["public_id"] for c in listing["results"]] == [body["public_id"]]


def test_second_change_request_for_the_same_target_is_409(api, world):
    enterprise = world["enterprise"]
    url = f"{API}/enterprises/{enterprise.public_id}/change-requests/"

    def submit():
        form = {
            "target": "responsible_person",
            "responsible_name": "王五",
            "responsible_id_type": "resident_id",
            "responsible_id_number": idgen.resident_id(),
            "responsible_id_address": "北京市西城区1号",
            "responsible_is_legal_representative": "true",
            "files": [jpeg_upload("id.jpg")],
        }
        return api.post(url, form, format="multipart"), form["responsible_id_number"]

    first, number = submit()
    assert first.status_code == 201, first.content
    assert first.json()["proposed_values"]["id_number_masked"] == mask_identifier(number)
    assert number not in first.content.decode()
    before, files = row_counts(), stored_files()
    second, _ = submit()
    assert_error(second, 409, field="target", code="change_pending")
    assert row_counts() == before and stored_files() == files


@pytest.mark.parametrize(
    ("form", "field", "code"),
    [
        ({}, "target", "required"),
        ({"target": "card"}, "target", "invalid_choice"),
        ({"target": "enterprise", "files": [jpeg_upload()]}, "name", "required"),
        ({"target": "responsible_person", "files": [jpeg_upload()]}, "responsible_is_legal_representative", "required"),
        (
            {
                "target": "responsible_person",
                "responsible_is_legal_representative": "false",
                "responsible_name": "王五",
                "responsible_id_type": "resident_id",
                "responsible_id_number": "110105198507120011",
                "responsible_id_address": "北京",
                "files": [jpeg_upload()],
            },
            "responsible_id_number",
            None,
        ),
    ],
)
def test_change_request_bad_input_is_400_and_writes_nothing(api, world, form, field, code):
    before = row_counts()
    response = api.post(f"{API}/enterprises/{world['enterprise'].public_id}/change-requests/", form, format="multipart")
    assert_error(response, 400, field=field, code=code)
    assert row_counts() == before
    world["enterprise"].refresh_from_db()
    assert world["enterprise"].status == EnterpriseStatus.ACTIVE


def test_p4_not_legal_representative_needs_the_letter(api, world):
    form = {
        "target": "responsible_person",
        "responsible_name": "王五",
        "responsible_id_type": "resident_id",
        "responsible_id_number": idgen.resident_id(),
        "responsible_id_address": "北京市西城区1号",
        "responsible_is_legal_representative": "false",
        "files": [jpeg_upload("id.jpg")],
    }
    url = f"{API}/enterprises/{world['enterprise'].public_id}/change-requests/"
    assert_error(api.post(url, form, format="multipart"), 400, field="authorisation_letter_files", code="required")
    form["files"] = [jpeg_upload("id.jpg")]
    form["authorisation_letter_files"] = [pdf_upload()]
    response = api.post(url, form, format="multipart")
    assert response.status_code == 201, response.content
    assert sorted(d["kind"] for d in response.json()["documents"]) == [
        DocumentKind.AUTHORISATION_LETTER,
        DocumentKind.RESPONSIBLE_ID,
    ]


# --- auth, ids, the current user ----------------------------------------------------


def test_token_auth(world):
    manager = world["users"]["account_manager"]
    client = APIClient()
    token = client.post(
        f"{API}/auth/token/", {"username": manager.username, "password": factories.PASSWORD}, format="json"
    )
    assert token.status_code == 200, token.content
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    response = client.get(f"{API}/me/")
    assert response.status_code == 200 and response.json()["username"] == manager.username
    assert client.get(f"{API}/enterprises/").json()["count"] == 2


def test_bad_token_is_refused():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get(f"{API}/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "token" in response.json()["detail"].lower()


def test_wrong_password_gets_no_token(world):
    response = APIClient().post(
        f"{API}/auth/token/",
        {"username": world["users"]["account_manager"].username, "password": "wrong"},
        format="json",
    )
    assert response.status_code == 400 and "token" not in response.json()


BAD_IDS = ["not-a-uuid", "1", "00000000-0000-0000-0000-00000000000g", "%E4%B8%AD", "0" * 200, str(uuid.uuid4())]


@pytest.mark.parametrize(
    ("method", "template", "body"),
    [
        ("get", "/enterprises/{}/", None),
        ("patch", "/enterprises/{}/", {"notes": "x"}),
        ("get", "/enterprises/{}/documents/", None),
        ("post", "/enterprises/{}/documents/", {}),
        ("post", "/enterprises/{}/reveal/", {"field": "credential_number"}),
        ("get", "/enterprises/{}/change-requests/", None),
        ("post", "/enterprises/{}/change-requests/", {}),
        ("get", "/documents/{}/download/", None),
        ("get", "/change-requests/{}/", None),
    ],
)
def test_malformed_or_unknown_ids_are_json_404(lone_api, method, template, body):
    for bad_id in BAD_IDS:
        url = API + template.format(bad_id)
        if body is None:
            response = getattr(lone_api, method)(url)
        else:
            fmt = "json" if method == "patch" or "reveal" in template else "multipart"
            response = getattr(lone_api, method)(url, body, format=fmt)
        assert response.status_code == 404, (bad_id, response.content)
        assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (
            "account_manager",
            {
                "role": "account_manager",
                "province": "11",
                "enterprise": None,
                "permissions": {"can_register": True, "can_view_full_pii": True},
            },
        ),
        (
            "enterprise_admin",
            {
                "role": "enterprise_admin",
                "province": None,
                "enterprise": "own",
                "permissions": {"can_register": False, "can_view_full_pii": False},
            },
        ),
        (
            "provincial_approver_other_province",
            {
                "role": "provincial_approver",
                "province": "44",
                "enterprise": None,
                "permissions": {"can_register": False, "can_view_full_pii": True},
            },
        ),
        (
            "ops",
            {
                "role": "ops",
                "province": None,
                "enterprise": None,
                "permissions": {"can_register": False, "can_view_full_pii": False},
            },
        ),
    ],
)
def test_me(world, role, expected):
    user = world["users"][role]
    body = client_for(user).get(f"{API}/me/").json()
    if expected["enterprise"] == "own":
        expected = {**expected, "enterprise": str(world["enterprise"].public_id)}
    assert body == {"username": user.username, "full_name": user.full_name, **expected}


def test_odd_request_bodies_are_4xx_never_500(api, world):
    pid = world["enterprise"].public_id
    multipart = "multipart/form-data; boundary=xyz"
    responses = [
        api.generic("POST", f"{API}/enterprises/", b"garbage", content_type=multipart),
        api.generic("POST", f"{API}/enterprises/", b"garbage", content_type="multipart/form-data"),
        api.generic(
            "POST",
            f"{API}/enterprises/{pid}/documents/",
            b'--xyz\r\nContent-Disposition: form-data; name="credential_files"; filename="a.jpg"\r\n\r\nabc',
            content_type=multipart,
        ),
        api.generic("PATCH", f"{API}/enterprises/{pid}/", b"[" * 5000, content_type="application/json"),
        api.generic("POST", f"{API}/enterprises/lookup/", b"[" * 5000, content_type="application/json"),
        api.generic("PATCH", f"{API}/enterprises/{pid}/", b'{"notes": "\\u0000"}', content_type="application/json"),
        api.generic("PATCH", f"{API}/enterprises/{pid}/", b'{"notes": "\\ud800"}', content_type="application/json"),
        api.get(f"{API}/enterprises/", {"page": "-1"}),
        api.get(f"{API}/enterprises/", {"page": "abc"}),
        api.post(f"{API}/enterprises/lookup/", {"credential_number": None}, format="json"),
        api.post(f"{API}/enterprises/{pid}/reveal/", {"field": None}, format="json"),
        api.post(
            f"{API}/enterprises/{pid}/change-requests/",
            {"target": "enterprise", "credential_type": "official_letter", "name": "x", "credential_address": "y"},
            format="multipart",
        ),
    ]
    assert [r.status_code for r in responses if not 400 <= r.status_code < 500] == []
    # A number given as a JSON number is looked up as text.
    number = api.post(f"{API}/enterprises/lookup/", {"credential_number": 12345}, format="json")
    assert number.status_code == 404


def test_the_enterprise_change_request_list_searches_like_the_other_request_lists(api, world, manager):
    """Issue 11 §3: by number (whole), by what changes, by a part of the reason; status filters; bad status is 400."""
    from enterprises.models import ChangeRequest

    enterprise = world["enterprise"]

    def make(target, status, reason, on=enterprise):
        return ChangeRequest.objects.create(
            enterprise=on, target=target, status=status, reason=reason, submitted_by=manager
        )

    renamed = make("enterprise", ChangeRequestStatus.SUBMITTED, "改制更名")
    person = make("responsible_person", ChangeRequestStatus.REJECTED, "负责人离职")
    make("enterprise", ChangeRequestStatus.SUBMITTED, "改制更名", on=world["enterprise_same_province"])
    url = f"{API}/enterprises/{enterprise.public_id}/change-requests/"

    def found(**params):
        response = api.get(url, params)
        assert response.status_code == 200, response.content
        return {item["public_id"] for item in response.json()["results"]}

    assert found() == {str(renamed.public_id), str(person.public_id)}
    assert found(search=str(person.public_id)) == {str(person.public_id)}
    assert found(search="离职") == {str(person.public_id)}
    assert found(search="responsible_person") == {str(person.public_id)}
    assert found(search="改制") == {str(renamed.public_id)}  # the other enterprise's request stays out
    assert found(status=ChangeRequestStatus.REJECTED) == {str(person.public_id)}
    assert found(search="\x00" * 5 + "nothing") == set()
    assert api.get(url, {"status": "nope"}).status_code == 400


def test_list_query_count_does_not_grow_with_the_enterprises(lone_api, lone_manager, django_assert_num_queries):
    """Issue 12 §1.4: the list reads each row's unit kind, province and manager in the page's query."""

    def listed() -> list[dict]:
        # Only this test's enterprises: the module's world may hold others in the province.
        return lone_api.get(f"{API}/enterprises/", {"name": "计数测试"}).json()["results"]

    for _ in range(2):
        factories.enterprise(actor=lone_manager, name=f"计数测试{uuid.uuid4().hex[:8]}")
    with django_assert_num_queries(2):  # the count and the page
        assert len(listed()) == 2
    for _ in range(23):
        factories.enterprise(actor=lone_manager, name=f"计数测试{uuid.uuid4().hex[:8]}")
    with django_assert_num_queries(2):
        assert len(listed()) == 25
