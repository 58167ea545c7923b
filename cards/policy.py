"""Who may do what to cards and card users. Visibility is checked first by cards.inventory.selectors.

Account managers of the enterprise's province and the admin of the owning
enterprise manage cards and register card users. Approvers and ops read only.
"""

from __future__ import annotations

from accounts.access import can_view_full_pii
from accounts.roles import Role


def _active(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def can_manage_enterprise_cards(user, enterprise) -> bool:
    if not _active(user):
        return False
    if user.role == Role.ACCOUNT_MANAGER:
        return user.province_id is not None and user.province_id == enterprise.province_id
    if user.role == Role.ENTERPRISE_ADMIN:
        return user.enterprise_id is not None and user.enterprise_id == enterprise.pk
    return False


def can_manage_card(user, card) -> bool:
    """Activate, suspend, resume, cancel, change services or package."""
    return can_manage_enterprise_cards(user, card.enterprise)


def can_register_card_user(user, enterprise) -> bool:
    """C1 (account manager on site) and C3 (the enterprise's own platform)."""
    return can_manage_enterprise_cards(user, enterprise)


def may_manage_cards_somewhere(user) -> bool:
    """An account manager with a province or an enterprise admin with an enterprise: the roles that
    manage cards, import them, register card users and file exemptions, each in their own scope."""
    if not _active(user):
        return False
    if user.role == Role.ACCOUNT_MANAGER:
        return user.province_id is not None
    return user.role == Role.ENTERPRISE_ADMIN and user.enterprise_id is not None


def can_view_card_user_photos(user, card_user) -> bool:
    """ID and live photos show personal data in full: only roles that may see it (each view is logged).

    The one rule for a card user's photos wherever they are served: the card-user photo route and the
    face-review route (the verification's copies of the same photos) alike.
    """
    return can_view_full_pii(user)


def can_view_handler_photos(user, order) -> bool:
    """A handler's ID and live photos: roles that may see personal data in full, and the admin of the
    enterprise whose order it is (who takes them). The same for the order's face comparisons."""
    if not _active(user):
        return False
    if can_view_full_pii(user):
        return True
    return (
        user.role == Role.ENTERPRISE_ADMIN
        and user.enterprise_id is not None
        and user.enterprise_id == order.enterprise_id
    )
