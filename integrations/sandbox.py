"""What the platform channel keeps of a sandbox (issue 10 §5), and wipes when it is reset.

A test key's callbacks endpoints stay (they are the platform's set-up, like its keys); the events of the
sandbox and their deliveries go with its records.
"""

from __future__ import annotations

from enterprises.models import Enterprise
from integrations.webhooks.models import Event


def wipe(*, sandbox: Enterprise) -> None:
    """Receiver of enterprises.hooks.sandbox_reset: the sandbox's events (their deliveries cascade)."""
    if sandbox.sandbox_of_id is None:
        return
    Event.objects.filter(enterprise=sandbox).delete()
