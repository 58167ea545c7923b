"""Django admin for ops: every registered model opens, and personal data stays masked.

The full credential and ID numbers are read from the models in the test and
must be absent from every changelist and change form; the masked forms must
be there. Real-name records are view-only, for superusers too.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent, PiiAccessLog, Province, User
from accounts.pii import mask_identifier
from enterprises import services
from enterprises.models import ChangeRequest, ChangeRequestStatus, Document, Enterprise, RecordVersion
from tests import factories, idgen
from tests.images import jpeg_upload

pytestmark = pytest.mark.django_db

REGISTERED = [Enterprise, Document, ChangeRequest, RecordVersion, User, Province, PiiAccessLog, AuditEvent]


@pytest.fixture
def records(world):
    """An enterprise with a pending change, an applied (replaced) one, a reveal log and audit events."""
    users = world["users"]
    manager = users["account_manager"]
    enterprise = world["enterprise"]
    old_person_number = enterprise.responsible_person.id_number

    # An applied change of the responsible person: leaves a RecordVersion with the old number.
    applied = services.change_request_submit(
        actor=manager,
        enterprise=enterprise,
        target="responsible_person",
        values=vars(factories.responsible_data()),
        files=[jpeg_upload("new-id.jpg")],
    )
    # No approval service is in this module's reach: approve by hand, then apply through the service.
    ChangeRequest.objects.filter(pk=applied.pk).update(status=ChangeRequestStatus.APPROVED)
    services.change_request_apply(change_request=applied, actor=users["provincial_approver"])

    # A pending change of the enterprise data, with a new credential number.
    proposed_number = idgen.uscc()
    pending = services.change_request_submit(
        actor=manager,
        enterprise=enterprise,
        target="enterprise",
        values={
            "name": enterprise.name,
            "credential_type": "business_licence",
            "credential_number": proposed_number,
            "credential_address": enterprise.credential_address,
        },
        files=[jpeg_upload("new-licence.jpg")],
    )
    services.enterprise_reveal_field(actor=manager, enterprise=enterprise, field="credential_number")
    enterprise.refresh_from_db()
    secrets = [
        enterprise.credential_number,
        enterprise.responsible_person.id_number,
        old_person_number,
        proposed_number,
        world["enterprise_other"].credential_number,
        world["enterprise_other"].responsible_person.id_number,
    ]
    assert all(secrets) and old_person_number != enterprise.responsible_person.id_number
    return {
        "enterprise": enterprise,
        "pending": pending,
        "applied": applied,
        "version": RecordVersion.objects.get(change_request=applied),
        "secrets": secrets,
        "old_person_number": old_person_number,
        "proposed_number": proposed_number,
    }


@pytest.fixture
def ops_client(world):
    client = Client()
    client.force_login(world["users"]["ops"])
    return client


def changelist(model):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change_form(obj):
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def instance_of(model, records, world):
    return {
        Enterprise: records["enterprise"],
        Document: Document.objects.filter(enterprise=records["enterprise"], kind="responsible_id").first(),
        ChangeRequest: records["pending"],
        RecordVersion: records["version"],
        User: world["users"]["account_manager"],
        Province: Province.objects.get(code="11"),
        PiiAccessLog: PiiAccessLog.objects.first(),
        AuditEvent: AuditEvent.objects.filter(action="change_request.submitted").first(),
    }[model]


def assert_masked(html: str, secrets: list[str]):
    for secret in secrets:
        assert secret not in html, "a full number is shown"


def test_every_model_of_the_brief_is_registered():
    assert set(REGISTERED) <= set(admin.site._registry)


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m.__name__)
def test_ops_opens_changelist_and_change_form_masked(ops_client, records, world, model):
    listing = ops_client.get(changelist(model))
    assert listing.status_code == 200
    assert_masked(listing.content.decode(), records["secrets"])

    form = ops_client.get(change_form(instance_of(model, records, world)))
    assert form.status_code == 200
    assert_masked(form.content.decode(), records["secrets"])


def test_enterprise_pages_show_the_masked_numbers(ops_client, records):
    enterprise = records["enterprise"]
    listing = ops_client.get(changelist(Enterprise)).content.decode()
    assert enterprise.credential_number_masked in listing
    form = ops_client.get(change_form(enterprise)).content.decode()
    assert enterprise.credential_number_masked in form
    assert enterprise.responsible_person.id_number_masked in form
    # The documents inline: metadata only, no link to the stored file.
    assert "credential" in form and "/private/" not in form
    assert not any(d.file.name in form for d in enterprise.documents.all())


def test_change_request_and_version_show_masked_values(ops_client, records):
    pending = ops_client.get(change_form(records["pending"])).content.decode()
    assert mask_identifier(records["proposed_number"]) in pending
    version = ops_client.get(change_form(records["version"])).content.decode()
    assert mask_identifier(records["old_person_number"]) in version


def test_search_uses_plain_columns_only(ops_client, records):
    enterprise = records["enterprise"]
    by_name = ops_client.get(changelist(Enterprise), {"q": enterprise.name[:4]})
    assert by_name.status_code == 200 and enterprise.credential_number_masked in by_name.content.decode()
    # Searching for a number is no error (and finds nothing: encrypted columns are not searched).
    by_number = ops_client.get(changelist(Enterprise), {"q": enterprise.credential_number})
    assert by_number.status_code == 200
    for model in [Document, ChangeRequest, RecordVersion, User, PiiAccessLog, AuditEvent]:
        assert ops_client.get(changelist(model), {"q": "北京"}).status_code == 200


@pytest.mark.parametrize(
    "model",
    [Enterprise, Document, ChangeRequest, RecordVersion, Province, PiiAccessLog, AuditEvent],
    ids=lambda m: m.__name__,
)
def test_real_name_records_and_logs_are_view_only_even_for_superusers(records, world, model):
    superuser = User.objects.create_superuser("root", password=factories.PASSWORD)
    client = Client()
    client.force_login(superuser)
    obj = instance_of(model, records, world)
    info = (model._meta.app_label, model._meta.model_name)
    assert client.get(reverse("admin:{}_{}_add".format(*info))).status_code == 403
    assert client.get(reverse("admin:{}_{}_delete".format(*info), args=[obj.pk])).status_code == 403
    before = model.objects.count()
    response = client.post(change_form(obj), {"name": "changed", "notes": "changed"})
    assert response.status_code == 403
    assert model.objects.count() == before
    if model is Enterprise:
        obj.refresh_from_db()
        assert obj.name != "changed" and obj.notes != "changed"


def test_saving_a_user_keeps_the_role_group_in_sync(world, provinces):
    # Moving an approver to another role needs a superuser (issue 7 §2.1: ops file a role grant).
    root = User.objects.create_superuser("root", password=factories.PASSWORD)
    superuser_client = Client()
    superuser_client.force_login(root)
    user = world["users"]["provincial_approver"]
    stray = Group.objects.get(name="group_approver")
    user.groups.add(stray)
    form = {
        "username": user.username,
        "full_name": "审批人",
        "email": "",
        "role": "account_manager",
        "province": provinces["beijing"].pk,
        "enterprise": "",
        "is_active": "on",
        "is_staff": "",
    }
    response = superuser_client.post(change_form(user), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    user.refresh_from_db()
    assert user.role == "account_manager"
    assert list(user.groups.values_list("name", flat=True)) == ["account_manager"]


def test_ops_adds_a_user_with_a_role(ops_client, world):
    # Ops add roles that see nothing in full (issue 7 §2.1); the new user sets the password by link.
    form = {
        "username": "new_ea",
        "full_name": "新企业管理员",
        "email": "new_ea@example.com",
        "role": "enterprise_admin",
        "province": "",
        "enterprise": world["enterprise"].pk,
    }
    response = ops_client.post(reverse("admin:accounts_user_add"), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(username="new_ea")
    assert user.enterprise == world["enterprise"]
    assert list(user.groups.values_list("name", flat=True)) == ["enterprise_admin"]


def test_a_role_without_its_province_is_a_form_error(ops_client):
    form = {
        "username": "am_nowhere",
        "usable_password": "false",
        "role": "account_manager",
        "province": "",
        "enterprise": "",
    }
    response = ops_client.post(reverse("admin:accounts_user_add"), form)
    assert response.status_code == 200  # the form again, with the error
    assert not User.objects.filter(username="am_nowhere").exists()


def test_ops_cannot_grant_superuser_or_permissions_or_change_own_role(ops_client, world):
    ops = world["users"]["ops"]
    target = world["users"]["group_approver"]
    form = ops_client.get(change_form(target)).content.decode()
    assert 'name="is_superuser"' not in form and 'name="user_permissions"' not in form
    assert 'name="groups"' not in form
    own = ops_client.get(change_form(ops)).content.decode()
    assert 'name="role"' not in own and 'name="is_staff"' not in own

    ops_client.post(
        change_form(ops),
        {"username": ops.username, "full_name": "", "email": "", "is_superuser": "on", "role": "group_approver"},
    )
    ops.refresh_from_db()
    assert not ops.is_superuser and ops.role == "ops"


def test_ops_cannot_edit_a_superuser(ops_client):
    root = User.objects.create_superuser("root", password=factories.PASSWORD)
    response = ops_client.post(change_form(root), {"username": "renamed", "is_active": ""})
    assert response.status_code == 403
    root.refresh_from_db()
    assert root.username == "root" and root.is_active
