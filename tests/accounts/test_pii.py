"""Personal data at rest (DESIGN §3): encryption, blind index, key rotation, masking, access log."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone

from accounts import pii
from accounts.models import PiiAccessLog
from core.errors import PermissionDenied, ValidationFailed
from enterprises import services
from enterprises.models import ChangeRequest, Enterprise, RecordVersion, ResponsiblePerson
from tests import factories, idgen
from tests.images import jpeg_upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(provinces):
    return factories.user(role="account_manager", province=provinces["beijing"], username="am_pii")


def raw_rows(table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
        return cursor.fetchall()


def raw_column(model, field_name: str) -> dict:
    field = model._meta.get_field(field_name)
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {qn(model._meta.pk.column)}, {qn(field.column)} FROM {qn(model._meta.db_table)}")
        return dict(cursor.fetchall())


def database_dump() -> str:
    """Every value of every table in the database, as text."""
    parts = []
    for table in connection.introspection.table_names():
        for row in raw_rows(table):
            for value in row:
                if isinstance(value, memoryview):
                    value = bytes(value)
                if isinstance(value, bytes):
                    value = value.decode("utf-8", "replace")
                parts.append(str(value))
    return "\n".join(parts)


# --- nothing in plaintext at rest ------------------------------------------------------


def test_database_rows_hold_no_id_or_credential_number_in_plaintext(manager):
    numbers = {
        "uscc": idgen.uscc(prefix="A1", area="110108", body8="7K3Q9P2M"),
        "org_code": idgen.organisation_code("5R8W2T6H"),
        "resident_id": idgen.resident_id(area="110105", birth="19790423", seq="617"),
        "hmt_permit": idgen.resident_id(area="830000", birth="19880216", seq="394"),
        "passport": "EJKQ4829RW",
        "new_uscc": idgen.uscc(prefix="91", area="440305", body8="9Y4T7W1B"),
        "new_resident_id": idgen.resident_id(area="440305", birth="19920815", seq="258"),
    }
    first = factories.enterprise(
        actor=manager, credential_number=numbers["uscc"], responsible={"id_number": numbers["resident_id"]}
    )
    factories.enterprise(
        actor=manager,
        credential_type="organisation_code",
        credential_number=numbers["org_code"],
        responsible={"id_type": "hmt_residence_permit", "id_number": numbers["hmt_permit"]},
    )
    factories.enterprise(actor=manager, responsible={"id_type": "passport", "id_number": numbers["passport"]})
    # Change requests carry new numbers; applying one writes the old ones into history.
    change = services.change_request_submit(
        actor=manager,
        enterprise=first,
        target="enterprise",
        values={
            "name": first.name,
            "credential_type": "business_licence",
            "credential_number": numbers["new_uscc"],
            "credential_address": first.credential_address,
        },
        files=[jpeg_upload()],
    )
    ChangeRequest.objects.filter(pk=change.pk).update(status="approved", decided_by=manager, decided_at=timezone.now())
    services.change_request_apply(change_request=change, actor=manager)
    services.change_request_submit(
        actor=manager,
        enterprise=first,
        target="responsible_person",
        values={
            "name": "李四",
            "id_type": "resident_id",
            "id_number": numbers["new_resident_id"],
            "id_address": "深圳市南山区1号",
            "is_legal_representative": True,
        },
        files=[jpeg_upload()],
    )
    services.enterprise_reveal_field(actor=manager, enterprise=first, field="credential_number")
    assert RecordVersion.objects.count() == 1

    forbidden = set()
    for number in numbers.values():
        forbidden |= {number, number.lower(), number[6:-4] if len(number) >= 15 else number[2:-2]}
    # Every model table of accounts and enterprises, row by row...
    tables = {
        model._meta.db_table
        for label in ("accounts", "enterprises")
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
    }
    assert {"enterprises_enterprise", "enterprises_responsibleperson", "enterprises_changerequest"} <= tables
    for table in sorted(tables):
        for row in raw_rows(table):
            text = "|".join(str(v) for v in row)
            for secret in forbidden:
                assert secret not in text, f"{table} holds a number in plaintext"
    # ...and every text of every table in the database.
    dump = database_dump()
    assert len(dump) > 1000
    for secret in forbidden:
        assert secret not in dump


def test_the_dump_would_see_a_plaintext_number(manager):
    """The check above can fail: a number written in the clear is found."""
    record = factories.enterprise(actor=manager)
    Enterprise.objects.filter(pk=record.pk).update(notes=f"number {record.credential_number}")
    assert record.credential_number in database_dump()


# --- EncryptedTextField and the blind index -----------------------------------------------


def test_encrypted_field_round_trips_and_is_a_token_at_rest(manager):
    number = idgen.resident_id()
    record = factories.enterprise(actor=manager, responsible={"id_number": number})
    person = ResponsiblePerson.objects.get(enterprise=record)
    assert person.id_number == number
    token = raw_column(ResponsiblePerson, "id_number")[person.pk]
    assert token != number and token.startswith("gAAAAA")
    assert pii.decrypt(token) == number


def test_two_encryptions_of_one_value_differ(manager):
    number = idgen.resident_id()
    assert pii.encrypt(number) != pii.encrypt(number)
    assert pii.decrypt(pii.encrypt(number)) == number
    # Same at rest: two rows with one value hold different tokens.
    a = factories.enterprise(actor=manager, responsible={"id_number": number})
    b = factories.enterprise(actor=manager, responsible={"id_number": number})
    tokens = raw_column(ResponsiblePerson, "id_number")
    assert tokens[a.responsible_person.pk] != tokens[b.responsible_person.pk]
    # ...while the blind index matches.
    assert a.responsible_person.id_number_index == b.responsible_person.id_number_index


def test_encrypted_field_allows_only_null_lookups():
    from django.core.exceptions import FieldError

    with pytest.raises(FieldError):
        list(Enterprise.objects.filter(credential_number="x"))
    assert list(Enterprise.objects.filter(credential_number__isnull=True)) == []


def test_blind_index_is_deterministic_and_keyed(settings):
    number = idgen.uscc()
    first = pii.blind_index(number, purpose="org_credential")
    assert first == pii.blind_index(number, purpose="org_credential")
    assert first == pii.credential_index(number)
    assert len(first) == 64 and number not in first
    assert pii.blind_index(number, purpose="other") != first
    settings.BLIND_INDEX_KEY = "another-blind-index-key-for-this-test"
    assert pii.blind_index(number, purpose="org_credential") != first


def test_blind_index_is_not_a_plain_hash():
    import hashlib

    number = idgen.resident_id()
    plain = {
        hashlib.sha256(number.encode()).hexdigest(),
        hashlib.sha256(f"personal_id:cn18\x00{number}".encode()).hexdigest(),
    }
    assert pii.personal_id_index("resident_id", number) not in plain


def test_18_digit_numbers_share_one_namespace():
    number = idgen.resident_id(area="830000", birth="19880216")
    assert pii.personal_id_index("resident_id", number) == pii.personal_id_index("hmt_residence_permit", number)
    assert pii.personal_id_index("foreign_permanent_residence", number) == pii.personal_id_index("resident_id", number)
    # Other documents keep their own type's namespace.
    assert pii.personal_id_index("passport", "E12345678") != pii.personal_id_index("hmt_travel_permit", "E12345678")
    # And persons are apart from organisation credentials.
    assert pii.personal_id_index("resident_id", number) != pii.credential_index(number)


def test_decrypt_with_wrong_keys_is_improperly_configured(settings):
    token = pii.encrypt("secret")
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(ImproperlyConfigured):
        pii.decrypt(token)


# --- key rotation ------------------------------------------------------------------------


def _keys():
    return Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_rotate_field_keys_re_encrypts_every_value_under_the_new_key(settings, manager):
    key_a, key_b = _keys()
    settings.FIELD_ENCRYPTION_KEYS = [key_a]
    numbers = [idgen.uscc() for _ in range(3)]
    records = [factories.enterprise(actor=manager, credential_number=n) for n in numbers]
    change = services.change_request_submit(
        actor=manager,
        enterprise=records[0],
        target="enterprise",
        values={
            "name": "新名称",
            "credential_type": "business_licence",
            "credential_number": idgen.uscc(),
            "credential_address": "北京市西城区1号",
        },
        files=[jpeg_upload()],
    )
    ChangeRequest.objects.filter(pk=change.pk).update(status="approved", decided_by=manager, decided_at=timezone.now())
    services.change_request_apply(change_request=change, actor=manager)
    numbers[0] = change.proposed_values["credential_number"]
    tokens_before = raw_column(Enterprise, "credential_number")

    settings.FIELD_ENCRYPTION_KEYS = [key_b, key_a]
    out = io.StringIO()
    call_command("rotate_field_keys", "--batch-size", "2", stdout=out)
    report = out.getvalue()
    assert "enterprises.Enterprise: rotated 3 value(s)" in report
    assert "enterprises.ResponsiblePerson: rotated 3 value(s)" in report
    assert "enterprises.ChangeRequest: rotated 1 value(s)" in report
    assert "enterprises.RecordVersion: rotated 1 value(s)" in report
    tokens_after = raw_column(Enterprise, "credential_number")
    assert all(tokens_after[pk] != tokens_before[pk] for pk in tokens_before)

    # The old key can go: everything reads under the new key alone.
    settings.FIELD_ENCRYPTION_KEYS = [key_b]
    for record, number in zip(records, numbers, strict=True):
        stored = Enterprise.objects.get(pk=record.pk)
        assert stored.credential_number == number
        assert stored.responsible_person.id_number
    assert ChangeRequest.objects.get(pk=change.pk).proposed_values["name"] == "新名称"
    assert RecordVersion.objects.get().previous_values["name"] == records[0].name

    # And the old key alone no longer reads anything.
    settings.FIELD_ENCRYPTION_KEYS = [key_a]
    with pytest.raises(ImproperlyConfigured):
        Enterprise.objects.get(pk=records[1].pk)
    with pytest.raises(ImproperlyConfigured):
        ResponsiblePerson.objects.get(enterprise_id=records[1].pk)


def test_without_rotation_dropping_the_old_key_loses_the_data(settings, manager):
    key_a, key_b = _keys()
    settings.FIELD_ENCRYPTION_KEYS = [key_a]
    record = factories.enterprise(actor=manager)
    settings.FIELD_ENCRYPTION_KEYS = [key_b]
    with pytest.raises(ImproperlyConfigured):
        Enterprise.objects.get(pk=record.pk)


def test_rotate_field_keys_dry_run_changes_nothing(settings, manager):
    key_a, key_b = _keys()
    settings.FIELD_ENCRYPTION_KEYS = [key_a]
    factories.enterprise(actor=manager)
    before = raw_column(Enterprise, "credential_number")
    settings.FIELD_ENCRYPTION_KEYS = [key_b, key_a]
    out = io.StringIO()
    call_command("rotate_field_keys", "--dry-run", stdout=out)
    assert "enterprises.Enterprise: would rotate 1 value(s)" in out.getvalue()
    assert raw_column(Enterprise, "credential_number") == before
    settings.FIELD_ENCRYPTION_KEYS = [key_b]
    with pytest.raises(ImproperlyConfigured):
        Enterprise.objects.get()


def test_rotate_field_keys_skips_empty_values_and_reports_unreadable_ones(settings, manager):
    from django.core.management.base import CommandError

    key_a, key_b = _keys()
    settings.FIELD_ENCRYPTION_KEYS = [key_a]
    letter_unit = factories.enterprise(actor=manager, credential_type="official_letter", credential_number="")
    out = io.StringIO()
    call_command("rotate_field_keys", stdout=out)
    assert "enterprises.Enterprise: rotated 0 value(s)" in out.getvalue()
    assert raw_column(Enterprise, "credential_number")[letter_unit.pk] == ""

    settings.FIELD_ENCRYPTION_KEYS = [key_b]  # key A forgotten
    with pytest.raises(CommandError) as exc:
        call_command("rotate_field_keys", stdout=io.StringIO())
    assert "ResponsiblePerson" in str(exc.value)


def test_rotate_field_keys_finds_every_encrypted_field():
    from accounts.management.commands.rotate_field_keys import encrypted_fields_by_model

    found = {(model._meta.label, field.name) for model, fields in encrypted_fields_by_model() for field in fields}
    assert {
        ("enterprises.Enterprise", "credential_number"),
        ("enterprises.ResponsiblePerson", "id_number"),
        ("enterprises.ChangeRequest", "proposed_values_encrypted"),
        ("enterprises.RecordVersion", "previous_values_encrypted"),
    } <= found
    expected = {
        (model._meta.label, field.name)
        for model in apps.get_models()
        for field in model._meta.local_concrete_fields
        if isinstance(field, pii.EncryptedTextField) and not model._meta.proxy
    }
    assert found == expected


# --- masking ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, masked",
    [
        ("11010519850712002X", "110105********002X"),
        ("91110105MA01X3K70J", "911101********K70J"),
        ("USA110085012345", "USA110*****2345"),
        ("H12345678", "H1*****78"),
        ("MA01X3K79", "MA*****79"),
        ("12345", "12*45"),
        ("1234", "****"),
        ("", ""),
    ],
)
def test_mask_identifier(value, masked):
    assert pii.mask_identifier(value) == masked
    assert len(pii.mask_identifier(value)) == len(value)


def test_model_properties_are_masked(manager):
    number = idgen.uscc()
    id_number = idgen.resident_id()
    record = factories.enterprise(actor=manager, credential_number=number, responsible={"id_number": id_number})
    record = Enterprise.objects.get(pk=record.pk)
    assert record.credential_number_masked == number[:6] + "*" * 8 + number[-4:]
    assert record.responsible_person.id_number_masked == id_number[:6] + "********" + id_number[-4:]
    letter_unit = factories.enterprise(actor=manager, credential_type="official_letter", credential_number="")
    assert letter_unit.credential_number_masked == ""


# --- full views are logged -------------------------------------------------------------------


@pytest.mark.parametrize("field", ["credential_number", "responsible_id_number"])
def test_reveal_by_an_account_manager_is_logged(world, field):
    actor = world["users"]["account_manager"]
    enterprise = world["enterprise"]
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.7")
    value = services.enterprise_reveal_field(actor=actor, enterprise=enterprise, field=field, request=request)
    expected_obj = enterprise if field == "credential_number" else enterprise.responsible_person
    assert value == (
        enterprise.credential_number if field == "credential_number" else enterprise.responsible_person.id_number
    )
    log = PiiAccessLog.objects.get()
    assert log.actor == actor
    assert log.content_type.model_class() is type(expected_obj)
    assert log.object_id == str(expected_obj.pk)
    assert log.field == field
    assert log.ip_address == "203.0.113.7"
    assert log.at is not None


@pytest.mark.parametrize("role", ["enterprise_admin", "ops", "anonymous"])
def test_reveal_is_refused_without_the_permission(world, role):
    from django.contrib.auth.models import AnonymousUser

    actor = world["users"][role] or AnonymousUser()
    with pytest.raises(PermissionDenied):
        services.enterprise_reveal_field(actor=actor, enterprise=world["enterprise"], field="credential_number")
    assert not PiiAccessLog.objects.exists()


def test_reveal_of_another_field_is_refused(world):
    with pytest.raises(ValidationFailed):
        services.enterprise_reveal_field(
            actor=world["users"]["account_manager"], enterprise=world["enterprise"], field="name"
        )
    assert not PiiAccessLog.objects.exists()
