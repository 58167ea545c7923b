"""Issue 11 §1.2: a clear face mismatch at the counter is said at once, with a retake.

A live photo of another person (distance above the fail threshold) registered at the counter page ends as
"the photos do not match", with the distance and the retakes left, not "awaiting manual review / reason —".
The manager may retake up to FACE_RETAKE_LIMIT times; after that, or when they send it, a reviewer sees it.
"""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from approvals.selectors import review_queue
from cards.card_users.services import card_user_retake
from cards.models import CardBinding, CardUser, RegistrationStatus
from core.errors import InvalidTransition
from tests import factories, idgen
from tests.images import jpeg_upload
from verification.models import Verification, VerificationStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(world):
    return world["users"]["account_manager"]


@pytest.fixture
def ent(world):
    return world["enterprise"]


@pytest.fixture
def am(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def mismatch(scripted_face_engine, settings):
    settings.FACE_RETAKE_LIMIT = 2
    return scripted_face_engine("fail", distance=0.815)


def register_at_counter(am, ent, capture):
    card = factories.card(enterprise=ent)
    form = {
        "enterprise": str(ent.public_id),
        "iccids": card.iccid,
        "name": "王芳",
        "id_type": "resident_id",
        "id_number": idgen.resident_id(),
        "id_photo": jpeg_upload("id.jpg"),
        "live_photo": jpeg_upload("live.jpg"),
        "biometric_consent": "on",
    }
    with capture(execute=True):
        response = am.post(reverse("cards:card_user_create"), form)
    assert response.status_code == 302
    return CardUser.objects.get(), card


def page_of(am, card_user) -> str:
    return html.unescape(am.get(reverse("cards:card_user_detail", args=[card_user.public_id])).content.decode())


def retake(am, card_user, capture):
    with capture(execute=True):
        return am.post(
            reverse("cards:card_user_retake", args=[card_user.public_id]), {"live_photo": jpeg_upload("again.jpg")}
        )


def test_a_clear_mismatch_tells_the_manager_at_once_with_a_retake(
    am, world, ent, mismatch, django_capture_on_commit_callbacks
):
    card_user, _card = register_at_counter(am, ent, django_capture_on_commit_callbacks)
    card_user.refresh_from_db()
    assert card_user.registration_status == RegistrationStatus.FACE_MISMATCH
    verification = Verification.objects.get(card_user=card_user)
    assert verification.status == VerificationStatus.MISMATCH
    page = page_of(am, card_user)
    assert "The live photo does not match the ID photo (distance 0.815, a mismatch above 0.60)." in page
    assert "2 retakes left" in page and 'data-retakes-left="2"' in page
    assert 'name="live_photo"' in page and 'capture="user"' in page
    assert "The live photo and the ID photo are not the same person" in page  # the reason, not "—"
    assert "Awaiting manual review" not in page
    assert "data-poll-url" not in page  # it waits for the counter, not for the engine
    # Not yet a reviewer's: the manager decides while the person is there.
    assert not review_queue(world["users"]["provincial_approver"]).filter(pk=verification.pk).exists()


def test_retakes_count_down_and_the_last_mismatch_goes_to_a_reviewer(
    am, world, ent, mismatch, django_capture_on_commit_callbacks
):
    card_user, _card = register_at_counter(am, ent, django_capture_on_commit_callbacks)
    response = retake(am, card_user, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    verification = Verification.objects.get(card_user=card_user)
    assert (verification.status, verification.retakes) == (VerificationStatus.MISMATCH, 1)
    assert "1 retake left" in page_of(am, card_user)
    retake(am, card_user, django_capture_on_commit_callbacks)
    verification.refresh_from_db()
    # The limit reached: this mismatch is a reviewer's now, with its distance for them to see.
    assert (verification.status, verification.retakes) == (VerificationStatus.IN_REVIEW, 2)
    assert verification.distance == pytest.approx(0.815)
    card_user.refresh_from_db()
    assert card_user.registration_status == RegistrationStatus.IN_REVIEW
    assert review_queue(world["users"]["provincial_approver"]).filter(pk=verification.pk).exists()
    # No further retake once it is in review.
    response = retake(am, card_user, django_capture_on_commit_callbacks)
    assert response.status_code == 409


def test_a_retake_that_matches_a_single_photo_capture_goes_to_a_reviewer(
    am, ent, mismatch, scripted_face_engine, django_capture_on_commit_callbacks
):
    """The first capture was one photo (no head-move capture: presence not proven, issue 9 §3), so a matching
    retake is not approved by itself: a reviewer decides, and no card is bound before."""
    card_user, card = register_at_counter(am, ent, django_capture_on_commit_callbacks)
    scripted_face_engine("pass", distance=0.3)
    retake(am, card_user, django_capture_on_commit_callbacks)
    card_user.refresh_from_db()
    assert card_user.registration_status == RegistrationStatus.IN_REVIEW
    assert not CardBinding.objects.filter(card=card, card_user=card_user, ended_at__isnull=True).exists()
    # The retake itself is one photo too, whatever the first capture was.
    retaken = Verification.objects.get(card_user=card_user)
    assert retaken.review_required and retaken.liveness == "fallback"


def test_the_manager_may_send_it_to_a_reviewer_at_once(am, world, ent, mismatch, django_capture_on_commit_callbacks):
    card_user, _card = register_at_counter(am, ent, django_capture_on_commit_callbacks)
    response = am.post(reverse("cards:card_user_send_to_review", args=[card_user.public_id]))
    assert response.status_code == 302
    verification = Verification.objects.get(card_user=card_user)
    assert (verification.status, verification.retakes) == (VerificationStatus.IN_REVIEW, 0)
    assert review_queue(world["users"]["provincial_approver"]).filter(pk=verification.pk).exists()
    # Sent: neither a retake nor a second hand-off.
    assert am.post(reverse("cards:card_user_send_to_review", args=[card_user.public_id])).status_code == 409


def test_a_retake_without_a_photo_is_a_form_error_not_a_500(am, ent, mismatch, django_capture_on_commit_callbacks):
    card_user, _card = register_at_counter(am, ent, django_capture_on_commit_callbacks)
    response = am.post(reverse("cards:card_user_retake", args=[card_user.public_id]))
    assert response.status_code == 400
    assert "This photo is required." in response.content.decode()


def test_other_channels_still_go_to_a_reviewer_at_once(manager, ent, scripted_face_engine):
    """The platform API and self-service have nobody at a counter to retake: a reviewer decides."""
    scripted_face_engine("fail", distance=0.815)
    verification = factories.card_user_registration(
        actor=manager, enterprise=ent, cards=[factories.card(enterprise=ent)]
    )
    verification = factories.face_result(verification, "fail", distance=0.815)
    assert verification.status == VerificationStatus.IN_REVIEW


def test_the_retake_service_refuses_other_states(manager, ent):
    verification = factories.card_user_registration(
        actor=manager, enterprise=ent, cards=[factories.card(enterprise=ent)]
    )
    with pytest.raises(InvalidTransition) as caught:
        card_user_retake(actor=manager, card_user=verification.card_user, live_photo=jpeg_upload("x.jpg"))
    assert caught.value.code == "not_mismatch"


def test_a_role_that_may_not_register_cannot_retake(client, world, ent, mismatch, django_capture_on_commit_callbacks):
    client.force_login(world["users"]["account_manager"])
    card_user, _card = register_at_counter(client, ent, django_capture_on_commit_callbacks)
    client.force_login(world["users"]["provincial_approver"])
    response = client.post(
        reverse("cards:card_user_retake", args=[card_user.public_id]), {"live_photo": jpeg_upload("again.jpg")}
    )
    assert response.status_code in (403, 404)
    assert Verification.objects.get(card_user=card_user).status == VerificationStatus.MISMATCH


def test_the_real_engine_s_bare_fail_gets_its_reason(manager, ent):
    """The real engine gives a distance above the threshold and no reason: the record says why all the same."""
    from verification.services import verification_record_result

    verification = factories.card_user_registration(
        actor=manager, enterprise=ent, cards=[factories.card(enterprise=ent)]
    )
    record = verification_record_result(verification=verification, outcome="fail", distance=0.815, reasons=[])
    assert [r["code"] for r in record.reasons] == ["face_mismatch"]
