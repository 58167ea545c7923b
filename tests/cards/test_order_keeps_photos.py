"""Issue 11 §2 in the order wizard: the handler's photos survive a details step with errors (core.pending_uploads)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from cards.models import BusinessType, Order
from tests import idgen
from tests.cards.order_helpers import counts, stock
from tests.images import jpeg_upload

pytestmark = pytest.mark.django_db

NEW, HANDLER, DETAILS = reverse("orders:new"), reverse("orders:new_handler"), reverse("orders:new_details")


@pytest.fixture(autouse=True)
def no_engine(monkeypatch):
    monkeypatch.setattr("verification.services.enqueue_verification", lambda pk: None)


def tokens(html: str, field: str) -> list[str]:
    return re.findall(rf'name="{field}__pending" value="([^"]+)"', html)


def test_the_handlers_photos_survive_a_missing_address(client, world):
    enterprise = world["enterprise"]
    cards = stock(enterprise)
    client.force_login(world["users"]["account_manager"])
    client.post(
        NEW,
        {
            "business_type": BusinessType.NEW_INSTALLATION,
            "enterprise": str(enterprise.public_id),
            "cards": "\n".join(card.iccid for card in cards),
        },
    )
    client.post(HANDLER, {"handler_id_type": "resident_id", "handler_id_number": idgen.resident_id()})
    before = counts()

    response = client.post(
        DETAILS,
        {
            "handler_name": "王五",
            "handler_id_address": "",
            "handler_id_photo": jpeg_upload("id.jpg"),
            "handler_live_photo": jpeg_upload("live.jpg"),
        },
    )

    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"handler_id_address"}
    html = response.content.decode()
    [id_token], [live_token] = tokens(html, "handler_id_photo"), tokens(html, "handler_live_photo")
    assert counts() == before

    response = client.post(
        DETAILS,
        {
            "handler_name": "王五",
            "handler_id_address": "北京市东城区长安街3号",
            "handler_id_photo__pending": id_token,
            "handler_live_photo__pending": live_token,
        },
    )

    assert response.status_code == 302
    order = Order.objects.get()
    assert order.handler_id_photo and order.handler_live_photo
