"""What the cards app asks of, or lets react, higher floors (core.hooks)."""

from core.hooks import Hook

# U1/U3: the approved exemption that covers a card as its rule decision stands now, or None.
# Takes (card, decision); approvals answers it (approvals.selectors.exemption_covering_card).
exemption_covering = Hook("cards.exemption_covering", single=True)
