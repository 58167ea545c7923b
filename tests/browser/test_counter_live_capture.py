"""Issue 9 §3 (C1) in the browser: the counter's card-user page takes the live capture with the phone's script
(static/js/liveness_capture.js in form mode): one tap, 8-15 JPEG frames put into the form, sent with its submit,
and checked on the server by the same check."""

from __future__ import annotations

import pytest

from cards.models import CardUser
from tests import factories, idgen
from tests.browser.conftest import login
from tests.images import jpeg_bytes
from verification.models import LivenessSource, Verification

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def camera_browser(browser):
    """Chromium with its fake camera (a synthetic moving picture) and the permission prompt answered."""
    from tests.browser.conftest import CHROMIUM_ARGS
    from tests.conftest import CHROMIUM

    args = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
    instance = browser.browser_type.launch(executable_path=CHROMIUM, args=args, headless=True)
    yield instance
    instance.close()


def test_the_counter_page_sends_the_cameras_frames_with_its_form(
    camera_browser, live_server, world, scripted_face_engine, monkeypatch, tmp_path
):
    seen: dict = {}

    class Passed:
        def as_dict(self):
            return {"outcome": "pass", "reasons": [], "best_frame": 0, "passed": True}

    def fake_check(frames, timestamps, challenge):  # the real check needs a face; the fake camera has none
        seen.update(frames=frames, timestamps=timestamps, challenge=challenge)
        return Passed()

    monkeypatch.setattr("verification.tasks.check_liveness", fake_check)
    manager, enterprise = world["users"]["account_manager"], world["enterprise"]
    card = factories.card(enterprise=enterprise, data="non_directed")
    id_photo = tmp_path / "id.jpg"
    id_photo.write_bytes(jpeg_bytes(size=(1200, 800)))
    context = camera_browser.new_context(locale="en")
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.base_url = live_server.url
    try:
        login(page, manager.username, factories.PASSWORD)
        page.goto(f"{live_server.url}/cards/card-users/new/?card={card.iccid}")
        challenge = page.get_attribute("#liveness-capture", "data-challenge")
        page.fill("input[name=name]", "王五")
        page.select_option("select[name=id_type]", "resident_id")
        page.fill("input[name=id_number]", idgen.resident_id())
        page.set_input_files("input[name=id_photo]", str(id_photo))
        page.check("input[name=biometric_consent]")
        page.locator("[data-start]").click()
        page.wait_for_function("() => document.querySelector('input[name=frames]').files.length >= 8", timeout=30_000)
        with page.expect_navigation(url="**/cards/card-users/*/"):
            page.click("main form button[type=submit].button--primary")
    finally:
        context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors
    assert 8 <= len(seen["frames"]) <= 15
    assert all(frame[:2] == b"\xff\xd8" for frame in seen["frames"])  # JPEG frames, not a video
    assert seen["timestamps"] and len(seen["timestamps"]) == len(seen["frames"])
    assert seen["challenge"] == challenge.split(",")  # the challenge the page showed, signed by the server
    verification = Verification.objects.get(card_user=CardUser.objects.get())
    assert verification.liveness == LivenessSource.PASS and verification.review_required is False
