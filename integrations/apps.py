from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = _("Platform integrations")

    def ready(self) -> None:
        # The seams this app fills on a lower floor (core.hooks): a sandbox's reset wipes its events too.
        from enterprises.hooks import sandbox_reset
        from integrations import sandbox

        sandbox_reset.connect(sandbox.wipe)

        # The API's creating views (every floor's) take Idempotency-Key through core.idempotency.Idempotent;
        # the records are the platform channel's.
        from core.idempotency import idempotency_begin
        from integrations import idempotency

        idempotency_begin.connect(idempotency.begin)
