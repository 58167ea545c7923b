"""Text that fits the state (issue 11 §5): the order's time label, the flash after filing an order or
registering a card user, and rule ids shown after the words that name them."""

from __future__ import annotations

from unittest import mock

import pytest
from django.contrib.messages.storage.cookie import CookieStorage
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone, translation

from cards.card_users.views import _flash_registration_state
from cards.models import Order, OrderStatus
from cards.orders.views import _flash_order_state
from cards.templatetags.rule_tags import rule_tags
from tests import factories
from tests.approvals import card_for
from verification.models import Verification, VerificationStatus

pytestmark = [pytest.mark.django_db, pytest.mark.zh]

PENDING = "Order %(number)s was filed. It completes once the handler's face comparison passes."


def _flashes(call) -> list[tuple[str, str]]:
    request = RequestFactory().get("/")
    request._messages = CookieStorage(request)
    call(request)
    return [(message.level_tag, str(message)) for message in request._messages]


def _filed_order(world):
    """A new installation whose handler comparison has not come back yet (awaiting_verification)."""
    enterprise = world["enterprise"]
    with mock.patch("verification.services.enqueue_verification"):
        order = factories.order(
            actor=world["users"]["account_manager"],
            enterprise=enterprise,
            business_type="new_installation",
            cards=[factories.order_stock_card(enterprise=enterprise)],
            parameters={},
        )
    assert order.status == OrderStatus.AWAITING_VERIFICATION
    return order, Verification.objects.filter(order=order).latest("created_at")


# --- the order page's time label ---


def test_an_order_that_no_reviewer_decided_says_completed_not_decided(client, world):
    enterprise = world["enterprise"]
    order = factories.order_done(
        business_type="new_installation", cards=[factories.order_stock_card(enterprise=enterprise)]
    )
    assert order.status == OrderStatus.COMPLETED and order.completed_at
    client.force_login(world["users"]["account_manager"])
    html = client.get(reverse("orders:detail", args=[order.public_id])).content.decode()
    assert "完成时间" in html and "审批时间" not in html

    verification = Verification.objects.filter(order=order).latest("created_at")
    Verification.objects.filter(pk=verification.pk).update(reviewed_at=timezone.now())
    html = client.get(reverse("orders:detail", args=[order.public_id])).content.decode()
    assert "审批时间" in html and "完成时间" not in html


# --- the flash after filing an order ---


def test_the_order_flash_follows_the_comparison(world):
    order, verification = _filed_order(world)
    with translation.override("en"):
        [(level, text)] = _flashes(lambda r: _flash_order_state(r, order, pending=PENDING))
        assert level == "success" and "It completes once" in text and order.number in text

        factories.face_result(verification, "review", distance=0.55)
        [(level, text)] = _flashes(lambda r: _flash_order_state(r, order, pending=PENDING))
        assert level == "info" and "waits for a reviewer" in text and "completed" not in text

    order, verification = _filed_order(world)
    factories.face_result(verification, "pass")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.COMPLETED
    with translation.override("zh-hans"):
        [(level, text)] = _flashes(lambda r: _flash_order_state(r, order, pending=PENDING))
    assert level == "success" and order.number in text and "完成" in text


def test_a_rejected_order_is_not_flashed_as_completed(world):
    order, _verification = _filed_order(world)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.REJECTED)
    with translation.override("en"):
        [(level, text)] = _flashes(lambda r: _flash_order_state(r, order, pending=PENDING))
    assert level == "warning" and "rejected" in text and "completed" not in text


# --- the flash after registering a card user ---


@pytest.mark.parametrize(
    "outcome,level,phrase",
    [
        (None, "success", "is running"),
        ("pass", "success", "passed"),
        ("review", "info", "waits for a reviewer"),
        ("rejected", "warning", "could not be used"),
    ],
)
def test_the_registration_flash_follows_the_comparison(world, no_engine, outcome, level, phrase):
    verification = factories.card_user_registration(
        actor=world["users"]["account_manager"],
        enterprise=world["enterprise"],
        cards=[card_for(world["enterprise"], "U1")],
    )
    if outcome:
        factories.face_result(verification, outcome, distance=0.55 if outcome == "review" else 0.3)
    with translation.override("en"):
        [(got_level, text)] = _flashes(lambda r: _flash_registration_state(r, verification))
    assert got_level == level and phrase in text, (outcome, text)
    if outcome != "pass":
        assert "passed" not in text


def test_a_declined_registration_says_so(world, no_engine):
    verification = factories.card_user_registration(
        actor=world["users"]["account_manager"],
        enterprise=world["enterprise"],
        cards=[card_for(world["enterprise"], "U1")],
    )
    Verification.objects.filter(pk=verification.pk).update(status=VerificationStatus.DECLINED)
    with translation.override("en"):
        [(level, text)] = _flashes(lambda r: _flash_registration_state(r, verification))
    assert level == "warning" and "did not pass" in text


# --- rule ids: the words first, the id as a small tag ---


def test_rule_tags_lead_with_words():
    with translation.override("zh-hans"):
        html = str(rule_tags("U1,U3"))
    assert html == (
        '非定向流量 <span class="rule-tag">U1</span>、149 号段，定向语音或短信 <span class="rule-tag">U3</span>'
    )
    with translation.override("en"):
        assert str(rule_tags(["U2"])) == '149 number, non-directed voice or SMS <span class="rule-tag">U2</span>'
        assert str(rule_tags("")) == "—"
        assert str(rule_tags(["X9"])) == '<span class="rule-tag">X9</span>'  # an unknown id is shown, escaped


def test_the_card_page_and_the_desk_name_the_rule_before_its_id(client, world, no_engine):
    from tests.approvals import file_for_combo

    card = card_for(world["enterprise"], "U1")
    client.force_login(world["users"]["account_manager"])
    html = client.get(reverse("cards:detail", args=[card.iccid])).content.decode()
    assert '<strong>非定向流量</strong> <span class="rule-tag">U1</span>' in html

    exemption, _ = file_for_combo(world, "U1+U3")
    client.force_login(world["users"]["provincial_approver"])
    listing = client.get(reverse("approvals_admin:approvals_exemptionrequest_changelist")).content.decode()
    assert '非定向流量 <span class="rule-tag">U1</span>' in listing
    page = client.get(
        reverse("approvals_admin:approvals_exemptionrequest_change", args=[exemption.pk])
    ).content.decode()
    assert '149 号段，定向语音或短信 <span class="rule-tag">U3</span>' in page
