"""Issue 9 §3: a self-service capture that proved no presence is reviewed with its frames side by side.

The frames of an inconclusive (or locked) capture are kept with the comparison as one contact sheet, next to
the ID photo on the provincial approver's review page, and served only through the protected photo view
(budgeted, logged, scoped); the file-input fallback has no frames, and the page says so.
"""

from __future__ import annotations

import io

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image

from accounts.models import PiiAccessLog
from tests.images import jpeg_upload
from tests.self_service.test_phone_flow import _fake_liveness, _state, _step, _to_live_step
from verification.models import LivenessSource, Verification, VerificationStatus

pytestmark = pytest.mark.django_db

FRAMES = 8


def _submit_inconclusive(client, world, monkeypatch, django_capture_on_commit_callbacks):
    _fake_liveness(monkeypatch, "inconclusive")
    link, token = _to_live_step(client, world, ["left", "straight"])
    frames = [jpeg_upload(f"f{i:04d}.jpg", color=(120 + 10 * i, 150, 130)) for i in range(FRAMES)]
    client.post(_step(token, "live"), {"frames": frames, "timestamps": ""})
    kept = _state(client, link)["review_frames"]
    assert len(kept) == FRAMES and all(default_storage.exists(name) for name in kept)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_step(token, "review"))
    return Verification.objects.get(), kept


def _as_approver(client, world, role="provincial_approver"):
    client.logout()
    client.force_login(world["users"][role])
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"


def test_an_inconclusive_capture_shows_its_frames_next_to_the_id_photo(
    client, world, monkeypatch, scripted_face_engine, django_capture_on_commit_callbacks
):
    verification, kept = _submit_inconclusive(client, world, monkeypatch, django_capture_on_commit_callbacks)
    assert verification.status == VerificationStatus.IN_REVIEW
    assert verification.liveness == LivenessSource.INCONCLUSIVE and verification.liveness_frames
    # The session's own copies are gone once submitted; the comparison keeps the one sheet.
    assert not any(default_storage.exists(name) for name in kept)
    with verification.liveness_frames.open("rb") as handle:
        sheet = Image.open(io.BytesIO(handle.read()))
    assert sheet.format == "JPEG" and sheet.width > sheet.height  # thumbnails side by side

    _as_approver(client, world)
    page = client.get(reverse("approvals:review_detail", args=[verification.public_id]))
    html = page.content.decode()
    assert page.status_code == 200
    frames_url = reverse("approvals:verification_photo", args=[verification.public_id, "frames"])
    id_url = reverse("approvals:verification_photo", args=[verification.public_id, "id"])
    section = html[html.index('id="liveness-review"') :]
    assert f'src="{frames_url}"' in section and f'src="{id_url}"' in section
    assert "Live capture: liveness inconclusive" in section
    assert "/media/" not in html and verification.liveness_frames.name not in html  # never a public URL

    before = PiiAccessLog.objects.count()
    image = client.get(frames_url)
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    assert b"".join(image.streaming_content)[:2] == b"\xff\xd8"
    assert PiiAccessLog.objects.count() == before + 1  # one logged view for all the frames

    # The approvers' desk (the admin site) shows them too, through the same view.
    desk = client.get(reverse("approvals_admin:verification_verification_change", args=[verification.pk]))
    desk_html = desk.content.decode()
    assert desk.status_code == 200 and 'id="liveness-review"' in desk_html and frames_url in desk_html

    # The review API says the same, with the same protected URL.
    body = client.get(f"/api/v1/reviews/{verification.public_id}/", HTTP_ACCEPT="application/json").json()
    assert body["liveness"] == "inconclusive" and body["liveness_frames_url"] == frames_url


@pytest.mark.parametrize(
    ("role", "expected"),
    [("provincial_approver_other_province", 404), ("enterprise_admin", 403), ("anonymous", 302)],
)
def test_the_frames_are_only_for_those_who_may_see_the_photos(
    client, world, monkeypatch, scripted_face_engine, django_capture_on_commit_callbacks, role, expected
):
    verification, _kept = _submit_inconclusive(client, world, monkeypatch, django_capture_on_commit_callbacks)
    client.logout()
    if role != "anonymous":
        client.force_login(world["users"][role])
    answer = client.get(reverse("approvals:verification_photo", args=[verification.public_id, "frames"]))
    assert answer.status_code == expected


def test_a_fallback_photo_is_reviewed_without_frames_and_says_so(
    client, world, scripted_face_engine, django_capture_on_commit_callbacks
):
    _link, token = _to_live_step(client, world, ["left", "right"])
    client.post(_step(token, "live"), {"photo": jpeg_upload("live.jpg")})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_step(token, "review"))
    verification = Verification.objects.get()
    assert verification.liveness == LivenessSource.FALLBACK and not verification.liveness_frames
    assert verification.status == VerificationStatus.IN_REVIEW  # never auto-approved

    _as_approver(client, world)
    html = client.get(reverse("approvals:review_detail", args=[verification.public_id])).content.decode()
    assert 'id="liveness-review"' in html and "There are no capture frames" in html
    frames_url = reverse("approvals:verification_photo", args=[verification.public_id, "frames"])
    assert frames_url not in html
    assert client.get(frames_url).status_code == 404
    body = client.get(f"/api/v1/reviews/{verification.public_id}/", HTTP_ACCEPT="application/json").json()
    assert body["liveness"] == "fallback" and body["liveness_frames_url"] is None


def test_a_staff_comparison_shows_no_liveness_section(client, world, no_engine):
    from tests import factories
    from tests.approvals import card_for, put_in_review

    verification = factories.card_user_registration(
        actor=world["users"]["account_manager"],
        enterprise=world["enterprise"],
        cards=[card_for(world["enterprise"], "U1")],
    )
    put_in_review(verification)
    _as_approver(client, world)
    html = client.get(reverse("approvals:review_detail", args=[verification.public_id])).content.decode()
    assert 'id="liveness-review"' not in html and 'alt="Live photo"' in html
