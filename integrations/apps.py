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
