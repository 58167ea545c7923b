"""Idempotent creating requests (issue 10 §2): the view mixin every floor's API uses, and its seam.

A creating POST may carry `Idempotency-Key`; a platform API key's must. The first request with a key claims
it, runs, and its final answer is stored; a retry with the same key and body gets that answer again
(`Idempotent-Replayed: true`), a retry while the first still runs gets 409, the same key with another body
422. What is stored, per whom and for how long is the platform channel's business (integrations.idempotency,
which holds the records): it answers `idempotency_begin` from its AppConfig.ready(), so the enterprises API,
on a floor below the channel, takes the header through the same mixin as the cards API.

Usage, one line per view: `class OrderListCreateView(Idempotent, generics.ListAPIView)`. The mixin acts on
`idempotent_methods` only (POST), after authentication, permissions and throttles (a refused or throttled
call claims nothing) and before the handler.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any, Protocol

from django.http import HttpResponseBase
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from core.api import ErrorSerializer
from core.hooks import Hook

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


class Attempt(Protocol):
    """A claimed key while its request runs: `finish` stores the final answer, `abandon` frees the key."""

    def finish(self, response: HttpResponseBase) -> None: ...

    def abandon(self) -> None: ...


# Asked with request= (DRF's, authenticated); answers None (nothing to do: no header, and none needed), an
# Attempt, or an HttpResponse (the stored answer, to replay). Refusals are domain errors (400, 409, 422).
idempotency_begin = Hook("core.idempotency.begin", single=True)


class _Replay(Exception):  # noqa: N818 - not an error: carries the stored answer past the handler
    def __init__(self, response: HttpResponseBase) -> None:
        super().__init__("idempotent replay")
        self.response = response


class Idempotent:
    """DRF view mixin: the view's creating methods honour `Idempotency-Key` (put it first in the bases)."""

    idempotent_methods: Collection[str] = ("POST",)
    _idempotency: Attempt | None = None

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        self._idempotency = None
        if request.method not in self.idempotent_methods:
            return
        answer = idempotency_begin.ask(request=request)
        if isinstance(answer, HttpResponseBase):
            raise _Replay(answer)
        self._idempotency = answer

    def handle_exception(self, exc: Exception) -> Any:
        if isinstance(exc, _Replay):
            return exc.response
        return super().handle_exception(exc)  # type: ignore[misc]

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        attempt, self._idempotency = self._idempotency, None
        if attempt is not None:
            attempt.finish(response)
        return response

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        except BaseException:
            # An unhandled error is a 500 and no final answer: the key is free for the retry (the failed
            # request's transaction rolled back, so running it again creates nothing twice).
            attempt, self._idempotency = self._idempotency, None
            if attempt is not None:
                attempt.abandon()
            raise


# --- the OpenAPI schema: every idempotent operation documents the header and its answers ----------

PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "1 to 255 printable ASCII characters, unique per request (e.g. a UUID). Required on calls with a platform "
        "API key (400 idempotency_key_required without it), optional otherwise. Kept 24 hours per API key or "
        "user: a retry with the same key and the same method, path and body gets the first answer again (2xx "
        "and 4xx; never a 5xx or a 429) with `Idempotent-Replayed: true`."
    ),
)
ANSWERS = {
    "400": "Or, for the Idempotency-Key header: idempotency_key_required (a platform API key's call without "
    "it), invalid_idempotency_key (empty, longer than 255 or not printable ASCII).",
    "409": "Or idempotency_request_in_progress: the first request with this Idempotency-Key still runs; retry "
    "after `Retry-After` seconds.",
    "422": "idempotency_key_reused: this Idempotency-Key was used with another method, path or body.",
}
REPLAYED = {
    REPLAYED_HEADER: {
        "schema": {"type": "string", "enum": ["true"]},
        "description": "Present on a replay: the stored answer of the first request with this Idempotency-Key.",
    }
}


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's, plus the Idempotency-Key header and its answers on Idempotent views' operations."""

    def _is_idempotent(self) -> bool:
        view = getattr(self, "view", None)
        return isinstance(view, Idempotent) and self.method in view.idempotent_methods

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        if self._is_idempotent():
            parameters.append(PARAMETER)
        return parameters

    def get_operation(self, *args: Any, **kwargs: Any) -> Any:
        operation = super().get_operation(*args, **kwargs)
        if not operation or not self._is_idempotent():
            return operation
        responses = operation.setdefault("responses", {})
        error = self.resolve_serializer(ErrorSerializer, "response").ref
        for code, text in ANSWERS.items():
            if code in responses:
                responses[code]["description"] = f"{responses[code].get('description', '')} {text}".strip()
            else:
                responses[code] = {"content": {"application/json": {"schema": error}}, "description": text}
        for code, response in responses.items():
            if code.startswith("2"):
                response.setdefault("headers", {}).update(REPLAYED)
        return operation


__all__ = ["HEADER", "REPLAYED_HEADER", "Attempt", "AutoSchema", "Idempotent", "idempotency_begin"]
