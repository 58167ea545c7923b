"""Deciding change requests of real-name data (E3, P4): approve applies and keeps the history."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse
from rest_framework.test import APIClient

from approvals import selectors, services
from approvals.models import Decision
from core.errors import DomainError
from enterprises.models import ChangeRequestStatus, Enterprise, EnterpriseStatus, RecordVersion, ResponsiblePerson
from enterprises.services import change_request_submit
from tests import idgen
from tests.approvals import ROLES, assert_refused
from tests.images import jpeg_upload

pytestmark = pytest.mark.django_db


def submit_enterprise_change(world, *, actor=None, enterprise=None, **overrides):
    enterprise = enterprise or world["enterprise"]
    values = {
        "name": "北京物联科技（集团）有限公司",
        "credential_type": "business_licence",
        "credential_number": idgen.uscc(),
        "credential_address": "北京市东城区新地址8号",
    }
    values.update(overrides)
    return change_request_submit(
        actor=actor or world["users"]["account_manager"],
        enterprise=enterprise,
        target="enterprise",
        values=values,
        files=[jpeg_upload("new-licence.jpg")],
        reason="单位更名",
    ), values


def submit_responsible_change(world, *, actor=None):
    values = {
        "name": "赵六",
        "id_type": "resident_id",
        "id_number": idgen.resident_id(),
        "id_address": "北京市海淀区中关村1号",
        "is_legal_representative": True,
    }
    return change_request_submit(
        actor=actor or world["users"]["enterprise_admin"],
        enterprise=world["enterprise"],
        target="responsible_person",
        values=values,
        files=[jpeg_upload("new-id.jpg")],
        reason="法人变更",
    ), values


def test_E3_approval_applies_the_change_and_keeps_the_history(world):
    approver = world["users"]["provincial_approver"]
    before = Enterprise.objects.get(pk=world["enterprise"].pk)
    change, values = submit_enterprise_change(world)
    assert Enterprise.objects.get(pk=before.pk).status == EnterpriseStatus.CHANGE_PENDING

    decided = services.change_request_decide(change_request=change, actor=approver, approve=True, comment="核实无误")
    assert decided.status == ChangeRequestStatus.APPROVED
    assert (decided.decided_by, decided.decision_comment) == (approver, "核实无误")
    assert decided.decided_at is not None and decided.applied_at is not None

    after = Enterprise.objects.get(pk=before.pk)
    assert after.name == values["name"] and after.credential_number == values["credential_number"]
    assert after.status == EnterpriseStatus.ACTIVE
    version = RecordVersion.objects.get(change_request=change)
    assert version.previous_values["name"] == before.name
    assert version.previous_values["credential_number"] == before.credential_number
    decision = Decision.objects.get(change_request=change)
    assert (decision.level, decision.approved, decision.decided_by) == ("province", True, approver)


def test_P4_approval_changes_the_responsible_person_and_keeps_the_old_one(world):
    person_before = ResponsiblePerson.objects.get(enterprise=world["enterprise"])
    change, values = submit_responsible_change(world)
    services.change_request_decide(change_request=change, actor=world["users"]["provincial_approver"], approve=True)
    person = ResponsiblePerson.objects.get(enterprise=world["enterprise"])
    assert person.name == "赵六" and person.id_number == values["id_number"]
    assert RecordVersion.objects.get(change_request=change).previous_values["id_number"] == person_before.id_number


def test_rejection_keeps_the_record_and_needs_a_comment(world):
    approver = world["users"]["provincial_approver"]
    before = Enterprise.objects.get(pk=world["enterprise"].pk)
    change, _values = submit_enterprise_change(world)
    with pytest.raises(DomainError) as excinfo:
        services.change_request_decide(change_request=change, actor=approver, approve=False, comment="")
    assert_refused(excinfo, "comment_required")
    decided = services.change_request_decide(
        change_request=change, actor=approver, approve=False, comment="新执照照片不清晰"
    )
    assert decided.status == ChangeRequestStatus.REJECTED and decided.applied_at is None
    after = Enterprise.objects.get(pk=before.pk)
    assert (after.name, after.credential_number) == (before.name, before.credential_number)
    assert after.status == EnterpriseStatus.ACTIVE
    assert not RecordVersion.objects.filter(change_request=change).exists()
    assert Decision.objects.get(change_request=change).comment == "新执照照片不清晰"


def test_rejecting_one_keeps_the_enterprise_pending_while_another_is_open(world):
    approver = world["users"]["provincial_approver"]
    change1, _ = submit_enterprise_change(world)
    change2, _ = submit_responsible_change(world)
    services.change_request_decide(change_request=change1, actor=approver, approve=False, comment="不符")
    assert Enterprise.objects.get(pk=world["enterprise"].pk).status == EnterpriseStatus.CHANGE_PENDING
    services.change_request_decide(change_request=change2, actor=approver, approve=False, comment="不符")
    assert Enterprise.objects.get(pk=world["enterprise"].pk).status == EnterpriseStatus.ACTIVE


# DECIDE[role]: the refusal code when the role approves a Beijing change request, or "approved".
DECIDE = {
    "anonymous": "login_required",
    "account_manager": "permission_denied",  # the submitter, and not an approver
    "account_manager_other_province": "permission_denied",
    "enterprise_admin": "permission_denied",
    "enterprise_admin_other_enterprise": "permission_denied",
    "provincial_approver": "approved",
    "provincial_approver_other_province": "permission_denied",
    "group_approver": "permission_denied",  # change requests are provincial only
    "ops": "permission_denied",
}


@pytest.mark.parametrize("role", ROLES)
def test_only_a_provincial_approver_of_the_province_decides(world, role):
    change, _values = submit_enterprise_change(world)
    actor = world["users"][role]
    if DECIDE[role] == "approved":
        assert services.change_request_decide(change_request=change, actor=actor, approve=True).status == "approved"
    else:
        with pytest.raises(DomainError) as excinfo:
            services.change_request_decide(change_request=change, actor=actor, approve=True)
        assert_refused(excinfo, DECIDE[role])
        change.refresh_from_db()
        assert change.status == ChangeRequestStatus.SUBMITTED
        assert not Decision.objects.filter(change_request=change).exists()


def test_cross_province_is_refused_and_invisible(world):
    change, _values = submit_enterprise_change(world)
    other = world["users"]["provincial_approver_other_province"]
    assert change not in selectors.change_requests_pending_for(other)
    assert change in selectors.change_requests_pending_for(world["users"]["provincial_approver"])
    with pytest.raises(DomainError) as excinfo:
        selectors.change_request_for_user(other, change.public_id)
    assert_refused(excinfo, "not_found")


def test_self_decision_is_refused(world):
    filer = world["users"]["account_manager"]
    change, _values = submit_enterprise_change(world, actor=filer)
    filer.role = "provincial_approver"
    filer.save(update_fields=["role"])
    with pytest.raises(DomainError) as excinfo:
        services.change_request_decide(change_request=change, actor=filer, approve=True)
    assert_refused(excinfo, "self_decision")
    assert change not in selectors.change_requests_pending_for(filer)


def test_deciding_twice_or_a_withdrawn_request_is_refused(world):
    approver = world["users"]["provincial_approver"]
    change, _ = submit_enterprise_change(world)
    services.change_request_decide(change_request=change, actor=approver, approve=True)
    with pytest.raises(DomainError) as excinfo:
        services.change_request_decide(change_request=change, actor=approver, approve=False, comment="再议")
    assert_refused(excinfo, "invalid_transition")

    withdrawn, _ = submit_responsible_change(world)
    with pytest.raises(DomainError) as excinfo:
        services.change_request_withdraw(change_request=withdrawn, actor=approver)
    assert_refused(excinfo, "not_submitter")
    services.change_request_withdraw(change_request=withdrawn, actor=world["users"]["enterprise_admin"])
    assert Enterprise.objects.get(pk=world["enterprise"].pk).status == EnterpriseStatus.ACTIVE
    with pytest.raises(DomainError) as excinfo:
        services.change_request_decide(change_request=withdrawn, actor=approver, approve=True)
    assert_refused(excinfo, "invalid_transition")
    assert "withdrawn" in str(excinfo.value.message)


def test_a_number_taken_meanwhile_rolls_the_approval_back(world):
    """Apply refuses a number another unit registered since: the decision is not half-written."""
    from tests import factories

    change, values = submit_enterprise_change(world)
    factories.enterprise(actor=world["users"]["account_manager"], credential_number=values["credential_number"])
    with pytest.raises(DomainError) as excinfo:
        services.change_request_decide(change_request=change, actor=world["users"]["provincial_approver"], approve=True)
    assert excinfo.value.code == "already_registered"
    change.refresh_from_db()
    assert change.status == ChangeRequestStatus.SUBMITTED and change.decided_by is None
    assert not Decision.objects.filter(change_request=change).exists()


def test_approvers_and_the_requester_are_emailed(world, django_capture_on_commit_callbacks):
    users = world["users"]
    for role in ("provincial_approver", "provincial_approver_other_province", "group_approver", "account_manager"):
        users[role].email = f"{role}@example.cn"
        users[role].save(update_fields=["email"])
    with django_capture_on_commit_callbacks(execute=True):
        change, values = submit_enterprise_change(world)
    assert [m.to for m in mail.outbox] == [["provincial_approver@example.cn"]]
    assert values["credential_number"] not in mail.outbox[0].body
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.change_request_decide(change_request=change, actor=users["provincial_approver"], approve=True)
    assert [m.to for m in mail.outbox] == [["account_manager@example.cn"]]
    assert values["credential_number"] not in mail.outbox[0].body


def test_api_decide_and_withdraw(world):
    change, values = submit_enterprise_change(world)
    client = APIClient()
    url = reverse("api:change-request-decide", args=[change.public_id])
    client.force_authenticate(world["users"]["group_approver"])
    refused = client.post(url, {"approve": True}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    client.force_authenticate(world["users"]["provincial_approver_other_province"])
    assert client.post(url, {"approve": True}, format="json").status_code == 404
    client.force_authenticate(world["users"]["provincial_approver"])
    missing = client.post(url, {"approve": False}, format="json")
    assert missing.status_code == 400 and missing.json()["code"] == "comment_required"
    ok = client.post(url, {"approve": True, "comment": "同意"}, format="json")
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    assert values["credential_number"] not in ok.content.decode()
    assert ok["Cache-Control"] == "no-store, private"

    other, _ = submit_responsible_change(world)
    client.force_authenticate(world["users"]["enterprise_admin"])
    response = client.post(reverse("api:change-request-withdraw", args=[other.public_id]))
    assert response.status_code == 200 and response.json()["status"] == "withdrawn"


def test_the_change_request_page_shows_masked_values_and_decides(client, world):
    change, values = submit_enterprise_change(world)
    url = reverse("approvals:change_request_detail", args=[change.public_id])
    client.force_login(world["users"]["provincial_approver_other_province"])
    assert client.get(url).status_code == 404
    client.force_login(world["users"]["provincial_approver"])
    page = client.get(url)
    html = page.content.decode()
    assert page.status_code == 200 and values["credential_number"] not in html
    assert values["credential_number"][:6] in html
    response = client.post(url, {"decision": "reject", "comment": "材料不全"})
    assert response.status_code == 302
    change.refresh_from_db()
    assert change.status == ChangeRequestStatus.REJECTED
