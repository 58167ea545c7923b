"""Issue 4 browser test: a provincial approver opens the review queue, compares the two photos,
approves, and the card becomes activatable (H3/U5 manual review)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cards.models import CardBinding, CardStatus
from tests import factories
from tests.browser.conftest import login, screenshot
from verification.models import Verification, VerificationStatus

pytestmark = [pytest.mark.browser, pytest.mark.faces, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# The same person, at a distance between the pass and fail thresholds (measured: about 0.55).
BORDERLINE = ("johns/John_Shimkus/000383_03227939.jpg", "johns/John_Shimkus/000394_02340150.jpg")


def test_approver_reviews_borderline_comparison_and_card_becomes_activatable(page, world, faces_dir):
    manager = world["users"]["account_manager"]
    approver = world["users"]["provincial_approver"]
    enterprise = world["enterprise"]
    card = factories.card(enterprise=enterprise, data="non_directed")
    id_photo, live_photo = (
        SimpleUploadedFile(name.split("/")[-1], (faces_dir / name).read_bytes(), content_type="image/jpeg")
        for name in BORDERLINE
    )
    # The real engine runs in-process here (no broker): a borderline distance goes to review.
    verification = factories.card_user_registration(
        actor=manager, enterprise=enterprise, cards=[card], id_photo=id_photo, live_photo=live_photo
    )
    verification.refresh_from_db()
    assert verification.status == VerificationStatus.IN_REVIEW, (verification.outcome, verification.distance)
    activation = factories.activate(card, actor=manager)  # a new installation (H2): it waits for the card user
    assert factories.order_line(activation, card).outcome == "awaiting_realname"

    login(page, approver.username, factories.PASSWORD)
    page.goto(f"{page.base_url}/approvals/reviews/")
    page.click(f"a[href*='{verification.public_id}']")
    page.wait_for_load_state()
    for selector in ("img[src*='/photos/id']", "img[src*='/photos/live']"):
        image = page.locator(selector)
        image.wait_for()
        assert image.evaluate("img => img.complete && img.naturalWidth > 0"), selector
    assert f"{verification.distance:.3f}" in page.content()
    screenshot(page, "review-compare")

    page.fill("textarea[name=comment]", "证件照与现场照片为同一人")
    page.click("button[name=decision][value=approve]")
    page.wait_for_load_state()

    verification.refresh_from_db()
    assert verification.status == VerificationStatus.APPROVED
    assert verification.reviewed_by == approver
    assert CardBinding.objects.filter(card=card, ended_at__isnull=True).exists()
    card.refresh_from_db()
    assert card.status == CardStatus.ACTIVE  # under the order that waited for it
    assert Verification.objects.filter(pk=verification.pk, review_comment__contains="同一人").exists()
