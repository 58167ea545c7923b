"""Issue 11 §2: the card page offers "Apply for an exemption" where one is possible, and the exemption form keeps
its approval forms and says every error at the top."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from approvals.models import ExemptionRequest
from tests import factories
from tests.images import jpeg_upload

pytestmark = pytest.mark.django_db


def card_page(client, card) -> str:
    response = client.get(reverse("cards:detail", args=[card.iccid]))
    assert response.status_code == 200
    return response.content.decode()


def exemption_link(html: str) -> str | None:
    found = re.search(r'id="apply-exemption" href="([^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_u1_card_offers_the_exemption_form_with_the_card_chosen(client, world):
    card = factories.card(enterprise=world["enterprise"], data="non_directed")  # U1: province may exempt
    client.force_login(world["users"]["account_manager"])

    link = exemption_link(card_page(client, card))

    assert link is not None
    form = client.get(link)
    assert form.status_code == 200
    html = form.content.decode()
    assert re.search(rf'value="{card.iccid}"[^>]*checked', html)


def test_u2_card_and_a_card_that_needs_nothing_offer_no_exemption(client, world):
    u2 = factories.card(enterprise=world["enterprise"], segment_149=True, voice="non_directed")
    plain = factories.card(enterprise=world["enterprise"])  # U0: nothing to exempt
    client.force_login(world["users"]["account_manager"])

    assert exemption_link(card_page(client, u2)) is None
    assert exemption_link(card_page(client, plain)) is None


def test_a_role_that_may_not_file_sees_no_button(client, world):
    card = factories.card(enterprise=world["enterprise"], data="non_directed")
    client.force_login(world["users"]["provincial_approver"])

    assert exemption_link(card_page(client, card)) is None


def test_exemption_errors_are_all_at_the_top_and_the_form_is_kept(client, world):
    """No reason and the group's form where none is needed: both errors in the summary, before the card table."""
    card = factories.card(enterprise=world["enterprise"], data="non_directed")
    client.force_login(world["users"]["account_manager"])
    url = f"{reverse('approvals:exemption_new')}?enterprise={world['enterprise'].public_id}"

    response = client.post(
        url,
        {
            "enterprise": str(world["enterprise"].public_id),
            "cards": [card.iccid],
            "reason": "",
            "attachment_province": [jpeg_upload("province.jpg")],
        },
    )

    assert response.status_code == 200
    html = response.content.decode()
    summary_at = html.index("data-error-summary")
    assert summary_at < html.index('name="cards"')
    assert 'data-error-link="reason"' in html[summary_at : html.index("</ul>", summary_at)]
    [token] = re.findall(r'name="attachment_province__pending" value="([^"]+)"', html)
    assert ExemptionRequest.objects.count() == 0

    # Sent again with the reason and only the kept form: filed.
    response = client.post(
        url,
        {
            "enterprise": str(world["enterprise"].public_id),
            "cards": [card.iccid],
            "reason": "设备安装在无人值守的机房内，使用人无法到场",
            "attachment_province__pending": [token],
        },
    )
    assert response.status_code == 302
    request = ExemptionRequest.objects.get()
    assert request.attachments.count() == 1
