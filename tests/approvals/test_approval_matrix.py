"""The exemption and approval matrix (issue 4 §6): every rule combination × every role.

Filing: U1 → provincial approval, U3 → group approval, U1+U3 → both; U2 (alone or
with U1/U3) is refused when filed (no exemption is possible); U4 and U0 need no
real-name, so there is nothing to exempt. Only the enterprise's account manager
and its own enterprise admin may file.

Deciding: the provincial level belongs to the provincial approvers of the
enterprise's province, the group level to the group approvers; anybody else is
refused, and so are self-decision, deciding twice, deciding at a level the request
does not need, and deciding a withdrawn, rejected or approved request. After full
approval the covered card can be activated (U5), and not before.

Every refusal is asserted with its code and a non-empty message.
"""

from __future__ import annotations

import pytest

from accounts.permissions import Capability, can
from approvals import selectors, services
from approvals.models import Decision, ExemptionRequest, RequestStatus
from cards.models import CardStatus
from core.errors import DomainError
from tests import factories
from tests.approvals import (
    COMBO_LEVELS,
    COMBO_RULES,
    COMBOS,
    EXEMPTABLE,
    ROLES,
    assert_refused,
    attachments_for,
    card_for,
    file_for_combo,
)

pytestmark = pytest.mark.django_db

# --- filing ------------------------------------------------------------------------

DENIED = "permission_denied"
LOGIN = "login_required"
IMPOSSIBLE = "exemption_impossible"
NOTHING = "not_required"

# FILING[combo][role]: the levels the filed request needs, or the refusal code.
FILING: dict[str, dict[str, object]] = {
    "U1": {
        "anonymous": LOGIN,
        "account_manager": ["province"],
        "account_manager_other_province": DENIED,
        "enterprise_admin": ["province"],
        "enterprise_admin_other_enterprise": DENIED,
        "provincial_approver": DENIED,
        "provincial_approver_other_province": DENIED,
        "group_approver": DENIED,
        "ops": DENIED,
    },
    "U3": {
        "anonymous": LOGIN,
        "account_manager": ["group"],
        "account_manager_other_province": DENIED,
        "enterprise_admin": ["group"],
        "enterprise_admin_other_enterprise": DENIED,
        "provincial_approver": DENIED,
        "provincial_approver_other_province": DENIED,
        "group_approver": DENIED,
        "ops": DENIED,
    },
    "U1+U3": {
        "anonymous": LOGIN,
        "account_manager": ["province", "group"],
        "account_manager_other_province": DENIED,
        "enterprise_admin": ["province", "group"],
        "enterprise_admin_other_enterprise": DENIED,
        "provincial_approver": DENIED,
        "provincial_approver_other_province": DENIED,
        "group_approver": DENIED,
        "ops": DENIED,
    },
    "U2": {
        "anonymous": LOGIN,
        "account_manager": IMPOSSIBLE,
        "account_manager_other_province": DENIED,
        "enterprise_admin": IMPOSSIBLE,
        "enterprise_admin_other_enterprise": DENIED,
        "provincial_approver": DENIED,
        "provincial_approver_other_province": DENIED,
        "group_approver": DENIED,
        "ops": DENIED,
    },
    "U2+U1": {
        "anonymous": LOGIN,
        "account_manager": IMPOSSIBLE,
        "account_manager_other_province": DENIED,
        "enterprise_admin": IMPOSSIBLE,
        "enterprise_admin_other_enterprise": DENIED,
        "provincial_approver": DENIED,
        "provincial_approver_other_province": DENIED,
        "group_approver": DENIED,
        "ops": DENIED,
    },
    "U2+U3": {
        "anonymous": LOGIN,
        "account_manager": IMPOSSIBLE,
        "account_manager_other_province": DENIED,
        "enterprise_admin": IMPOSSIBLE,
        "enterprise_admin_other_enterprise": DENIED,
        "provincial_approver": DENIED,
        "provincial_approver_other_province": DENIED,
        "group_approver": DENIED,
        "ops": DENIED,
    },
    "U4": {
        "anonymous": LOGIN,
        "account_manager": NOTHING,
        "account_manager_other_province": DENIED,
        "enterprise_admin": NOTHING,
        "enterprise_admin_other_enterprise": DENIED,
        "provincial_approver": DENIED,
        "provincial_approver_other_province": DENIED,
        "group_approver": DENIED,
        "ops": DENIED,
    },
    "U0": {
        "anonymous": LOGIN,
        "account_manager": NOTHING,
        "account_manager_other_province": DENIED,
        "enterprise_admin": NOTHING,
        "enterprise_admin_other_enterprise": DENIED,
        "provincial_approver": DENIED,
        "provincial_approver_other_province": DENIED,
        "group_approver": DENIED,
        "ops": DENIED,
    },
}


def test_the_filing_matrix_covers_every_combination_and_role():
    assert set(FILING) == set(COMBOS)
    for combo, row in FILING.items():
        assert set(row) == set(ROLES), combo


@pytest.mark.parametrize("combo", list(FILING))
@pytest.mark.parametrize("role", ROLES)
def test_filing(world, combo, role):
    enterprise = world["enterprise"]
    actor = world["users"][role]
    card = card_for(enterprise, combo)
    assert list(card.realname_decision.rules) == COMBO_RULES[combo]
    expected = FILING[combo][role]
    # Every form a filer could attach: the service decides which are needed.
    attachments = attachments_for(expected if isinstance(expected, list) else ["province", "group"])

    if isinstance(expected, list):
        request = services.exemption_file(
            actor=actor, enterprise=enterprise, cards=[card], reason="设备无人值守", attachments=attachments
        )
        assert request.status == RequestStatus.SUBMITTED
        assert request.required_levels == expected
        assert request.rules == list(COMBO_RULES[combo])
        assert sorted(a.level for a in request.attachments.all()) == sorted(expected)
        assert list(request.cards.all()) == [card]
    else:
        with pytest.raises(DomainError) as excinfo:
            services.exemption_file(
                actor=actor, enterprise=enterprise, cards=[card], reason="设备无人值守", attachments=attachments
            )
        assert_refused(excinfo, expected)
        if expected == IMPOSSIBLE:
            # The message says that no exemption is possible, and names the card.
            assert card.iccid in str(excinfo.value.message)
            assert "U2" in str(excinfo.value.message)
            assert "No exemption is possible" in str(excinfo.value.message)
        assert not ExemptionRequest.objects.exists()


def test_a_u2_card_among_exemptable_ones_refuses_the_whole_request_naming_it(world):
    enterprise = world["enterprise"]
    u1 = card_for(enterprise, "U1")
    u2 = card_for(enterprise, "U2")
    with pytest.raises(DomainError) as excinfo:
        services.exemption_file(
            actor=world["users"]["account_manager"],
            enterprise=enterprise,
            cards=[u1, u2],
            reason="x",
            attachments=attachments_for(["province"]),
        )
    assert_refused(excinfo, IMPOSSIBLE)
    assert u2.iccid in str(excinfo.value.message) and u1.iccid not in str(excinfo.value.message)
    assert excinfo.value.params["iccids"] == [u2.iccid]
    assert not ExemptionRequest.objects.exists()


def test_cards_of_several_rules_need_the_union_of_approvals(world):
    enterprise = world["enterprise"]
    cards = [card_for(enterprise, "U1"), card_for(enterprise, "U3")]
    request = services.exemption_file(
        actor=world["users"]["account_manager"],
        enterprise=enterprise,
        cards=cards,
        reason="x",
        attachments=attachments_for(["province", "group"]),
    )
    assert request.required_levels == ["province", "group"]
    assert request.rules == ["U1", "U3"]


# --- deciding -------------------------------------------------------------------------

# DECIDING[combo][role] = (result of approving at the provincial level, result at the group level)
# for a request filed by the account manager. A status is success (the request's status after it);
# anything else is the refusal code.
SUBMITTED, APPROVED = "submitted", "approved"
NOT_NEEDED = "level_not_required"
DECIDING: dict[str, dict[str, tuple[str, str]]] = {
    "U1": {
        "anonymous": (LOGIN, LOGIN),
        "account_manager": (DENIED, DENIED),
        "account_manager_other_province": (DENIED, DENIED),
        "enterprise_admin": (DENIED, DENIED),
        "enterprise_admin_other_enterprise": (DENIED, DENIED),
        "provincial_approver": (APPROVED, DENIED),
        "provincial_approver_other_province": (DENIED, DENIED),
        "group_approver": (DENIED, NOT_NEEDED),
        "ops": (DENIED, DENIED),
    },
    "U3": {
        "anonymous": (LOGIN, LOGIN),
        "account_manager": (DENIED, DENIED),
        "account_manager_other_province": (DENIED, DENIED),
        "enterprise_admin": (DENIED, DENIED),
        "enterprise_admin_other_enterprise": (DENIED, DENIED),
        "provincial_approver": (NOT_NEEDED, DENIED),
        "provincial_approver_other_province": (DENIED, DENIED),
        "group_approver": (DENIED, APPROVED),
        "ops": (DENIED, DENIED),
    },
    "U1+U3": {
        "anonymous": (LOGIN, LOGIN),
        "account_manager": (DENIED, DENIED),
        "account_manager_other_province": (DENIED, DENIED),
        "enterprise_admin": (DENIED, DENIED),
        "enterprise_admin_other_enterprise": (DENIED, DENIED),
        # One level is not enough: the request stays submitted until the other approves.
        "provincial_approver": (SUBMITTED, DENIED),
        "provincial_approver_other_province": (DENIED, DENIED),
        "group_approver": (DENIED, SUBMITTED),
        "ops": (DENIED, DENIED),
    },
}
# U2, U2+U1, U2+U3, U4 and U0 never reach a decision: filing them is refused (FILING above);
# test_an_approved_row_never_covers_a_card_that_cannot_be_exempted covers a forged one.


def test_the_deciding_matrix_covers_every_exemptable_combination_and_role():
    assert set(DECIDING) == set(EXEMPTABLE)
    for combo, row in DECIDING.items():
        assert set(row) == set(ROLES), combo


@pytest.mark.parametrize("level_index,level", [(0, "province"), (1, "group")])
@pytest.mark.parametrize("combo", list(DECIDING))
@pytest.mark.parametrize("role", ROLES)
def test_deciding(world, combo, role, level_index, level):
    request, card = file_for_combo(world, combo)
    actor = world["users"][role]
    expected = DECIDING[combo][role][level_index]
    if expected in (SUBMITTED, APPROVED):
        decided = services.exemption_decide(request=request, actor=actor, level=level, approve=True, comment="同意")
        assert decided.status == expected
        decision = Decision.objects.get(exemption=request)
        assert (decision.level, decision.approved, decision.decided_by, decision.comment) == (
            level,
            True,
            actor,
            "同意",
        )
        assert decision.decided_at is not None
    else:
        with pytest.raises(DomainError) as excinfo:
            services.exemption_decide(request=request, actor=actor, level=level, approve=True, comment="同意")
        assert_refused(excinfo, expected)
        request.refresh_from_db()
        assert request.status == RequestStatus.SUBMITTED
        assert not Decision.objects.filter(exemption=request).exists()


@pytest.mark.parametrize("combo", list(DECIDING))
@pytest.mark.parametrize("role", ROLES)
def test_rejecting_follows_the_same_authority_and_needs_a_comment(world, combo, role):
    request, _card = file_for_combo(world, combo)
    actor = world["users"][role]
    level = COMBO_LEVELS[combo][0]
    expected = DECIDING[combo][role][0 if level == "province" else 1]
    if expected in (SUBMITTED, APPROVED):
        with pytest.raises(DomainError) as excinfo:
            services.exemption_decide(request=request, actor=actor, level=level, approve=False, comment="  ")
        assert_refused(excinfo, "comment_required")
        decided = services.exemption_decide(
            request=request, actor=actor, level=level, approve=False, comment="审批单未盖章"
        )
        # A rejection at any level rejects the request.
        assert decided.status == RequestStatus.REJECTED
        assert Decision.objects.get(exemption=request).comment == "审批单未盖章"
    else:
        with pytest.raises(DomainError) as excinfo:
            services.exemption_decide(request=request, actor=actor, level=level, approve=False, comment="不同意")
        assert_refused(excinfo, expected)


# --- visibility: a provincial approver never sees another province's requests -----------


# What each role finds in its approval queue, per combination (True: the request is there).
QUEUE: dict[str, dict[str, bool]] = {
    "U1": {"provincial_approver": True, "provincial_approver_other_province": False, "group_approver": False},
    "U3": {"provincial_approver": False, "provincial_approver_other_province": False, "group_approver": True},
    "U1+U3": {"provincial_approver": True, "provincial_approver_other_province": False, "group_approver": True},
}


@pytest.mark.parametrize("combo", list(QUEUE))
def test_queues_hold_only_the_approvers_scope(world, combo):
    request, _card = file_for_combo(world, combo)
    users = world["users"]
    for role, expected in QUEUE[combo].items():
        assert (request in selectors.exemptions_pending_for(users[role])) is expected, role
    for role in ("anonymous", "account_manager", "enterprise_admin", "ops"):
        assert not selectors.exemptions_pending_for(users[role]).exists(), role
    # Another province's approver cannot even load it.
    with pytest.raises(DomainError) as excinfo:
        selectors.exemption_for_user(users["provincial_approver_other_province"], request.public_id)
    assert_refused(excinfo, "not_found")
    with pytest.raises(DomainError) as excinfo:
        selectors.exemption_for_user(users["enterprise_admin_other_enterprise"], request.public_id)
    assert_refused(excinfo, "not_found")


def test_a_guangdong_request_is_refused_to_the_beijing_approver(world):
    users = world["users"]
    card = card_for(world["enterprise_other"], "U1")
    request = services.exemption_file(
        actor=users["account_manager_other_province"],
        enterprise=world["enterprise_other"],
        cards=[card],
        reason="x",
        attachments=attachments_for(["province"]),
    )
    with pytest.raises(DomainError) as excinfo:
        services.exemption_decide(request=request, actor=users["provincial_approver"], level="province", approve=True)
    assert_refused(excinfo, DENIED)
    assert request not in selectors.exemptions_pending_for(users["provincial_approver"])
    decided = services.exemption_decide(
        request=request, actor=users["provincial_approver_other_province"], level="province", approve=True
    )
    assert decided.status == RequestStatus.APPROVED


# --- the refusals of the state machine -----------------------------------------------


def test_nobody_decides_their_own_request(world, provinces):
    """The filer later became a provincial approver of the province: still not their own request."""
    filer = world["users"]["account_manager"]
    request, _card = file_for_combo(world, "U1", actor=filer)
    filer.role = "provincial_approver"
    filer.save(update_fields=["role"])
    assert can(filer, Capability.DECIDE_PROVINCE, world["enterprise"])
    with pytest.raises(DomainError) as excinfo:
        services.exemption_decide(request=request, actor=filer, level="province", approve=True, comment="")
    assert_refused(excinfo, "self_decision")
    assert request not in selectors.exemptions_pending_for(filer)
    request.refresh_from_db()
    assert request.status == RequestStatus.SUBMITTED and not request.decisions.exists()


def test_deciding_twice_at_a_level_is_refused(world):
    request, _card = file_for_combo(world, "U1+U3")
    services.exemption_decide(
        request=request, actor=world["users"]["provincial_approver"], level="province", approve=True
    )
    second_approver = factories.user(role="provincial_approver", province=world["enterprise"].province)
    for actor in (world["users"]["provincial_approver"], second_approver):
        with pytest.raises(DomainError) as excinfo:
            services.exemption_decide(request=request, actor=actor, level="province", approve=False, comment="改主意")
        assert_refused(excinfo, "already_decided")
    assert request.decisions.count() == 1
    request.refresh_from_db()
    assert request.status == RequestStatus.SUBMITTED


@pytest.mark.parametrize("combo", EXEMPTABLE)
def test_deciding_a_withdrawn_request_is_refused(world, combo):
    request, _card = file_for_combo(world, combo)
    services.exemption_withdraw(request=request, actor=world["users"]["account_manager"])
    for level in COMBO_LEVELS[combo]:
        actor = world["users"]["provincial_approver" if level == "province" else "group_approver"]
        with pytest.raises(DomainError) as excinfo:
            services.exemption_decide(request=request, actor=actor, level=level, approve=True)
        assert_refused(excinfo, "invalid_transition")
        assert "withdrawn" in str(excinfo.value.message)
    assert not request.decisions.exists()


def test_deciding_after_a_rejection_or_an_approval_is_refused(world):
    users = world["users"]
    rejected, _ = file_for_combo(world, "U1+U3")
    services.exemption_decide(
        request=rejected, actor=users["provincial_approver"], level="province", approve=False, comment="理由不充分"
    )
    with pytest.raises(DomainError) as excinfo:
        services.exemption_decide(request=rejected, actor=users["group_approver"], level="group", approve=True)
    assert_refused(excinfo, "invalid_transition")

    approved, _ = file_for_combo(world, "U1")
    services.exemption_decide(request=approved, actor=users["provincial_approver"], level="province", approve=True)
    with pytest.raises(DomainError) as excinfo:
        services.exemption_decide(
            request=approved, actor=users["provincial_approver"], level="province", approve=False, comment="撤销"
        )
    assert_refused(excinfo, "invalid_transition")


WITHDRAW: dict[str, str] = {
    "anonymous": LOGIN,
    "account_manager": "withdrawn",  # the filer
    "account_manager_other_province": "not_submitter",
    "enterprise_admin": "not_submitter",
    "enterprise_admin_other_enterprise": "not_submitter",
    "provincial_approver": "not_submitter",
    "provincial_approver_other_province": "not_submitter",
    "group_approver": "not_submitter",
    "ops": "not_submitter",
}


@pytest.mark.parametrize("role", ROLES)
def test_only_the_filer_withdraws(world, role):
    request, _card = file_for_combo(world, "U1")
    actor = world["users"][role]
    if WITHDRAW[role] == "withdrawn":
        assert services.exemption_withdraw(request=request, actor=actor).status == RequestStatus.WITHDRAWN
        with pytest.raises(DomainError) as excinfo:
            services.exemption_withdraw(request=request, actor=actor)
        assert_refused(excinfo, "invalid_transition")
    else:
        with pytest.raises(DomainError) as excinfo:
            services.exemption_withdraw(request=request, actor=actor)
        assert_refused(excinfo, WITHDRAW[role])


# --- U5: an approved exemption lets the covered card be activated ------------------------


def activation_outcome(card, actor):
    """A new-installation order for the card (H2): its line's (outcome, outcome_detail)."""
    line = factories.order_line(factories.activate(card, actor=actor), card)
    return line.outcome, line.outcome_detail


@pytest.mark.parametrize("combo", EXEMPTABLE)
def test_after_full_approval_the_card_activates_and_not_before(world, combo):
    users = world["users"]
    request, card = file_for_combo(world, combo)
    assert activation_outcome(card, users["account_manager"])[0] == "awaiting_realname"

    levels = COMBO_LEVELS[combo]
    for index, level in enumerate(levels):
        actor = users["provincial_approver" if level == "province" else "group_approver"]
        services.exemption_decide(request=request, actor=actor, level=level, approve=True, comment="同意")
        if index < len(levels) - 1:
            # U1+U3 after one approval only: still waiting.
            card.refresh_from_db()
            assert card.status == CardStatus.AWAITING_REALNAME
    request.refresh_from_db()
    assert request.status == RequestStatus.APPROVED
    # The card that waited activates under the new-installation order that left it waiting.
    card.refresh_from_db()
    assert card.status == CardStatus.ACTIVE


def test_a_rejected_or_withdrawn_exemption_covers_nothing(world):
    users = world["users"]
    rejected, card1 = file_for_combo(world, "U1")
    services.exemption_decide(
        request=rejected, actor=users["provincial_approver"], level="province", approve=False, comment="无审批单原件"
    )
    withdrawn, card2 = file_for_combo(world, "U3")
    services.exemption_withdraw(request=withdrawn, actor=users["account_manager"])
    for card in (card1, card2):
        assert activation_outcome(card, users["account_manager"])[0] == "awaiting_realname"


def test_an_approved_row_never_covers_a_card_that_cannot_be_exempted(world):
    """Even a forged 'approved' row with both levels does not open a U2 card."""
    card = card_for(world["enterprise"], "U2+U1")
    factories.exemption(
        enterprise=world["enterprise"],
        cards=[card],
        levels=["province", "group"],
        submitted_by=world["users"]["account_manager"],
        status="approved",
    )
    outcome, detail = activation_outcome(card, world["users"]["account_manager"])
    assert (outcome, detail["exemption"]) == ("awaiting_realname", "none_possible")


def test_an_exemption_stops_covering_a_card_whose_rules_now_need_more(world):
    """A U3 exemption (group only) no longer covers the card once non-directed data adds U1."""
    users = world["users"]
    request, card = file_for_combo(world, "U3")
    services.exemption_decide(request=request, actor=users["group_approver"], level="group", approve=True)
    factories.change_services(card, actor=users["account_manager"], data="non_directed")
    card.refresh_from_db()
    assert list(card.realname_decision.rules) == ["U1", "U3"]
    assert activation_outcome(card, users["account_manager"])[0] == "awaiting_realname"
