"""Issue 11 §1.2 for the handler: an order filed at the counter whose live photo is clearly another person's
says so at once (distance, retakes left) and may be retaken or sent to a reviewer; an order filed without the
handler present (the API) goes to a reviewer at once, as before."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from approvals.selectors import review_queue
from cards.models import BusinessType, OrderStatus
from cards.orders.services import order_retake_live_photo, order_send_to_review
from core.errors import InvalidTransition
from tests import factories
from tests.images import jpeg_upload
from verification.models import VerificationStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def mismatch(scripted_face_engine, settings):
    settings.FACE_RETAKE_LIMIT = 2
    return scripted_face_engine("fail", distance=0.815)


def _order(world, capture, *, retake_offered=True):
    manager, enterprise = world["users"]["account_manager"], world["enterprise"]
    with capture(execute=True):
        order = factories.order(
            actor=manager,
            enterprise=enterprise,
            business_type=BusinessType.NEW_INSTALLATION,
            cards=[factories.card(enterprise=enterprise, data="non_directed")],
            retake_offered=retake_offered,
        )
    return order


def _page(client, order) -> str:
    return html.unescape(client.get(reverse("orders:detail", args=[order.public_id])).content.decode())


def test_a_counter_orders_clear_mismatch_says_so_and_offers_a_retake(
    client, world, mismatch, django_capture_on_commit_callbacks
):
    order = _order(world, django_capture_on_commit_callbacks)
    verification = order.verifications.get()
    assert verification.status == VerificationStatus.MISMATCH
    client.force_login(world["users"]["account_manager"])
    page = _page(client, order)
    assert 'id="face-mismatch"' in page and 'data-retakes-left="2"' in page and "0.815" in page
    assert f"/orders/{order.public_id}/live-photo/" in page and f"/orders/{order.public_id}/send-to-review/" in page
    assert "data-order-poll" not in page  # it waits for the manager, not for the engine
    assert not review_queue(world["users"]["provincial_approver"]).filter(pk=verification.pk).exists()


def _retake(client, order, capture):
    with capture(execute=True):
        return client.post(
            reverse("orders:retake", args=[order.public_id]), {"handler_live_photo": jpeg_upload("again.jpg")}
        )


def test_a_retake_runs_the_same_comparison_and_the_last_failing_one_goes_to_a_reviewer(
    client, world, mismatch, django_capture_on_commit_callbacks
):
    order = _order(world, django_capture_on_commit_callbacks)
    client.force_login(world["users"]["account_manager"])
    assert _retake(client, order, django_capture_on_commit_callbacks).status_code == 302
    verification = order.verifications.get()  # the same record ran again
    assert verification.status == VerificationStatus.MISMATCH and verification.retakes == 1
    assert 'data-retakes-left="1"' in _page(client, order)
    assert _retake(client, order, django_capture_on_commit_callbacks).status_code == 302
    verification.refresh_from_db()
    # No retake left: the failing comparison is a reviewer's now, and the page offers no more retakes.
    assert verification.status == VerificationStatus.IN_REVIEW and verification.retakes == 2
    assert f"/orders/{order.public_id}/live-photo/" not in _page(client, order)
    assert review_queue(world["users"]["provincial_approver"]).filter(pk=verification.pk).exists()
    with pytest.raises(InvalidTransition):
        order_retake_live_photo(
            actor=world["users"]["account_manager"], order=order, handler_live_photo=jpeg_upload("third.jpg")
        )


def test_the_manager_sends_a_mismatch_to_a_reviewer(client, world, mismatch, django_capture_on_commit_callbacks):
    order = _order(world, django_capture_on_commit_callbacks)
    client.force_login(world["users"]["account_manager"])
    response = client.post(reverse("orders:send_to_review", args=[order.public_id]))
    assert response.status_code == 302
    verification = order.verifications.get()
    order.refresh_from_db()
    assert verification.status == VerificationStatus.IN_REVIEW and order.status == OrderStatus.AWAITING_VERIFICATION
    assert review_queue(world["users"]["provincial_approver"]).filter(pk=verification.pk).exists()
    # Sent once: a second send is refused with a message, not a 500.
    assert client.post(reverse("orders:send_to_review", args=[order.public_id])).status_code == 302
    verification.refresh_from_db()
    assert verification.status == VerificationStatus.IN_REVIEW


def test_an_order_without_the_handler_present_goes_to_a_reviewer_at_once(
    world, mismatch, django_capture_on_commit_callbacks
):
    order = _order(world, django_capture_on_commit_callbacks, retake_offered=False)
    verification = order.verifications.get()
    assert verification.status == VerificationStatus.IN_REVIEW
    with pytest.raises(InvalidTransition):
        order_send_to_review(actor=world["users"]["account_manager"], order=order)


def test_only_who_may_file_orders_may_send_to_review(client, world, mismatch, django_capture_on_commit_callbacks):
    order = _order(world, django_capture_on_commit_callbacks)
    client.force_login(world["users"]["provincial_approver"])
    response = client.post(reverse("orders:send_to_review", args=[order.public_id]))
    assert response.status_code in (403, 404)
    assert order.verifications.get().status == VerificationStatus.MISMATCH
