"""Issue 11 §1.3: one ID number is one person.

A name other than the one an ID number is registered under is refused in the one service every channel
goes through (counter page, platform API, self-service); the same name is the same person, one more
registration row linked by the blind index, and the per-person page gathers that person's cards.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.pii import mask_identifier
from cards.card_users.services import person_name_key
from cards.models import CardUser, Channel, RegistrationStatus
from core.errors import ValidationFailed
from tests import factories, idgen
from tests.images import jpeg_upload

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def manager(world):
    return world["users"]["account_manager"]


@pytest.fixture
def ent(world):
    return world["enterprise"]


def register(manager, ent, number, name, **kwargs):
    return factories.card_user_registration(
        actor=manager, enterprise=ent, cards=[factories.card(enterprise=ent)], id_number=number, name=name, **kwargs
    )


def test_name_key_ignores_spaces_punctuation_width_and_case():
    assert person_name_key(" 王 芳。") == person_name_key("王芳")
    assert person_name_key("ＡＢＣ Smith") == person_name_key("abcsmith")
    assert person_name_key("王芳") != person_name_key("测试")


@pytest.mark.parametrize("channel", [Channel.COUNTER, Channel.SELF_SERVICE, Channel.PLATFORM])
def test_a_registered_id_under_another_name_is_refused_in_every_channel(manager, ent, world, channel):
    number = idgen.resident_id()
    register(manager, ent, number, "王芳")
    # In another enterprise, another province even: one ID is one person everywhere.
    other = world["enterprise_other"]
    with pytest.raises(ValidationFailed) as caught:
        register(world["users"]["account_manager_other_province"], other, number, "测试", channel=channel)
    assert caught.value.code == "id_name_mismatch" and caught.value.field == "name"
    # The message names neither the registered name nor the number.
    assert "王芳" not in str(caught.value.message) and number not in str(caught.value.message)
    assert CardUser.objects.filter(name="测试").count() == 0


def test_the_same_name_is_the_same_person_linked_by_the_blind_index(manager, ent, world):
    number = idgen.resident_id()
    first = register(manager, ent, number, "王芳").card_user
    second = register(manager, world["enterprise_same_province"], number, " 王 芳").card_user
    assert first.pk != second.pk  # a row per registration, with its own enterprise, photos and consent
    assert first.id_number_index == second.id_number_index


def test_a_refused_registration_does_not_fix_the_name(manager, ent, scripted_face_engine):
    number = idgen.resident_id()
    typo = register(manager, ent, number, "王芮")
    CardUser.objects.filter(pk=typo.card_user_id).update(registration_status=RegistrationStatus.DECLINED)
    assert register(manager, ent, number, "王芳").card_user.name == "王芳"


def test_the_api_answers_400_id_name_mismatch(manager, ent):
    number = idgen.resident_id()
    register(manager, ent, number, "王芳")
    api = APIClient()
    api.force_authenticate(manager)
    body = {
        "enterprise": str(ent.public_id),
        "cards": [factories.card(enterprise=ent).iccid],
        "name": "测试",
        "id_type": "resident_id",
        "id_number": number,
        "id_photo": jpeg_upload("id.jpg"),
        "live_photo": jpeg_upload("live.jpg"),
        "biometric_consent": "true",
    }
    response = api.post(f"{API}/card-users/", body, format="multipart")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "id_name_mismatch" and response.json()["field"] == "name"


def test_the_counter_page_shows_it_on_the_name_field(client, manager, ent):
    number = idgen.resident_id()
    register(manager, ent, number, "王芳")
    client.force_login(manager)
    card = factories.card(enterprise=ent)
    form = {
        "enterprise": str(ent.public_id),
        "iccids": card.iccid,
        "name": "测试",
        "id_type": "resident_id",
        "id_number": number,
        "id_photo": jpeg_upload("id.jpg"),
        "live_photo": jpeg_upload("live.jpg"),
        "biometric_consent": "on",
    }
    response = client.post(reverse("cards:card_user_create"), form)
    assert response.status_code == 400
    assert "already registered under another name" in response.context["form"].errors["name"][0]


def test_the_person_page_lists_every_card_of_the_id_the_viewer_may_see(client, manager, ent, world):
    number = idgen.resident_id()
    ent2 = world["enterprise_same_province"]
    other = world["enterprise_other"]
    cards_1 = [factories.card(enterprise=ent) for _ in range(2)]
    card_2 = factories.card(enterprise=ent2)
    card_other = factories.card(enterprise=other)
    first = factories.verified_card_user(actor=manager, enterprise=ent, cards=cards_1, id_number=number, name="王芳")
    factories.verified_card_user(actor=manager, enterprise=ent2, cards=[card_2], id_number=number, name="王芳")
    factories.verified_card_user(
        actor=world["users"]["account_manager_other_province"],
        enterprise=other,
        cards=[card_other],
        id_number=number,
        name="王芳",
    )
    unrelated = factories.verified_card_user(actor=manager, enterprise=ent, cards=[factories.card(enterprise=ent)])

    client.force_login(manager)
    detail = client.get(reverse("cards:card_user_detail", args=[first.public_id])).content.decode()
    url = reverse("cards:card_user_person", args=[first.public_id])
    assert url in detail and number not in url
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    for card in (*cards_1, card_2):
        assert f'data-iccid="{card.iccid}"' in page
    # Another province's card: counted in the five, never listed.
    assert card_other.iccid not in page
    assert 'data-used="4" data-limit="5"' in page and 'data-hidden-live="1"' in page
    assert unrelated.bindings.get().card.iccid not in page
    assert number not in page and mask_identifier(number) in page
    assert response["Cache-Control"].startswith("no-store") or "no-store" in response["Cache-Control"]


def test_the_person_page_of_a_card_user_out_of_scope_is_404(client, manager, world):
    other = world["enterprise_other"]
    card_user = factories.verified_card_user(
        actor=world["users"]["account_manager_other_province"],
        enterprise=other,
        cards=[factories.card(enterprise=other)],
    )
    client.force_login(manager)
    assert client.get(reverse("cards:card_user_person", args=[card_user.public_id])).status_code == 404
