"""How the order rules read for people: the texts the wizard, the API and the services share."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from enterprises.models import Enterprise

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

MSG_FRESH_CREDENTIAL = _(
    "The enterprise is already registered: this later business needs a fresh photo of its original credential "
    "(rule E2). Nothing else is entered again, but that photo is required at every later business."
)
MSG_FRESH_LETTER = _(
    "The enterprise is already registered: this later business needs a fresh photo or scan of its unit "
    "introduction letter or official letter with the seal (rule E2). Nothing else is entered again, but that "
    "letter is required at every later business."
)


def fresh_credential_message(enterprise: Enterprise) -> StrOrPromise:
    return MSG_FRESH_CREDENTIAL if enterprise.requires_number else MSG_FRESH_LETTER
