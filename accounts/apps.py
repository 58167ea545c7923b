from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        # In ready(): these modules import models, and the app registry is not ready at import time.
        from accounts.middleware import stamp_login
        from accounts.permissions import sync_role_groups

        user_logged_in.connect(stamp_login, dispatch_uid="accounts.stamp_login")

        # After every app: permissions of later apps exist only once they migrate.
        post_migrate.connect(sync_role_groups, dispatch_uid="accounts.sync_role_groups")
