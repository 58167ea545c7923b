"""Issue 9 §2 in the browser: the card user's whole phone flow at 390×844, from the link to the status page.

Headless chromium has no camera here: the live step's button fails to open one, and the page falls back to
the file input with capture="user" (the issue accepts it; a reviewer then looks). Every page is checked for
horizontal scroll, the failure a phone user notices first.
"""

from __future__ import annotations

import pytest

from cards.models import Card, CardStatus, CardUser, Channel, RegistrationStatus
from cards.self_service import services
from tests import factories, idgen
from tests.browser.conftest import screenshot
from tests.images import jpeg_bytes

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WIDTH, HEIGHT = 390, 844


@pytest.fixture
def phone(browser, live_server):
    """A phone-sized, touch page with no camera permission; a CSP violation fails the test."""
    context = browser.new_context(
        locale="zh-CN",
        viewport={"width": WIDTH, "height": HEIGHT},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.base_url = live_server.url
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    yield page
    context.close()
    assert not violations, violations


def _no_horizontal_scroll(page, where: str) -> None:
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= WIDTH, f"{where}: the page is {width} px wide at a {WIDTH} px viewport"


def _continue(page, where: str) -> None:
    _no_horizontal_scroll(page, where)
    with page.expect_navigation():
        page.locator("main form.phone-form button[type=submit]").first.click()


def test_the_whole_phone_flow_at_390_px(phone, world, scripted_face_engine, tmp_path):
    enterprise = world["enterprise"]
    card = factories.card(enterprise=enterprise)
    Card.objects.filter(pk=card.pk).update(status=CardStatus.AWAITING_REALNAME)
    _link, token = services.link_create(
        actor=world["users"]["account_manager"],
        enterprise=enterprise,
        label="Site A",
        identifiers=[card.iccid],
        max_uses=5,
    )
    id_photo, live_photo = tmp_path / "id.jpg", tmp_path / "live.jpg"
    id_photo.write_bytes(jpeg_bytes(size=(1200, 800)))
    live_photo.write_bytes(jpeg_bytes(size=(800, 1000), color=(180, 150, 130)))

    phone.goto(f"{phone.base_url}/s/{token}/")
    assert phone.locator("#consent-notice").is_visible()
    phone.check("input[name=consent]")
    _continue(phone, "consent")

    assert f"/s/{token}/step/cards/" in phone.url
    phone.check(f"input[name=cards][value='{card.iccid}']")
    _continue(phone, "cards")

    assert "/step/identity/" in phone.url
    phone.fill("input[name=name]", "王五")
    phone.select_option("select[name=id_type]", "resident_id")
    phone.fill("input[name=id_number]", idgen.resident_id())
    _continue(phone, "identity")

    assert "/step/id_photo/" in phone.url
    phone.set_input_files("input[name=photo]", str(id_photo))
    _continue(phone, "ID photo")

    assert "/step/live/" in phone.url
    _no_horizontal_scroll(phone, "live capture")
    start = phone.locator("[data-start]")
    if start.is_visible():
        start.tap()  # no camera in headless chromium: the page shows the file input instead
    fallback = phone.locator("[data-fallback]")
    fallback.wait_for(state="visible")
    file_input = fallback.locator("input[name=photo]")
    assert file_input.get_attribute("capture") == "user" and file_input.get_attribute("accept") == "image/*"
    file_input.set_input_files(str(live_photo))
    with phone.expect_navigation():
        fallback.locator("button[type=submit]").click()

    assert "/step/review/" in phone.url
    assert card.iccid in phone.content() and "王五" in phone.content()
    screenshot(phone, "self-service-review-390")
    _continue(phone, "review")

    assert phone.url.endswith(f"/s/{token}/status/")
    _no_horizontal_scroll(phone, "status")
    assert phone.locator("[data-status='in_review']").count() == 1
    screenshot(phone, "self-service-status-390")
    card_user = CardUser.objects.get()
    assert card_user.channel == Channel.SELF_SERVICE
    # The file-input photo proves no presence: a reviewer decides, never an automatic pass.
    assert card_user.registration_status == RegistrationStatus.IN_REVIEW


@pytest.fixture(scope="module")
def camera_browser(browser):
    """Chromium with its fake camera (a synthetic moving picture) and the permission prompt answered; on the
    session's Playwright (one sync Playwright per thread)."""
    from tests.browser.conftest import CHROMIUM_ARGS
    from tests.conftest import CHROMIUM

    args = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
    instance = browser.browser_type.launch(executable_path=CHROMIUM, args=args, headless=True)
    yield instance
    instance.close()


def test_the_live_capture_sends_the_cameras_frames_after_a_tap(
    camera_browser, live_server, world, scripted_face_engine, monkeypatch, tmp_path
):
    """The getUserMedia path of static/js/liveness_capture.js: 8-15 JPEG frames with timestamps, uploaded as
    frames (not a video) and checked on the server, which then opens the review."""
    seen: dict = {}

    class Passed:
        def as_dict(self):
            return {"outcome": "pass", "reasons": [], "best_frame": 0, "passed": True}

    def fake_check(frames, timestamps, challenge):  # the real check needs a face; the fake camera has none
        seen.update(frames=frames, timestamps=timestamps, challenge=challenge)
        return Passed()

    monkeypatch.setattr("verification.tasks.check_liveness", fake_check)
    enterprise = world["enterprise"]
    card = factories.card(enterprise=enterprise)
    Card.objects.filter(pk=card.pk).update(status=CardStatus.AWAITING_REALNAME)
    _link, token = services.link_create(
        actor=world["users"]["account_manager"], enterprise=enterprise, label="A", identifiers=[card.iccid], max_uses=5
    )
    id_photo = tmp_path / "id.jpg"
    id_photo.write_bytes(jpeg_bytes(size=(1200, 800)))
    context = camera_browser.new_context(
        locale="zh-CN", viewport={"width": WIDTH, "height": HEIGHT}, is_mobile=True, has_touch=True
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/s/{token}/")
        page.check("input[name=consent]")
        _continue(page, "consent")
        page.check(f"input[name=cards][value='{card.iccid}']")
        _continue(page, "cards")
        page.fill("input[name=name]", "王五")
        page.select_option("select[name=id_type]", "resident_id")
        page.fill("input[name=id_number]", idgen.resident_id())
        _continue(page, "identity")
        page.set_input_files("input[name=photo]", str(id_photo))
        _continue(page, "ID photo")
        assert "/step/live/" in page.url
        with page.expect_navigation(url=f"**/s/{token}/step/review/", timeout=30_000):
            page.locator("[data-start]").tap()
        _no_horizontal_scroll(page, "review after the capture")
    finally:
        context.close()
    assert 8 <= len(seen["frames"]) <= 15
    assert all(frame[:2] == b"\xff\xd8" for frame in seen["frames"])  # JPEG frames, not a video
    assert seen["timestamps"] and len(seen["timestamps"]) == len(seen["frames"])
    assert seen["timestamps"] == sorted(seen["timestamps"]) and 2 <= len(seen["challenge"]) <= 3
