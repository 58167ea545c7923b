"""What the cards app asks of, or lets react, higher floors (core.hooks)."""

from core.hooks import Hook

# U1/U3: the approved exemption that covers a card as its rule decision stands now, or None.
# Takes (card, decision); approvals answers it (approvals.selectors.exemption_covering_card).
exemption_covering = Hook("cards.exemption_covering", single=True)

# The same question for a whole queryset (list filters, home counts): an expression over the card
# row (OuterRef("pk"), OuterRef("enterprise_id")) that is true where an approved exemption of the
# card's current owner names it. Takes no arguments; approvals answers it
# (approvals.selectors.approved_exemption_exists).
exemption_approved_expression = Hook("cards.exemption_approved_expression", single=True)
