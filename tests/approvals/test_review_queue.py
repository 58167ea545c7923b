"""Manual review of borderline and failed face comparisons (issue 4 §3; H3, U5).

The reviewers are the provincial approvers of the enterprise's province. The
engine's result is fed in with verification.services.verification_record_result
(the allowed test double); the task queueing is switched off.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import PiiAccessLog
from approvals import selectors
from cards.models import CardStatus
from core.errors import DomainError
from tests import factories
from tests.approvals import ROLES, assert_refused, card_for, put_in_review
from verification.models import Verification, VerificationStatus
from verification.services import verification_record_result, verification_review

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_engine")]


def card_user_in_review(world, *, enterprise=None, actor=None, distance=0.55):
    enterprise = enterprise or world["enterprise"]
    actor = actor or (
        world["users"]["account_manager"]
        if enterprise.province_id == world["enterprise"].province_id
        else world["users"]["account_manager_other_province"]
    )
    card = card_for(enterprise, "U1")
    verification = factories.card_user_registration(actor=actor, enterprise=enterprise, cards=[card])
    return put_in_review(verification, distance=distance), card


def test_only_in_review_comparisons_of_the_province_are_queued(world):
    users = world["users"]
    in_review, _ = card_user_in_review(world)
    same_province, _ = card_user_in_review(world, enterprise=world["enterprise_same_province"])
    other_province, _ = card_user_in_review(world, enterprise=world["enterprise_other"])
    failed, _ = card_user_in_review(world)
    pending = factories.card_user_registration(
        actor=users["account_manager"], enterprise=world["enterprise"], cards=[card_for(world["enterprise"], "U1")]
    )
    passed = factories.card_user_registration(
        actor=users["account_manager"], enterprise=world["enterprise"], cards=[card_for(world["enterprise"], "U1")]
    )
    verification_record_result(verification=passed, outcome="pass", distance=0.3)
    unusable = factories.card_user_registration(
        actor=users["account_manager"], enterprise=world["enterprise"], cards=[card_for(world["enterprise"], "U1")]
    )
    verification_record_result(verification=unusable, outcome="rejected", reasons=[{"code": "no_face"}])

    assert set(selectors.review_queue(users["provincial_approver"])) == {in_review, same_province, failed}
    assert set(selectors.review_queue(users["provincial_approver_other_province"])) == {other_province}
    for role in ROLES:
        if role not in ("provincial_approver", "provincial_approver_other_province"):
            assert not selectors.review_queue(users[role]).exists(), role
    assert pending not in selectors.review_queue(users["provincial_approver"])


def activation(card, actor) -> str:
    """A new-installation order for the card (H2): what it did to the card."""
    return factories.order_line(factories.activate(card, actor=actor), card).outcome


def test_approval_binds_the_card_user_and_the_card_activates(world):
    users = world["users"]
    verification, card = card_user_in_review(world)
    assert activation(card, users["account_manager"]) == "awaiting_realname"
    reviewed = verification_review(
        verification=verification, actor=users["provincial_approver"], approve=True, comment="人工核对一致"
    )
    assert reviewed.status == VerificationStatus.APPROVED
    assert (reviewed.reviewed_by, reviewed.review_comment) == (users["provincial_approver"], "人工核对一致")
    assert card.bindings.filter(ended_at__isnull=True, card_user=verification.card_user).exists()
    # The card that waited activates under its new-installation order (H2, U5).
    card.refresh_from_db()
    assert card.status == CardStatus.ACTIVE


def test_rejection_needs_a_comment_and_keeps_the_card_closed(world):
    users = world["users"]
    verification, card = card_user_in_review(world)
    with pytest.raises(DomainError) as excinfo:
        verification_review(verification=verification, actor=users["provincial_approver"], approve=False, comment="")
    assert_refused(excinfo, "comment_required")
    reviewed = verification_review(
        verification=verification, actor=users["provincial_approver"], approve=False, comment="非同一人"
    )
    assert reviewed.status == VerificationStatus.DECLINED
    assert not card.bindings.exists()
    assert activation(card, users["account_manager"]) == "awaiting_realname"


# REVIEW[role]: what happens when the role approves a Beijing comparison submitted by the account manager.
REVIEW = {
    "anonymous": "permission_denied",
    "account_manager": "permission_denied",
    "account_manager_other_province": "permission_denied",
    "enterprise_admin": "permission_denied",
    "enterprise_admin_other_enterprise": "permission_denied",
    "provincial_approver": "approved",
    "provincial_approver_other_province": "permission_denied",
    "group_approver": "permission_denied",
    "ops": "permission_denied",
}


@pytest.mark.parametrize("role", ROLES)
def test_only_reviewers_of_the_province_decide(world, role):
    verification, _card = card_user_in_review(world)
    actor = world["users"][role]
    if REVIEW[role] == "approved":
        assert (
            verification_review(verification=verification, actor=actor, approve=True, comment="").status == "approved"
        )
    else:
        with pytest.raises(DomainError) as excinfo:
            verification_review(verification=verification, actor=actor, approve=True, comment="")
        assert_refused(excinfo, REVIEW[role])
        verification.refresh_from_db()
        assert verification.status == VerificationStatus.IN_REVIEW


def test_self_review_and_deciding_twice_are_refused(world):
    users = world["users"]
    submitter = factories.user(role="account_manager", province=world["enterprise"].province)
    verification, _card = card_user_in_review(world, actor=submitter)
    submitter.role = "provincial_approver"
    submitter.save(update_fields=["role"])
    with pytest.raises(DomainError) as excinfo:
        verification_review(verification=verification, actor=submitter, approve=True, comment="")
    assert_refused(excinfo, "self_decision")
    verification_review(verification=verification, actor=users["provincial_approver"], approve=True, comment="")
    with pytest.raises(DomainError) as excinfo:
        verification_review(
            verification=verification, actor=users["provincial_approver"], approve=False, comment="再议"
        )
    assert_refused(excinfo, "invalid_transition")


def test_the_handler_gate_completes_the_order_on_approval(world):
    from cards.models import BusinessType, OrderStatus

    users = world["users"]
    order = factories.order(
        actor=users["account_manager"],
        enterprise=world["enterprise"],
        business_type=BusinessType.NEW_INSTALLATION,
        cards=[factories.order_stock_card(enterprise=world["enterprise"])],
    )
    assert order.status == OrderStatus.AWAITING_VERIFICATION
    verification = put_in_review(Verification.objects.get(order=order))
    assert verification in selectors.review_queue(users["provincial_approver"])
    verification_review(verification=verification, actor=users["provincial_approver"], approve=True, comment="")
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED

    declined_order = factories.order(
        actor=users["account_manager"],
        enterprise=world["enterprise"],
        business_type=BusinessType.NEW_INSTALLATION,
        cards=[factories.order_stock_card(enterprise=world["enterprise"])],
    )
    verification = put_in_review(Verification.objects.get(order=declined_order))
    verification_review(
        verification=verification, actor=users["provincial_approver"], approve=False, comment="经办人与证件不符"
    )
    declined_order.refresh_from_db()
    assert declined_order.status == OrderStatus.REJECTED
    assert declined_order.rejection_reason == "经办人与证件不符"


# --- pages, photos and API ----------------------------------------------------------


def test_the_review_pages_show_both_photos_and_decide(client, world):
    users = world["users"]
    verification, card = card_user_in_review(world)
    client.force_login(users["provincial_approver"])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    queue = client.get(reverse("approvals:review_queue"))
    detail_url = reverse("approvals:review_detail", args=[verification.public_id])
    assert queue.status_code == 200 and detail_url in queue.content.decode()

    page = client.get(detail_url)
    html = page.content.decode()
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    id_url = reverse("approvals:verification_photo", args=[verification.public_id, "id"])
    live_url = reverse("approvals:verification_photo", args=[verification.public_id, "live"])
    assert f'src="{id_url}"' in html and f'src="{live_url}"' in html
    assert 'alt="ID photo"' in html and 'alt="Live photo"' in html
    assert "0.550" in html and "0.5" in html and "0.6" in html  # distance and thresholds
    assert "Borderline distance" in html
    assert 'name="comment"' in html and 'value="approve"' in html and 'value="reject"' in html

    refused = client.post(detail_url, {"decision": "reject", "comment": ""})
    assert refused.status_code == 400
    done = client.post(detail_url, {"decision": "approve", "comment": "一致"})
    assert done.status_code == 302 and done["Location"] == reverse("approvals:review_queue")
    assert activation(card, users["account_manager"]) == "activated"


@pytest.mark.parametrize(
    "role,status_code",
    [
        ("provincial_approver", 200),
        ("account_manager", 200),  # sees the enterprise and may view personal data in full
        # A card user's photos are for roles with full views only, as on the card-user photo route
        # (Capability.VIEW_FULL_PII; issue 7 §2.2): not the enterprise's own admin.
        ("enterprise_admin", 403),
        ("group_approver", 200),
        ("ops", 403),  # ops see personal data masked only
        ("provincial_approver_other_province", 404),
        ("account_manager_other_province", 404),
        ("enterprise_admin_other_enterprise", 404),
    ],
)
def test_photos_are_served_only_with_permission_and_no_store(client, world, role, status_code):
    verification, _card = card_user_in_review(world)
    client.force_login(world["users"][role])
    for which in ("id", "live"):
        response = client.get(reverse("approvals:verification_photo", args=[verification.public_id, which]))
        assert response.status_code == status_code, (role, which)
        if status_code == 200:
            assert response["Cache-Control"] == "no-store, private"
            assert response["Content-Type"].startswith("image/")
            assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
    expected_logs = 2 if status_code == 200 else 0
    assert (
        PiiAccessLog.objects.filter(actor=world["users"][role], object_id=str(verification.pk)).count() == expected_logs
    )


def test_photo_view_refuses_anonymous_and_bad_names(client, world):
    verification, _card = card_user_in_review(world)
    assert client.get(reverse("approvals:verification_photo", args=[verification.public_id, "id"])).status_code == 302
    client.force_login(world["users"]["provincial_approver"])
    assert (
        client.get(reverse("approvals:verification_photo", args=[verification.public_id, "other"])).status_code == 404
    )


def test_non_reviewers_cannot_open_the_review_pages(client, world):
    verification, _card = card_user_in_review(world)
    detail = reverse("approvals:review_detail", args=[verification.public_id])
    client.force_login(world["users"]["provincial_approver_other_province"])
    assert client.get(detail).status_code == 404
    client.force_login(world["users"]["account_manager"])
    assert client.get(reverse("approvals:review_queue")).status_code == 403
    assert client.get(detail).status_code == 404


def test_api_review_queue_and_decision(world):
    users = world["users"]
    verification, card = card_user_in_review(world)
    client = APIClient()
    client.force_authenticate(users["provincial_approver"])
    queue = client.get(reverse("api:review-list")).json()
    assert [r["public_id"] for r in queue["results"]] == [str(verification.public_id)]
    item = queue["results"][0]
    assert item["distance"] == 0.55 and item["threshold_pass"] == 0.5 and item["threshold_fail"] == 0.6
    assert item["id_photo_url"].endswith("/photos/id/")
    client.force_authenticate(users["provincial_approver_other_province"])
    assert client.get(reverse("api:review-list")).json()["results"] == []
    assert (
        client.post(
            reverse("api:review-decide", args=[verification.public_id]), {"approve": True}, format="json"
        ).status_code
        == 404
    )
    client.force_authenticate(users["provincial_approver"])
    refused = client.post(
        reverse("api:review-decide", args=[verification.public_id]), {"approve": False}, format="json"
    )
    assert refused.status_code == 400 and refused.json()["code"] == "comment_required"
    ok = client.post(
        reverse("api:review-decide", args=[verification.public_id]), {"approve": True, "comment": "一致"}, format="json"
    )
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    assert activation(card, users["account_manager"]) == "activated"


def test_the_queue_pages_on_its_partial_index(world):
    """The API's pages and the queue page's keyset order the queue alike, as the partial index on the
    comparisons in review does (issue 12: a page walks the index and stops at its rows)."""
    from django.db.models import Q

    from approvals.views import REVIEW_KEYSET

    queue = selectors.review_queue(world["users"]["provincial_approver"])
    assert tuple(queue.query.order_by) == REVIEW_KEYSET.ordering == ("created_at", "pk")
    (index,) = [i for i in Verification._meta.indexes if i.name == "verification_review_queue"]
    assert list(index.fields) == ["created_at", "id"]
    assert index.condition == Q(status=VerificationStatus.IN_REVIEW)


@pytest.mark.postgres
def test_the_queue_s_first_page_walks_the_partial_index(world):
    """With many comparisons decided and some in review, PostgreSQL reads the first page off the partial
    index in order: no sort of the province's whole queue."""
    from django.db import connection

    template, _card = card_user_in_review(world)
    base = {
        f.attname: getattr(template, f.attname)
        for f in Verification._meta.concrete_fields
        if f.attname not in ("id", "public_id")
    }
    rows = [
        Verification(**{**base, "status": VerificationStatus.IN_REVIEW if n % 10 == 0 else VerificationStatus.PASSED})
        for n in range(3000)
    ]
    Verification.objects.bulk_create(rows, batch_size=500)
    with connection.cursor() as cursor:
        # The tables of the query only: ANALYZE's row counts outlive the test's rollback, and other tests'
        # plans read them.
        for table in ("verification_verification", "enterprises_enterprise", "cards_order", "cards_carduser"):
            cursor.execute(f"ANALYZE {table}")
    reviewer = world["users"]["provincial_approver"]
    plan = selectors.review_queue(reviewer)[:50].explain()
    assert "verification_review_queue" in plan and "Sort" not in plan, plan
