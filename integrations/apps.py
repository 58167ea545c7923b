from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = _("Platform integrations")

    def ready(self) -> None:
        # The API's creating views (every floor's) take Idempotency-Key through core.idempotency.Idempotent;
        # the records are the platform channel's.
        from core.idempotency import idempotency_begin
        from integrations import idempotency

        idempotency_begin.connect(idempotency.begin)
