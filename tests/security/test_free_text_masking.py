"""Issue 7 §2.8: ID and credential numbers typed into free text are masked wherever it is shown:
decision comments, review comments, change-request reasons, rejection reasons, exemption reasons,
audit-event data in the admin, on the pages, the approval desk, the operations admin and the API."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from approvals.services import change_request_decide, exemption_decide
from core.identity import mask_identifier, mask_numbers_in_text
from enterprises.services import change_request_submit
from tests import factories, idgen
from tests.approvals import file_for_combo, put_in_review
from tests.images import jpeg_upload

pytestmark = pytest.mark.django_db

ID = idgen.resident_id()
USCC = idgen.uscc()
TEXT = f"身份证号{ID}，统一社会信用代码 {USCC}，批次2024"


def _shows_masked(html: str) -> None:
    assert ID not in html and USCC not in html
    assert mask_identifier(ID) in html and mask_identifier(USCC) in html


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_7_2_8_the_one_pure_function_masks_numbers_in_free_text():
    text = mask_numbers_in_text(TEXT)
    assert ID not in text and USCC not in text
    assert mask_identifier(ID) in text and mask_identifier(USCC) in text
    assert "批次2024" in text  # short numbers are not identifiers
    assert mask_numbers_in_text("") == "" and mask_numbers_in_text(None) == ""


@pytest.fixture
def rejected_exemption(world):
    exemption, _card = file_for_combo(world, "U1")
    type(exemption).objects.filter(pk=exemption.pk).update(reason=TEXT)
    exemption.refresh_from_db()
    exemption_decide(
        request=exemption, actor=world["users"]["provincial_approver"], level="province", approve=False, comment=TEXT
    )
    return exemption


@pytest.fixture
def decided_change(world):
    change = change_request_submit(
        actor=world["users"]["account_manager"],
        enterprise=world["enterprise"],
        target="enterprise",
        values={
            "name": "新名称有限公司",
            "credential_type": "business_licence",
            "credential_number": idgen.uscc(),
            "credential_address": "北京市",
        },
        files=[jpeg_upload()],
        reason=TEXT,
    )
    change_request_decide(
        change_request=change, actor=world["users"]["provincial_approver"], approve=False, comment=TEXT
    )
    change.refresh_from_db()
    return change


def test_7_2_8_exemption_reason_and_decision_comment(world, rejected_exemption):
    manager, approver, ops = (world["users"][r] for r in ("account_manager", "provincial_approver", "ops"))
    pages = [
        _client(manager).get(reverse("approvals:exemption_detail", args=[rejected_exemption.public_id])),
        _client(approver).get(
            reverse("approvals_admin:approvals_exemptionrequest_change", args=[rejected_exemption.pk])
        ),
        _client(ops).get(reverse("admin:approvals_exemptionrequest_change", args=[rejected_exemption.pk])),
        _client(ops).get(reverse("admin:approvals_decision_change", args=[rejected_exemption.decisions.get().pk])),
        _api(manager).get(f"/api/v1/exemptions/{rejected_exemption.public_id}/"),
    ]
    for response in pages:
        assert response.status_code == 200, response.request["PATH_INFO"]
        _shows_masked(response.content.decode())
    listing = _client(ops).get(reverse("admin:approvals_decision_changelist")).content.decode()
    assert ID not in listing and USCC not in listing


def test_7_2_8_change_request_reason_and_rejection_comment(world, decided_change):
    manager, approver, ops = (world["users"][r] for r in ("account_manager", "provincial_approver", "ops"))
    pages = [
        _client(manager).get(reverse("approvals:change_request_detail", args=[decided_change.public_id])),
        _client(manager).get(reverse("enterprises:detail", args=[world["enterprise"].public_id])),
        _client(approver).get(reverse("approvals_admin:enterprises_changerequest_change", args=[decided_change.pk])),
        _client(ops).get(reverse("admin:enterprises_changerequest_change", args=[decided_change.pk])),
        _api(manager).get(f"/api/v1/change-requests/{decided_change.public_id}/"),
    ]
    for response in pages:
        assert response.status_code == 200, response.request["PATH_INFO"]
        _shows_masked(response.content.decode())


def test_7_2_8_review_comments(world, no_engine):  # noqa: F811
    from approvals.services import review_decide_many
    from tests.approvals import card_for

    approver = world["users"]["provincial_approver"]
    card = card_for(world["enterprise"], "U1")
    verification = put_in_review(
        factories.card_user_registration(
            actor=world["users"]["account_manager"], enterprise=world["enterprise"], cards=[card]
        )
    )
    review_decide_many(verifications=[verification], actor=approver, approve=False, comment=TEXT)
    verification.refresh_from_db()
    assert verification.review_comment == TEXT  # stored as written; masked on display
    pages = [
        _client(approver).get(reverse("approvals:review_detail", args=[verification.public_id])),
        _client(approver).get(reverse("approvals_admin:verification_verification_change", args=[verification.pk])),
        _client(world["users"]["ops"]).get(reverse("admin:verification_verification_change", args=[verification.pk])),
        _api(approver).get(f"/api/v1/reviews/{verification.public_id}/"),
    ]
    for response in pages:
        assert response.status_code == 200, response.request["PATH_INFO"]
        _shows_masked(response.content.decode())


def test_7_2_8_audit_event_data_in_the_operations_admin(world, rejected_exemption):
    ops = _client(world["users"]["ops"])
    event = AuditEvent.objects.get(action="exemption.decided")
    assert event.data["comment"] == TEXT
    for response in (
        ops.get(reverse("admin:accounts_auditevent_change", args=[event.pk])),
        ops.get(reverse("admin:accounts_auditevent_changelist")),
    ):
        assert response.status_code == 200
        html = response.content.decode()
        assert ID not in html and USCC not in html
    _shows_masked(ops.get(reverse("admin:accounts_auditevent_change", args=[event.pk])).content.decode())
