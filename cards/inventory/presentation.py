"""How the rule decision reads for people: pages and the API show the same texts.

"Why does this card need user real-name?" The rules that fired, with their
reasons in the current language; who could approve an exemption, or that no
exemption is possible (U2); whether real-name is satisfied now, and why.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from cards.decisions import current_language, exemption_text
from cards.inventory.services import realname_satisfied
from cards.models import Card
from cards.rules import Decision, Exemption

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
    def exemption_possible(self) -> bool:
        """An exemption could be asked for now: real-name is required and missing, and U2 does not forbid one."""
        return self.required and not self.no_exemption_possible and self.basis == "missing"

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
