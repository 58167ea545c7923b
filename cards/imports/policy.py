"""Who may import cards, and for which enterprise."""

from __future__ import annotations

from cards import policy

# --- who may do what ----------------------------------------------------------


def may_upload_any(user) -> bool:
    """Account managers (for their province's enterprises) and enterprise admins (their own)."""
    return policy.may_manage_cards_somewhere(user)


def may_import(user, enterprise) -> bool:
    return policy.can_manage_enterprise_cards(user, enterprise)


__all__ = [
    "may_import",
    "may_upload_any",
]
