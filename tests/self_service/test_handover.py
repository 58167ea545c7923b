"""C1 (issue 9 §4): the counter hands over to the phone; only one side completes."""

from __future__ import annotations

import pytest
from django.test import Client

from cards.models import CardStatus, HandoverStatus
from cards.self_service import services
from tests import factories

pytestmark = pytest.mark.django_db


def _handover(world):
    card = factories.card(enterprise=world["enterprise"])
    type(card).objects.filter(pk=card.pk).update(status=CardStatus.AWAITING_REALNAME)
    return services.handover_create(
        actor=world["users"]["account_manager"], enterprise=world["enterprise"], identifiers=[card.iccid]
    )


def _client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("account_manager", 200),
        ("account_manager_other_province", 404),
        ("enterprise_admin_other_enterprise", 404),
        ("provincial_approver", 403),
    ],
)
def test_progress_is_scoped(world, role, expected):
    link, _token = _handover(world)
    response = _client(world["users"][role]).get(f"/cards/self-service/handover/{link.public_id}/progress/")
    assert response.status_code == expected


def test_desk_takes_back_then_phone_is_refused_and_second_take_back_409(world):
    link, token = _handover(world)
    client = _client(world["users"]["account_manager"])
    url = f"/cards/self-service/handover/{link.public_id}/take-back/"
    assert client.post(url, HTTP_ACCEPT="application/json").status_code == 200
    link.refresh_from_db()
    assert link.handover_status == HandoverStatus.COUNTER
    assert Client().get(f"/s/{token}/").status_code == 410
    assert client.post(url, HTTP_ACCEPT="application/json").status_code == 409
