from __future__ import annotations

from typing import Any

from cards.decisions import decision_body
from cards.rules import Decision
from core.errors import Conflict, DomainError


class RealnameRequired(Conflict):
    """U5: the card's user real-name is not complete and no approved exemption covers it.

    Its body carries the rule decision behind the refusal, rendered in the language of the answer."""

    default_code = "realname_required"

    def __init__(self, message: Any, *, decision: Decision, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.decision = decision

    @property
    def extra(self) -> dict[str, Any]:
        return {**super().extra, "decision": decision_body(self.decision)}


class CardLimitReached(DomainError):
    """U6: the identity document already holds the most live cards allowed."""

    status_code = 409
    default_code = "one_id_five_cards"


class OrderRequired(Conflict):
    """H2: a business on a card happens only under an order that records its handler.

    410 in the API: the direct card actions are gone; the answer names the order API and the
    business type to file instead."""

    status_code = 410
    default_code = "order_required"
