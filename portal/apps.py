from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    """The top floor: each role's start page, the navigation and the demo data. It may import every app."""

    name = "portal"
    verbose_name = _("Portal")
