"""Service tests for enterprise records: rules E1-E3 and P1-P4 (DESIGN §2).

Everything goes through enterprises.services and enterprises.selectors, against
the database, with data made by tests.factories.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from stdnum.cn import uscc as stdnum_uscc

from accounts.models import AuditEvent
from accounts.pii import credential_index, personal_id_index
from core.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from core.identity import IdentityError, validate_credential_number
from enterprises import selectors, services
from enterprises.models import (
    ChangeRequest,
    ChangeRequestStatus,
    Document,
    DocumentKind,
    DocumentPurpose,
    Enterprise,
    EnterpriseStatus,
    RecordVersion,
    ResponsiblePerson,
)
from tests import factories, idgen
from tests.images import jpeg_bytes, jpeg_upload, pdf_upload

# Tests here check that nothing at all was written, so no world may stay in the database around them.
pytestmark = [pytest.mark.django_db, pytest.mark.world_per_test]


# --- helpers ----------------------------------------------------------------


@pytest.fixture
def manager(provinces):
    return factories.user(role="account_manager", province=provinces["beijing"], username="am_beijing")


@pytest.fixture
def manager_gd(provinces):
    return factories.user(role="account_manager", province=provinces["guangdong"], username="am_guangdong")


def _wrong_check(number: str) -> str:
    """The same number with a different last (check) character."""
    return number[:-1] + ("1" if number[-1] != "1" else "2")


def stored_files() -> list[Path]:
    root = Path(settings.PRIVATE_MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def row_counts() -> tuple[int, int, int, int]:
    return (
        Enterprise.objects.count(),
        ResponsiblePerson.objects.count(),
        Document.objects.count(),
        ChangeRequest.objects.count(),
    )


def truncated_jpeg(name="broken.jpg"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = jpeg_bytes(size=(400, 300))
    return SimpleUploadedFile(name, data[: len(data) // 2], content_type="image/jpeg")


def register(actor, *, enterprise=None, responsible=None, **files):
    """enterprise_register with valid defaults; `files` override the uploads."""
    data = enterprise or factories.enterprise_data()
    person = responsible or factories.responsible_data()
    kwargs = dict(
        credential_files=[pdf_upload() if data.credential_type == "official_letter" else jpeg_upload()],
        responsible_id_files=[jpeg_upload("id.jpg")],
        authorisation_letter_files=[] if person.is_legal_representative else [pdf_upload("auth.pdf")],
    )
    kwargs.update(files)
    return services.enterprise_register(actor=actor, enterprise=data, responsible=person, **kwargs)


def snapshot(obj) -> dict:
    obj.refresh_from_db()
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def approve(request, *, by):
    ChangeRequest.objects.filter(pk=request.pk).update(
        status=ChangeRequestStatus.APPROVED, decided_by=by, decided_at=timezone.now()
    )
    request.refresh_from_db()
    return request


def events_for(obj, action=None):
    qs = AuditEvent.objects.filter(content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk))
    return qs.filter(action=action) if action else qs


# --- test data is valid -----------------------------------------------------


@pytest.mark.parametrize("prefix", ["91", "92", "12", "51", "A1", "N1", "Y1"])
def test_idgen_uscc_is_valid(prefix):
    number = idgen.uscc(prefix=prefix)
    assert len(number) == 18 and number.startswith(prefix)
    # stdnum's check character formula is independent of both idgen and our validator.
    assert stdnum_uscc.calc_check_digit(number[:17]) == number[17]
    if prefix[0].isdigit():
        assert stdnum_uscc.validate(number) == number
    assert validate_credential_number("business_licence", number) == number


def test_idgen_organisation_code_is_valid():
    code = idgen.organisation_code("MA01X3K7")
    assert len(code) == 9
    assert validate_credential_number("organisation_code", code) == code
    wrong = _wrong_check(code)
    with pytest.raises(IdentityError):
        validate_credential_number("organisation_code", wrong)


# --- E1: first registration ---------------------------------------------------


def test_E1_registration_stores_the_record_in_the_actors_province(manager, provinces):
    number = idgen.uscc()
    data = factories.enterprise_data(
        name="北京测试物联有限公司", credential_number=number, credential_address="北京市海淀区中关村大街1号"
    )
    record = register(manager, enterprise=data)

    record = Enterprise.objects.get(pk=record.pk)
    assert record.name == "北京测试物联有限公司"
    assert record.credential_type == "business_licence"
    assert record.credential_number == number
    assert record.credential_number_index == credential_index(number)
    assert record.credential_address == "北京市海淀区中关村大街1号"
    assert record.province == provinces["beijing"] == manager.province
    assert record.account_manager == manager
    assert record.created_by == manager
    assert record.status == EnterpriseStatus.ACTIVE

    credential = record.documents.get(kind=DocumentKind.CREDENTIAL)
    assert credential.version == 1
    assert credential.purpose == DocumentPurpose.REGISTRATION
    assert credential.uploaded_by == manager
    assert credential.content_type == "image/jpeg"
    assert credential.file.storage.exists(credential.file.name)
    id_photo = record.documents.get(kind=DocumentKind.RESPONSIBLE_ID)
    assert (id_photo.version, id_photo.purpose, id_photo.uploaded_by) == (1, DocumentPurpose.REGISTRATION, manager)
    assert record.documents.count() == 2
    # Paths carry no personal data, only opaque ids.
    assert number not in credential.file.name


@pytest.mark.parametrize(
    "credential_type, number",
    [
        ("business_licence", idgen.uscc(prefix="91")),
        ("business_licence", idgen.uscc(prefix="A1")),
        ("business_licence", idgen.uscc(prefix="N1")),
        ("business_licence", idgen.uscc(prefix="Y1")),
        ("public_institution", idgen.uscc(prefix="12")),
        ("social_organisation", idgen.uscc(prefix="51")),
        ("organisation_code", idgen.organisation_code("MA01X3K7")),
    ],
)
def test_E1_each_credential_type_is_accepted(manager, credential_type, number):
    record = register(
        manager, enterprise=factories.enterprise_data(credential_type=credential_type, credential_number=number)
    )
    record.refresh_from_db()
    assert record.credential_type == credential_type
    assert record.credential_number == number
    assert record.credential_number_index == credential_index(number)
    assert record.documents.filter(kind=DocumentKind.CREDENTIAL, version=1).count() == 1


@pytest.mark.parametrize(
    "credential_type, number",
    [
        ("public_institution", idgen.uscc(prefix="91")),  # a company code is not a public-institution code
        ("social_organisation", idgen.uscc(prefix="12")),
        ("business_licence", _wrong_check(idgen.uscc(prefix="91"))),
        ("business_licence", "91110105MA01X3K7"),
        ("organisation_code", _wrong_check(idgen.organisation_code("MA01X3K7"))),
        ("organisation_code", "MA01X3K"),
    ],
)
def test_E1_invalid_number_is_refused_on_credential_number(manager, credential_type, number):
    before = (row_counts(), stored_files())
    with pytest.raises(ValidationFailed) as exc:
        register(
            manager, enterprise=factories.enterprise_data(credential_type=credential_type, credential_number=number)
        )
    assert exc.value.field == "credential_number"
    assert (row_counts(), stored_files()) == before


def test_E1_official_letter_without_number_is_accepted_as_a_document(manager):
    data = factories.enterprise_data(name="某部队", credential_type="official_letter", credential_number="")
    record = register(manager, enterprise=data, credential_files=[pdf_upload("gonghan.pdf")])
    record.refresh_from_db()
    assert record.credential_type == "official_letter"
    assert record.credential_number == ""
    assert record.credential_number_index is None
    assert not record.requires_number
    letter = record.documents.get(kind=DocumentKind.OFFICIAL_LETTER)
    assert (letter.version, letter.purpose, letter.content_type) == (1, DocumentPurpose.REGISTRATION, "application/pdf")
    assert not record.documents.filter(kind=DocumentKind.CREDENTIAL).exists()
    # Several units without a number do not collide on the (null) index.
    other = register(
        manager, enterprise=factories.enterprise_data(credential_type="official_letter", credential_number="")
    )
    assert other.pk != record.pk


def test_E1_official_letter_as_a_photo_is_accepted(manager):
    data = factories.enterprise_data(credential_type="official_letter", credential_number="")
    record = register(manager, enterprise=data, credential_files=[jpeg_upload("letter.jpg")])
    assert record.documents.get(kind=DocumentKind.OFFICIAL_LETTER).content_type == "image/jpeg"


def test_E1_official_letter_with_a_number_is_refused(manager):
    data = factories.enterprise_data(credential_type="official_letter", credential_number=idgen.uscc())
    with pytest.raises(ValidationFailed) as exc:
        register(manager, enterprise=data)
    assert (exc.value.code, exc.value.field) == ("number_not_allowed", "credential_number")
    assert row_counts() == (0, 0, 0, 0)


def test_E1_official_letter_path_without_the_letter_is_refused(manager):
    data = factories.enterprise_data(credential_type="official_letter", credential_number="")
    with pytest.raises(ValidationFailed) as exc:
        register(manager, enterprise=data, credential_files=[])
    assert (exc.value.code, exc.value.field) == ("required", "credential_files")
    assert row_counts() == (0, 0, 0, 0)


def test_E1_pdf_is_not_accepted_as_a_credential_photo(manager):
    with pytest.raises(ValidationFailed) as exc:
        register(manager, credential_files=[pdf_upload("licence.pdf")])
    assert exc.value.field == "credential_files"
    assert row_counts() == (0, 0, 0, 0)


def test_E1_missing_credential_photo_is_refused(manager):
    with pytest.raises(ValidationFailed) as exc:
        register(manager, credential_files=[])
    assert (exc.value.code, exc.value.field) == ("required", "credential_files")
    assert row_counts() == (0, 0, 0, 0)
    assert stored_files() == []


def test_E1_missing_responsible_id_photo_is_refused(manager):
    with pytest.raises(ValidationFailed) as exc:
        register(manager, responsible_id_files=[])
    assert exc.value.field == "responsible_id_files"
    assert row_counts() == (0, 0, 0, 0)


@pytest.mark.parametrize(
    "retyped",
    [
        lambda n: n,
        lambda n: n.lower(),
        lambda n: f"  {n[:6]} {n[6:12]} {n[12:]} ",
        lambda n: n.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)}),  # full-width
    ],
    ids=["same", "lowercase", "spaces", "fullwidth"],
)
def test_E1_duplicate_credential_number_is_a_conflict(manager, manager_gd, retyped):
    number = idgen.uscc(prefix="A1")  # letters, so lower case differs
    register(manager, enterprise=factories.enterprise_data(credential_number=number))
    before = (row_counts(), stored_files())
    with pytest.raises(Conflict) as exc:
        register(manager, enterprise=factories.enterprise_data(credential_number=retyped(number)))
    assert exc.value.code == "already_registered"
    assert exc.value.field == "credential_number"
    # Another province's manager cannot register it again either: the index is global. They are
    # told which province keeps it, as their lookup tells them (issue 7 §1.6).
    with pytest.raises(Conflict) as exc:
        register(manager_gd, enterprise=factories.enterprise_data(credential_number=retyped(number)))
    assert exc.value.code == "registered_in_other_province"
    assert exc.value.field == "credential_number"
    assert (row_counts(), stored_files()) == before


def test_E1_duplicate_organisation_code_with_hyphen_is_a_conflict(manager):
    code = idgen.organisation_code("MA01X3K7")
    register(manager, enterprise=factories.enterprise_data(credential_type="organisation_code", credential_number=code))
    with pytest.raises(Conflict) as exc:
        register(
            manager,
            enterprise=factories.enterprise_data(
                credential_type="organisation_code", credential_number=f"{code[:8].lower()}-{code[8]}"
            ),
        )
    assert exc.value.code == "already_registered"


@pytest.mark.parametrize(
    "role",
    [
        "enterprise_admin",
        "enterprise_admin_other_enterprise",
        "provincial_approver",
        "provincial_approver_other_province",
        "group_approver",
        "ops",
    ],
)
def test_E1_only_account_managers_may_register(world, role):
    actor = world["users"][role]
    before = (row_counts(), stored_files())
    with pytest.raises(PermissionDenied):
        register(actor)
    assert (row_counts(), stored_files()) == before


def test_E1_account_managers_of_any_province_may_register(world, provinces):
    record = register(world["users"]["account_manager_other_province"])
    assert record.province == provinces["guangdong"]


def test_E1_anonymous_may_not_register(db):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(PermissionDenied):
        register(AnonymousUser())


# --- E2: returning enterprises --------------------------------------------------


def test_E2_returning_enterprise_is_found_by_its_credential_number(manager):
    number = idgen.uscc(prefix="Y1")
    record = register(manager, enterprise=factories.enterprise_data(credential_number=number))
    register(manager)  # another one, not found by this number
    for typed in (number, number.lower(), f" {number[:4]} {number[4:]} "):
        assert selectors.enterprise_by_credential_number(manager, typed) == record


def test_E2_organisation_code_is_found_with_or_without_hyphen(manager):
    code = idgen.organisation_code("MA01X3K7")
    record = register(
        manager, enterprise=factories.enterprise_data(credential_type="organisation_code", credential_number=code)
    )
    assert selectors.enterprise_by_credential_number(manager, f"{code[:8]}-{code[8]}") == record


def test_E2_lookup_does_not_cross_provinces(manager, manager_gd):
    number = idgen.uscc()
    register(manager, enterprise=factories.enterprise_data(credential_number=number))
    # The record is not returned; the manager is told which province keeps it (issue 7 §1.6).
    with pytest.raises(Conflict) as exc:
        selectors.enterprise_by_credential_number(manager_gd, number)
    assert exc.value.code == "registered_in_other_province"


def test_E2_lookup_of_an_unknown_or_empty_number_is_not_found(manager):
    register(manager)
    for typed in (idgen.uscc(), "", "   "):
        with pytest.raises(NotFound):
            selectors.enterprise_by_credential_number(manager, typed)


def test_E2_later_business_only_adds_new_versions(manager):
    record = register(manager)
    before_enterprise = snapshot(record)
    before_person = snapshot(record.responsible_person)
    first = record.documents.get(kind=DocumentKind.CREDENTIAL, version=1)

    second = services.enterprise_upload_documents(
        actor=manager, enterprise=record, credential_files=[jpeg_upload()], business_reference="ORDER-2026-0001"
    )
    third = services.enterprise_upload_documents(
        actor=manager, enterprise=record, credential_files=[jpeg_upload()], business_reference="ORDER-2026-0002"
    )

    assert [(d.kind, d.version) for d in second] == [(DocumentKind.CREDENTIAL, 2)]
    assert [(d.kind, d.version) for d in third] == [(DocumentKind.CREDENTIAL, 3)]
    credentials = list(record.documents.filter(kind=DocumentKind.CREDENTIAL).order_by("version"))
    assert [d.version for d in credentials] == [1, 2, 3]
    assert [d.purpose for d in credentials] == [
        DocumentPurpose.REGISTRATION,
        DocumentPurpose.LATER_BUSINESS,
        DocumentPurpose.LATER_BUSINESS,
    ]
    assert [d.business_reference for d in credentials[1:]] == ["ORDER-2026-0001", "ORDER-2026-0002"]
    assert all(d.uploaded_by == manager for d in credentials)
    # Earlier versions stay, row and file.
    first.refresh_from_db()
    assert first.file.storage.exists(first.file.name)
    assert len({d.file.name for d in credentials}) == 3
    # No data is re-entered and nothing of the record changes.
    assert snapshot(record) == before_enterprise
    assert snapshot(record.responsible_person) == before_person


def test_E2_official_letter_enterprise_uploads_a_fresh_letter(manager):
    record = register(
        manager, enterprise=factories.enterprise_data(credential_type="official_letter", credential_number="")
    )
    created = services.enterprise_upload_documents(actor=manager, enterprise=record, credential_files=[pdf_upload()])
    assert [(d.kind, d.version, d.content_type) for d in created] == [
        (DocumentKind.OFFICIAL_LETTER, 2, "application/pdf")
    ]


def test_E2_upload_without_files_is_refused(manager):
    record = register(manager)
    with pytest.raises(ValidationFailed):
        services.enterprise_upload_documents(actor=manager, enterprise=record)
    assert record.documents.count() == 2


@pytest.mark.parametrize(
    "role, allowed",
    [
        ("account_manager", True),
        ("enterprise_admin", True),
        ("account_manager_other_province", False),
        ("enterprise_admin_other_enterprise", False),
        ("provincial_approver", False),
        ("provincial_approver_other_province", False),
        ("group_approver", False),
        ("ops", False),
    ],
)
def test_E2_who_may_upload_later_business_documents(world, role, allowed):
    enterprise = world["enterprise"]
    actor = world["users"][role]
    before = (enterprise.documents.count(), stored_files())
    if allowed:
        created = services.enterprise_upload_documents(
            actor=actor, enterprise=enterprise, credential_files=[jpeg_upload()]
        )
        assert [(d.version, d.uploaded_by) for d in created] == [(2, actor)]
    else:
        with pytest.raises(PermissionDenied):
            services.enterprise_upload_documents(actor=actor, enterprise=enterprise, credential_files=[jpeg_upload()])
        assert (enterprise.documents.count(), stored_files()) == before


# --- E3: enterprise change requests ---------------------------------------------


def test_E3_change_request_stays_pending_and_the_record_is_unchanged(manager):
    record = register(manager)
    before = snapshot(record)
    new_number = idgen.uscc()
    request = services.change_request_submit(
        actor=manager,
        enterprise=record,
        target="enterprise",
        values={
            "name": "新名称物联有限公司",
            "credential_type": "business_licence",
            "credential_number": new_number.lower(),
            "credential_address": "北京市东城区新地址1号",
        },
        files=[jpeg_upload("new-licence.jpg")],
        reason="更名",
    )
    request.refresh_from_db()
    assert request.status == ChangeRequestStatus.SUBMITTED
    assert request.submitted_by == manager and request.submitted_at is not None
    assert request.proposed_values["credential_number"] == new_number  # normalised
    assert request.reason == "更名"
    document = request.documents.get()
    assert (document.kind, document.version, document.purpose) == (
        DocumentKind.CREDENTIAL,
        2,
        DocumentPurpose.CHANGE_REQUEST,
    )

    after = snapshot(record)
    assert after.pop("status") == EnterpriseStatus.CHANGE_PENDING
    before.pop("status")
    after.pop("updated_at"), before.pop("updated_at")
    assert after == before
    assert selectors.enterprise_by_credential_number(manager, before["credential_number"]) == record
    with pytest.raises(NotFound):
        selectors.enterprise_by_credential_number(manager, new_number)


def test_E3_change_request_needs_the_new_credential(manager):
    record = register(manager)
    with pytest.raises(ValidationFailed) as exc:
        services.change_request_submit(
            actor=manager, enterprise=record, target="enterprise", values=_enterprise_values(record), files=[]
        )
    assert exc.value.field == "files"
    assert ChangeRequest.objects.count() == 0


def test_E3_change_request_validates_the_new_number(manager):
    record = register(manager)
    with pytest.raises(ValidationFailed) as exc:
        services.change_request_submit(
            actor=manager,
            enterprise=record,
            target="enterprise",
            values=_enterprise_values(record, credential_number="91110105MA01X3K7"),
            files=[jpeg_upload()],
        )
    assert exc.value.field == "credential_number"
    assert ChangeRequest.objects.count() == 0


def test_E3_change_to_another_enterprises_number_is_a_conflict(manager):
    record = register(manager)
    other = register(manager)
    with pytest.raises(Conflict) as exc:
        services.change_request_submit(
            actor=manager,
            enterprise=record,
            target="enterprise",
            values=_enterprise_values(record, credential_number=other.credential_number),
            files=[jpeg_upload()],
        )
    assert exc.value.code == "already_registered"
    assert ChangeRequest.objects.count() == 0


def _enterprise_values(record, **overrides) -> dict:
    values = {
        "name": record.name,
        "unit_kind": record.unit_kind.code,
        "credential_type": record.credential_type,
        "credential_number": record.credential_number,
        "credential_address": record.credential_address,
    }
    values.update(overrides)
    return values


def _submit_enterprise_change(actor, record, **overrides):
    return services.change_request_submit(
        actor=actor,
        enterprise=record,
        target="enterprise",
        values=_enterprise_values(record, **overrides),
        files=[jpeg_upload("new.jpg")],
    )


def test_E3_a_second_open_request_for_the_same_target_is_a_conflict(manager):
    record = register(manager)
    _submit_enterprise_change(manager, record, name="第一次变更")
    before = (row_counts(), stored_files())
    with pytest.raises(Conflict) as exc:
        _submit_enterprise_change(manager, record, name="第二次变更")
    assert exc.value.code == "change_pending"
    assert (row_counts(), stored_files()) == before
    # The other target is independent.
    services.change_request_submit(
        actor=manager,
        enterprise=record,
        target="responsible_person",
        values=_person_values(record.responsible_person, name="李四"),
        files=[jpeg_upload()],
    )
    assert ChangeRequest.objects.filter(enterprise=record, status=ChangeRequestStatus.SUBMITTED).count() == 2


def test_E3_approved_change_is_applied_and_history_kept(manager, provinces):
    approver = factories.user(role="provincial_approver", province=provinces["beijing"])
    record = register(manager)
    old = _enterprise_values(record)
    new_number = idgen.uscc(prefix="12")
    request = _submit_enterprise_change(
        manager,
        record,
        name="北京某事业单位",
        unit_kind="public_institution",
        credential_type="public_institution",
        credential_number=new_number,
        credential_address="北京市西城区1号",
    )
    approve(request, by=approver)

    applied = services.change_request_apply(change_request=request, actor=approver)

    record.refresh_from_db()
    assert applied.pk == record.pk
    assert _enterprise_values(record) == {
        "name": "北京某事业单位",
        "unit_kind": "public_institution",
        "credential_type": "public_institution",
        "credential_number": new_number,
        "credential_address": "北京市西城区1号",
    }
    assert record.status == EnterpriseStatus.ACTIVE
    # The blind index follows the new number.
    assert record.credential_number_index == credential_index(new_number)
    assert selectors.enterprise_by_credential_number(manager, new_number) == record
    with pytest.raises(NotFound):
        selectors.enterprise_by_credential_number(manager, old["credential_number"])
    # The old number is free again.
    assert not Enterprise.objects.filter(credential_number_index=credential_index(old["credential_number"])).exists()
    # History keeps the replaced values.
    version = RecordVersion.objects.get(change_request=request)
    assert version.target == "enterprise"
    assert version.previous_values == old
    assert version.replaced_by == approver
    request.refresh_from_db()
    assert request.applied_at is not None
    # The responsible person was not touched.
    assert ResponsiblePerson.objects.get(enterprise=record).name == "张三"
    assert events_for(request, "change_request.applied").get().actor == approver
    assert events_for(record, "enterprise.real_name_changed").get().actor == approver


def test_E3_apply_keeps_change_pending_while_another_request_is_open(manager):
    record = register(manager)
    enterprise_change = _submit_enterprise_change(manager, record, name="新名称")
    services.change_request_submit(
        actor=manager,
        enterprise=record,
        target="responsible_person",
        values=_person_values(record.responsible_person, name="李四"),
        files=[jpeg_upload()],
    )
    services.change_request_apply(change_request=approve(enterprise_change, by=manager), actor=manager)
    record.refresh_from_db()
    assert record.name == "新名称"
    assert record.status == EnterpriseStatus.CHANGE_PENDING


@pytest.mark.parametrize("status", ["draft", "submitted", "rejected", "withdrawn"])
def test_E3_only_an_approved_request_can_be_applied(manager, status):
    record = register(manager)
    before = snapshot(record)
    request = _submit_enterprise_change(manager, record, name="未批准")
    ChangeRequest.objects.filter(pk=request.pk).update(status=status)
    with pytest.raises(InvalidTransition):
        services.change_request_apply(change_request=request, actor=manager)
    record.refresh_from_db()
    assert record.name == before["name"]
    assert not RecordVersion.objects.exists()


def test_E3_an_applied_request_cannot_be_applied_again(manager):
    record = register(manager)
    request = approve(_submit_enterprise_change(manager, record, name="改一次"), by=manager)
    services.change_request_apply(change_request=request, actor=manager)
    with pytest.raises(InvalidTransition):
        services.change_request_apply(change_request=request, actor=manager)
    assert RecordVersion.objects.count() == 1


def test_E3_apply_refuses_a_number_registered_meanwhile(manager):
    record = register(manager)
    new_number = idgen.uscc()
    request = approve(_submit_enterprise_change(manager, record, credential_number=new_number), by=manager)
    # Between submission and approval another unit registered with that number.
    other = register(manager, enterprise=factories.enterprise_data(credential_number=new_number))
    with pytest.raises(Conflict) as exc:
        services.change_request_apply(change_request=request, actor=manager)
    assert exc.value.code == "already_registered"
    record.refresh_from_db()
    assert record.credential_number != new_number
    assert selectors.enterprise_by_credential_number(manager, new_number) == other
    assert not RecordVersion.objects.exists()
    request.refresh_from_db()
    assert request.applied_at is None


@pytest.mark.parametrize(
    "role, allowed",
    [
        ("account_manager", True),
        ("enterprise_admin", True),
        ("account_manager_other_province", False),
        ("enterprise_admin_other_enterprise", False),
        ("provincial_approver", False),
        ("group_approver", False),
        ("ops", False),
    ],
)
def test_E3_who_may_submit_a_change(world, role, allowed):
    enterprise = world["enterprise"]
    actor = world["users"][role]
    if allowed:
        request = _submit_enterprise_change(actor, enterprise, name="变更后")
        assert request.submitted_by == actor
    else:
        with pytest.raises(PermissionDenied):
            _submit_enterprise_change(actor, enterprise, name="变更后")
        assert not ChangeRequest.objects.exists()


# --- P1: legal representative or authorisation letter ----------------------------


def test_P1_not_legal_representative_without_letter_is_refused_and_nothing_written(manager):
    person = factories.responsible_data(is_legal_representative=False)
    with pytest.raises(ValidationFailed) as exc:
        register(manager, responsible=person, authorisation_letter_files=[])
    assert (exc.value.code, exc.value.field) == ("required", "authorisation_letter_files")
    assert row_counts() == (0, 0, 0, 0)
    assert stored_files() == []


@pytest.mark.parametrize(
    "letter, content_type",
    [(lambda: pdf_upload("auth.pdf"), "application/pdf"), (lambda: jpeg_upload("auth.jpg"), "image/jpeg")],
    ids=["pdf", "image"],
)
def test_P1_authorisation_letter_is_stored(manager, letter, content_type):
    person = factories.responsible_data(is_legal_representative=False)
    record = register(manager, responsible=person, authorisation_letter_files=[letter()])
    assert record.responsible_person.is_legal_representative is False
    document = record.documents.get(kind=DocumentKind.AUTHORISATION_LETTER)
    assert (document.version, document.purpose, document.content_type) == (
        1,
        DocumentPurpose.REGISTRATION,
        content_type,
    )
    assert document.file.storage.exists(document.file.name)


def test_P1_legal_representative_needs_no_letter(manager):
    record = register(manager, responsible=factories.responsible_data(is_legal_representative=True))
    assert record.responsible_person.is_legal_representative is True
    assert not record.documents.filter(kind=DocumentKind.AUTHORISATION_LETTER).exists()


# --- P2: responsible person's first record ------------------------------------------


def test_P2_responsible_person_is_recorded(manager):
    number = idgen.resident_id(area="110105", birth="19790423", seq="617")
    typed = f" {number[:6]} {number[6:14]} {number[14:].lower()} "
    person = factories.responsible_data(name="王五", id_number=typed, id_address="北京市朝阳区某街道3号")
    record = register(manager, responsible=person)
    stored = ResponsiblePerson.objects.get(enterprise=record)
    assert stored.name == "王五"
    assert stored.id_type == "resident_id"
    assert stored.id_number == number
    assert stored.id_number_index == personal_id_index("resident_id", number)
    assert stored.id_address == "北京市朝阳区某街道3号"
    assert stored.is_legal_representative is True


@pytest.mark.parametrize(
    "id_type, number",
    [
        ("resident_id", idgen.resident_id()),
        ("resident_id", idgen.resident_id(area="440305", birth="20000229")),
        ("hmt_residence_permit", idgen.resident_id(area="810000", birth="19900101")),
        ("hmt_residence_permit", idgen.resident_id(area="820000", birth="19900101")),
        ("hmt_residence_permit", idgen.resident_id(area="830000", birth="19900101")),
        ("hmt_travel_permit", "H12345678"),
        ("hmt_travel_permit", "M1234567890"),
        ("hmt_travel_permit", "12345678"),
        ("foreign_permanent_residence", "USA110085012345"),
        ("foreign_permanent_residence", idgen.resident_id(area="911156", birth="19800101")),
        ("passport", "E12345678"),
        ("military_id", "军字第20230001号"),
    ],
)
def test_P2_each_id_type_is_accepted(manager, id_type, number):
    record = register(manager, responsible=factories.responsible_data(id_type=id_type, id_number=number))
    stored = ResponsiblePerson.objects.get(enterprise=record)
    assert (stored.id_type, stored.id_number) == (id_type, number)
    assert stored.id_number_index == personal_id_index(id_type, number)


@pytest.mark.parametrize(
    "id_type, number",
    [
        ("resident_id", "11010519850732001X"),
        ("resident_id", "12345"),
        ("hmt_residence_permit", idgen.resident_id(area="110105")),
        ("hmt_travel_permit", "X1234567"),
        ("foreign_permanent_residence", idgen.resident_id(area="110105")),
        ("passport", "ABCDEFG"),
        ("military_id", "abc"),
        ("resident_id", ""),
    ],
)
def test_P2_invalid_id_number_is_refused_and_nothing_written(manager, id_type, number):
    with pytest.raises(ValidationFailed) as exc:
        register(manager, responsible=factories.responsible_data(id_type=id_type, id_number=number))
    assert exc.value.field == "responsible_id_number"
    assert row_counts() == (0, 0, 0, 0)
    assert stored_files() == []


def test_P2_wrong_check_digit_is_refused(manager):
    wrong = _wrong_check(idgen.resident_id())
    with pytest.raises(ValidationFailed) as exc:
        register(manager, responsible=factories.responsible_data(id_number=wrong))
    assert exc.value.field == "responsible_id_number"
    assert row_counts() == (0, 0, 0, 0)


# --- P3: later business only uploads a fresh ID photo ---------------------------------


def test_P3_later_business_uploads_only_a_fresh_id_photo(world):
    enterprise = world["enterprise"]
    admin = world["users"]["enterprise_admin"]
    person_before = snapshot(enterprise.responsible_person)
    enterprise_before = snapshot(enterprise)

    created = services.enterprise_upload_documents(
        actor=admin, enterprise=enterprise, responsible_id_files=[jpeg_upload("id2.jpg")]
    )

    assert [(d.kind, d.version, d.purpose) for d in created] == [
        (DocumentKind.RESPONSIBLE_ID, 2, DocumentPurpose.LATER_BUSINESS)
    ]
    assert list(
        enterprise.documents.filter(kind=DocumentKind.RESPONSIBLE_ID)
        .order_by("version")
        .values_list("version", flat=True)
    ) == [1, 2]
    assert enterprise.documents.filter(kind=DocumentKind.CREDENTIAL).count() == 1
    assert snapshot(enterprise.responsible_person) == person_before
    assert snapshot(enterprise) == enterprise_before


# --- P4: change of responsible person -------------------------------------------------


def _person_values(person, **overrides) -> dict:
    values = {
        "name": person.name,
        "id_type": person.id_type,
        "id_number": person.id_number,
        "id_address": person.id_address,
        "is_legal_representative": person.is_legal_representative,
    }
    values.update(overrides)
    return values


def test_P4_responsible_person_change_is_applied_and_history_kept(manager):
    record = register(manager)
    person = record.responsible_person
    old = _person_values(person)
    new_number = idgen.resident_id(area="440305", birth="19920815")
    request = services.change_request_submit(
        actor=manager,
        enterprise=record,
        target="responsible_person",
        values=_person_values(person, name="李四", id_number=new_number, id_address="深圳市南山区1号"),
        files=[jpeg_upload("new-id.jpg")],
    )
    person.refresh_from_db()
    assert _person_values(person) == old  # pending: unchanged
    assert request.documents.get().kind == DocumentKind.RESPONSIBLE_ID

    services.change_request_apply(change_request=approve(request, by=manager), actor=manager)

    person.refresh_from_db()
    assert (person.name, person.id_number, person.id_address) == ("李四", new_number, "深圳市南山区1号")
    assert person.id_number_index == personal_id_index("resident_id", new_number)
    version = RecordVersion.objects.get(change_request=request)
    assert version.target == "responsible_person"
    assert version.previous_values == old
    # The enterprise's own data did not change.
    record.refresh_from_db()
    assert record.status == EnterpriseStatus.ACTIVE


def test_P4_switching_to_not_legal_representative_requires_the_letter(manager):
    record = register(manager)
    person = record.responsible_person
    values = _person_values(person, name="赵六", id_number=idgen.resident_id(), is_legal_representative=False)
    before = (row_counts(), stored_files())
    with pytest.raises(ValidationFailed) as exc:
        services.change_request_submit(
            actor=manager, enterprise=record, target="responsible_person", values=values, files=[jpeg_upload()]
        )
    assert exc.value.field == "authorisation_letter_files"
    assert (row_counts(), stored_files()) == before

    request = services.change_request_submit(
        actor=manager,
        enterprise=record,
        target="responsible_person",
        values=values,
        files=[jpeg_upload()],
        authorisation_letter_files=[pdf_upload("auth.pdf")],
    )
    assert sorted(request.documents.values_list("kind", flat=True)) == [
        DocumentKind.AUTHORISATION_LETTER,
        DocumentKind.RESPONSIBLE_ID,
    ]
    services.change_request_apply(change_request=approve(request, by=manager), actor=manager)
    person.refresh_from_db()
    assert (person.name, person.is_legal_representative) == ("赵六", False)
    assert RecordVersion.objects.get(change_request=request).previous_values["is_legal_representative"] is True


def test_P4_invalid_new_id_number_is_refused(manager):
    record = register(manager)
    with pytest.raises(ValidationFailed) as exc:
        services.change_request_submit(
            actor=manager,
            enterprise=record,
            target="responsible_person",
            values=_person_values(record.responsible_person, id_number=_wrong_check(idgen.resident_id())),
            files=[jpeg_upload()],
        )
    assert exc.value.field == "responsible_id_number"
    assert not ChangeRequest.objects.exists()


# --- atomicity ----------------------------------------------------------------------------


def test_atomicity_a_bad_second_file_leaves_nothing(manager):
    with pytest.raises(ValidationFailed) as exc:
        register(manager, credential_files=[jpeg_upload(), truncated_jpeg()])
    assert exc.value.field == "credential_files"
    assert row_counts() == (0, 0, 0, 0)
    assert stored_files() == []
    assert not AuditEvent.objects.exists()


def test_atomicity_a_bad_id_photo_after_good_credentials_leaves_nothing(manager):
    with pytest.raises(ValidationFailed) as exc:
        register(manager, credential_files=[jpeg_upload()], responsible_id_files=[jpeg_upload(), truncated_jpeg()])
    assert exc.value.field == "responsible_id_files"
    assert row_counts() == (0, 0, 0, 0)
    assert stored_files() == []


def test_atomicity_a_failure_after_files_were_stored_removes_them(manager, monkeypatch):
    def fail(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "audit_record", fail)
    with pytest.raises(RuntimeError):
        register(manager)
    assert row_counts() == (0, 0, 0, 0)
    assert stored_files() == []


def test_atomicity_later_upload_with_a_bad_file_adds_nothing(manager):
    record = register(manager)
    before = (row_counts(), stored_files())
    with pytest.raises(ValidationFailed):
        services.enterprise_upload_documents(
            actor=manager, enterprise=record, credential_files=[jpeg_upload()], responsible_id_files=[truncated_jpeg()]
        )
    assert (row_counts(), stored_files()) == before


def test_atomicity_failed_later_upload_removes_stored_files(manager, monkeypatch):
    record = register(manager)
    before = (row_counts(), stored_files())
    monkeypatch.setattr(services, "audit_record", lambda **kwargs: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError):
        services.enterprise_upload_documents(
            actor=manager, enterprise=record, credential_files=[jpeg_upload()], responsible_id_files=[jpeg_upload()]
        )
    assert (row_counts(), stored_files()) == before


def test_atomicity_failed_change_request_removes_stored_files(manager, monkeypatch):
    record = register(manager)
    before = (row_counts(), stored_files(), snapshot(record))
    monkeypatch.setattr(services, "audit_record", lambda **kwargs: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError):
        _submit_enterprise_change(manager, record, name="不会保存")
    assert (row_counts(), stored_files(), snapshot(record)) == before


# --- audit ------------------------------------------------------------------------------------


def test_audit_every_action_records_its_actor(world):
    manager = world["users"]["account_manager"]
    admin = world["users"]["enterprise_admin"]
    approver = world["users"]["provincial_approver"]

    record = register(manager)
    registered = events_for(record, "enterprise.registered").get()
    assert registered.actor == manager

    services.enterprise_upload_documents(
        actor=admin, enterprise=world["enterprise"], credential_files=[jpeg_upload()], business_reference="B-1"
    )
    uploaded = events_for(world["enterprise"], "enterprise.documents_uploaded").get()
    assert uploaded.actor == admin
    assert uploaded.data["business_reference"] == "B-1"
    assert len(uploaded.data["documents"]) == 1

    request = _submit_enterprise_change(manager, record, name="审计测试")
    submitted = events_for(request, "change_request.submitted").get()
    assert submitted.actor == manager
    assert submitted.data == {"target": "enterprise"}

    services.change_request_apply(change_request=approve(request, by=approver), actor=approver)
    assert events_for(request, "change_request.applied").get().actor == approver
    assert events_for(record, "enterprise.real_name_changed").get().actor == approver
    # Audit details never carry the numbers.
    for event in AuditEvent.objects.all():
        text = str(event.data)
        assert record.credential_number not in text
        assert record.responsible_person.id_number not in text
