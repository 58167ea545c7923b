from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CardsConfig(AppConfig):
    name = "cards"
    verbose_name = _("Cards and orders")

    def ready(self) -> None:
        # The seams this app fills on a lower floor (core.hooks).
        from cards.card_users.services import card_user_verification_settled
        from cards.inventory import sandbox
        from cards.orders.services import order_verification_settled
        from enterprises.hooks import sandbox_created, sandbox_reset
        from verification.hooks import sandbox_outcome, verification_settled

        verification_settled.connect(order_verification_settled)
        verification_settled.connect(card_user_verification_settled)
        # Issue 10 §5: a sandbox's seeded cards, its reset, and the outcome its comparisons are given.
        sandbox_created.connect(sandbox.seed_cards)
        sandbox_reset.connect(sandbox.wipe)
        sandbox_outcome.connect(sandbox.engine_outcome)
        # The card picker of each form that names cards (issue 11 §2).
        from cards.card_users.forms import CARD_USER_PICKER
        from cards.inventory.picker import register_purpose
        from cards.orders.forms import ORDER_PICKER
        from cards.self_service.views import LINK_PICKER

        register_purpose("order", ORDER_PICKER)
        register_purpose("card_user", CARD_USER_PICKER)
        register_purpose("self_service", LINK_PICKER)
