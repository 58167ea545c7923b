"""What the verification app lets higher floors react to (core.hooks)."""

from core.hooks import Hook

# A comparison got a new status (its result, or a reviewer's decision), inside that transaction.
# Receivers take (verification, actor) and return None, or a DomainError saying why the business
# the comparison guards could not go on (it is added to the comparison's reasons). cards connects
# the handler's order (H3) and the card user's registration (U5, U6).
verification_settled = Hook("verification.settled")

# A comparison of a sandbox enterprise (issue 10 §5) is about to run: no real face matching runs there, and
# the one receiver answers which engine outcome (pass, review, fail, rejected) the sandbox engine gives it.
# Takes (verification); cards answers from the card user's magic ID number (cards.inventory.sandbox).
sandbox_outcome = Hook("verification.sandbox_outcome", single=True)
