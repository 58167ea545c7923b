"""How the rule decision (cards.rules) reads for people: the texts that pages, the API and a refusal's
body share, in the current language.

Below the errors on the cards floors: a RealnameRequired refusal carries its decision rendered here.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from cards.rules import Decision, Exemption

EXEMPTION_TEXTS = {
    Exemption.PROVINCE: _(
        "An exemption may be approved by the provincial company (the deputy general manager in charge, or a "
        "leader authorised by a provincial document), with the provincial approval form attached."
    ),
    Exemption.GROUP: _("An exemption needs group approval, with the group approval form attached."),
    Exemption.PROVINCE_AND_GROUP: _(
        "An exemption needs both approvals: the provincial company's, with the provincial approval form, "
        "and the group's, with the group approval form."
    ),
    Exemption.NONE_POSSIBLE: _(
        "No exemption is possible (rule U2): this card can only be used once the card user's real-name with "
        "face recognition is complete."
    ),
}


def current_language() -> str:
    return get_language() or "zh-hans"


def exemption_text(decision: Decision) -> str:
    if not decision.user_realname_required or decision.exemption is None:
        return ""
    return str(EXEMPTION_TEXTS[decision.exemption])


def decision_body(decision: Decision, language: str | None = None) -> dict[str, Any]:
    """The decision as the API shows it: its rules, reasons and who could exempt the card."""
    return {**decision.as_dict(language or current_language()), "exemption_text": exemption_text(decision)}
