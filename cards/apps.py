from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CardsConfig(AppConfig):
    name = "cards"
    verbose_name = _("Cards and orders")

    def ready(self) -> None:
        # The seams this app fills on a lower floor (core.hooks).
        from cards.card_users.services import card_user_verification_settled
        from cards.orders.services import order_verification_settled
        from verification.hooks import verification_settled

        verification_settled.connect(order_verification_settled)
        verification_settled.connect(card_user_verification_settled)
