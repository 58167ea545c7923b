"""Card lifecycle and the real-name rules that guard it (cards.inventory.services): U0-U6 against the database.

Every business on a card is an order with its handler (H2): the tests do it as users do, through
cards.orders (tests.factories.order_done and its shorthands activate, suspend, resume, cancel,
change_services). The face comparison is stood in for by recording its result directly
(tests.factories.face_result -> verification.services.verification_record_result).
"""

from __future__ import annotations

import pytest

from accounts.pii import mask_identifier
from cards.card_users import services as card_user_services
from cards.errors import CardLimitReached, RealnameRequired
from cards.inventory import services as card_services
from cards.models import CardBinding, CardEvent, CardStatus, CardUser
from cards.rules import Exemption
from core.errors import InvalidTransition, ValidationFailed
from tests import factories, idgen
from verification.models import VerificationStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(world):
    return world["users"]["account_manager"]


@pytest.fixture
def ent(world):
    return world["enterprise"]


def fresh(card):
    card.refresh_from_db()
    return card


def activation(card, actor=None):
    """The outcome of a new-installation order for the card: (outcome, outcome_detail) of its line."""
    line = factories.order_line(factories.activate(card, actor=actor), card)
    return line.outcome, line.outcome_detail


# --- creation and the stored decision ---------------------------------------------------


def test_card_create_stores_the_decision_and_a_history_event(ent, manager):
    card = factories.card(enterprise=ent, segment_149=True, sms="non_directed", actor=manager)
    assert card.status == CardStatus.IN_STOCK
    assert (card.realname_required, card.realname_rules, card.exemption_needed) == (True, "U2", "none_possible")
    event = CardEvent.objects.get(card=card)
    assert (event.action, event.actor, event.to_status) == ("created", manager, CardStatus.IN_STOCK)


@pytest.mark.parametrize(
    "field, value, code",
    [
        ("iccid", "89860200000000000001", "invalid_iccid_checksum"),
        ("iccid", "12345678901234567890", "invalid_iccid"),
        ("msisdn", "2491234567", "invalid_msisdn"),
        ("data", "lots", "invalid_level"),
    ],
)
def test_card_create_refuses_bad_input_and_writes_nothing(ent, field, value, code):
    from cards.models import Card

    kwargs = {"iccid": value} if field == "iccid" else {"number": value} if field == "msisdn" else {field: value}
    with pytest.raises(ValidationFailed) as caught:
        factories.card(enterprise=ent, **kwargs)
    assert caught.value.code == code
    assert Card.objects.count() == 0


def test_card_create_refuses_a_duplicate_iccid(ent):
    card = factories.card(enterprise=ent)
    with pytest.raises(ValidationFailed) as caught:
        factories.card(enterprise=ent, iccid=card.iccid)
    assert caught.value.code == "duplicate_iccid"


# --- U0-U4: what activation needs --------------------------------------------------------


def test_U0_plain_card_activates_with_enterprise_records_only(ent, manager):
    card = factories.card(enterprise=ent, data="directed", voice="directed", sms="directed")
    assert card.realname_required is False and card.realname_rules == "U0"
    assert activation(card, manager)[0] == "activated"
    assert fresh(card).status == CardStatus.ACTIVE
    assert CardEvent.objects.filter(card=card, action="activated", data__basis="not_required").exists()


def test_U1_non_directed_data_needs_user_realname_with_provincial_exemption(ent, manager):
    card = factories.card(enterprise=ent, data="non_directed")
    assert (card.realname_required, card.realname_rules, card.exemption_needed) == (True, "U1", "province")
    outcome, detail = activation(card, manager)
    assert outcome == "awaiting_realname" and detail["exemption"] == Exemption.PROVINCE.value
    factories.exemption(enterprise=ent, cards=[card], levels=["province"], submitted_by=manager)
    assert activation(card, manager)[0] == "activated"
    assert fresh(card).status == CardStatus.ACTIVE


def test_U2_149_non_directed_sms_has_no_exemption_whatever_is_approved(ent, manager):
    card = factories.card(enterprise=ent, segment_149=True, sms="non_directed")
    factories.exemption(enterprise=ent, cards=[card], levels=["province", "group"], submitted_by=manager)
    # The transition itself, under the new-installation order it belongs to (the order records the
    # refusal as the card's outcome; here is the message it carries).
    order = factories.order(actor=manager, enterprise=ent, business_type="new_installation", cards=[card])
    with pytest.raises(RealnameRequired) as caught:
        card_services.card_activate(actor=manager, card=card, order=order)
    assert caught.value.decision.exemption is Exemption.NONE_POSSIBLE
    assert caught.value.status_code == 409
    assert "No exemption is possible" in str(caught.value.message)
    assert card_services.exemption_covering(card, card.realname_decision) is None


def test_U2_149_non_directed_voice_also_has_no_exemption(ent):
    card = factories.card(enterprise=ent, segment_149=True, voice="non_directed", sms="directed")
    assert (card.realname_rules, card.exemption_needed) == ("U2,U3", "none_possible")


def test_U3_149_directed_voice_needs_group_approval(ent, manager):
    card = factories.card(enterprise=ent, segment_149=True, voice="directed")
    assert (card.realname_rules, card.exemption_needed) == ("U3", "group")
    factories.exemption(enterprise=ent, cards=[card], levels=["province"], submitted_by=manager)
    assert activation(card, manager)[0] == "awaiting_realname"
    factories.exemption(enterprise=ent, cards=[card], levels=["group"], submitted_by=manager)
    assert activation(card, manager)[0] == "activated"
    assert fresh(card).status == CardStatus.ACTIVE


def test_U3_the_same_directed_sms_on_a_non_149_number_needs_nothing(ent, manager):
    card = factories.card(enterprise=ent, segment_149=False, voice="directed", sms="directed")
    assert card.realname_required is False
    factories.activate(card, actor=manager)
    assert fresh(card).status == CardStatus.ACTIVE


def test_U4_test_package_never_needs_user_realname(ent, manager):
    card = factories.card(enterprise=ent, test=True, segment_149=True, data="non_directed", sms="non_directed")
    assert (card.realname_required, card.realname_rules, card.exemption_needed) == (False, "U4", "")
    factories.activate(card, actor=manager)
    assert fresh(card).status == CardStatus.ACTIVE


# --- U5: enforcement -------------------------------------------------------------------------


def test_U5_activation_blocked_without_realname(ent, manager):
    card = factories.card(enterprise=ent, data="non_directed")
    order = factories.order(actor=manager, enterprise=ent, business_type="new_installation", cards=[card])
    with pytest.raises(RealnameRequired) as caught:
        card_services.card_activate(actor=manager, card=card, order=order)
    assert caught.value.code == "realname_required"
    assert caught.value.decision.rules == ("U1",)
    # The refusal is recorded: the card now awaits its user's real-name.
    assert fresh(card).status == CardStatus.AWAITING_REALNAME
    assert CardEvent.objects.filter(card=card, action="awaiting_realname", actor=manager, order=order).exists()
    # Refused again from there, with no second status change.
    with pytest.raises(RealnameRequired):
        card_services.card_activate(actor=manager, card=card, order=order)
    assert CardEvent.objects.filter(card=card, action="awaiting_realname").count() == 1


def test_U5_activation_allowed_after_the_face_comparison_passes(ent, manager):
    card = factories.card(enterprise=ent, segment_149=True, sms="non_directed")
    verification = factories.card_user_registration(actor=manager, enterprise=ent, cards=[card])
    # Registered but not yet compared: still refused.
    assert not CardBinding.objects.filter(card=card).exists()
    assert activation(card, manager)[0] == "awaiting_realname"
    factories.face_result(verification, "pass")
    binding = CardBinding.objects.get(card=card, ended_at__isnull=True)
    assert binding.card_user == verification.card_user
    assert card_services.realname_satisfied(fresh(card)) == (True, "user_realname_complete")
    # The card that waited activates under the order that left it waiting (H2, U5).
    assert fresh(card).status == CardStatus.ACTIVE


@pytest.mark.parametrize("outcome", ["review", "fail", "rejected"])
def test_U5_a_comparison_that_does_not_pass_binds_nothing(ent, manager, outcome):
    card = factories.card(enterprise=ent, data="non_directed")
    verification = factories.card_user_registration(actor=manager, enterprise=ent, cards=[card])
    factories.face_result(verification, outcome, distance=0.7)
    assert not CardBinding.objects.filter(card=card).exists()
    assert activation(card, manager)[0] == "awaiting_realname"


def test_U5_a_reviewer_approval_binds_the_cards(world, ent, manager):
    from verification.services import verification_review

    card = factories.card(enterprise=ent, data="non_directed")
    verification = factories.card_user_registration(actor=manager, enterprise=ent, cards=[card])
    factories.face_result(verification, "review", distance=0.55)
    verification_review(
        verification=verification, actor=world["users"]["provincial_approver"], approve=True, comment="核对无误"
    )
    assert CardBinding.objects.filter(card=card, ended_at__isnull=True).exists()


def test_U5_activation_allowed_with_an_exemption_covering_the_card(ent, manager):
    card = factories.card(enterprise=ent, segment_149=True, data="non_directed", voice="directed")
    assert (card.realname_rules, card.exemption_needed) == ("U1,U3", "province_and_group")
    # Only the province approved: does not cover a card under U1 and U3.
    factories.exemption(enterprise=ent, cards=[card], levels=["province"], submitted_by=manager)
    assert activation(card, manager)[0] == "awaiting_realname"
    # Not yet approved: does not cover either.
    factories.exemption(
        enterprise=ent, cards=[card], levels=["province", "group"], submitted_by=manager, status="submitted"
    )
    assert activation(card, manager)[0] == "awaiting_realname"
    factories.exemption(enterprise=ent, cards=[card], levels=["province", "group"], submitted_by=manager)
    assert card_services.realname_satisfied(fresh(card)) == (True, "exemption_approved")
    assert activation(card, manager)[0] == "activated"
    assert fresh(card).status == CardStatus.ACTIVE


def test_U5_an_exemption_for_other_cards_does_not_cover(ent, manager):
    card = factories.card(enterprise=ent, data="non_directed")
    other = factories.card(enterprise=ent, data="non_directed")
    factories.exemption(enterprise=ent, cards=[other], levels=["province"], submitted_by=manager)
    assert activation(card, manager)[0] == "awaiting_realname"


def test_U5_service_opening_blocked(ent, manager):
    card = factories.card(enterprise=ent, data="directed")
    factories.activate(card, actor=manager)
    with pytest.raises(RealnameRequired) as caught:
        factories.change_services(card, actor=manager, data="non_directed")
    assert caught.value.decision.rules == ("U1",)
    card = fresh(card)
    assert (card.data_service, card.realname_required, card.realname_rules) == ("directed", False, "U0")
    assert not CardEvent.objects.filter(card=card, action="services_changed").exists()


def test_U5_service_opening_blocked_on_a_suspended_card_too(ent, manager):
    card = factories.card(enterprise=ent, segment_149=True)
    factories.activate(card, actor=manager)
    factories.suspend(card, actor=manager)
    with pytest.raises(RealnameRequired):
        factories.change_services(card, actor=manager, sms="non_directed")


def test_U5_service_opening_allowed_once_the_user_is_verified(ent, manager):
    card = factories.card(enterprise=ent)
    factories.activate(card, actor=manager)
    factories.verified_card_user(actor=manager, enterprise=ent, cards=[card])
    factories.change_services(card, actor=manager, data="non_directed")
    card = fresh(card)
    assert (card.data_service, card.realname_required, card.realname_rules, card.exemption_needed) == (
        "non_directed",
        True,
        "U1",
        "province",
    )
    event = CardEvent.objects.get(card=card, action="services_changed")
    assert event.data["before"]["data"] == "none" and event.data["after"]["data"] == "non_directed"


def test_U5_services_of_a_card_in_stock_may_change_and_the_decision_is_stored(ent, manager):
    card = factories.card(enterprise=ent, segment_149=True)
    factories.change_services(card, actor=manager, sms="non_directed")
    assert (fresh(card).realname_required, fresh(card).exemption_needed) == (True, "none_possible")


def test_U5_closing_services_needs_nothing(ent, manager):
    card = factories.card(enterprise=ent, data="non_directed")
    factories.exemption(enterprise=ent, cards=[card], levels=["province"], submitted_by=manager)
    factories.activate(card, actor=manager)
    factories.change_services(card, actor=manager, data="none")
    assert fresh(card).realname_required is False


def test_U5_package_change_rechecks(ent, manager):
    card = factories.card(enterprise=ent, test=True, data="non_directed")
    factories.activate(card, actor=manager)  # U4: fine on the test package
    assert fresh(card).status == CardStatus.ACTIVE
    normal = factories.package(code="IOT-STD")
    with pytest.raises(RealnameRequired) as caught:
        factories.change_services(card, actor=manager, package=normal)
    assert caught.value.decision.rules == ("U1",)
    assert fresh(card).package.is_test_package is True
    # With the user verified the move is allowed, and the stored decision follows.
    factories.verified_card_user(actor=manager, enterprise=ent, cards=[card])
    factories.change_services(card, actor=manager, package=normal)
    card = fresh(card)
    assert (card.package, card.realname_required, card.realname_rules) == (normal, True, "U1")


def test_U5_package_change_refuses_a_withdrawn_package(ent, manager):
    card = factories.card(enterprise=ent)
    old = factories.package(code="IOT-OLD", active=False)
    with pytest.raises(ValidationFailed) as caught:
        factories.change_services(card, actor=manager, package=old)
    assert (caught.value.code, caught.value.field) == ("unknown_package", "package")
    assert fresh(card).package.code == "IOT-STD"


def test_U5_resume_rechecks(ent, manager):
    card = factories.card(enterprise=ent, data="non_directed")
    request = factories.exemption(enterprise=ent, cards=[card], levels=["province"], submitted_by=manager)
    factories.activate(card, actor=manager)
    factories.suspend(card, actor=manager)
    request.status = "withdrawn"
    request.save()
    with pytest.raises(RealnameRequired):
        factories.resume(card, actor=manager)
    assert fresh(card).status == CardStatus.SUSPENDED


def test_U5_transfer_ends_the_binding_and_rechecks(world, ent, manager):
    card = factories.card(enterprise=ent, data="non_directed")
    card_user = factories.verified_card_user(actor=manager, enterprise=ent, cards=[card])
    factories.activate(card, actor=manager)
    target = world["enterprise_same_province"]
    transfer(card, manager, target)
    card = fresh(card)
    assert card.enterprise == target
    binding = CardBinding.objects.get(card=card, card_user=card_user)
    assert binding.ended_at is not None and binding.end_reason == "ownership_transfer"
    # The new owner's user has not done real-name: the card waits for it.
    assert card.status == CardStatus.AWAITING_REALNAME
    assert card_services.realname_satisfied(card) == (False, "missing")
    assert CardEvent.objects.filter(card=card, action="transferred").exists()


def test_U5_transfer_leaves_the_old_owners_exemption_behind(world, ent, manager):
    card = factories.card(enterprise=ent, data="non_directed")
    factories.exemption(enterprise=ent, cards=[card], levels=["province"], submitted_by=manager)
    factories.activate(card, actor=manager)
    transfer(card, manager, world["enterprise_same_province"])
    assert fresh(card).status == CardStatus.AWAITING_REALNAME


def test_U5_transfer_of_a_card_that_needs_nothing_stays_active(world, ent, manager):
    card = factories.card(enterprise=ent)
    factories.activate(card, actor=manager)
    transfer(card, manager, world["enterprise_same_province"])
    assert fresh(card).status == CardStatus.ACTIVE


def transfer(card, actor, target):
    return factories.order_done(
        business_type="ownership_transfer",
        cards=card,
        actor=actor,
        parameters={"target_enterprise": str(target.public_id)},
    )


# --- lifecycle -------------------------------------------------------------------------------------


def test_lifecycle_and_history_name_every_actor(world, ent, manager):
    admin = world["users"]["enterprise_admin"]
    card = factories.card(enterprise=ent, actor=manager)
    factories.activate(card, actor=manager)
    factories.suspend(card, actor=admin)
    factories.resume(card, actor=admin)
    factories.cancel(card, actor=manager)
    assert fresh(card).status == CardStatus.CANCELLED
    history = list(
        CardEvent.objects.filter(card=card)
        .order_by("at", "id")
        .values_list("action", "actor__username", "order__created_by__username")
    )
    # Each business is an order, which names who filed it and its handler (H2). The new installation
    # completed when the handler's face comparison passed: the system, not a person, completed it.
    assert history == [
        ("created", "am_bj", None),
        ("activated", None, "am_bj"),
        ("suspended", "ea_bj", "ea_bj"),
        ("resumed", "ea_bj", "ea_bj"),
        ("cancelled", "am_bj", "am_bj"),
    ]
    assert all(e.order.handler_id for e in CardEvent.objects.filter(card=card).exclude(action="created"))


@pytest.mark.parametrize(
    "status, business",
    [
        ("in_stock", "suspend"),
        ("in_stock", "resume"),
        ("active", "activate"),
        ("active", "resume"),
        ("cancelled", "activate"),
        ("cancelled", "cancel"),
        ("cancelled", "suspend"),
    ],
)
def test_transitions_from_the_wrong_state_are_refused(ent, manager, status, business):
    from cards.models import Order

    card = factories.card(enterprise=ent)
    if status in ("active", "cancelled"):
        factories.activate(card, actor=manager)
    if status == "cancelled":
        factories.cancel(card, actor=manager)
    events, orders_before = CardEvent.objects.filter(card=card).count(), Order.objects.count()
    with pytest.raises(ValidationFailed) as caught:
        getattr(factories, business)(card, actor=manager)
    assert (caught.value.code, caught.value.field) == ("invalid_card_status", "cards")
    assert fresh(card).status == status
    assert CardEvent.objects.filter(card=card).count() == events
    assert Order.objects.count() == orders_before


def test_a_transition_checks_the_state_again_under_its_lock(ent, manager):
    """The order checks the cards when it is filed; the transition checks again when it runs."""
    card = factories.card(enterprise=ent)
    order = factories.order(actor=manager, enterprise=ent, business_type="new_installation", cards=[card])
    from cards.models import Card

    Card.objects.filter(pk=card.pk).update(status=CardStatus.CANCELLED)  # changed meanwhile
    with pytest.raises(InvalidTransition):
        card_services.card_activate(actor=manager, card=card, order=order)


def test_a_cancelled_card_cannot_change_services(ent, manager):
    card = factories.card(enterprise=ent)
    factories.cancel(card, actor=manager)
    with pytest.raises(ValidationFailed) as caught:
        factories.change_services(card, actor=manager, data="directed")
    assert caught.value.code == "invalid_card_status"


# --- U6: one ID, five cards ----------------------------------------------------------------------


def test_U6_sixth_card_refused(ent, manager):
    number = idgen.resident_id()
    cards = [factories.card(enterprise=ent, data="non_directed") for _ in range(6)]
    factories.verified_card_user(actor=manager, enterprise=ent, cards=cards[:5], id_number=number)
    assert card_user_services.live_card_count(CardUser.objects.get().id_number_index) == 5
    # Refused early, when the user is registered for a sixth card ...
    with pytest.raises(CardLimitReached) as caught:
        factories.card_user_registration(actor=manager, enterprise=ent, cards=[cards[5]], id_number=number)
    message = str(caught.value.message)
    assert caught.value.code == "one_id_five_cards" and caught.value.status_code == 409
    assert mask_identifier(number) in message
    assert number not in message
    assert "5 live cards" in message and "limit is 5" in message
    assert caught.value.params == {"held": 5, "limit": 5}
    assert CardUser.objects.count() == 1  # nothing half-written
    # ... and at the binding itself, under the lock.
    card_user = CardUser.objects.get()
    with pytest.raises(CardLimitReached) as caught:
        card_user_services.card_user_bind(actor=manager, card_user=card_user, cards=[cards[5]])
    assert number not in str(caught.value.message)
    assert not CardBinding.objects.filter(card=cards[5]).exists()


def test_U6_binding_several_cards_at_once_counts_them_all(ent, manager):
    number = idgen.resident_id()
    cards = [factories.card(enterprise=ent) for _ in range(6)]
    with pytest.raises(CardLimitReached) as caught:
        factories.card_user_registration(actor=manager, enterprise=ent, cards=cards, id_number=number)
    assert caught.value.params["held"] == 0
    factories.verified_card_user(actor=manager, enterprise=ent, cards=cards[:5], id_number=number)
    assert CardBinding.objects.filter(ended_at__isnull=True).count() == 5


def test_U6_cancelled_card_frees_slot(ent, manager):
    number = idgen.resident_id()
    cards = [factories.card(enterprise=ent) for _ in range(6)]
    factories.verified_card_user(actor=manager, enterprise=ent, cards=cards[:5], id_number=number)
    factories.cancel(cards[0], actor=manager)
    binding = CardBinding.objects.get(card=cards[0])
    assert binding.ended_at is not None and binding.end_reason == "card_cancelled"
    factories.verified_card_user(actor=manager, enterprise=ent, cards=[cards[5]], id_number=number)
    assert CardBinding.objects.filter(card=cards[5], ended_at__isnull=True).exists()


def test_U6_counts_across_enterprises(world, manager):
    number = idgen.resident_id()
    ent_a, ent_b, ent_gd = world["enterprise"], world["enterprise_same_province"], world["enterprise_other"]
    manager_gd = world["users"]["account_manager_other_province"]
    factories.verified_card_user(
        actor=manager, enterprise=ent_a, cards=[factories.card(enterprise=ent_a) for _ in range(3)], id_number=number
    )
    factories.verified_card_user(
        actor=manager, enterprise=ent_b, cards=[factories.card(enterprise=ent_b) for _ in range(2)], id_number=number
    )
    # Another enterprise in another province: the same ID still holds five.
    with pytest.raises(CardLimitReached) as caught:
        factories.card_user_registration(
            actor=manager_gd, enterprise=ent_gd, cards=[factories.card(enterprise=ent_gd)], id_number=number
        )
    assert caught.value.params["held"] == 5


def test_U6_the_same_document_under_another_type_counts_too(ent, manager):
    # A Taiwan resident's 18-digit permit entered once as a permit and once as a resident ID is one document.
    number = idgen.resident_id(area="830000", birth="19900101")
    factories.verified_card_user(
        actor=manager,
        enterprise=ent,
        id_type="hmt_residence_permit",
        id_number=number,
        cards=[factories.card(enterprise=ent) for _ in range(5)],
    )
    with pytest.raises(CardLimitReached):
        factories.card_user_registration(
            actor=manager,
            enterprise=ent,
            id_type="resident_id",
            id_number=number,
            cards=[factories.card(enterprise=ent)],
        )


def test_U6_a_comparison_passing_after_the_slots_are_taken_binds_nothing_and_says_why(ent, manager):
    number = idgen.resident_id()
    first = factories.card_user_registration(
        actor=manager, enterprise=ent, id_number=number, cards=[factories.card(enterprise=ent) for _ in range(3)]
    )
    second = factories.card_user_registration(
        actor=manager, enterprise=ent, id_number=number, cards=[factories.card(enterprise=ent) for _ in range(3)]
    )
    factories.face_result(first, "pass")
    second = factories.face_result(second, "pass")
    assert second.status == VerificationStatus.PASSED
    assert CardBinding.objects.filter(card_user=second.card_user).count() == 0
    assert CardBinding.objects.filter(ended_at__isnull=True).count() == 3
    assert second.reasons[-1]["code"] == "one_id_five_cards"
    assert number not in str(second.reasons)


def test_a_comparison_passing_for_a_card_bound_meanwhile_binds_nothing_and_says_why(ent, manager):
    card = factories.card(enterprise=ent)
    first = factories.card_user_registration(actor=manager, enterprise=ent, cards=[card])
    second = factories.card_user_registration(actor=manager, enterprise=ent, cards=[card])
    factories.face_result(first, "pass")
    second = factories.face_result(second, "pass")
    assert second.reasons[-1]["code"] == "already_bound"
    assert CardBinding.objects.get(card=card).card_user == first.card_user


def test_registration_refuses_a_card_that_already_has_a_user(ent, manager):
    card = factories.card(enterprise=ent)
    factories.verified_card_user(actor=manager, enterprise=ent, cards=[card])
    with pytest.raises(ValidationFailed) as caught:
        factories.card_user_registration(actor=manager, enterprise=ent, cards=[card])
    assert (caught.value.code, caught.value.field) == ("already_bound", "cards")


def test_bind_refuses_cards_of_another_enterprise_and_cancelled_cards(world, ent, manager):
    card_user = factories.verified_card_user(actor=manager, enterprise=ent, cards=[factories.card(enterprise=ent)])
    other = factories.card(enterprise=world["enterprise_same_province"])
    with pytest.raises(ValidationFailed) as caught:
        card_user_services.card_user_bind(actor=manager, card_user=card_user, cards=[other])
    assert caught.value.code == "wrong_enterprise"
    cancelled = factories.card(enterprise=ent)
    factories.cancel(cancelled, actor=manager)
    with pytest.raises(InvalidTransition):
        card_user_services.card_user_bind(actor=manager, card_user=card_user, cards=[cancelled])


@pytest.mark.parametrize(
    "overrides, field, code",
    [
        ({"name": " "}, "name", "required"),
        ({"name": "名" * 101}, "name", "max_length"),
        ({"id_number": "110105198507120010"}, "id_number", "invalid_checksum"),
        ({"biometric_consent": False}, "biometric_consent", "consent_required"),
        ({"cards": []}, "cards", "required"),
    ],
)
def test_registration_bad_input_is_refused_and_writes_nothing(ent, manager, overrides, field, code):
    from verification.models import Verification

    kwargs = {"cards": [factories.card(enterprise=ent)], **overrides}
    with pytest.raises(ValidationFailed) as caught:
        factories.card_user_registration(actor=manager, enterprise=ent, **kwargs)
    assert caught.value.field == field
    if code != "invalid_checksum":
        assert caught.value.code == code
    assert CardUser.objects.count() == 0 and Verification.objects.count() == 0
