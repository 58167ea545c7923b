"""Role-based admin views: the approval desk (/approvals/admin/) and the masked operations admin."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from approvals.models import RequestStatus
from enterprises.models import ChangeRequestStatus
from enterprises.services import change_request_submit
from tests import factories, idgen
from tests.approvals import attachments_for, card_for, file_for_combo, put_in_review
from tests.images import jpeg_upload
from verification.models import Verification, VerificationStatus

pytestmark = pytest.mark.django_db

DESK = "approvals_admin"
EXEMPTIONS = f"{DESK}:approvals_exemptionrequest_changelist"
CHANGES = f"{DESK}:enterprises_changerequest_changelist"
REVIEWS = f"{DESK}:verification_verification_changelist"


def exemption_change_url(request):
    return reverse(f"{DESK}:approvals_exemptionrequest_change", args=[request.pk])


@pytest.fixture
def requests_(world):
    """A U1, a U3 and a U1+U3 request in Beijing, and a U1+U3 request in Guangdong."""
    from approvals.services import exemption_file

    u1, _ = file_for_combo(world, "U1")
    u3, _ = file_for_combo(world, "U3")
    both, _ = file_for_combo(world, "U1+U3")
    gd_card = card_for(world["enterprise_other"], "U1+U3")
    gd = exemption_file(
        actor=world["users"]["account_manager_other_province"],
        enterprise=world["enterprise_other"],
        cards=[gd_card],
        reason="广东",
        attachments=attachments_for(["province", "group"]),
    )
    return {"u1": u1, "u3": u3, "both": both, "gd": gd}


def listed(response) -> set[int]:
    return {obj.pk for obj in response.context["cl"].result_list}


# --- who gets in ------------------------------------------------------------------


@pytest.mark.parametrize(
    "role,expected",
    [
        ("provincial_approver", 200),
        ("provincial_approver_other_province", 200),
        ("group_approver", 200),
        ("account_manager", 403),
        ("enterprise_admin", 403),
        ("ops", 403),
    ],
)
def test_only_approvers_enter_the_desk(client, world, role, expected):
    client.force_login(world["users"][role])
    response = client.get(reverse(f"{DESK}:index"), follow=True)
    assert response.status_code == expected


def test_anonymous_users_are_sent_to_the_portal_login(client):
    response = client.get(reverse(f"{DESK}:index"), follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("login"))


def test_approvers_never_enter_the_operations_admin(client, world):
    client.force_login(world["users"]["provincial_approver"])
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and "login" in response["Location"]


# --- scope -----------------------------------------------------------------------


def test_each_approver_sees_only_their_scope(client, world, requests_):
    r = requests_
    client.force_login(world["users"]["provincial_approver"])
    page = client.get(reverse(EXEMPTIONS))
    assert listed(page) == {r["u1"].pk, r["both"].pk}
    assert world["enterprise_other"].name not in page.content.decode()  # not even in the enterprise filter
    assert client.get(exemption_change_url(r["gd"])).status_code == 404
    assert client.get(exemption_change_url(r["u3"])).status_code == 404

    client.force_login(world["users"]["provincial_approver_other_province"])
    assert listed(client.get(reverse(EXEMPTIONS))) == {r["gd"].pk}

    client.force_login(world["users"]["group_approver"])
    assert listed(client.get(reverse(EXEMPTIONS))) == {r["u3"].pk, r["both"].pk, r["gd"].pk}


@pytest.mark.parametrize(
    "query,expected",
    [
        ("level=province", {"u1", "both", "gd"}),
        ("level=group", {"u3", "both", "gd"}),
        ("rule=U1", {"u1", "both", "gd"}),
        ("rule=U3", {"u3", "both", "gd"}),
        ("status=submitted", {"u1", "u3", "both", "gd"}),
        ("status=approved", set()),
    ],
)
def test_filters(client, world, requests_, query, expected):
    # The group approver's desk holds the group-level requests, the Beijing approver's the Beijing provincial ones.
    client.force_login(world["users"]["group_approver"])
    got = listed(client.get(reverse(EXEMPTIONS) + "?" + query))
    names = {name for name, obj in requests_.items() if obj.pk in got}
    assert names == expected & {"u3", "both", "gd"}
    client.force_login(world["users"]["provincial_approver"])
    got = listed(client.get(reverse(EXEMPTIONS) + "?" + query))
    names = {name for name, obj in requests_.items() if obj.pk in got}
    assert names == expected & {"u1", "both"}


def test_the_enterprise_and_awaiting_filters(client, world, requests_):
    client.force_login(world["users"]["group_approver"])
    got = listed(client.get(reverse(EXEMPTIONS) + f"?enterprise={world['enterprise_other'].public_id}"))
    assert got == {requests_["gd"].pk}
    from approvals.services import exemption_decide

    exemption_decide(request=requests_["both"], actor=world["users"]["group_approver"], level="group", approve=True)
    got = listed(client.get(reverse(EXEMPTIONS) + "?awaiting=yes"))
    assert got == {requests_["u3"].pk, requests_["gd"].pk}


# --- deciding on the desk ------------------------------------------------------------


def test_the_decision_page_shows_the_forms_and_decides(client, world, requests_):
    request = requests_["both"]
    client.force_login(world["users"]["provincial_approver"])
    url = exemption_change_url(request)
    page = client.get(url)
    html = page.content.decode()
    assert page.status_code == 200
    for attachment in request.attachments.all():
        assert reverse("approvals:attachment", args=[request.public_id, attachment.pk]) in html
    # A link, not an inline image: a thumbnail would spend the reveal budget on every page view (issue 7 §2.2).
    assert "<img" not in html
    assert 'value="approve"' in html and 'value="reject"' in html

    refused = client.post(url, {"decision": "reject", "comment": ""})
    assert refused.status_code == 400
    request.refresh_from_db()
    assert request.status == RequestStatus.SUBMITTED and not request.decisions.exists()

    done = client.post(url, {"decision": "approve", "comment": "同意"})
    assert done.status_code == 302 and done["Location"] == reverse(EXEMPTIONS)
    decision = request.decisions.get()
    assert (decision.level, decision.approved, decision.decided_by) == (
        "province",
        True,
        world["users"]["provincial_approver"],
    )
    again = client.post(url, {"decision": "approve", "comment": "再次"})
    assert again.status_code == 400 and "already been decided" in again.content.decode()


def test_bulk_reject_asks_for_a_comment_first(client, world, requests_):
    client.force_login(world["users"]["provincial_approver"])
    ids = [str(requests_["u1"].pk), str(requests_["both"].pk)]
    intermediate = client.post(reverse(EXEMPTIONS), {"action": "reject_selected", ACTION_CHECKBOX_NAME: ids})
    assert intermediate.status_code == 200
    assert 'name="comment"' in intermediate.content.decode()
    for request in (requests_["u1"], requests_["both"]):
        request.refresh_from_db()
        assert request.status == RequestStatus.SUBMITTED

    missing = client.post(
        reverse(EXEMPTIONS), {"action": "reject_selected", ACTION_CHECKBOX_NAME: ids, "apply": "yes", "comment": ""}
    )
    assert missing.status_code == 200  # shown again with the error
    done = client.post(
        reverse(EXEMPTIONS),
        {"action": "reject_selected", ACTION_CHECKBOX_NAME: ids, "apply": "yes", "comment": "审批单不合格"},
    )
    assert done.status_code == 302
    for request in (requests_["u1"], requests_["both"]):
        request.refresh_from_db()
        assert request.status == RequestStatus.REJECTED
        assert request.decisions.get().comment == "审批单不合格"


def test_bulk_approve_reports_what_it_could_not_decide(client, world, requests_):
    from approvals.services import exemption_decide

    exemption_decide(
        request=requests_["u1"], actor=world["users"]["provincial_approver"], level="province", approve=True
    )
    client.force_login(world["users"]["provincial_approver"])
    ids = [str(requests_["u1"].pk), str(requests_["both"].pk)]
    response = client.post(
        reverse(EXEMPTIONS),
        {"action": "approve_selected", ACTION_CHECKBOX_NAME: ids, "apply": "yes", "comment": ""},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert any("1" in m for m in messages)
    assert any(str(requests_["u1"].public_id)[:8].upper() in m for m in messages)
    requests_["both"].refresh_from_db()
    assert requests_["both"].decisions.get().level == "province"


def test_change_requests_on_the_desk(client, world):
    change = change_request_submit(
        actor=world["users"]["account_manager"],
        enterprise=world["enterprise"],
        target="enterprise",
        values={
            "name": "新名称",
            "credential_type": "business_licence",
            "credential_number": idgen.uscc(),
            "credential_address": "北京市",
        },
        files=[jpeg_upload()],
        reason="更名",
    )
    url = reverse(f"{DESK}:enterprises_changerequest_change", args=[change.pk])
    client.force_login(world["users"]["group_approver"])
    assert client.get(reverse(CHANGES)).status_code == 403
    client.force_login(world["users"]["provincial_approver_other_province"])
    assert listed(client.get(reverse(CHANGES))) == set()
    assert client.get(url).status_code == 404
    client.force_login(world["users"]["provincial_approver"])
    assert listed(client.get(reverse(CHANGES))) == {change.pk}
    page = client.get(url)
    assert page.status_code == 200
    assert change.proposed_values["credential_number"] not in page.content.decode()
    assert client.post(url, {"decision": "approve", "comment": "同意"}).status_code == 302
    change.refresh_from_db()
    assert change.status == ChangeRequestStatus.APPROVED and change.applied_at is not None


def test_reviews_on_the_desk_show_both_photos(client, world, no_engine):
    card = card_for(world["enterprise"], "U1")
    verification = put_in_review(
        factories.card_user_registration(
            actor=world["users"]["account_manager"], enterprise=world["enterprise"], cards=[card]
        )
    )
    url = reverse(f"{DESK}:verification_verification_change", args=[verification.pk])
    client.force_login(world["users"]["group_approver"])
    assert client.get(reverse(REVIEWS)).status_code == 403
    client.force_login(world["users"]["provincial_approver_other_province"])
    assert client.get(url).status_code == 404
    client.force_login(world["users"]["provincial_approver"])
    assert listed(client.get(reverse(REVIEWS))) == {verification.pk}
    html = client.get(url).content.decode()
    assert reverse("approvals:verification_photo", args=[verification.public_id, "id"]) in html
    assert reverse("approvals:verification_photo", args=[verification.public_id, "live"]) in html
    assert verification.card_user.name not in html
    assert client.post(url, {"decision": "approve", "comment": ""}).status_code == 302
    verification.refresh_from_db()
    assert verification.status == VerificationStatus.APPROVED
    assert card.bindings.filter(ended_at__isnull=True).exists()


# --- the operations admin: read-only and masked -------------------------------------------


def test_ops_see_requests_and_verifications_read_only_and_masked(client, world, requests_, no_engine):
    card = card_for(world["enterprise"], "U1")
    id_number = idgen.resident_id()
    verification = put_in_review(
        factories.card_user_registration(
            actor=world["users"]["account_manager"],
            enterprise=world["enterprise"],
            cards=[card],
            id_number=id_number,
            name="钱七",
        )
    )
    ops = world["users"]["ops"]
    client.force_login(ops)
    listing = client.get(reverse("admin:approvals_exemptionrequest_changelist"))
    assert listing.status_code == 200 and len(listing.context["cl"].result_list) == 4
    detail_url = reverse("admin:approvals_exemptionrequest_change", args=[requests_["u1"].pk])
    detail = client.get(detail_url)
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()  # read-only
    assert client.post(detail_url, {"status": "approved"}).status_code == 403
    requests_["u1"].refresh_from_db()
    assert requests_["u1"].status == RequestStatus.SUBMITTED
    assert client.get(reverse("admin:approvals_exemptionrequest_add")).status_code == 403

    v_list = client.get(reverse("admin:verification_verification_changelist"))
    v_detail = client.get(reverse("admin:verification_verification_change", args=[verification.pk]))
    for response in (v_list, v_detail):
        html = response.content.decode()
        assert response.status_code == 200
        assert "钱七" not in html and id_number not in html
        assert "/photos/" not in html  # no photo link for ops
    assert client.get(reverse("admin:approvals_decision_changelist")).status_code == 200


def test_non_ops_staff_do_not_see_the_approvals_in_the_operations_admin(client, world, requests_):
    staff_manager = factories.user(role="account_manager", province=world["enterprise"].province, is_staff=True)
    client.force_login(staff_manager)
    assert client.get(reverse("admin:approvals_exemptionrequest_changelist")).status_code == 403
    assert client.get(reverse("admin:verification_verification_changelist")).status_code == 403


def test_the_enterprise_filter_lists_the_enterprises_the_desk_holds(client, world, requests_):
    def choices(url):
        filters = client.get(url).context["cl"].filter_specs
        specs = [s for s in filters if getattr(s, "parameter_name", "") == "enterprise"]
        return {name for spec in specs for _key, name in spec.lookup_choices}

    client.force_login(world["users"]["provincial_approver"])
    assert choices(reverse(EXEMPTIONS)) == {world["enterprise"].name}
    client.force_login(world["users"]["group_approver"])
    assert choices(reverse(EXEMPTIONS)) == {world["enterprise"].name, world["enterprise_other"].name}
    # Nothing on the change-request desk yet: no enterprise to filter by (Django then leaves the filter out).
    client.force_login(world["users"]["provincial_approver"])
    assert choices(reverse(CHANGES)) == set()


def test_the_review_desk_pages_by_keyset_oldest_first(client, world, no_engine):
    from approvals.admin import ReviewDeskAdmin
    from core.keyset import Keyset

    assert ReviewDeskAdmin.ordering == ("created_at", "pk")
    assert Keyset("desk", ReviewDeskAdmin.ordering).fits(Verification)
    client.force_login(world["users"]["provincial_approver"])
    cl = client.get(reverse(REVIEWS)).context["cl"]
    assert cl.keyset_page is not None and cl.list_count.exact
