"""What an API key's scopes let it do: each scope names capabilities of the table (accounts.permissions).

A key acts as its enterprise's admin does, narrowed to the capabilities its scopes name. These strings are
part of the API contract (issue 10): keep them exactly.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping

from accounts.permissions import Capability


class KeyScope(enum.StrEnum):
    CARDS_READ = "cards:read"
    CARDS_WRITE = "cards:write"
    CARD_USERS_WRITE = "card_users:write"
    ORDERS_WRITE = "orders:write"
    WEBHOOKS_MANAGE = "webhooks:manage"


C = Capability

SCOPE_CAPABILITIES: Mapping[KeyScope, frozenset[Capability]] = {
    KeyScope.CARDS_READ: frozenset({C.VIEW}),
    KeyScope.CARDS_WRITE: frozenset({C.CARDS_MANAGE, C.CARDS_IMPORT}),
    KeyScope.CARD_USERS_WRITE: frozenset({C.CARD_USERS_REGISTER}),
    # An order after the enterprise's first brings fresh photos of the credential and of the responsible
    # person's ID (E2, P3), stored as the enterprise's documents: filing it uploads them.
    KeyScope.ORDERS_WRITE: frozenset({C.ORDERS_FILE, C.ENTERPRISE_UPLOAD_DOCUMENTS}),
    KeyScope.WEBHOOKS_MANAGE: frozenset({C.WEBHOOKS_MANAGE}),
}


def capabilities_for(scopes: Iterable[str]) -> frozenset[Capability]:
    """The capabilities a key with these scopes holds (its actor's `capability_limit`)."""
    held: set[Capability] = set()
    for scope in scopes:
        held |= SCOPE_CAPABILITIES[KeyScope(scope)]
    return frozenset(held)
