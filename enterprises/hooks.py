"""What the enterprises app lets higher floors react to (core.hooks)."""

from core.hooks import Hook

# A change request (E3, P4) was filed, inside its transaction: takes (change_request); approvals
# queues the approvers' notice.
change_request_submitted = Hook("enterprises.change_request_submitted")

# A real enterprise's sandbox (issue 10 §5) was just created, inside its transaction: takes (sandbox); cards
# seeds its test cards.
sandbox_created = Hook("enterprises.sandbox_created")

# A sandbox is being reset, inside the transaction that holds its row locked: takes (sandbox); each higher app
# deletes the sandbox's records it keeps (cards: card users, orders, cards and their events, then seeds the cards
# again; integrations: the events of its callbacks).
sandbox_reset = Hook("enterprises.sandbox_reset")
