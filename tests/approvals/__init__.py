"""Helpers shared by the approvals tests (exemptions U1-U3, change requests E3/P4, manual review).

Cards are made through cards.inventory.services.card_create (tests.factories.card), one
per rule combination; requests are filed through approvals.services.
"""

from __future__ import annotations

from tests import factories
from tests.images import jpeg_upload, pdf_upload

# One card recipe per rule combination (DESIGN §2, U0-U4 and their precedence).
COMBOS: dict[str, dict] = {
    "U1": dict(data="non_directed"),
    "U3": dict(segment_149=True, voice="directed"),
    "U1+U3": dict(segment_149=True, data="non_directed", sms="directed"),
    "U2": dict(segment_149=True, voice="non_directed"),
    "U2+U1": dict(segment_149=True, data="non_directed", sms="non_directed"),
    "U2+U3": dict(segment_149=True, voice="non_directed", sms="directed"),
    "U4": dict(test=True, segment_149=True, data="non_directed", voice="non_directed"),
    "U0": dict(),
}
# The rules the engine names for each recipe, and the approvals an exemption needs.
COMBO_RULES = {
    "U1": ["U1"],
    "U3": ["U3"],
    "U1+U3": ["U1", "U3"],
    "U2": ["U2"],
    "U2+U1": ["U1", "U2"],
    "U2+U3": ["U2", "U3"],
    "U4": ["U4"],
    "U0": ["U0"],
}
COMBO_LEVELS = {"U1": ["province"], "U3": ["group"], "U1+U3": ["province", "group"]}
EXEMPTABLE = tuple(COMBO_LEVELS)

ROLES = (
    "anonymous",
    "account_manager",
    "account_manager_other_province",
    "enterprise_admin",
    "enterprise_admin_other_enterprise",
    "provincial_approver",
    "provincial_approver_other_province",
    "group_approver",
    "ops",
)


def card_for(enterprise, combo: str):
    return factories.card(enterprise=enterprise, **COMBOS[combo])


def attachments_for(levels) -> dict:
    """The approval forms: the provincial one as a scanned PDF, the group one as a photo."""
    files = {}
    if "province" in levels:
        files["province"] = [pdf_upload("省内审批单.pdf")]
    if "group" in levels:
        files["group"] = [jpeg_upload("集团审批单.jpg")]
    return files


def file_request(*, actor, enterprise, cards, levels=None, reason="使用人为无人值守设备，无法实名到使用人"):
    from approvals.services import exemption_file

    if levels is None:
        levels = ["province", "group"]
    return exemption_file(
        actor=actor, enterprise=enterprise, cards=cards, reason=reason, attachments=attachments_for(levels)
    )


def file_for_combo(world, combo: str, *, actor=None):
    """A submitted request for one fresh card of the combination, filed by the account manager."""
    card = card_for(world["enterprise"], combo)
    request = file_request(
        actor=actor or world["users"]["account_manager"],
        enterprise=world["enterprise"],
        cards=[card],
        levels=COMBO_LEVELS[combo],
    )
    return request, card


def put_in_review(verification, distance: float = 0.55):
    from verification.services import verification_record_result

    return verification_record_result(
        verification=verification,
        outcome="review",
        distance=distance,
        threshold_pass=0.5,
        threshold_fail=0.6,
        engine="test-double",
        reasons=[{"code": "borderline", "zh": "相似度处于临界区间", "en": "Borderline distance"}],
    )


def assert_refused(excinfo, code: str) -> None:
    """A refusal with a clear error: the expected code and a message a person can read."""
    exc = excinfo.value
    assert exc.code == code, f"expected {code}, got {exc.code}: {exc.message}"
    assert str(exc.message).strip(), "the refusal must say why"
