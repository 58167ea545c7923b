"""The card user's phone flow behind a self-service link (C2, issue 9 §2): the whole flow with the scripted
face engine, the cards a link allows, resume, idle expiry, single use, the rate limits and U6 across channels."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import AuditEvent
from cards.models import CardStatus, CardUser, Channel, RegistrationStatus, SelfServiceLink
from cards.self_service import services
from tests import factories, idgen
from tests.images import jpeg_upload
from verification.models import Verification, VerificationStatus
from verification.services import verification_review

pytestmark = pytest.mark.django_db


def _awaiting(enterprise, n=1):
    cards = [factories.card(enterprise=enterprise) for _ in range(n)]
    type(cards[0]).objects.filter(pk__in=[c.pk for c in cards]).update(status=CardStatus.AWAITING_REALNAME)
    for card in cards:
        card.refresh_from_db()
    return cards


def _link(world, cards=(), **kwargs):
    kwargs.setdefault("max_uses", 10)
    return services.link_create(
        actor=world["users"]["account_manager"],
        enterprise=world["enterprise"],
        label="Site A",
        identifiers=[c.iccid for c in cards],
        **kwargs,
    )


def _step(token, step):
    return f"/s/{token}/step/{step}/"


def _through_photos(client, token, card, id_number):
    assert client.post(f"/s/{token}/", {"consent": "on"}).status_code == 302
    assert client.post(_step(token, "cards"), {"typed": card.iccid}).status_code == 302
    identity = {"name": "王五", "id_type": "resident_id", "id_number": id_number}
    assert client.post(_step(token, "identity"), identity).status_code == 302
    assert client.post(_step(token, "id_photo"), {"photo": jpeg_upload("id.jpg")}).status_code == 302
    assert client.post(_step(token, "live"), {"photo": jpeg_upload("live.jpg")}).status_code == 302


def test_the_whole_flow_registers_the_card_user_through_the_self_service_channel(
    client, world, scripted_face_engine, django_capture_on_commit_callbacks
):
    (card,) = _awaiting(world["enterprise"])
    link, token = _link(world, [card])
    page = client.get(f"/s/{token}/")
    assert page.status_code == 200 and 'name="consent"' in page.content.decode()
    _through_photos(client, token, card, idgen.resident_id())
    review = client.get(_step(token, "review"))
    assert review.status_code == 200 and card.iccid in review.content.decode() and "王五" in review.content.decode()
    assert review["Cache-Control"].startswith("no-store") and review["Referrer-Policy"] == "same-origin"
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(_step(token, "review"))
    assert done.status_code == 302 and done["Location"] == f"/s/{token}/status/"
    card_user = CardUser.objects.get()
    assert card_user.channel == Channel.SELF_SERVICE and card_user.created_by is None
    # One photo from a file input proves no presence: even a passed comparison goes to a reviewer.
    assert card_user.registration_status == RegistrationStatus.IN_REVIEW
    status = client.get(f"/s/{token}/status/")
    assert status.status_code == 200 and 'data-status="in_review"' in status.content.decode()
    verification = Verification.objects.get(card_user=card_user)
    assert verification.status == VerificationStatus.IN_REVIEW and verification.created_by is None
    verification_review(
        verification=verification, actor=world["users"]["provincial_approver"], approve=True, comment="ok"
    )
    card_user.refresh_from_db()
    assert card_user.registration_status == RegistrationStatus.REGISTERED
    assert card_user.bindings.filter(card=card, ended_at__isnull=True).exists()
    link.refresh_from_db()
    assert link.uses == 1
    status = client.get(f"/s/{token}/status/")
    assert status.status_code == 200 and 'data-status="registered"' in status.content.decode()
    # The audit events name the link, never the token; no personal data stays in the session.
    event = AuditEvent.objects.get(action="card_user.registered")
    assert event.actor is None and event.data["self_service_link"] == str(link.public_id)
    assert token not in str(list(AuditEvent.objects.values_list("data", flat=True)))
    state = client.session[f"self_service:{link.public_id}"]
    assert "id_number" not in state and "name" not in state and "id_photo" not in state


def test_the_id_number_waits_in_the_session_sealed_never_in_the_clear(
    client, world, scripted_face_engine, django_capture_on_commit_callbacks
):
    (card,) = _awaiting(world["enterprise"])
    link, token = _link(world, [card])
    client.get(f"/s/{token}/")
    id_number = idgen.resident_id()
    _through_photos(client, token, card, id_number)
    key = f"self_service:{link.public_id}"
    # What the session store holds (its row, decoded) names the person but not the ID number.
    raw = str(Session.objects.get(session_key=client.session.session_key).get_decoded())
    assert id_number not in raw and "id_number" not in client.session[key]
    assert "王五" in raw and client.session[key]["id_number_sealed"]
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(_step(token, "review")).status_code == 302
    # The registration got the number the person typed, and the sealed copy left the session with it.
    assert CardUser.objects.get().id_number == id_number
    assert "id_number_sealed" not in client.session[key]


def test_only_the_links_cards_awaiting_real_name_can_be_chosen(client, world):
    (card,) = _awaiting(world["enterprise"])
    (other,) = _awaiting(world["enterprise"])
    (foreign,) = _awaiting(world["enterprise_other"])
    stock = factories.card(enterprise=world["enterprise"])
    _link_obj, token = _link(world, [card])
    client.post(f"/s/{token}/", {"consent": "on"})
    for value in (other.iccid, foreign.iccid, foreign.msisdn, stock.iccid, "12345"):
        refused = client.post(_step(token, "cards"), {"typed": value})
        assert refused.status_code == 400 and "is not one of the cards of this link" in refused.content.decode()
    assert client.post(_step(token, "cards"), {"cards": [card.iccid]}).status_code == 302


def test_a_later_step_cannot_be_opened_before_the_earlier_ones(client, world):
    (card,) = _awaiting(world["enterprise"])
    _link_obj, token = _link(world, [card])
    assert client.get(_step(token, "review"))["Location"] == f"/s/{token}/"
    client.post(f"/s/{token}/", {"consent": "on"})
    assert client.get(_step(token, "review"))["Location"] == _step(token, "cards")
    assert client.post(_step(token, "review")).status_code == 302 and not CardUser.objects.exists()


def test_the_session_resumes_where_it_stopped_and_a_typo_keeps_the_photos(client, world):
    (card,) = _awaiting(world["enterprise"])
    _link_obj, token = _link(world, [card])
    _through_photos(client, token, card, idgen.resident_id())
    assert client.get(f"/s/{token}/")["Location"] == _step(token, "review")
    typo = client.post(_step(token, "identity"), {"name": "王五", "id_type": "resident_id", "id_number": "123"})
    assert typo.status_code == 400
    client.post(_step(token, "identity"), {"name": "王五", "id_type": "resident_id", "id_number": idgen.resident_id()})
    assert client.get(f"/s/{token}/")["Location"] == _step(token, "review")  # the photos are still there


def _idle_for(client, link, minutes):
    session = client.session
    key = f"self_service:{link.public_id}"
    state = session[key]
    state["seen"] = (timezone.now() - timedelta(minutes=minutes)).isoformat()
    session[key] = state
    session.save()


def test_an_idle_session_expires(client, world, settings):
    (card,) = _awaiting(world["enterprise"])
    link, token = _link(world, [card])
    client.post(f"/s/{token}/", {"consent": "on"})
    client.post(_step(token, "cards"), {"typed": card.iccid})
    _idle_for(client, link, settings.SELF_SERVICE_SESSION_IDLE_MINUTES - 1)
    assert client.get(f"/s/{token}/")["Location"] == _step(token, "identity")
    _idle_for(client, link, settings.SELF_SERVICE_SESSION_IDLE_MINUTES + 1)
    page = client.get(f"/s/{token}/")
    assert page.status_code == 200 and 'name="consent"' in page.content.decode()


def test_a_session_submits_once(client, world, scripted_face_engine, django_capture_on_commit_callbacks):
    (card,) = _awaiting(world["enterprise"])
    link, token = _link(world, [card])
    _through_photos(client, token, card, idgen.resident_id())
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_step(token, "review"))
    again = client.post(_step(token, "review"), follow=True)
    assert again.redirect_chain[-1][0] == f"/s/{token}/status/"
    assert "This registration has already been submitted" in again.content.decode()
    assert CardUser.objects.count() == 1
    link.refresh_from_db()
    assert link.uses == 1


def test_an_exhausted_link_refuses_the_submit_and_counts_nothing(client, world, scripted_face_engine):
    (card,) = _awaiting(world["enterprise"])
    link, token = _link(world, [card], max_uses=1)
    _through_photos(client, token, card, idgen.resident_id())
    SelfServiceLink.objects.filter(pk=link.pk).update(uses=1)
    assert client.post(_step(token, "review")).status_code == 410
    assert not CardUser.objects.exists()


def test_the_five_card_limit_holds_across_a_counter_and_a_phone_registration(
    client, world, scripted_face_engine, django_capture_on_commit_callbacks
):
    number = idgen.resident_id()
    counter_cards = _awaiting(world["enterprise"], 5)
    factories.verified_card_user(
        actor=world["users"]["account_manager"],
        enterprise=world["enterprise"],
        cards=counter_cards,
        id_number=number,
        name="王五",  # the phone's person: one ID, one name (issue 11 §1.3)
    )
    (card,) = _awaiting(world["enterprise"])
    link, token = _link(world, [card])
    _through_photos(client, token, card, number)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_step(token, "review"))
    status = client.get(f"/s/{token}/status/").content.decode()
    assert 'data-status="refused"' in status and "One ID, five cards" in status
    assert CardUser.objects.filter(channel=Channel.SELF_SERVICE).count() == 0
    link.refresh_from_db()
    assert link.uses == 0


def test_session_starts_are_rate_limited_per_client_ip_and_per_link(client, world, settings):
    (card,) = _awaiting(world["enterprise"])
    _link_obj, token = _link(world, [card])
    settings.SELF_SERVICE_RATES = {**settings.SELF_SERVICE_RATES, "session_ip": "2/hour"}
    for _ in range(2):
        assert client.post(f"/s/{token}/", {"consent": "on"}, REMOTE_ADDR="203.0.113.9").status_code == 302
        client.post(f"/s/{token}/restart/", REMOTE_ADDR="203.0.113.9")
    throttled = client.post(f"/s/{token}/", {"consent": "on"}, REMOTE_ADDR="203.0.113.9")
    assert throttled.status_code == 429 and throttled.has_header("Retry-After")
    settings.SELF_SERVICE_RATES = {**settings.SELF_SERVICE_RATES, "session_ip": "100/hour", "session_link": "1/hour"}
    client.post(f"/s/{token}/restart/", REMOTE_ADDR="198.51.100.1")
    assert client.post(f"/s/{token}/", {"consent": "on"}, REMOTE_ADDR="198.51.100.2").status_code == 429


def test_submissions_are_rate_limited(client, world, settings, scripted_face_engine):
    (card,) = _awaiting(world["enterprise"])
    _link_obj, token = _link(world, [card])
    settings.SELF_SERVICE_RATES = {**settings.SELF_SERVICE_RATES, "submit_ip": "1/hour"}
    from cards.self_service.throttling import PhoneFlowThrottle

    PhoneFlowThrottle("submit_ip", "127.0.0.1").allow_request(None, None)
    _through_photos(client, token, card, idgen.resident_id())
    assert client.post(_step(token, "review")).status_code == 429
    assert not CardUser.objects.exists()


@pytest.mark.zh
def test_the_steps_speak_chinese(client, world):
    (card,) = _awaiting(world["enterprise"])
    _link_obj, token = _link(world, [card])
    client.post(f"/s/{token}/", {"consent": "on"})
    page = client.get(_step(token, "cards")).content.decode()
    assert "您的卡" in page and "继续" in page


# --- the live capture -------------------------------------------------------------------


def _to_live_step(client, world, challenge):
    (card,) = _awaiting(world["enterprise"])
    link, token = _link(world, [card])
    client.post(f"/s/{token}/", {"consent": "on"})
    client.post(_step(token, "cards"), {"typed": card.iccid})
    client.post(_step(token, "identity"), {"name": "王五", "id_type": "resident_id", "id_number": idgen.resident_id()})
    client.post(_step(token, "id_photo"), {"photo": jpeg_upload("id.jpg")})
    page = client.get(_step(token, "live")).content.decode()
    assert 'id="liveness-capture"' in page and "liveness_capture.js" in page and "<script>" not in page
    session = client.session
    key = f"self_service:{link.public_id}"
    state = session[key]
    assert 2 <= len(state["challenge"]) <= 3 and set(state["challenge"]) <= {"left", "right", "straight"}
    state["challenge"] = challenge  # the recorded sequences each make one move
    session[key] = state
    session.save()
    return link, token


def _post_frames(client, token, files):
    from verification.liveness import timestamp_from_name

    uploads = [SimpleUploadedFile(path.name, path.read_bytes(), content_type="image/jpeg") for path in files]
    times = ",".join(str(timestamp_from_name(path.name)) for path in files)
    return client.post(_step(token, "live"), {"frames": uploads, "timestamps": times, "challenge": "x"})


def _state(client, link):
    return client.session[f"self_service:{link.public_id}"]


@pytest.mark.liveness
@pytest.mark.slow
def test_a_real_turn_passes_and_its_most_frontal_frame_is_the_live_photo(
    client, world, scripted_face_engine, django_capture_on_commit_callbacks
):
    from tests.conftest import liveness_testdata_dir

    files = sorted((liveness_testdata_dir() / "turn_right_intel_female").glob("*.jpg"))
    link, token = _to_live_step(client, world, ["right"])
    answer = _post_frames(client, token, files)
    assert answer.status_code == 200 and answer.json() == {"ok": True, "done": True}
    state = _state(client, link)
    assert state["liveness"] == "pass" and state["review_required"] is False and "frames" not in state
    assert client.get(f"/s/{token}/")["Location"] == _step(token, "review")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_step(token, "review"))
    # Presence proven: the comparison's pass opens the gate without a reviewer.
    assert CardUser.objects.get().registration_status == RegistrationStatus.REGISTERED


@pytest.mark.liveness
@pytest.mark.slow
def test_a_still_sequence_asks_for_a_retake_with_the_reason(client, world):
    from tests.conftest import liveness_testdata_dir

    files = sorted((liveness_testdata_dir() / "static_intel_male").glob("*.jpg"))[:12]  # a capture: 8-15
    link, token = _to_live_step(client, world, ["right"])
    _post_frames(client, token, files)
    state = _state(client, link)
    assert state["failures"] == 1 and "live" not in state["done"] and "frames" not in state
    page = client.get(_step(token, "live")).content.decode()
    assert "The live capture did not succeed" in page


def _fake_liveness(monkeypatch, outcome):
    class Result:
        def as_dict(self):
            reasons = [{"code": "frames_identical", "message": "The frames do not move"}] if outcome == "fail" else []
            return {"outcome": outcome, "reasons": reasons, "best_frame": 1, "passed": outcome == "pass"}

    monkeypatch.setattr("verification.tasks.check_liveness", lambda frames, times, challenge: Result())


def test_repeated_failed_captures_lock_the_session_and_send_it_to_a_reviewer(
    client, world, settings, monkeypatch, scripted_face_engine, django_capture_on_commit_callbacks
):
    _fake_liveness(monkeypatch, "fail")
    link, token = _to_live_step(client, world, ["left", "right"])
    frames = lambda: [jpeg_upload(f"f{i:04d}_t{i / 4:07.3f}.jpg") for i in range(8)]  # noqa: E731
    for attempt in range(1, settings.SELF_SERVICE_MAX_FAILED_CAPTURES):
        client.post(_step(token, "live"), {"frames": frames(), "timestamps": ""})
        assert _state(client, link)["failures"] == attempt and "live" not in _state(client, link)["done"]
    client.post(_step(token, "live"), {"frames": frames(), "timestamps": ""})
    state = _state(client, link)
    assert state["locked"] and state["review_required"] and "live" in state["done"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_step(token, "review"))
    assert CardUser.objects.get().registration_status == RegistrationStatus.IN_REVIEW


def test_an_inconclusive_capture_goes_to_a_reviewer(
    client, world, monkeypatch, scripted_face_engine, django_capture_on_commit_callbacks
):
    _fake_liveness(monkeypatch, "inconclusive")
    link, token = _to_live_step(client, world, ["left", "straight"])
    client.post(_step(token, "live"), {"frames": [jpeg_upload(f"f{i}.jpg") for i in range(3)], "timestamps": ""})
    assert _state(client, link)["review_required"] is True
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_step(token, "review"))
    assert CardUser.objects.get().registration_status == RegistrationStatus.IN_REVIEW


def test_too_many_frames_are_refused(client, world):
    link, token = _to_live_step(client, world, ["left", "right"])
    answer = client.post(_step(token, "live"), {"frames": [jpeg_upload(f"f{i}.jpg") for i in range(16)]})
    assert answer.status_code == 400 and answer.json()["ok"] is False


def test_only_the_live_step_may_use_the_camera(client, world):
    """The capture calls getUserMedia, which the site-wide Permissions-Policy (camera=()) would refuse."""
    link, token = _to_live_step(client, world, ["left", "right"])
    live = client.get(_step(token, "live"))
    assert "camera=(self)" in live["Permissions-Policy"]
    other = client.get(_step(token, "identity"))
    assert "camera=()" in other["Permissions-Policy"]
