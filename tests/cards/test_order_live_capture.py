"""The order wizard's handler step takes the live capture where H3 applies (issue 9 §3, C1): the same check as
the phone, the API and the card-user page (verification.capture); one photo is only a fallback for a reviewer."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from cards.models import BusinessType, Order, OrderStatus
from tests import idgen
from tests.cards.order_helpers import active, counts, passed, stock, verification_of
from tests.cards.test_card_user_live_capture import frames, real_frames, stand_in
from tests.images import jpeg_upload
from verification.capture import challenge_sign
from verification.models import LivenessSource, VerificationStatus

pytestmark = pytest.mark.django_db

NEW, HANDLER, DETAILS = reverse("orders:new"), reverse("orders:new_handler"), reverse("orders:new_details")


@pytest.fixture(autouse=True)
def no_engine(monkeypatch):
    # The comparison is recorded by the test itself (order_helpers.passed).
    monkeypatch.setattr("verification.services.enqueue_verification", lambda pk: None)


@pytest.fixture
def am_client(client, world):
    client.force_login(world["users"]["account_manager"])
    return client


def wizard_to_details(client, ent, business_type=BusinessType.NEW_INSTALLATION):
    cards = stock(ent) if business_type == BusinessType.NEW_INSTALLATION else active(ent)
    client.post(
        NEW,
        {"business_type": business_type, "enterprise": str(ent.public_id), "cards": "\n".join(c.iccid for c in cards)},
    )
    response = client.post(HANDLER, {"handler_id_type": "resident_id", "handler_id_number": idgen.resident_id()})
    assert response.status_code == 302 and response["Location"] == DETAILS


def details(**live) -> dict:
    return {
        "handler_name": "王五",
        "handler_id_address": "北京市西城区金融街3号",
        "handler_id_photo": jpeg_upload("id.jpg"),
        "credential_photo": jpeg_upload("cred.jpg"),
        "challenge": challenge_sign(["left", "right"]),
        **live,
    }


def test_a_gated_order_offers_the_capture_and_keeps_the_fallback(am_client, world):
    wizard_to_details(am_client, world["enterprise"])
    response = am_client.get(DETAILS)
    page = response.content.decode()
    assert "js/liveness_capture.js" in page and "<script>" not in page  # static JS only (CSP)
    box = re.search(r'<div id="liveness-capture"[^>]*>', page).group(0)
    assert "data-upload-url" not in box and re.search(r'data-challenge="(left|right),[a-z,]+"', box)
    assert re.search(r'<input[^>]*name="frames"', page) and re.search(r'name="challenge" value="[^"]+:', page)
    assert re.search(r'<input[^>]*name="handler_live_photo"[^>]*capture="user"', page)
    assert "camera=(self)" in response["Permissions-Policy"]


def test_an_order_without_the_face_gate_has_no_capture(am_client, world):
    wizard_to_details(am_client, world["enterprise"], BusinessType.CANCELLATION)
    page = am_client.get(DETAILS).content.decode()
    assert 'id="liveness-capture"' not in page and "liveness_capture.js" not in page


def test_a_passed_capture_lets_the_comparison_decide(am_client, world, monkeypatch):
    check = stand_in(monkeypatch, {"outcome": "pass", "reasons": [], "best_frame": 1})
    wizard_to_details(am_client, world["enterprise"])
    response = am_client.post(DETAILS, details(frames=frames()))
    assert response.status_code == 302, response.content.decode()[:2000]
    [(names, _times, moves)] = check.sent
    assert len(names) == 8 and moves == ["left", "right"]
    order = Order.objects.get()
    verification = verification_of(order)
    assert verification.liveness == LivenessSource.PASS and verification.review_required is False
    assert passed(order).status != OrderStatus.AWAITING_VERIFICATION  # the pass completes it


def test_a_failed_capture_is_a_form_error_and_files_nothing(am_client, world, monkeypatch):
    stand_in(monkeypatch, {"outcome": "fail", "reasons": [{"code": "frames_identical", "message": "x"}]})
    wizard_to_details(am_client, world["enterprise"])
    before = counts()
    response = am_client.post(DETAILS, details(frames=frames()))
    assert response.status_code == 200
    assert "does not show a live person" in response.content.decode()
    assert "frames" in response.context["form"].errors and counts() == before


def test_the_one_photo_fallback_never_auto_approves(am_client, world, monkeypatch):
    check = stand_in(monkeypatch, {"outcome": "pass", "reasons": [], "best_frame": 0})
    wizard_to_details(am_client, world["enterprise"])
    response = am_client.post(DETAILS, details(handler_live_photo=jpeg_upload("live.jpg")))
    assert response.status_code == 302
    assert check.sent == []
    order = Order.objects.get()
    verification = verification_of(order)
    assert verification.liveness == LivenessSource.FALLBACK and verification.review_required is True
    # The faces match, and still a reviewer decides (H3).
    assert passed(order).status == OrderStatus.AWAITING_VERIFICATION
    assert verification_of(order).status == VerificationStatus.IN_REVIEW


def test_a_capture_and_a_photo_at_once_are_refused(am_client, world, monkeypatch):
    check = stand_in(monkeypatch, {"outcome": "pass", "reasons": [], "best_frame": 0})
    wizard_to_details(am_client, world["enterprise"])
    response = am_client.post(DETAILS, details(frames=frames(), handler_live_photo=jpeg_upload("live.jpg")))
    assert response.status_code == 200 and "not both" in response.content.decode()
    assert check.sent == [] and not Order.objects.exists()


@pytest.mark.liveness
@pytest.mark.slow
def test_real_sequences_at_the_handler_step(am_client, world):
    wizard_to_details(am_client, world["enterprise"])
    # A photo held still does not pass a turn.
    response = am_client.post(DETAILS, details(frames=real_frames("static_intel_male")))
    assert response.status_code == 200 and "does not show a live person" in response.content.decode()
    assert not Order.objects.exists()
    # A real turn to the left passes (the times are in the file names).
    data = details(frames=real_frames("turn_left_intel_female"), challenge=challenge_sign(["left"]))
    response = am_client.post(DETAILS, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    verification = verification_of(Order.objects.get())
    assert verification.liveness == LivenessSource.PASS and verification.review_required is False
