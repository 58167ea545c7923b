"""How the rule decision reads for people: pages and the API show the same texts.

"Why does this card need user real-name?" The rules that fired, with their
reasons in the current language; who could approve an exemption, or that no
exemption is possible (U2); whether real-name is satisfied now, and why.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from cards.inventory.services import realname_satisfied
from cards.models import Card
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

BASIS_TEXTS = {
    "not_required": _("Not required: the enterprise, responsible-person and handler records are enough."),
    "user_realname_complete": _(
        "Complete: the card user's face comparison passed and the user is registered for this card."
    ),
    "exemption_approved": _("Not needed now: an approved exemption covers this card."),
    "missing": _(
        "Missing: the card cannot be activated, and services that need user real-name cannot be opened, until "
        "the card user's real-name with face recognition is complete or an approved exemption covers the card."
    ),
}


def current_language() -> str:
    return get_language() or "zh-hans"


def exemption_text(decision: Decision) -> str:
    if not decision.user_realname_required or decision.exemption is None:
        return ""
    return str(EXEMPTION_TEXTS[decision.exemption])


@dataclass(frozen=True)
class DecisionView:
    decision: Decision
    satisfied: bool
    basis: str
    language: str

    @property
    def required(self) -> bool:
        return self.decision.user_realname_required

    @property
    def no_exemption_possible(self) -> bool:
        return self.decision.exemption is Exemption.NONE_POSSIBLE

    @property
    def rules(self) -> list[dict]:
        return [{"rule": r.rule, "text": r.text(self.language)} for r in self.decision.reasons]

    @property
    def exemption_text(self) -> str:
        return exemption_text(self.decision)

    @property
    def basis_text(self) -> str:
        return str(BASIS_TEXTS[self.basis])

    def as_dict(self) -> dict:
        body = self.decision.as_dict(self.language)
        body["satisfied"] = self.satisfied
        body["basis"] = self.basis
        body["basis_text"] = self.basis_text
        body["exemption_text"] = self.exemption_text
        return body


def decision_view(card: Card, language: str | None = None) -> DecisionView:
    decision = card.realname_decision
    satisfied, basis = realname_satisfied(card, decision)
    return DecisionView(decision=decision, satisfied=satisfied, basis=basis, language=language or current_language())


def refusal_body(exc) -> dict:
    """The JSON of a RealnameRequired refusal: the error and the decision that caused it."""
    language = current_language()
    decision: Decision = exc.decision
    body = {"code": exc.code, "detail": str(exc.message)}
    if exc.field:
        body["field"] = exc.field
    body["decision"] = {**decision.as_dict(language), "exemption_text": exemption_text(decision)}
    return body
