from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = _("Approvals")

    def ready(self) -> None:
        # The seams this app fills on lower floors (core.hooks).
        from approvals.notifications import change_request_submitted as notify_change_request
        from approvals.selectors import approved_exemption_exists, exemption_covering_card
        from cards.hooks import exemption_approved_expression, exemption_covering
        from enterprises.hooks import change_request_submitted

        exemption_covering.connect(exemption_covering_card)
        exemption_approved_expression.connect(approved_exemption_exists)
        change_request_submitted.connect(notify_change_request)
        # The card picker of the exemption form (issue 11 §2).
        from approvals.forms import EXEMPTION_PICKER
        from cards.inventory.picker import register_purpose

        register_purpose("exemption", EXEMPTION_PICKER)
