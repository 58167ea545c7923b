"""C1 (issue 9 §4): the counter hands over to the phone; only one side completes."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent
from accounts.permissions import Capability
from cards.models import (
    BusinessType,
    Card,
    CardStatus,
    CardUser,
    Channel,
    HandoverStatus,
    RegistrationStatus,
    SelfServiceLink,
    SelfServiceLinkKind,
)
from cards.self_service import phone as phone_module
from cards.self_service import services
from tests import factories, idgen
from tests.images import jpeg_upload

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


# --- one side completes; the desk follows the phone step by step -----------------------------


def _awaiting_cards(world, n):
    cards = [factories.card(enterprise=world["enterprise"]) for _ in range(n)]
    Card.objects.filter(pk__in=[c.pk for c in cards]).update(status=CardStatus.AWAITING_REALNAME)
    return cards


def _handover_of(world, cards):
    return services.handover_create(
        actor=world["users"]["account_manager"], enterprise=world["enterprise"], identifiers=[c.iccid for c in cards]
    )


def _progress(desk, link):
    response = desk.get(f"/cards/self-service/handover/{link.public_id}/progress/")
    assert response.status_code == 200
    return response.json()


def _phone_to_review(phone, token, card, id_number, *, desk=None, link=None):
    """The phone's steps up to the review; with `desk`, the step the desk sees after each one."""
    seen = []

    def note():
        if desk is not None:
            seen.append(_progress(desk, link)["step"])

    assert phone.get(f"/s/{token}/").status_code == 200
    note()
    assert phone.post(f"/s/{token}/", {"consent": "on"}).status_code == 302
    note()
    assert phone.post(f"/s/{token}/step/cards/", {"cards": [card.iccid]}).status_code == 302
    note()
    identity = {"name": "王五", "id_type": "resident_id", "id_number": id_number}
    assert phone.post(f"/s/{token}/step/identity/", identity).status_code == 302
    note()
    assert phone.post(f"/s/{token}/step/id_photo/", {"photo": jpeg_upload("id.jpg")}).status_code == 302
    note()
    assert phone.post(f"/s/{token}/step/live/", {"photo": jpeg_upload("live.jpg")}).status_code == 302
    note()
    return seen


def test_phone_submits_first_then_the_desk_take_back_is_409(
    world, scripted_face_engine, django_capture_on_commit_callbacks
):
    (card,) = _awaiting_cards(world, 1)
    link, token = _handover_of(world, [card])
    desk, phone = _client(world["users"]["account_manager"]), Client()
    number = idgen.resident_id()
    _phone_to_review(phone, token, card, number)
    with django_capture_on_commit_callbacks(execute=True):
        submitted = phone.post(f"/s/{token}/step/review/")
    assert submitted.status_code == 302 and submitted["Location"] == f"/s/{token}/status/"
    card_user = CardUser.objects.get()
    assert card_user.channel == Channel.SELF_SERVICE

    lost = desk.post(f"/cards/self-service/handover/{link.public_id}/take-back/", HTTP_ACCEPT="application/json")
    assert lost.status_code == 409
    body = lost.json()
    assert body["code"] == "handover_completed" and body["status"] == HandoverStatus.PHONE
    link.refresh_from_db()
    assert link.handover_status == HandoverStatus.PHONE and link.revoked_at is None
    progress = _progress(desk, link)
    assert progress["step"] == "submitted" and progress["refusal"] is None
    assert progress["card_user_url"] == f"/cards/card-users/{card_user.public_id}/"
    # Nothing personal in what the desk polls.
    assert number not in lost.content.decode() and "王五" not in lost.content.decode()


def test_desk_takes_back_first_then_the_phone_submit_is_refused_with_a_clear_page(world, scripted_face_engine):
    (card,) = _awaiting_cards(world, 1)
    link, token = _handover_of(world, [card])
    desk, phone = _client(world["users"]["account_manager"]), Client()
    _phone_to_review(phone, token, card, idgen.resident_id())
    taken = desk.post(f"/cards/self-service/handover/{link.public_id}/take-back/", HTTP_ACCEPT="application/json")
    assert taken.status_code == 200 and taken.json()["status"] == HandoverStatus.COUNTER

    refused = phone.post(f"/s/{token}/step/review/")
    assert refused.status_code == 410
    html = refused.content.decode()
    assert "taken this registration back to the counter" in html or "已将本次登记收回柜台" in html
    assert "Traceback" not in html
    assert not CardUser.objects.exists()
    link.refresh_from_db()
    assert link.uses == 0 and link.handover_status == HandoverStatus.COUNTER


def test_the_desk_sees_the_phone_progress_step_by_step(world, scripted_face_engine, django_capture_on_commit_callbacks):
    (card,) = _awaiting_cards(world, 1)
    link, token = _handover_of(world, [card])
    desk, phone = _client(world["users"]["account_manager"]), Client()
    assert _progress(desk, link)["step"] == "" and _progress(desk, link)["done"] is False
    seen = _phone_to_review(phone, token, card, idgen.resident_id(), desk=desk, link=link)
    # The live capture is the last step before the review: the desk then reads "reviewing".
    assert seen == ["opened", "consent", "cards", "identity", "id_photo", "review"]
    assert _progress(desk, link)["done"] is False
    with django_capture_on_commit_callbacks(execute=True):
        phone.post(f"/s/{token}/step/review/")
    progress = _progress(desk, link)
    assert progress["step"] == "submitted" and progress["status"] == HandoverStatus.PHONE
    # A file-input photo goes to a reviewer: the desk keeps following until the registration settles.
    assert progress["registration"] == "in_review" and progress["done"] is False


def test_a_refused_phone_submit_shows_its_reason_at_the_desk_which_may_take_it_back(
    world, scripted_face_engine, django_capture_on_commit_callbacks
):
    number = idgen.resident_id()
    held = _awaiting_cards(world, 5)
    factories.verified_card_user(
        actor=world["users"]["account_manager"],
        enterprise=world["enterprise"],
        cards=held,
        id_number=number,
        name="王五",  # the phone's person: one ID, one name (issue 11 §1.3)
    )
    (card,) = _awaiting_cards(world, 1)
    link, token = _handover_of(world, [card])
    desk, phone = _client(world["users"]["account_manager"]), Client()
    _phone_to_review(phone, token, card, number)
    with django_capture_on_commit_callbacks(execute=True):
        phone.post(f"/s/{token}/step/review/")
    status = phone.get(f"/s/{token}/status/").content.decode()
    assert 'data-status="refused"' in status

    link.refresh_from_db()
    assert link.refusal_code == "one_id_five_cards" and link.handover_status == HandoverStatus.OPEN
    progress = _progress(desk, link)
    assert progress["refusal"] == "one_id_five_cards" and progress["done"] is True
    assert "one ID, five cards" in progress["refusal_display"]
    assert number not in json.dumps(progress, ensure_ascii=False)
    # The handover does not hang: the desk takes it back and registers at the counter.
    taken = desk.post(f"/cards/self-service/handover/{link.public_id}/take-back/", HTTP_ACCEPT="application/json")
    assert taken.status_code == 200 and taken.json()["status"] == HandoverStatus.COUNTER


def test_a_face_mismatch_reports_its_reason_codes_at_the_desk(
    world, scripted_face_engine, django_capture_on_commit_callbacks
):
    scripted_face_engine("rejected", distance=0.9, reasons=[{"code": "face_mismatch", "message": "No match."}])
    (card,) = _awaiting_cards(world, 1)
    link, token = _handover_of(world, [card])
    desk, phone = _client(world["users"]["account_manager"]), Client()
    _phone_to_review(phone, token, card, idgen.resident_id())
    with django_capture_on_commit_callbacks(execute=True):
        phone.post(f"/s/{token}/step/review/")
    progress = _progress(desk, link)
    assert progress["registration"] == RegistrationStatus.NEEDS_NEW_PHOTO
    assert progress["reasons"] == ["face_mismatch"] and progress["done"] is True


def test_the_desk_page_carries_the_refusal_and_reasons_slots(world):
    (card,) = _awaiting_cards(world, 1)
    desk = _client(world["users"]["account_manager"])
    page = desk.post(
        "/cards/self-service/handover/", {"enterprise": str(world["enterprise"].public_id), "iccids": card.iccid}
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="handover-refusal"' in html and 'data-handover-field="refusal_display"' in html
    assert 'data-handover-field="reasons"' in html and "js/handover_progress.js" in html


def test_taking_back_prefills_every_card_of_the_handover(world):
    cards = _awaiting_cards(world, 3)
    link, _token = _handover_of(world, cards)
    desk = _client(world["users"]["account_manager"])
    response = desk.post(f"/cards/self-service/handover/{link.public_id}/take-back/")
    assert response.status_code == 302
    page = desk.get(response["Location"])
    assert page.status_code == 200
    textarea = page.context["form"]["iccids"].value()
    assert sorted(textarea.split()) == sorted(c.iccid for c in cards)


def test_the_handover_token_is_not_in_the_link_tables_in_the_clear(world, scripted_face_engine):
    cards = _awaiting_cards(world, 2)
    link, token = _handover_of(world, cards)
    phone = Client()
    _phone_to_review(phone, token, cards[0], idgen.resident_id())
    assert len(token) >= 43
    tables = [SelfServiceLink._meta.db_table, SelfServiceLink.cards.through._meta.db_table, AuditEvent._meta.db_table]
    for table in tables:
        assert _rows_containing(table, token) == [], table
    link.refresh_from_db()
    assert len(link.token_hash) == 64 and token not in link.token_hash


def _rows_containing(table: str, needle: str) -> list:
    """Every value of every column of the table (text or not) that contains the needle."""
    quoted = connection.ops.quote_name(table)
    hits = []
    with connection.cursor() as cursor:
        columns = [c.name for c in connection.introspection.get_table_description(cursor, table)]
        for column in columns:
            cursor.execute(f"SELECT {connection.ops.quote_name(column)} FROM {quoted}")  # noqa: S608
            hits += [value for (value,) in cursor.fetchall() if value is not None and needle in str(value)]
    return hits


# --- the order wizard hands over too ------------------------------------------------------------


def test_the_order_wizard_hands_its_cards_over_to_the_phone_and_takes_them_back(world, monkeypatch):
    monkeypatch.setattr("verification.services.enqueue_verification", lambda pk: None)
    ent = world["enterprise"]
    cards = [factories.card(enterprise=ent) for _ in range(2)]  # in stock, before a new installation
    desk = _client(world["users"]["account_manager"])
    start = desk.post(
        reverse("orders:new"),
        {"business_type": BusinessType.NEW_INSTALLATION, "enterprise": str(ent.public_id), "cards": cards[0].iccid},
    )
    assert start.status_code == 302
    desk.post(
        reverse("orders:new_handler"), {"handler_id_type": "resident_id", "handler_id_number": idgen.resident_id()}
    )
    for page_name in ("orders:new_handler", "orders:new_details"):
        html = desk.get(reverse(page_name)).content.decode()
        assert 'id="order-handover"' in html and 'name="origin" value="order"' in html
        assert cards[0].iccid in html and cards[1].iccid not in html

    page = desk.post(
        reverse("self_service:handover_create"),
        {"origin": "order", "enterprise": str(ent.public_id), "iccids": cards[0].iccid},
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="origin" value="order"' in html and reverse("orders:new_details") in html
    link = SelfServiceLink.objects.get(kind=SelfServiceLinkKind.HANDOVER)
    assert list(link.cards.all()) == [cards[0]]
    # The phone may choose the handover's card although it is still in stock (the wizard's own).
    assert [c.iccid for c in phone_module.link_cards_awaiting(link)] == [cards[0].iccid]

    back = desk.post(f"/cards/self-service/handover/{link.public_id}/take-back/", {"origin": "order"})
    assert back.status_code == 302 and back["Location"] == reverse("orders:new_details")
    assert desk.get(back["Location"]).status_code == 200  # the wizard still holds its steps


def test_the_wizard_offers_no_handover_to_a_role_that_registers_no_card_user(world, monkeypatch):
    ent = world["enterprise"]
    card = factories.card(enterprise=ent)
    desk = _client(world["users"]["account_manager"])
    desk.post(
        reverse("orders:new"),
        {"business_type": BusinessType.NEW_INSTALLATION, "enterprise": str(ent.public_id), "cards": card.iccid},
    )
    assert 'id="order-handover"' in desk.get(reverse("orders:new_handler")).content.decode()
    import cards.orders.views as order_views

    original = order_views.can
    monkeypatch.setattr(
        order_views, "can", lambda u, cap, obj: cap != Capability.CARD_USERS_REGISTER and original(u, cap, obj)
    )
    assert 'id="order-handover"' not in desk.get(reverse("orders:new_handler")).content.decode()
