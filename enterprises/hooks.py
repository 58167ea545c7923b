"""What the enterprises app lets higher floors react to (core.hooks)."""

from core.hooks import Hook

# A change request (E3, P4) was filed, inside its transaction: takes (change_request); approvals
# queues the approvers' notice.
change_request_submitted = Hook("enterprises.change_request_submitted")
