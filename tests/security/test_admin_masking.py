"""Personal data in the ops admin: names and ID addresses are masked in list views and on the
change pages, as ID numbers already were (DESIGN §3; issue 7: "personal data never appears in ...
the admin list views in the clear").
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from cards.models import CardBinding, CardUser, Handler
from core.identity import mask_address, mask_name
from tests import factories

pytestmark = pytest.mark.django_db

CARD_USER_NAME = "欧阳明玲"
HANDLER_NAME = "司马青云"


def test_mask_name_and_address_keep_only_their_ends():
    assert [mask_name(n) for n in ["", "王", "王芳", "欧阳玲", "欧阳明玲"]] == ["", "*", "王*", "欧*玲", "欧**玲"]
    assert mask_address("北京市朝阳区建国路2号") == "北京市朝阳区*****"
    assert mask_address("北京") == "北京"


@pytest.fixture
def records(world, scripted_face_engine):
    manager = world["users"]["account_manager"]
    enterprise = world["enterprise"]
    card = factories.card(enterprise=enterprise)
    verification = factories.card_user_registration(
        actor=manager, enterprise=enterprise, cards=[card], name=CARD_USER_NAME
    )
    factories.face_result(verification, "pass")
    order = factories.order_done(
        business_type="supplementary_registration",
        cards=[factories.card(enterprise=enterprise)],
        actor=manager,
        handler=factories.handler_data(name=HANDLER_NAME),
    )
    assert CardBinding.objects.filter(card=card, ended_at__isnull=True).exists()
    return {
        "enterprise": enterprise,
        "card_user": CardUser.objects.get(name=CARD_USER_NAME),
        "handler": Handler.objects.get(name=HANDLER_NAME),
        "order": order,
    }


def _pages(records) -> dict[str, str]:
    card_user, handler, order = records["card_user"], records["handler"], records["order"]
    binding = CardBinding.objects.get(card_user=card_user)
    return {
        "card users": reverse("admin:cards_carduser_changelist"),
        "card user": reverse("admin:cards_carduser_change", args=[card_user.pk]),
        "bindings": reverse("admin:cards_cardbinding_changelist"),
        "binding": reverse("admin:cards_cardbinding_change", args=[binding.pk]),
        "orders": reverse("admin:cards_order_changelist"),
        "order": reverse("admin:cards_order_change", args=[order.pk]),
        "handlers": reverse("admin:cards_handler_changelist"),
        "handler": reverse("admin:cards_handler_change", args=[handler.pk]),
        "enterprise": reverse("admin:enterprises_enterprise_change", args=[records["enterprise"].pk]),
    }


def test_admin_shows_card_users_handlers_and_responsible_persons_masked(world, records):
    client = Client()
    client.force_login(world["users"]["ops"])
    person = records["enterprise"].responsible_person
    for label, url in _pages(records).items():
        response = client.get(url)
        assert response.status_code == 200, label
        html = response.content.decode()
        for secret in (CARD_USER_NAME, HANDLER_NAME, person.name, person.id_address, records["handler"].id_address):
            assert secret not in html, (label, secret)
    lists = client.get(_pages(records)["card users"]).content.decode()
    assert mask_name(CARD_USER_NAME) in lists
    handlers = client.get(_pages(records)["handlers"]).content.decode()
    assert mask_name(HANDLER_NAME) in handlers
    enterprise_page = client.get(_pages(records)["enterprise"]).content.decode()
    assert mask_name(person.name) in enterprise_page and mask_address(person.id_address) in enterprise_page
