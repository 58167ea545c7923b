"""The platform's events are emitted by the business services themselves (issue 10 §3): each real service
writes exactly one Event of its type, with the payload's exact keys, in its own transaction; a change that
rolls back leaves no Event and no Delivery; a subscribed endpoint gets a pending Delivery; no payload
carries personal data."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from django.db import transaction

from approvals import services as approvals_services
from cards.card_users.services import card_user_register
from cards.imports import services as import_services
from cards.models import CardStatus, CardUser, Channel, Package, SelfServiceLink
from cards.self_service import services as self_service
from integrations.webhooks import signing
from integrations.webhooks.models import Delivery, DeliveryStatus, Event, EventType, WebhookEndpoint
from integrations.webhooks.payloads import PAYLOADS, emit_event, payload_data
from tests import factories, idgen
from tests.approvals import file_for_combo
from tests.cards.import_files import bad_check_digit, csv_bytes, iccid, row, upload
from tests.images import jpeg_upload
from verification.engine import reason
from verification.models import Verification
from verification.services import verification_record_result, verification_review

pytestmark = pytest.mark.django_db

# Written here, apart from payloads.py: what an integrator reads in the docs.
CARD_USER_KEYS = ["enterprise", "card_user", "verification", "status", "channel", "cards", "reasons"]
CARD_KEYS = ["enterprise", "card", "from_status", "status", "action", "order", "reason"]
ORDER_KEYS = ["enterprise", "order", "number", "business_type", "status"]
EXPECTED_KEYS = {
    "card_user.registered": CARD_USER_KEYS,
    "card_user.in_review": CARD_USER_KEYS,
    "card_user.refused": CARD_USER_KEYS,
    "card.activated": CARD_KEYS,
    "card.status_changed": CARD_KEYS,
    "order.completed": [*ORDER_KEYS, "outcomes"],
    "order.refused": [*ORDER_KEYS, "reason"],
    "exemption.decided": ["enterprise", "exemption", "status", "level", "required_levels", "cards"],
    "card_import.finished": [
        "enterprise",
        "card_import",
        "status",
        "total_rows",
        "imported_rows",
        "error_count",
        "reason",
    ],
    "self_service_link.exhausted": ["enterprise", "self_service_link", "max_uses", "uses"],
}

NAME = "赵六"


def the_event(event_type: str, enterprise) -> dict:
    """The one event of this type; its data has exactly the documented keys and the enterprise's id."""
    events = list(Event.objects.filter(type=event_type))
    assert len(events) == 1, [e.type for e in Event.objects.all()]
    data = events[0].data
    # As a set: PostgreSQL's jsonb keeps no key order (the body is sent with sorted keys anyway).
    assert sorted(data) == sorted(EXPECTED_KEYS[event_type])
    assert data["enterprise"] == str(enterprise.public_id) and events[0].enterprise_id == enterprise.pk
    return data


def assert_no_personal_data(*secrets: str) -> None:
    dumped = json.dumps(list(Event.objects.values_list("data", flat=True)), ensure_ascii=False)
    for secret in secrets:
        assert secret not in dumped


def test_every_business_event_type_has_a_payload_and_the_documented_keys():
    assert set(PAYLOADS) == set(EventType.values) - {EventType.TEST}
    for event_type, payload in PAYLOADS.items():
        assert list(payload.names) == EXPECTED_KEYS[event_type]


def test_a_payload_refuses_a_missing_or_an_undeclared_field(world):
    enterprise = world["enterprise"]
    fields = dict(card="89860000000000000001", from_status="in_stock", status="active", action="activated")
    with pytest.raises(TypeError):
        payload_data(enterprise, EventType.CARD_ACTIVATED, **fields, order=None)  # reason missing
    with pytest.raises(TypeError):
        emit_event(enterprise, EventType.CARD_ACTIVATED, **fields, order=None, reason=None, msisdn="14400000001")
    assert not Event.objects.exists()


# --- card users: every channel ---------------------------------------------------------------------------


def _register(world, *, channel=Channel.COUNTER, id_number=None, cards=None, **kwargs):
    enterprise = world["enterprise"]
    with mock.patch("verification.services.enqueue_verification"):
        return card_user_register(
            actor=world["users"]["account_manager"],
            enterprise=enterprise,
            name=NAME,
            id_type="resident_id",
            id_number=id_number or idgen.resident_id(),
            id_photo=jpeg_upload("id.jpg"),
            live_photo=jpeg_upload("live.jpg"),
            biometric_consent=True,
            cards=cards or [factories.card(enterprise=enterprise)],
            channel=channel,
            **kwargs,
        )


@pytest.mark.parametrize("channel", [Channel.COUNTER, Channel.SELF_SERVICE, Channel.PLATFORM])
def test_a_passed_comparison_emits_card_user_registered_once(world, channel):
    id_number = idgen.resident_id()
    verification = _register(world, channel=channel, id_number=id_number)
    assert not Event.objects.exists()  # submitted is not news yet
    factories.face_result(verification, "pass")
    data = the_event("card_user.registered", world["enterprise"])
    card_user = CardUser.objects.get()
    assert data == {
        "enterprise": str(world["enterprise"].public_id),
        "card_user": str(card_user.public_id),
        "verification": str(verification.public_id),
        "status": "registered",
        "channel": channel.value,
        "cards": [verification.cards.get().iccid],
        "reasons": [],
    }
    assert_no_personal_data(NAME, id_number)


def test_a_review_then_a_decline_emit_in_review_then_refused(world):
    id_number = idgen.resident_id()
    verification = _register(world, id_number=id_number)
    factories.face_result(verification, "review", distance=0.55)
    assert the_event("card_user.in_review", world["enterprise"])["reasons"] == []
    verification_review(
        verification=verification, actor=world["users"]["provincial_approver"], approve=False, comment=f"不像{NAME}"
    )
    data = the_event("card_user.refused", world["enterprise"])
    assert data["status"] == "declined" and data["reasons"] == ["review_declined"]
    # The reviewer's comment quotes the person: it never reaches a payload.
    assert_no_personal_data(NAME, id_number)


def test_unusable_photos_emit_refused_with_the_comparisons_reason_codes(world):
    verification = _register(world)
    verification_record_result(
        verification=verification, outcome="rejected", reasons=[reason("no_face", "live")], engine="test-double"
    )
    data = the_event("card_user.refused", world["enterprise"])
    assert data["status"] == "needs_new_photo" and data["reasons"] == ["no_face"]


def test_one_id_five_cards_emits_refused_with_its_code(world, settings):
    settings.ONE_ID_CARD_LIMIT = 1
    id_number = idgen.resident_id()
    first = _register(world, id_number=id_number)
    second = _register(world, id_number=id_number)
    factories.face_result(first, "pass")
    factories.face_result(second, "pass")
    data = the_event("card_user.refused", world["enterprise"])
    assert data["status"] == "not_bound_card_limit" and data["reasons"] == ["one_id_five_cards"]
    assert data["card_user"] == str(second.card_user.public_id)
    the_event("card_user.registered", world["enterprise"])


def _through_the_phone(client, token, card, id_number):
    assert client.post(f"/s/{token}/", {"consent": "on"}).status_code == 302
    assert client.post(f"/s/{token}/step/cards/", {"typed": card.iccid}).status_code == 302
    identity = {"name": NAME, "id_type": "resident_id", "id_number": id_number}
    assert client.post(f"/s/{token}/step/identity/", identity).status_code == 302
    assert client.post(f"/s/{token}/step/id_photo/", {"photo": jpeg_upload("id.jpg")}).status_code == 302
    assert client.post(f"/s/{token}/step/live/", {"photo": jpeg_upload("live.jpg")}).status_code == 302
    assert client.post(f"/s/{token}/step/review/").status_code == 302


@pytest.mark.parametrize("max_uses", [1, 2])
def test_the_phone_flow_emits_in_review_and_the_last_use_exhausts_the_link(
    client, world, scripted_face_engine, django_capture_on_commit_callbacks, max_uses
):
    enterprise = world["enterprise"]
    card = factories.card(enterprise=enterprise)
    type(card).objects.filter(pk=card.pk).update(status=CardStatus.AWAITING_REALNAME)
    link, token = self_service.link_create(
        actor=world["users"]["account_manager"],
        enterprise=enterprise,
        label="Site A",
        identifiers=[card.iccid],
        max_uses=max_uses,
    )
    id_number = idgen.resident_id()
    with django_capture_on_commit_callbacks(execute=True):
        _through_the_phone(client, token, card, id_number)
    # A photo from a file input proves no presence: a reviewer looks.
    data = the_event("card_user.in_review", enterprise)
    assert data["channel"] == "self_service" and data["cards"] == [card.iccid]
    if max_uses == 1:
        assert the_event("self_service_link.exhausted", enterprise) == {
            "enterprise": str(enterprise.public_id),
            "self_service_link": str(link.public_id),
            "max_uses": 1,
            "uses": 1,
        }
    else:
        assert SelfServiceLink.objects.get(pk=link.pk).uses == 1
        assert not Event.objects.filter(type="self_service_link.exhausted").exists()
    assert_no_personal_data(NAME, id_number)


# --- cards and orders ----------------------------------------------------------------------------------


def test_a_new_installation_emits_card_activated_and_order_completed(world):
    enterprise = world["enterprise"]
    card = factories.card(enterprise=enterprise)
    order = factories.activate(card)
    activated = the_event("card.activated", enterprise)
    assert activated == {
        "enterprise": str(enterprise.public_id),
        "card": card.iccid,
        "from_status": "in_stock",
        "status": "active",
        "action": "activated",
        "order": str(order.public_id),
        "reason": "not_required",
    }
    completed = the_event("order.completed", enterprise)
    assert completed["order"] == str(order.public_id) and completed["number"] == order.number
    assert completed["business_type"] == "new_installation" and completed["status"] == "completed"
    assert completed["outcomes"] == [{"outcome": "activated", "count": 1}]
    assert not Event.objects.filter(type="card.status_changed").exists()
    assert_no_personal_data(card.msisdn)


def test_a_card_that_awaits_real_name_changes_status_then_activates_once_its_user_registers(world):
    enterprise = world["enterprise"]
    card = factories.card(enterprise=enterprise, data="non_directed")  # U1: its user's real-name is needed
    order = factories.activate(card)
    changed = the_event("card.status_changed", enterprise)
    assert changed["action"] == "awaiting_realname" and changed["status"] == "awaiting_realname"
    assert changed["order"] == str(order.public_id) and changed["reason"] is None
    assert the_event("order.completed", enterprise)["outcomes"] == [{"outcome": "awaiting_realname", "count": 1}]
    verification = _register(world, cards=[card])
    factories.face_result(verification, "pass")
    activated = the_event("card.activated", enterprise)
    assert activated["from_status"] == "awaiting_realname" and activated["reason"] == "user_realname_complete"
    assert activated["order"] == str(order.public_id)
    the_event("card_user.registered", enterprise)


@pytest.mark.parametrize(
    "make, action, status",
    [(factories.suspend, "suspended", "suspended"), (factories.cancel, "cancelled", "cancelled")],
)
def test_a_suspension_or_a_cancellation_emits_card_status_changed(world, make, action, status):
    enterprise = world["enterprise"]
    card = factories.active_card(enterprise=enterprise)
    Event.objects.all().delete()
    order = make(card)
    data = the_event("card.status_changed", enterprise)
    assert data["from_status"] == "active" and data["status"] == status and data["action"] == action
    assert data["order"] == str(order.public_id)
    the_event("order.completed", enterprise)


def test_a_resumed_card_is_a_status_change_not_an_activation(world):
    card = factories.active_card(enterprise=world["enterprise"])
    factories.suspend(card)
    Event.objects.all().delete()
    factories.resume(card)
    data = the_event("card.status_changed", world["enterprise"])
    assert (data["from_status"], data["status"], data["action"]) == ("suspended", "active", "resumed")
    assert not Event.objects.filter(type="card.activated").exists()


def test_the_end_of_a_trial_is_a_system_status_change_with_its_reason(world):
    from datetime import timedelta

    from django.utils import timezone

    from cards.inventory import services as card_services
    from cards.models import Card

    card = factories.card(enterprise=world["enterprise"], test=True)
    factories.card_transition("activate", card, actor=None)
    Card.objects.filter(pk=card.pk).update(test_period_ends_at=timezone.now() - timedelta(minutes=1))
    Event.objects.all().delete()
    assert card_services.card_end_test_period(card=Card.objects.get(pk=card.pk)) is True
    data = the_event("card.status_changed", world["enterprise"])
    assert data["action"] == "test_period_ended" and data["reason"] == "test_period_ended"
    assert data["order"] is None and data["status"] == "suspended"


def test_a_change_that_is_no_status_change_emits_no_card_event(world):
    card = factories.active_card(enterprise=world["enterprise"])
    Event.objects.all().delete()
    factories.change_services(card, sms="directed")
    assert list(Event.objects.values_list("type", flat=True)) == ["order.completed"]


def test_a_declined_handler_emits_order_refused(world, no_engine):
    enterprise = world["enterprise"]
    card = factories.card(enterprise=enterprise)
    order = factories.order(
        actor=world["users"]["account_manager"], enterprise=enterprise, business_type="new_installation", cards=[card]
    )
    verification = Verification.objects.get(order=order)
    factories.face_result(verification, "review", distance=0.55)
    assert not Event.objects.exists()
    verification_review(
        verification=verification, actor=world["users"]["provincial_approver"], approve=False, comment="不是本人"
    )
    data = the_event("order.refused", enterprise)
    assert data["order"] == str(order.public_id) and data["status"] == "rejected"
    assert data["reason"] == "handler_declined" and data["business_type"] == "new_installation"
    assert not Event.objects.exclude(type="order.refused").exists()


# --- exemptions and imports ----------------------------------------------------------------------------


@pytest.mark.parametrize("approve", [True, False])
def test_a_decided_exemption_emits_exemption_decided(world, approve):
    request, card = file_for_combo(world, "U1")
    approvals_services.exemption_decide(
        request=request,
        actor=world["users"]["provincial_approver"],
        level="province",
        approve=approve,
        comment="" if approve else "缺少盖章",
    )
    assert the_event("exemption.decided", world["enterprise"]) == {
        "enterprise": str(world["enterprise"].public_id),
        "exemption": str(request.public_id),
        "status": "approved" if approve else "rejected",
        "level": "province",
        "required_levels": ["province"],
        "cards": [card.iccid],
    }


def test_an_intermediate_approval_is_not_a_decision(world):
    request, _card = file_for_combo(world, "U1+U3")
    approvals_services.exemption_decide(
        request=request, actor=world["users"]["group_approver"], level="group", approve=True
    )
    assert not Event.objects.exists()
    approvals_services.exemption_decide(
        request=request, actor=world["users"]["provincial_approver"], level="province", approve=True
    )
    data = the_event("exemption.decided", world["enterprise"])
    assert data["status"] == "approved" and sorted(data["required_levels"]) == ["group", "province"]


@pytest.mark.parametrize("good", [True, False])
def test_a_finished_import_emits_card_import_finished(world, good, django_capture_on_commit_callbacks):
    Package.objects.get_or_create(code="IOT-BASIC", defaults={"name": "物联网基础套餐"})
    rows = [row(1), row(2)] if good else [row(1), row(2, icc=bad_check_digit(iccid(2)))]
    with django_capture_on_commit_callbacks(execute=True):
        job = import_services.card_import_create(
            actor=world["users"]["account_manager"], enterprise=world["enterprise"], upload=upload(csv_bytes(rows))
        )
    data = the_event("card_import.finished", world["enterprise"])
    expected = {"status": "succeeded", "imported_rows": 2, "error_count": 0, "reason": None}
    if not good:
        expected = {"status": "failed", "imported_rows": 0, "error_count": 1, "reason": "rows_refused"}
    assert data == {
        "enterprise": str(world["enterprise"].public_id),
        "card_import": str(job.public_id),
        "total_rows": 2,
        **expected,
    }


# --- the outbox: rollback and deliveries -----------------------------------------------------------------


def _endpoint(enterprise, events):
    return WebhookEndpoint.objects.create(
        enterprise=enterprise, url="http://127.0.0.1:9/hook", events=events, secret=signing.new_secret()
    )


def test_a_change_that_rolls_back_leaves_no_event_and_no_delivery(world):
    enterprise = world["enterprise"]
    _endpoint(enterprise, [])
    card = factories.card(enterprise=enterprise)
    with pytest.raises(RuntimeError), transaction.atomic():
        factories.activate(card)
        assert Event.objects.filter(type="card.activated").exists() and Delivery.objects.exists()
        raise RuntimeError
    assert not Event.objects.exists() and not Delivery.objects.exists()
    card.refresh_from_db()
    assert card.status == CardStatus.IN_STOCK


def test_a_completion_the_order_service_rolls_back_emits_only_the_refusal(world, monkeypatch):
    """order_handler_verified completes the order in a savepoint; when that fails, the card events and
    order.completed written inside it go with it, and the order is refused instead."""
    from cards.inventory import services as card_services

    enterprise = world["enterprise"]
    card = factories.card(enterprise=enterprise)
    real_event = card_services.card_event

    def event_then_fail(*args, **kwargs):
        real_event(*args, **kwargs)
        raise card_services.InvalidTransition("changed meanwhile")

    monkeypatch.setattr(card_services, "card_event", event_then_fail)
    order = factories.activate(card)
    assert list(Event.objects.values_list("type", flat=True)) == ["order.refused"]
    assert the_event("order.refused", enterprise)["reason"] == "invalid_transition"
    assert order.status == "rejected"


def test_an_endpoint_subscribed_to_the_type_gets_a_pending_delivery(world):
    enterprise = world["enterprise"]
    wants = _endpoint(enterprise, ["card.activated"])
    everything = _endpoint(enterprise, [])
    _endpoint(enterprise, ["order.refused"])
    _endpoint(world["enterprise_other"], [])
    disabled = _endpoint(enterprise, ["card.activated"])
    WebhookEndpoint.objects.filter(pk=disabled.pk).update(enabled=False)
    card = factories.card(enterprise=enterprise)
    factories.activate(card)
    activated = Event.objects.get(type="card.activated")
    deliveries = Delivery.objects.filter(event=activated)
    assert {d.endpoint_id for d in deliveries} == {wants.pk, everything.pk}
    assert {d.status for d in deliveries} == {DeliveryStatus.PENDING}
    completed = Event.objects.get(type="order.completed")
    assert [d.endpoint_id for d in Delivery.objects.filter(event=completed)] == [everything.pk]


def test_a_registration_reaches_a_subscribed_receiver_once_committed_and_verifies(
    world, settings, django_capture_on_commit_callbacks
):
    """The whole way: the service emits, the commit sends, the receiver gets the documented body, signed so
    that the spec's reference library (standardwebhooks) verifies it."""
    from standardwebhooks.webhooks import Webhook

    from tests.integrations.test_webhooks import _Receiver

    settings.WEBHOOK_ALLOW_LOOPBACK = True
    receiver = _Receiver([200])
    try:
        secret = signing.new_secret()
        WebhookEndpoint.objects.create(
            enterprise=world["enterprise"], url=receiver.url, events=["card_user.registered"], secret=secret
        )
        id_number = idgen.resident_id()
        verification = _register(world, id_number=id_number)
        with django_capture_on_commit_callbacks(execute=True):
            factories.face_result(verification, "pass")
        [(headers, body)] = receiver.received
        event = Event.objects.get(type="card_user.registered")
        assert headers["webhook-id"] == event.public_id
        payload = Webhook(secret).verify(body, headers)
        assert payload["type"] == "card_user.registered" and payload["data"] == event.data
        assert NAME not in body and id_number not in body
        assert Delivery.objects.get(event=event).status == DeliveryStatus.SUCCEEDED
    finally:
        receiver.close()
