"""What the cards APIs share: the JSON-only base view and the schema's error answers.

The card users API stands on these as the inventory's does (cards contract in pyproject.toml).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.translation import gettext_lazy as _
from rest_framework.renderers import BaseRenderer, JSONRenderer

from accounts.permissions import Capability, may_somewhere
from core.api import E401, error_response
from core.errors import PermissionDenied

E400 = error_response("Invalid input: `field` names the request field, `code` the reason.")
E403 = error_response("Authenticated, and the object is visible, but the role may not do this.")
E404 = error_response("No such object, a malformed id, or an object outside the user's scope.")
READ_ERRORS = {401: E401, 404: E404}
E403_READ = error_response("The caller may read no records at all: an API key without the scope cards:read.")
MSG_NO_READS = _("You may not read the records of any enterprise: an API key needs the scope cards:read.")


def require_reads(actor) -> None:
    """A list of records answers 403 to an actor that may read none anywhere (an API key without cards:read),
    rather than an empty list that looks like an enterprise without records."""
    if not may_somewhere(actor, Capability.VIEW):
        raise PermissionDenied(MSG_NO_READS)


class CardsApiView:
    """JSON only."""

    renderer_classes: Sequence[type[BaseRenderer]] = [JSONRenderer]
