"""Exemption requests (U1, U3; never U2): filing, attachments, decisions, notifications, API and pages."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from approvals import notifications, services
from approvals.models import ExemptionAttachment, ExemptionRequest, RequestStatus
from cards.models import CardStatus
from core.api import NewestFirstPagination
from core.errors import DomainError
from tests import factories, idgen
from tests.approvals import (
    assert_refused,
    attachments_for,
    card_for,
    file_for_combo,
    file_request,
)
from tests.images import pdf_upload

pytestmark = pytest.mark.django_db


def stored_files() -> list[Path]:
    root = Path(settings.PRIVATE_MEDIA_ROOT) / "exemptions"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# --- filing -------------------------------------------------------------------


def test_filing_stores_the_request_its_forms_and_an_audit_row(world):
    manager = world["users"]["account_manager"]
    card = card_for(world["enterprise"], "U1+U3")
    request = file_request(actor=manager, enterprise=world["enterprise"], cards=[card])
    assert request.status == RequestStatus.SUBMITTED
    assert request.submitted_by == manager and request.submitted_at is not None
    forms = {a.level: a for a in request.attachments.all()}
    assert set(forms) == {"province", "group"}
    assert forms["province"].content_type == "application/pdf"
    assert forms["group"].content_type == "image/jpeg"
    # Neutral file names: no original name, no personal data.
    for attachment in forms.values():
        assert "审批单" not in attachment.file.name
        assert str(request.public_id) in attachment.file.name
    assert len(stored_files()) == 2
    event = AuditEvent.objects.get(action="exemption.submitted", object_id=str(request.pk))
    assert event.actor == manager and event.data["required_levels"] == ["province", "group"]


@pytest.mark.parametrize(
    "combo,given,field",
    [
        ("U1", [], "attachment_province"),
        ("U3", [], "attachment_group"),
        ("U1+U3", ["province"], "attachment_group"),
        ("U1+U3", ["group"], "attachment_province"),
    ],
)
def test_the_approval_form_of_every_needed_level_is_required(world, combo, given, field):
    card = card_for(world["enterprise"], combo)
    with pytest.raises(DomainError) as excinfo:
        services.exemption_file(
            actor=world["users"]["account_manager"],
            enterprise=world["enterprise"],
            cards=[card],
            reason="x",
            attachments=attachments_for(given),
        )
    assert_refused(excinfo, "attachment_required")
    assert excinfo.value.field == field
    assert ("省内审批单" if field == "attachment_province" else "集团审批单") in str(excinfo.value.message)
    assert not ExemptionRequest.objects.exists() and not stored_files()


def test_a_form_for_a_level_not_needed_is_refused(world):
    card = card_for(world["enterprise"], "U1")
    with pytest.raises(DomainError) as excinfo:
        services.exemption_file(
            actor=world["users"]["account_manager"],
            enterprise=world["enterprise"],
            cards=[card],
            reason="x",
            attachments=attachments_for(["province", "group"]),
        )
    assert_refused(excinfo, "attachment_not_needed")
    assert excinfo.value.field == "attachment_group"


def test_an_unusable_form_is_refused_and_nothing_is_stored(world):
    card = card_for(world["enterprise"], "U1+U3")
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = SimpleUploadedFile("form.gif", b"GIF89a....", content_type="image/gif")
    with pytest.raises(DomainError) as excinfo:
        services.exemption_file(
            actor=world["users"]["account_manager"],
            enterprise=world["enterprise"],
            cards=[card],
            reason="x",
            attachments={"province": [pdf_upload()], "group": [bad]},
        )
    assert_refused(excinfo, "unsupported_type")
    assert excinfo.value.field == "attachment_group"
    assert not ExemptionRequest.objects.exists() and not stored_files()


def test_a_failure_after_the_files_were_written_leaves_no_file(world, monkeypatch):
    card = card_for(world["enterprise"], "U1")

    def broken(**kwargs):
        raise RuntimeError("audit down")

    monkeypatch.setattr("approvals.services.audit_record", broken)
    with pytest.raises(RuntimeError):
        file_request(
            actor=world["users"]["account_manager"], enterprise=world["enterprise"], cards=[card], levels=["province"]
        )
    assert not ExemptionRequest.objects.exists() and not ExemptionAttachment.objects.exists()
    assert not stored_files()


def test_a_reason_and_cards_are_required(world):
    manager = world["users"]["account_manager"]
    card = card_for(world["enterprise"], "U1")
    with pytest.raises(DomainError) as excinfo:
        services.exemption_file(
            actor=manager,
            enterprise=world["enterprise"],
            cards=[card],
            reason="  ",
            attachments=attachments_for(["province"]),
        )
    assert_refused(excinfo, "required")
    assert excinfo.value.field == "reason"
    with pytest.raises(DomainError) as excinfo:
        services.exemption_file(
            actor=manager,
            enterprise=world["enterprise"],
            cards=[],
            reason="x",
            attachments=attachments_for(["province"]),
        )
    assert_refused(excinfo, "required")
    assert excinfo.value.field == "cards"


def test_cards_of_another_enterprise_are_refused(world):
    other = card_for(world["enterprise_same_province"], "U1")
    with pytest.raises(DomainError) as excinfo:
        file_request(
            actor=world["users"]["account_manager"], enterprise=world["enterprise"], cards=[other], levels=["province"]
        )
    assert_refused(excinfo, "wrong_enterprise")


def test_a_card_already_in_an_open_or_approved_request_is_refused(world):
    users = world["users"]
    request, card = file_for_combo(world, "U1")
    with pytest.raises(DomainError) as excinfo:
        file_request(actor=users["enterprise_admin"], enterprise=world["enterprise"], cards=[card], levels=["province"])
    assert_refused(excinfo, "exemption_pending")
    assert card.iccid in str(excinfo.value.message)
    services.exemption_decide(request=request, actor=users["provincial_approver"], level="province", approve=True)
    with pytest.raises(DomainError) as excinfo:
        file_request(actor=users["account_manager"], enterprise=world["enterprise"], cards=[card], levels=["province"])
    assert_refused(excinfo, "already_exempted")
    # A rejected request does not block a new one.
    rejected, card2 = file_for_combo(world, "U1")
    services.exemption_decide(
        request=rejected, actor=users["provincial_approver"], level="province", approve=False, comment="缺少盖章"
    )
    assert (
        file_request(
            actor=users["account_manager"], enterprise=world["enterprise"], cards=[card2], levels=["province"]
        ).status
        == RequestStatus.SUBMITTED
    )


def test_a_card_whose_user_is_already_registered_has_nothing_to_exempt(world, no_engine):
    card = card_for(world["enterprise"], "U1")
    factories.verified_card_user(actor=world["users"]["account_manager"], enterprise=world["enterprise"], cards=[card])
    with pytest.raises(DomainError) as excinfo:
        file_request(
            actor=world["users"]["account_manager"], enterprise=world["enterprise"], cards=[card], levels=["province"]
        )
    assert_refused(excinfo, "realname_complete")


# --- deciding ---------------------------------------------------------------------


def test_both_levels_approve_in_either_order(world):
    users = world["users"]
    request, card = file_for_combo(world, "U1+U3")
    assert (
        services.exemption_decide(request=request, actor=users["group_approver"], level="group", approve=True).status
        == RequestStatus.SUBMITTED
    )
    assert (
        services.exemption_decide(
            request=request, actor=users["provincial_approver"], level="province", approve=True, comment="同意"
        ).status
        == RequestStatus.APPROVED
    )
    assert [d.level for d in request.decisions.order_by("decided_at", "pk")] == ["group", "province"]
    card.refresh_from_db()
    assert card.status == CardStatus.IN_STOCK  # an exemption covers the card; activating it is an order (H2)
    factories.activate(card, actor=users["enterprise_admin"])
    card.refresh_from_db()
    assert card.status == CardStatus.ACTIVE
    actions = list(
        AuditEvent.objects.filter(object_id=str(request.pk), action="exemption.decided").values_list(
            "data__status", flat=True
        )
    )
    assert sorted(actions) == ["approved", "submitted"]


def test_an_unknown_level_is_refused(world):
    request, _card = file_for_combo(world, "U1")
    with pytest.raises(DomainError) as excinfo:
        services.exemption_decide(
            request=request, actor=world["users"]["provincial_approver"], level="city", approve=True
        )
    assert_refused(excinfo, "invalid_level")


def test_bulk_decisions_report_each_refusal(world):
    users = world["users"]
    ok1, _ = file_for_combo(world, "U1")
    ok2, _ = file_for_combo(world, "U1+U3")
    group_only, _ = file_for_combo(world, "U3")
    result = services.exemption_decide_many(
        requests=[ok1, ok2, group_only], actor=users["provincial_approver"], approve=True, comment="批量同意"
    )
    assert [r.pk for r in result.decided] == [ok1.pk, ok2.pk]
    assert [(item.pk, exc.code) for item, exc in result.errors] == [(group_only.pk, "level_not_required")]
    ok1.refresh_from_db()
    assert ok1.status == RequestStatus.APPROVED
    rejected = services.exemption_decide_many(requests=[ok2], actor=users["group_approver"], approve=False, comment="")
    assert rejected.errors[0][1].code == "comment_required"


# --- notifications ------------------------------------------------------------------


@pytest.fixture
def emails(world):
    users = world["users"]
    for role in (
        "provincial_approver",
        "provincial_approver_other_province",
        "group_approver",
        "account_manager",
        "enterprise_admin",
    ):
        users[role].email = f"{role}@example.cn"
        users[role].save(update_fields=["email"])
    return users


@pytest.mark.parametrize(
    "combo,recipients",
    [
        ("U1", ["provincial_approver@example.cn"]),
        ("U3", ["group_approver@example.cn"]),
        ("U1+U3", ["group_approver@example.cn", "provincial_approver@example.cn"]),
    ],
)
def test_approvers_of_the_needed_levels_are_emailed_after_commit(
    world, emails, combo, recipients, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        request, _card = file_for_combo(world, combo)
    assert sorted(address for message in mail.outbox for address in message.to) == recipients
    for message in mail.outbox:
        assert str(request.public_id)[:8].upper() in message.subject
        assert world["enterprise"].name in message.body


def test_nothing_is_sent_for_a_refused_filing(world, emails, django_capture_on_commit_callbacks):
    card = card_for(world["enterprise"], "U2")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(DomainError):
        file_request(actor=world["users"]["account_manager"], enterprise=world["enterprise"], cards=[card])
    assert mail.outbox == []


def test_the_requester_is_told_the_decision_without_personal_data(world, emails, django_capture_on_commit_callbacks):
    users = world["users"]
    request, _card = file_for_combo(world, "U1")
    id_number = idgen.resident_id()
    responsible_number = world["enterprise"].responsible_person.id_number
    with django_capture_on_commit_callbacks(execute=True):
        services.exemption_decide(
            request=request,
            actor=users["provincial_approver"],
            level="province",
            approve=False,
            comment=f"使用人身份证{id_number}与审批单不符",
        )
    assert [m.to for m in mail.outbox] == [["account_manager@example.cn"]]
    message = mail.outbox[0]
    assert "rejected" in message.subject.lower() or "驳回" in message.subject or "拒绝" in message.subject
    assert id_number not in message.body and id_number not in message.subject
    assert id_number[:6] in message.body  # shown masked
    assert responsible_number not in message.body
    assert world["enterprise"].credential_number not in message.body


def test_an_intermediate_approval_sends_nothing_to_the_requester(world, emails, django_capture_on_commit_callbacks):
    request, _card = file_for_combo(world, "U1+U3")
    with django_capture_on_commit_callbacks(execute=True):
        services.exemption_decide(
            request=request, actor=world["users"]["provincial_approver"], level="province", approve=True
        )
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        services.exemption_decide(request=request, actor=world["users"]["group_approver"], level="group", approve=True)
    assert [m.to for m in mail.outbox] == [["account_manager@example.cn"]]


def test_scrub_masks_numbers_in_free_text():
    number = idgen.resident_id()
    uscc = idgen.uscc()
    text = notifications.scrub(f"身份证{number}，信用代码 {uscc}，卡号不涉及，批次2024")
    assert number not in text and uscc not in text
    assert "批次2024" in text


def test_a_mail_outage_does_not_undo_the_decision(world, emails, monkeypatch, django_capture_on_commit_callbacks):
    class Broken:
        def send_messages(self, messages):
            raise OSError("smtp down")

    monkeypatch.setattr("approvals.notifications.get_connection", lambda: Broken())
    request, _card = file_for_combo(world, "U1")
    with django_capture_on_commit_callbacks(execute=True):
        decided = services.exemption_decide(
            request=request, actor=world["users"]["provincial_approver"], level="province", approve=True
        )
    assert decided.status == RequestStatus.APPROVED


# --- API ------------------------------------------------------------------------------


def api(user):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def test_api_files_and_decides_a_request(world):
    users = world["users"]
    card = card_for(world["enterprise"], "U1")
    response = api(users["account_manager"]).post(
        reverse("api:exemption-list"),
        {
            "enterprise": str(world["enterprise"].public_id),
            "cards": [card.iccid],
            "reason": "无人值守",
            "attachment_province": [pdf_upload()],
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "submitted" and body["required_levels"] == ["province"]
    assert body["cards"] == [{"iccid": card.iccid, "status": card.status, "rules": ["U1"], "exemption": "province"}]
    assert body["you_may_withdraw"] is True
    assert response["Cache-Control"] == "no-store, private"
    public_id = body["public_id"]

    queue = api(users["provincial_approver"]).get(reverse("api:exemption-list") + "?queue=1").json()
    assert [r["public_id"] for r in queue["results"]] == [public_id]
    assert queue["results"][0]["levels_you_may_decide"] == ["province"]
    assert (
        api(users["provincial_approver_other_province"])
        .get(reverse("api:exemption-detail", args=[public_id]))
        .status_code
        == 404
    )

    refused = api(users["provincial_approver"]).post(
        reverse("api:exemption-decide", args=[public_id]), {"approve": False, "comment": ""}, format="json"
    )
    assert refused.status_code == 400 and refused.json()["code"] == "comment_required"
    other = api(users["provincial_approver_other_province"]).post(
        reverse("api:exemption-decide", args=[public_id]), {"approve": True}, format="json"
    )
    assert other.status_code == 404
    ok = api(users["provincial_approver"]).post(
        reverse("api:exemption-decide", args=[public_id]), {"approve": True, "comment": "同意"}, format="json"
    )
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    assert ok.json()["decisions"][0]["decided_by"] == users["provincial_approver"].username
    again = api(users["provincial_approver"]).post(
        reverse("api:exemption-decide", args=[public_id]), {"approve": True}, format="json"
    )
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition" and again.json()["detail"]


def test_api_refuses_u2_with_a_clear_message(world):
    card = card_for(world["enterprise"], "U2")
    response = api(world["users"]["enterprise_admin"]).post(
        reverse("api:exemption-list"),
        {"enterprise": str(world["enterprise"].public_id), "cards": [card.iccid], "reason": "x"},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "exemption_impossible"
    assert card.iccid in response.json()["detail"] and response.json()["field"] == "cards"


@pytest.mark.parametrize(
    "role,status_code",
    [
        ("anonymous", 401),
        ("account_manager_other_province", 404),
        ("enterprise_admin_other_enterprise", 404),
        ("provincial_approver", 403),
        ("group_approver", 403),
        ("ops", 403),
    ],
)
def test_api_filing_refusals(world, role, status_code):
    card = card_for(world["enterprise"], "U1")
    response = api(world["users"][role]).post(
        reverse("api:exemption-list"),
        {
            "enterprise": str(world["enterprise"].public_id),
            "cards": [card.iccid],
            "reason": "x",
            "attachment_province": [pdf_upload()],
        },
        format="multipart",
    )
    assert response.status_code == status_code
    assert not ExemptionRequest.objects.exists()


def test_api_bad_input_is_a_clear_400(world):
    client = api(world["users"]["account_manager"])
    url = reverse("api:exemption-list")
    assert client.post(url, {"enterprise": "nope", "cards": ["1"]}, format="json").status_code == 400
    response = client.post(
        url,
        {"enterprise": str(world["enterprise"].public_id), "cards": ["89860000000000000000"], "reason": "x"},
        format="json",
    )
    assert response.status_code == 400 and response.json()["code"] == "unknown_card"
    assert client.get(reverse("api:exemption-detail", args=["not-a-uuid"])).status_code == 404
    assert client.get(url + "?status=bogus").status_code == 400


def test_api_withdraw(world):
    request, _card = file_for_combo(world, "U1")
    url = reverse("api:exemption-withdraw", args=[request.public_id])
    refused = api(world["users"]["enterprise_admin"]).post(url)
    assert refused.status_code == 403 and refused.json()["code"] == "not_submitter"
    assert api(world["users"]["account_manager"]).post(url).json()["status"] == "withdrawn"


# --- pages ------------------------------------------------------------------------------


def login(client, user):
    client.force_login(user)
    return client


def test_the_filing_page_shows_each_cards_decision_and_files(client, world):
    users = world["users"]
    u1 = card_for(world["enterprise"], "U1")
    u2 = card_for(world["enterprise"], "U2")
    login(client, users["account_manager"])
    url = reverse("approvals:exemption_new") + f"?enterprise={world['enterprise'].public_id}"
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert u1.iccid in html and u2.iccid in html
    assert "U2" in html

    refused = client.post(url, {"cards": [u2.iccid], "reason": "x"})
    assert refused.status_code == 200
    assert "U2" in refused.content.decode() and not ExemptionRequest.objects.exists()

    done = client.post(url, {"cards": [u1.iccid], "reason": "无人值守", "attachment_province": [pdf_upload()]})
    assert done.status_code == 302
    request = ExemptionRequest.objects.get()
    assert done["Location"] == reverse("approvals:exemption_detail", args=[request.public_id])
    mine = client.get(reverse("approvals:my_requests"))
    assert world["enterprise"].name in mine.content.decode()


def test_the_detail_page_decides_and_withdraws(client, world):
    users = world["users"]
    request, card = file_for_combo(world, "U1")
    detail = reverse("approvals:exemption_detail", args=[request.public_id])
    login(client, users["provincial_approver_other_province"])
    assert client.get(detail).status_code == 404
    login(client, users["provincial_approver"])
    page = client.get(detail)
    assert page.status_code == 200 and 'value="approve"' in page.content.decode()
    client.post(reverse("approvals:exemption_decide", args=[request.public_id]), {"decision": "reject", "comment": ""})
    request.refresh_from_db()
    assert request.status == RequestStatus.SUBMITTED
    client.post(
        reverse("approvals:exemption_decide", args=[request.public_id]),
        {"decision": "approve", "comment": "同意", "level": "province"},
    )
    request.refresh_from_db()
    assert request.status == RequestStatus.APPROVED

    other, _ = file_for_combo(world, "U3")
    login(client, users["account_manager"])
    client.post(reverse("approvals:exemption_withdraw", args=[other.public_id]))
    other.refresh_from_db()
    assert other.status == RequestStatus.WITHDRAWN


def test_approval_forms_are_served_only_to_those_who_may_open_them(client, world):
    users = world["users"]
    request, _card = file_for_combo(world, "U1+U3")
    group_form = request.attachments.get(level="group")
    url = reverse("approvals:attachment", args=[request.public_id, group_form.pk])
    for role in ("provincial_approver", "group_approver", "account_manager", "enterprise_admin"):
        response = login(client, users[role]).get(url + "?inline=1")
        assert response.status_code == 200, role
        assert response["Cache-Control"] == "no-store, private"
        assert response["Content-Type"] == "image/jpeg"
        assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
    assert login(client, users["ops"]).get(url).status_code == 403
    for role in (
        "provincial_approver_other_province",
        "account_manager_other_province",
        "enterprise_admin_other_enterprise",
    ):
        assert login(client, users[role]).get(url).status_code == 404, role
    client.logout()
    assert client.get(url).status_code == 302


# PAGES[role]: status of (approver queue, my requests, review queue, filing page) for each role.
PAGES = {
    "account_manager": (403, 200, 403, 200),
    "account_manager_other_province": (403, 200, 403, 200),
    "enterprise_admin": (403, 200, 403, 200),
    "enterprise_admin_other_enterprise": (403, 200, 403, 200),
    "provincial_approver": (200, 200, 200, 403),
    "provincial_approver_other_province": (200, 200, 200, 403),
    "group_approver": (200, 200, 403, 403),
    "ops": (403, 200, 403, 403),
}


@pytest.mark.parametrize("role", list(PAGES))
def test_every_role_gets_a_page_or_a_clear_refusal(client, world, role):
    file_for_combo(world, "U1+U3")
    login(client, world["users"][role])
    urls = [
        reverse("approvals:queue"),
        reverse("approvals:my_requests"),
        reverse("approvals:review_queue"),
        reverse("approvals:exemption_new"),
    ]
    assert tuple(client.get(url).status_code for url in urls) == PAGES[role]
    assert client.get(reverse("home")).status_code == 200  # the menu with the approvals entries renders


def test_anonymous_users_are_sent_to_log_in(client):
    for name in ("approvals:queue", "approvals:my_requests", "approvals:review_queue", "approvals:exemption_new"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_approvers_deciding_the_same_level_at_once_give_one_decision(world):
    """Real concurrent connections: the row lock lets one decide; the other is told it is already decided."""
    import threading

    from django.db import connection

    request, _card = file_for_combo(world, "U1")
    approvers = [
        world["users"]["provincial_approver"],
        factories.user(role="provincial_approver", province=world["enterprise"].province),
    ]
    barrier = threading.Barrier(len(approvers))
    outcomes: list[str] = []

    def decide(actor, approve):
        try:
            barrier.wait(timeout=10)
            services.exemption_decide(request=request, actor=actor, level="province", approve=approve, comment="并发")
            outcomes.append("decided")
        except DomainError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(a, i == 0)) for i, a in enumerate(approvers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) in (["already_decided", "decided"], ["decided", "invalid_transition"])
    request.refresh_from_db()
    assert request.decisions.count() == 1
    assert request.status in (RequestStatus.APPROVED, RequestStatus.REJECTED)


@pytest.mark.zh
def test_issue11_levels_are_listed_with_the_chinese_separator(client, world):
    from core.text import join_words

    request, _card = file_for_combo(world, "U1+U3")
    login(client, world["users"]["account_manager"])
    page = client.get(reverse("approvals:exemption_detail", args=[request.public_id])).content.decode()
    assert "省公司、集团" in page and "省公司, 集团" not in page
    assert join_words(["省公司", "集团"]) == "省公司、集团"


def test_the_exemption_list_api_makes_as_many_queries_for_many_requests_as_for_one(world):
    """Issue 12 §2 (the scale benchmark): each row's cards and attachments come with the page, not a query a row."""
    manager = world["users"]["account_manager"]
    api = APIClient()
    api.force_authenticate(manager)

    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = api.get("/api/v1/exemptions/")
        assert response.status_code == 200
        return len(queries)

    factories.exemption(
        enterprise=world["enterprise"],
        cards=[card_for(world["enterprise"], "U1")],
        levels=["province"],
        submitted_by=manager,
    )
    one = queries_for_list()
    for combo in ("U1", "U3", "U1+U3"):
        factories.exemption(
            enterprise=world["enterprise"],
            cards=[card_for(world["enterprise"], combo), card_for(world["enterprise"], "U1")],
            levels=["province"],
            submitted_by=manager,
        )
    assert len(api.get("/api/v1/exemptions/").json()["results"]) == 4
    assert queries_for_list() == one


def test_the_exemption_list_api_pages_by_cursor_newest_first(world, monkeypatch):
    """Issue 12 §1.4: keyset pages, with no count of every request in scope on each page."""
    monkeypatch.setattr(NewestFirstPagination, "page_size", 2)
    manager = world["users"]["account_manager"]
    api = APIClient()
    api.force_authenticate(manager)
    filed = [
        factories.exemption(
            enterprise=world["enterprise"],
            cards=[card_for(world["enterprise"], "U1")],
            levels=["province"],
            submitted_by=manager,
        )
        for _ in range(3)
    ]
    first = api.get("/api/v1/exemptions/").json()
    assert "count" not in first and first["previous"] is None
    second = api.get(first["next"]).json()
    assert second["next"] is None
    shown = [row["public_id"] for row in first["results"] + second["results"]]
    assert shown == [str(request.public_id) for request in reversed(filed)]


def test_the_filing_page_makes_as_many_queries_for_many_cards_as_for_one(world, client):
    """Issue 12 §2 (the scale benchmark): each candidate card's package and binding come with the cards."""
    manager = world["users"]["account_manager"]
    client.force_login(manager)
    url = reverse("approvals:exemption_new") + f"?enterprise={world['enterprise'].public_id}"

    def queries_for_page() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        return len(queries)

    first = card_for(world["enterprise"], "U1")
    one = queries_for_page()
    others = [card_for(world["enterprise"], combo) for combo in ("U1", "U3", "U1+U3")]
    factories.verified_card_user(actor=manager, enterprise=world["enterprise"], cards=[others[0]])
    response = client.get(url)
    page = response.content.decode()
    for card in (first, *others):
        assert card.iccid in page
    # The bound card's live binding is found with the page's cards: nothing to exempt, its box is disabled.
    assert f'id="card-{others[0].pk}" disabled>' in page
    assert f'id="card-{first.pk}">' in page
    assert queries_for_page() == one


@pytest.mark.postgres
def test_the_planner_estimates_the_approval_level_filter_from_its_statistics(world):
    """approvals migration 0008: statistics of the JSON lists' first items. Without them PostgreSQL guessed
    each `required_levels -> n` comparison at half a per cent of the rows (4 of 400 here, 50 of 5,020 in
    the 10M world's), and planned the approvers' queue as nested loops over a row or two."""
    import json

    from approvals.selectors import json_list_has

    request, _card = file_for_combo(world, "U1")
    ExemptionRequest.objects.bulk_create(
        ExemptionRequest(
            enterprise=request.enterprise,
            submitted_by=request.submitted_by,
            required_levels=request.required_levels,
            rules=request.rules,
            reason=request.reason,
            status=request.status,
            submitted_at=request.submitted_at,
        )
        for _ in range(399)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE approvals_exemptionrequest")
    assert request.required_levels == ["province"]
    for condition in (json_list_has("required_levels", "province"), json_list_has("rules", "U1")):
        plan = json.loads(ExemptionRequest.objects.filter(condition).explain(format="json"))
        assert plan[0]["Plan"]["Plan Rows"] >= 300, plan
