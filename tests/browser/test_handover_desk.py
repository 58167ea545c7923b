"""Issue 9 §4 in the browser: the counter's handover page follows the phone live, and a phone submit the server
refuses (one ID, five cards) shows its reason at the desk instead of leaving the page waiting; taking it back
opens the counter's form with every card of the handover."""

from __future__ import annotations

import pytest
from django.test import Client

from cards.models import Card, CardStatus, SelfServiceLink, SelfServiceLinkKind
from tests import factories, idgen
from tests.browser.conftest import login, screenshot
from tests.images import jpeg_upload

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _awaiting(enterprise, n):
    cards = [factories.card(enterprise=enterprise) for _ in range(n)]
    Card.objects.filter(pk__in=[c.pk for c in cards]).update(status=CardStatus.AWAITING_REALNAME)
    return cards


def test_the_desk_shows_the_phone_progress_and_its_refusal_then_takes_back_every_card(
    page, world, scripted_face_engine, django_capture_on_commit_callbacks
):
    manager, enterprise = world["users"]["account_manager"], world["enterprise"]
    number = idgen.resident_id()
    factories.verified_card_user(actor=manager, enterprise=enterprise, cards=_awaiting(enterprise, 5), id_number=number)
    cards = _awaiting(enterprise, 2)

    login(page, manager.username, factories.PASSWORD)
    page.goto(f"{page.base_url}/cards/card-users/new/?card={cards[0].iccid}&card={cards[1].iccid}")
    textarea = page.locator("textarea[name=iccids]")
    assert sorted(textarea.input_value().split()) == sorted(c.iccid for c in cards)
    with page.expect_navigation():
        page.click("button[formaction$='/cards/self-service/handover/']")
    qr = page.locator("#handover img")
    qr.wait_for()
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
    link = SelfServiceLink.objects.get(kind=SelfServiceLinkKind.HANDOVER)
    token = page.locator("#handover img").get_attribute("src").split("/")[2]

    # The phone (another device): through every step with an ID that already holds five live cards.
    phone = Client()
    assert phone.post(f"/s/{token}/", {"consent": "on"}).status_code == 302
    assert phone.post(f"/s/{token}/step/cards/", {"cards": [cards[0].iccid]}).status_code == 302
    page.wait_for_function(
        "() => document.querySelector('[data-handover-field=step_display]').textContent.trim() !== ''"
    )
    identity = {"name": "李四", "id_type": "resident_id", "id_number": number}
    assert phone.post(f"/s/{token}/step/identity/", identity).status_code == 302
    assert phone.post(f"/s/{token}/step/id_photo/", {"photo": jpeg_upload("id.jpg")}).status_code == 302
    assert phone.post(f"/s/{token}/step/live/", {"photo": jpeg_upload("live.jpg")}).status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        assert phone.post(f"/s/{token}/step/review/").status_code == 302

    refusal = page.locator("#handover-refusal")
    refusal.wait_for(state="visible", timeout=20_000)
    assert page.locator("[data-handover-field=refusal_display]").text_content().strip()
    assert number not in page.content()
    link.refresh_from_db()
    assert link.refusal_code == "one_id_five_cards"
    screenshot(page, "handover-refused")

    with page.expect_navigation():
        page.click("#handover form button[type=submit]")
    assert "/cards/card-users/new/" in page.url
    assert sorted(page.locator("textarea[name=iccids]").input_value().split()) == sorted(c.iccid for c in cards)
