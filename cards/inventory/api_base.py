"""What the cards APIs share: the JSON-only base view and the schema's error answers.

The card users API stands on these as the inventory's does (cards contract in pyproject.toml).
"""

from __future__ import annotations

from collections.abc import Sequence

from rest_framework.renderers import BaseRenderer, JSONRenderer

from core.api import E401, error_response

E400 = error_response("Invalid input: `field` names the request field, `code` the reason.")
E403 = error_response("Authenticated, and the object is visible, but the role may not do this.")
E404 = error_response("No such object, a malformed id, or an object outside the user's scope.")
READ_ERRORS = {401: E401, 404: E404}


class CardsApiView:
    """JSON only."""

    renderer_classes: Sequence[type[BaseRenderer]] = [JSONRenderer]
