"""The actor behind a self-service link: whoever holds the link registers themselves, and nothing more.

It is no user and signs in nowhere. The capability table gives its role (LINK_HOLDER) the registration in
its own enterprise, and its limit narrows it to that one capability whatever the row may later hold.
Audit events and card events name the link by its public id; the token is never written anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from accounts.permissions import Capability
from accounts.roles import LINK_HOLDER
from cards.models import SelfServiceLink


@dataclass(frozen=True)
class LinkHolder:
    link: SelfServiceLink
    role: str = LINK_HOLDER
    province_id: None = None
    is_active: bool = True
    is_authenticated: bool = True
    is_superuser: bool = False
    capability_limit: frozenset[Capability] = field(default=frozenset({Capability.CARD_USERS_REGISTER}))

    @property
    def enterprise_id(self) -> int:
        return self.link.enterprise_id

    @property
    def audit_data(self) -> dict[str, str]:
        return {"self_service_link": str(self.link.public_id)}

    def __str__(self) -> str:
        return f"self-service link {self.link.public_id}"
