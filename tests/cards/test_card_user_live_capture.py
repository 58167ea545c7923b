"""The counter's card-user page takes the live capture (issue 9 §3, C1): the challenge and frames of the phone,
through the same check as the phone and the API (verification.capture); one photo is only a fallback,
and a reviewer decides on it."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cards.models import CardBinding, CardUser
from tests import factories, idgen
from tests.images import jpeg_upload
from verification.capture import challenge_sign
from verification.models import LivenessSource, Verification, VerificationStatus

pytestmark = pytest.mark.django_db

URL = "cards:card_user_create"


@pytest.fixture
def ent(world):
    return world["enterprise"]


@pytest.fixture
def am(client, world):
    client.force_login(world["users"]["account_manager"])
    return client


class StandInCheck:
    """run_liveness_check's stand-in: answers what the test chooses, and records what it was sent."""

    def __init__(self, answer):
        self.answer, self.sent = answer, []

    def delay(self, names, times, moves):
        self.sent.append((list(names), times, moves))
        return self

    def get(self, **kwargs):
        return self.answer


def stand_in(monkeypatch, answer) -> StandInCheck:
    check = StandInCheck(answer)
    monkeypatch.setattr("verification.capture.run_liveness_check", check)
    return check


def frames(count=8):
    return [jpeg_upload(f"f{i:04d}_t{i * 0.25:07.3f}.jpg", color=(150 + i, 120, 100)) for i in range(count)]


def form(ent, cards, *, live_photo=None, capture=None, challenge=("left", "right"), **overrides):
    data = {
        "enterprise": str(ent.public_id),
        "iccids": "\n".join(card.iccid for card in cards),
        "name": "钱七",
        "id_type": "resident_id",
        "id_number": idgen.resident_id(),
        "id_photo": jpeg_upload("id.jpg"),
        "biometric_consent": "on",
        "challenge": challenge_sign(list(challenge)),
    }
    if live_photo is not None:
        data["live_photo"] = live_photo
    if capture is not None:
        data["frames"] = capture
        data["timestamps"] = ",".join(f"{i * 0.25:.3f}" for i in range(len(capture)))
    data.update(overrides)
    return data


def test_the_page_offers_the_capture_with_a_signed_random_challenge_and_keeps_the_fallback(am, ent):
    page = am.get(reverse(URL)).content.decode()
    assert "js/liveness_capture.js" in page and "<script>" not in page  # static JS only (CSP)
    box = re.search(r'<div id="liveness-capture"[^>]*>', page).group(0)
    assert "data-upload-url" not in box  # form mode: the frames go with the form
    challenge = re.search(r'data-challenge="([a-z,]+)"', box).group(1).split(",")
    assert 2 <= len(challenge) <= 3 and challenge[0] in ("left", "right")
    assert re.search(r'<input[^>]*name="frames"[^>]*multiple', page) or re.search(
        r'<input[^>]*multiple[^>]*name="frames"', page
    )
    token = re.search(r'name="challenge" value="([^"]+)"', page).group(1)
    assert token != ",".join(challenge)  # signed, not the bare moves
    assert re.search(r'<input[^>]*name="live_photo"[^>]*capture="user"', page)  # the fallback stays


def test_the_camera_is_allowed_on_the_page(am):
    response = am.get(reverse(URL))
    assert "camera=(self)" in response["Permissions-Policy"]


def test_a_passed_capture_lets_the_comparison_decide(
    am, ent, monkeypatch, scripted_face_engine, django_capture_on_commit_callbacks
):
    card = factories.card(enterprise=ent, data="non_directed")
    check = stand_in(monkeypatch, {"outcome": "pass", "reasons": [], "best_frame": 2})
    with django_capture_on_commit_callbacks(execute=True):  # the comparison starts on commit
        response = am.post(reverse(URL), form(ent, [card], capture=frames(), challenge=("left", "right")))
    assert response.status_code == 302, response.content.decode()[:2000]
    [(names, times, moves)] = check.sent
    assert len(names) == 8 and moves == ["left", "right"] and times == pytest.approx([i * 0.25 for i in range(8)])
    verification = Verification.objects.get()
    assert verification.review_required is False and verification.liveness == LivenessSource.PASS
    assert verification.status == VerificationStatus.PASSED
    assert CardBinding.objects.filter(card=card, ended_at__isnull=True).exists()


def test_an_inconclusive_capture_goes_to_a_reviewer_with_its_frames(
    am, ent, monkeypatch, scripted_face_engine, django_capture_on_commit_callbacks
):
    card = factories.card(enterprise=ent, data="non_directed")
    stand_in(monkeypatch, {"outcome": "inconclusive", "reasons": [], "best_frame": None})
    with django_capture_on_commit_callbacks(execute=True):  # the comparison starts on commit
        response = am.post(reverse(URL), form(ent, [card], capture=frames()))
    assert response.status_code == 302
    verification = Verification.objects.get()
    assert verification.review_required is True and verification.liveness == LivenessSource.INCONCLUSIVE
    assert verification.status == VerificationStatus.IN_REVIEW and verification.liveness_frames
    assert not CardBinding.objects.filter(card=card).exists()


def test_a_failed_capture_is_a_form_error_and_writes_nothing(am, ent, monkeypatch):
    card = factories.card(enterprise=ent, data="non_directed")
    stand_in(monkeypatch, {"outcome": "fail", "reasons": [{"code": "frames_identical", "message": "x"}]})
    response = am.post(reverse(URL), form(ent, [card], capture=frames()))
    assert response.status_code == 400
    assert "does not show a live person" in response.content.decode()
    assert not CardUser.objects.exists() and not Verification.objects.exists()


def test_the_one_photo_fallback_never_auto_approves(
    am, ent, monkeypatch, scripted_face_engine, django_capture_on_commit_callbacks
):
    card = factories.card(enterprise=ent, data="non_directed")
    check = stand_in(monkeypatch, {"outcome": "pass", "reasons": [], "best_frame": 0})
    with django_capture_on_commit_callbacks(execute=True):  # the comparison starts on commit
        response = am.post(reverse(URL), form(ent, [card], live_photo=jpeg_upload("live.jpg")))
    assert response.status_code == 302
    assert check.sent == []  # one photo: nothing to check for presence
    verification = Verification.objects.get()
    assert verification.review_required is True and verification.liveness == LivenessSource.FALLBACK
    # The faces match, and still a reviewer decides.
    assert verification.status == VerificationStatus.IN_REVIEW
    assert not CardBinding.objects.filter(card=card).exists()


@pytest.mark.parametrize(
    ("overrides", "field_error"),
    [
        ({}, "Take the live capture"),  # neither a capture nor a photo
        ({"live_photo": "photo", "frames": "frames"}, "not both"),
        ({"frames": "many"}, "at most 15 frames"),
        ({"frames": "png"}, "must be JPEG images"),
        ({"frames": "frames", "challenge": "left,right"}, "challenge has expired"),  # unsigned: forged
        ({"frames": "frames", "timestamps": "soon"}, "one capture time in seconds per frame"),  # a hidden input
    ],
)
def test_the_capture_fields_are_checked(am, ent, monkeypatch, overrides, field_error):
    card = factories.card(enterprise=ent, data="non_directed")
    check = stand_in(monkeypatch, {"outcome": "pass", "reasons": [], "best_frame": 0})
    kind = overrides.pop("frames", None)
    capture = {
        None: None,
        "frames": frames(),
        "many": frames(16),
        "png": [SimpleUploadedFile("f0000_t000.000.jpg", b"\x89PNG\r\n\x1a\n" + b"0" * 64, content_type="image/jpeg")],
    }[kind]
    photo = jpeg_upload("live.jpg") if overrides.pop("live_photo", None) else None
    data = form(ent, [card], live_photo=photo, capture=capture)
    data.update(overrides)
    response = am.post(reverse(URL), data)
    assert response.status_code == 400
    assert field_error in response.content.decode()
    assert check.sent == [] and not CardUser.objects.exists()


# --- the real frame sequences (../shared/testdata/liveness, SOURCES.md) ----------------------------------


def real_frames(name: str) -> list[SimpleUploadedFile]:
    from tests.conftest import liveness_testdata_dir  # imported here: only these tests read the frames

    root = liveness_testdata_dir()
    if root is None:
        pytest.skip("the liveness frames (../shared/testdata/liveness) are not here")
    files = sorted((root / name).glob("*.jpg"))[:15]
    return [SimpleUploadedFile(path.name, path.read_bytes(), content_type="image/jpeg") for path in files]


@pytest.mark.liveness
@pytest.mark.slow
def test_a_real_turning_sequence_passes_at_the_counter(
    am, ent, scripted_face_engine, django_capture_on_commit_callbacks
):
    card = factories.card(enterprise=ent, data="non_directed")
    data = form(ent, [card], challenge=("left",))
    data["frames"] = real_frames("turn_left_intel_female")  # the times are in the file names
    with django_capture_on_commit_callbacks(execute=True):  # the comparison starts on commit
        response = am.post(reverse(URL), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    verification = Verification.objects.get()
    assert verification.liveness == LivenessSource.PASS and verification.review_required is False
    assert verification.status == VerificationStatus.PASSED


@pytest.mark.liveness
@pytest.mark.slow
def test_a_real_static_sequence_is_refused_with_a_clear_form_error(am, ent, scripted_face_engine):
    card = factories.card(enterprise=ent, data="non_directed")
    data = form(ent, [card], challenge=("left", "right"))
    data["frames"] = real_frames("static_intel_male")
    response = am.post(reverse(URL), data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "does not show a live person doing the moves asked" in page and 'id="id_frames_error"' in page
    assert not CardUser.objects.exists() and not Verification.objects.exists()
