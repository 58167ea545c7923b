"""Issue 7 §1.7: an exemption is decided on the cards' rules as they are now, not as they were filed.

A card whose services changed after filing may have become U2 (no exemption possible) or may now
need a level the request did not ask for (U1 became U1+U3). Approving is refused with the rule's
reason, in the service, the portal page, the API and the approver desk (single and bulk).
Rejecting stays possible: it is what the approver should do with such a request.
"""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from rest_framework.test import APIClient

from approvals import services
from approvals.models import Decision, RequestStatus
from cards.models import Card
from core.errors import DomainError
from tests import factories
from tests.approvals import file_request

pytestmark = pytest.mark.django_db

DESK = "approvals_admin"


def became_u2(world):
    """A U3 request (group), whose card has since been given non-directed voice: U2."""
    card = factories.card(enterprise=world["enterprise"], segment_149=True, voice="directed")
    request = file_request(
        actor=world["users"]["account_manager"], enterprise=world["enterprise"], cards=[card], levels=["group"]
    )
    Card.objects.filter(pk=card.pk).update(voice_service="non_directed")
    return request, card, world["users"]["group_approver"], "group"


def became_u1_u3(world):
    """A U1 request (province) for a 149 card, which has since been given directed SMS: U1+U3."""
    card = factories.card(enterprise=world["enterprise"], segment_149=True, data="non_directed")
    request = file_request(
        actor=world["users"]["account_manager"], enterprise=world["enterprise"], cards=[card], levels=["province"]
    )
    assert request.required_levels == ["province"]
    Card.objects.filter(pk=card.pk).update(sms_service="directed")
    return request, card, world["users"]["provincial_approver"], "province"


CASES = {
    "U2": (became_u2, "exemption_impossible", ["U2", "149"]),
    "U1+U3": (became_u1_u3, "exemption_levels_changed", ["U1", "U3", "group"]),
}


def assert_undecided(request):
    request.refresh_from_db()
    assert request.status == RequestStatus.SUBMITTED
    assert not Decision.objects.filter(exemption=request).exists()


@pytest.mark.parametrize("case", CASES)
def test_7_1_7_approving_is_refused_with_the_rules_reason(world, case):
    make, code, words = CASES[case]
    request, card, approver, level = make(world)
    with pytest.raises(DomainError) as excinfo:
        services.exemption_decide(request=request, actor=approver, level=level, approve=True, comment="同意")
    assert excinfo.value.code == code
    message = str(excinfo.value.message)
    assert card.iccid in message
    for word in words:
        assert word in message
    assert_undecided(request)


@pytest.mark.parametrize("case", CASES)
def test_7_1_7_rejecting_such_a_request_stays_possible(world, case):
    request, _card, approver, level = CASES[case][0](world)
    decided = services.exemption_decide(
        request=request, actor=approver, level=level, approve=False, comment="卡的业务已变更，需重新申请"
    )
    assert decided.status == RequestStatus.REJECTED


def test_7_1_7_a_u1_u3_request_whose_card_became_u2_is_refused_at_the_second_level_too(world):
    card = factories.card(enterprise=world["enterprise"], segment_149=True, data="non_directed", sms="directed")
    request = file_request(actor=world["users"]["account_manager"], enterprise=world["enterprise"], cards=[card])
    services.exemption_decide(
        request=request, actor=world["users"]["provincial_approver"], level="province", approve=True
    )
    Card.objects.filter(pk=card.pk).update(sms_service="non_directed")
    with pytest.raises(DomainError) as excinfo:
        services.exemption_decide(request=request, actor=world["users"]["group_approver"], level="group", approve=True)
    assert excinfo.value.code == "exemption_impossible"
    request.refresh_from_db()
    assert request.status == RequestStatus.SUBMITTED
    assert list(request.decisions.values_list("level", flat=True)) == ["province"]


@pytest.mark.parametrize("case", CASES)
def test_7_1_7_the_portal_page_refuses_it(client, world, case):
    make, code, words = CASES[case]
    request, card, approver, level = make(world)
    client.force_login(approver)
    response = client.post(
        reverse("approvals:exemption_decide", args=[request.public_id]),
        {"decision": "approve", "comment": "同意", "level": level},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert any(card.iccid in m and words[0] in m for m in messages), messages
    assert_undecided(request)


@pytest.mark.parametrize("case", CASES)
def test_7_1_7_the_api_refuses_it(world, case):
    make, code, words = CASES[case]
    request, card, approver, level = make(world)
    api = APIClient()
    api.force_authenticate(approver)
    response = api.post(
        f"/api/v1/exemptions/{request.public_id}/decide/",
        {"approve": True, "comment": "同意", "level": level},
        format="json",
    )
    assert response.status_code in (400, 409), response.content
    body = response.json()
    assert body["code"] == code and card.iccid in body["detail"] and words[0] in body["detail"]
    assert_undecided(request)


@pytest.mark.parametrize("case", CASES)
def test_7_1_7_the_approver_desk_refuses_it_on_the_decision_page(client, world, case):
    make, code, words = CASES[case]
    request, card, approver, level = make(world)
    client.force_login(approver)
    url = reverse(f"{DESK}:approvals_exemptionrequest_change", args=[request.pk])
    response = client.post(url, {"decision": "approve", "comment": "同意"})
    assert response.status_code == 400
    assert card.iccid in response.content.decode()
    assert_undecided(request)


@pytest.mark.parametrize("case", CASES)
def test_7_1_7_the_approver_desk_bulk_approval_goes_through_the_same_check(client, world, case):
    make, code, words = CASES[case]
    request, card, approver, level = make(world)
    client.force_login(approver)
    response = client.post(
        reverse(f"{DESK}:approvals_exemptionrequest_changelist"),
        {"action": "approve_selected", ACTION_CHECKBOX_NAME: [str(request.pk)], "apply": "yes", "comment": ""},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert any(card.iccid in m and words[0] in m for m in messages), messages
    assert_undecided(request)
