"""Personal data never reaches the logs, the emails or the error messages (DESIGN §3).

The main flows run through the API with every logger captured at DEBUG: an enterprise
registered and looked up by its credential number, a card user registered and compared
(the real task, a scripted engine), a sixth card refused by one-ID-five-cards, bad ID
numbers refused, an exemption filed and decided, and full reveals. Then no log record,
no email and no error body holds an ID or credential number, or a person's name.
"""

from __future__ import annotations

import json
import logging

import pytest
from django.core import mail
from rest_framework.test import APIClient

from tests import factories, idgen
from tests.approvals import attachments_for
from tests.images import jpeg_upload

pytestmark = pytest.mark.django_db

API = "/api/v1"


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_flows_leave_no_personal_data_in_logs_emails_or_errors(
    world, caplog, scripted_face_engine, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG)
    scripted_face_engine("pass")
    manager = world["users"]["account_manager"]
    approver = world["users"]["provincial_approver"]
    for user in (manager, approver):
        user.email = f"{user.username}@example.cn"
        user.save(update_fields=["email"])
    api = _client(manager)
    secrets_used: list[str] = []
    error_bodies: list[str] = []

    credential, responsible, person = idgen.uscc(), idgen.resident_id(), "欧阳明远"
    secrets_used += [credential, responsible, person]
    response = api.post(
        f"{API}/enterprises/",
        {
            "name": "隐私测试物联有限公司",
            "credential_type": "business_licence",
            "credential_number": credential,
            "credential_address": "北京市朝阳区建国路1号",
            "responsible_name": person,
            "responsible_id_type": "resident_id",
            "responsible_id_number": responsible,
            "responsible_id_address": "北京市朝阳区建国路2号",
            "responsible_is_legal_representative": "true",
            "credential_files": [jpeg_upload()],
            "responsible_id_files": [jpeg_upload("id.jpg")],
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    enterprise_id = response.json()["public_id"]
    assert api.post(f"{API}/enterprises/lookup/", {"credential_number": credential}, format="json").status_code == 200
    assert (
        api.post(
            f"{API}/enterprises/{enterprise_id}/reveal/", {"field": "responsible_id_number"}, format="json"
        ).status_code
        == 200
    )

    # Refused numbers: a wrong check digit, and a credential registered already.
    bad_number = responsible[:-1] + ("1" if responsible[-1] != "1" else "2")
    secrets_used.append(bad_number)
    refused = api.post(
        f"{API}/enterprises/",
        {
            "name": "另一家物联有限公司",
            "credential_type": "business_licence",
            "credential_number": credential,
            "credential_address": "北京市",
            "responsible_name": person,
            "responsible_id_type": "resident_id",
            "responsible_id_number": bad_number,
            "responsible_id_address": "北京市",
            "responsible_is_legal_representative": "true",
            "credential_files": [jpeg_upload()],
            "responsible_id_files": [jpeg_upload("id.jpg")],
        },
        format="multipart",
    )
    assert refused.status_code in (400, 409)
    error_bodies.append(refused.content.decode())

    # A card user: registered, compared by the task, bound; the sixth card is refused (U6).
    user_number, user_name = idgen.resident_id(), "司马青云"
    secrets_used += [user_number, user_name]
    enterprise = world["enterprise"]
    for _ in range(6):
        card = factories.card(enterprise=enterprise, data="non_directed")
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post(
                f"{API}/card-users/",
                {
                    "enterprise": str(enterprise.public_id),
                    "cards": [card.iccid],
                    "name": user_name,
                    "id_type": "resident_id",
                    "id_number": user_number,
                    "id_photo": jpeg_upload("id.jpg"),
                    "live_photo": jpeg_upload("live.jpg"),
                    "biometric_consent": "true",
                },
                format="multipart",
            )
        if response.status_code != 201:
            error_bodies.append(response.content.decode())
    assert any("one_id_five_cards" in body for body in error_bodies), error_bodies
    card_user_id = json.loads(api.get(f"{API}/card-users/").content)["results"][0]["public_id"]
    assert (
        api.post(f"{API}/card-users/{card_user_id}/reveal/", {"field": "id_number"}, format="json").status_code == 200
    )

    # An exemption, filed and decided: the emails go out.
    from approvals.services import exemption_decide, exemption_file

    exempt_card = factories.card(enterprise=enterprise, data="non_directed")
    with django_capture_on_commit_callbacks(execute=True):
        request = exemption_file(
            actor=manager,
            enterprise=enterprise,
            cards=[exempt_card],
            # A number typed into free text is masked in the emails too.
            reason=f"使用人 {user_number} 的设备无人值守",
            attachments=attachments_for(["province"]),
        )
        exemption_decide(request=request, actor=approver, level="province", approve=True, comment="同意")
    assert mail.outbox, "the exemption sends its notifications"

    logged = "\n".join(f"{record.name} {record.getMessage()} {record.exc_text or ''}" for record in caplog.records)
    emails = "\n".join(f"{m.subject}\n{m.body}" for m in mail.outbox)
    assert caplog.records, "nothing was logged: the capture is not working"
    for secret in secrets_used:
        assert secret not in logged, f"a log record holds {secret[:3]}…"
        assert secret not in emails, f"an email holds {secret[:3]}…"
        for body in error_bodies:
            assert secret not in body, f"an error body holds {secret[:3]}…"
