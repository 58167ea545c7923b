"""Issue 11 §2 at the counter: the ID photo and the live photo survive a submit with errors (core.pending_uploads)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from cards.card_users.forms import CONSENT_TEXT
from cards.models import CardUser
from tests import factories, idgen
from tests.images import jpeg_upload
from verification.capture import challenge_sign
from verification.models import Verification

pytestmark = pytest.mark.django_db


def tokens(html: str, field: str) -> list[str]:
    return re.findall(rf'name="{field}__pending" value="([^"]+)"', html)


def test_the_counter_keeps_both_photos_when_the_consent_is_missing(
    client, world, scripted_face_engine, django_capture_on_commit_callbacks
):
    enterprise = world["enterprise"]
    card = factories.card(enterprise=enterprise, data="non_directed")
    client.force_login(world["users"]["account_manager"])
    id_number = idgen.resident_id()
    data = {
        "enterprise": str(enterprise.public_id),
        "iccids": card.iccid,
        "name": "钱七",
        "id_type": "resident_id",
        "id_number": id_number,
        "challenge": challenge_sign(["left", "right"]),
    }

    response = client.post(
        reverse("cards:card_user_create"),
        {**data, "id_photo": jpeg_upload("id.jpg"), "live_photo": jpeg_upload("live.jpg")},
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert set(response.context["form"].errors) == {"biometric_consent"}
    # The summary names the consent shortly, not by its whole text (which ended "。：" in Chinese).
    summary = re.search(r'data-error-link="biometric_consent">([^<]+)<', html).group(1)
    assert summary.startswith("Consent to the biometric check: ") and str(CONSENT_TEXT) not in summary
    [id_token], [live_token] = tokens(html, "id_photo"), tokens(html, "live_photo")
    assert id_number not in html and id_token not in id_number
    assert not CardUser.objects.exists() and not Verification.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("cards:card_user_create"),
            {**data, "biometric_consent": "on", "id_photo__pending": id_token, "live_photo__pending": live_token},
        )

    assert response.status_code == 302
    verification = Verification.objects.get()
    assert verification.live_photo and verification.id_photo
