"""The platform channel in the OpenAPI schema (issue 10 §6): every event's callback with the Standard
Webhooks headers, key authentication and idempotency, and the catalogue of error codes.

One drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]) adds it all, from
the code itself, so the docs cannot drift from it:
- the callbacks from PAYLOADS (integrations.webhooks.payloads), the table emit_event() builds data from;
- the headers and the retry schedule from integrations.webhooks.deliver;
- the error codes from the source: every `code=` given to, and every `default_code` of, an error class
  of the project, DRF's own exceptions and the serializer fields' error keys (core.api.validated passes
  those on as codes), grouped by HTTP status.

The schema is OpenAPI 3.0, which has no root `webhooks` (3.1 does; drf-spectacular's WEBHOOKS setting
writes that key, which 3.0 validation refuses). So the callbacks go under `x-webhooks`, the extension
ReDoc renders for 3.0, in the same shape as 3.1's `webhooks`; under 3.1 (OAS_VERSION) they go to
`webhooks` itself. Where the endpoint registration (POST /api/v1/platform/webhooks/) is in the schema,
its operation also lists them as standard 3.0 `callbacks`.
"""

from __future__ import annotations

import ast
import functools
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from drf_spectacular.settings import spectacular_settings
from rest_framework import exceptions as drf_exceptions
from rest_framework import fields as drf_fields
from rest_framework import serializers as drf_serializers

from integrations.scopes import KeyScope
from integrations.webhooks import deliver
from integrations.webhooks.payloads import PAYLOADS, Payload

WEBHOOKS_PATH = "/api/v1/platform/webhooks/"
TAG = "Webhooks (sent to your endpoint)"
# The apps whose source holds the error codes (import-linter's root packages, less the pages-only portal).
ERROR_SOURCES = ("core", "accounts", "enterprises", "verification", "integrations", "cards", "approvals", "portal")


# --- webhooks ----------------------------------------------------------------------------------------


def component_name(event_type: str) -> str:
    """card_user.registered -> CardUserRegisteredEvent."""
    return "".join(part.capitalize() for part in event_type.replace(".", "_").split("_")) + "Event"


def _header(name: str, description: str, schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": required, "schema": schema, "description": description}


def _delays() -> str:
    def label(seconds: int) -> str:
        if seconds < 60:
            return f"{seconds} s"
        if seconds < 3600:
            return f"{seconds // 60} min"
        return f"{seconds // 3600} h"

    return ", ".join(label(s) for s in deliver.SCHEDULE[1:])


WEBHOOK_HEADERS = [
    _header(
        "webhook-id",
        "The event's id (`msg_...`): the same on every retry, so use it to drop duplicates. It is the `id` "
        "of the event in GET /api/v1/platform/events/.",
        {"type": "string"},
    ),
    _header(
        "webhook-timestamp",
        "Unix time (seconds) of this attempt. Refuse one too far from your clock (the reference library "
        "allows 5 minutes): it protects against replays.",
        {"type": "string", "pattern": "^[0-9]+$"},
    ),
    _header(
        "webhook-signature",
        "Space-separated `v1,<base64 HMAC-SHA256>` signatures of `{webhook-id}.{webhook-timestamp}.{body}` "
        "with the endpoint's secret (the base64 after `whsec_`), computed afresh for every attempt. While "
        "a secret rotation's grace period lasts there are two: the new secret's and the old one's. Verify "
        "with any Standard Webhooks library (PyPI `standardwebhooks`) or the Python client's "
        "`verify_webhook(headers, body, secret)`.",
        {"type": "string"},
    ),
    _header(
        "webhook-sandbox",
        "`true` on callbacks for a sandbox (test-key) enterprise; absent for real records.",
        {"type": "string", "enum": ["true"]},
        required=False,
    ),
]


def _retry_after() -> dict[str, Any]:
    return {
        "Retry-After": {
            "schema": {"type": "string"},
            "description": "Seconds, or an HTTP date: the next attempt waits that long (at most 24 h).",
        }
    }


def webhook_operation(payload: Payload) -> dict[str, Any]:
    name = component_name(payload.type)
    return {
        "operationId": "webhook_" + payload.type.replace(".", "_"),
        "summary": payload.summary,
        "description": (
            f"`{payload.type}`: {payload.description}\n\n"
            "Sent as a POST to each enabled endpoint subscribed to this type (or to every type). The body is "
            '`{"type", "timestamp", "data"}`; `data` holds ids, statuses and reason codes only, never names, '
            "ID numbers, phone numbers or photos: fetch the object with your key for more."
        ),
        "tags": [TAG],
        "parameters": WEBHOOK_HEADERS,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
        },
        "responses": {
            "2XX": {"description": "Received. Only a 2xx counts as delivered; answer fast, work later."},
            "410": {"description": "Gone: the endpoint is disabled and receives nothing more."},
            "429": {"description": "Too many requests: retried after Retry-After.", "headers": _retry_after()},
            "503": {"description": "Unavailable: retried after Retry-After.", "headers": _retry_after()},
            "default": {
                "description": (
                    f"Any other answer, a redirect, or none within {deliver.TIMEOUT_SECONDS} s is a failure: "
                    f"retried after about {_delays()} (with jitter). After "
                    f"{deliver.FAILING_DISABLES_AFTER.days} days of failures the endpoint is disabled and the "
                    "enterprise admins get an email."
                )
            },
        },
    }


def event_schemas() -> dict[str, dict[str, Any]]:
    """The body of each event type, as components: `{"type", "timestamp", "data"}`."""
    schemas = {}
    for payload in PAYLOADS.values():
        schemas[component_name(payload.type)] = {
            "type": "object",
            "description": payload.summary + ".",
            "properties": {
                "type": {"type": "string", "enum": [str(payload.type)]},
                "timestamp": {"type": "string", "format": "date-time", "description": "When the change happened."},
                "data": payload.json_schema(),
            },
            "required": ["type", "timestamp", "data"],
        }
    return schemas


def webhooks() -> dict[str, dict[str, Any]]:
    """The path item of each event type, keyed by the type (3.1 `webhooks` shape)."""
    return {str(payload.type): {"post": webhook_operation(payload)} for payload in PAYLOADS.values()}


# --- error codes ----------------------------------------------------------------------------------------


def _error_classes() -> dict[str, type[Exception]]:
    """The project's exception classes by name, imported by now (the URLconf loaded every API module)."""
    found: dict[str, type[Exception]] = {}
    stack: list[type] = [Exception]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] in ERROR_SOURCES:
            found.setdefault(cls.__name__, cls)
    return found


def _code_is_first_argument(cls: type) -> bool:
    try:
        parameters = list(inspect.signature(cls).parameters)
    except (TypeError, ValueError):
        return False
    return bool(parameters) and parameters[0] == "code"


def _called_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _codes_in(tree: ast.AST, classes: dict[str, type[Exception]]) -> Iterator[tuple[type[Exception], str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            cls = classes.get(_called_name(node) or "")
            if cls is None:
                continue
            for keyword in node.keywords:
                if keyword.arg == "code" and isinstance(keyword.value, ast.Constant):
                    yield cls, str(keyword.value.value)
            if node.args and isinstance(node.args[0], ast.Constant) and _code_is_first_argument(cls):
                yield cls, str(node.args[0].value)


def _status_of(cls: type) -> int:
    return int(getattr(cls, "status_code", 400))


@functools.cache
def error_codes() -> dict[int, list[str]]:
    """Every error `code` the API can answer, by HTTP status."""
    by_status: dict[int, set[str]] = {}

    def add(status: int, code: object) -> None:
        if isinstance(code, str) and code:
            by_status.setdefault(status, set()).add(code)

    classes = _error_classes()
    for cls in classes.values():
        add(_status_of(cls), getattr(cls, "default_code", None))
    root = Path(settings.BASE_DIR)
    for package in ERROR_SOURCES:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for cls, code in _codes_in(ast.parse(path.read_text(encoding="utf-8")), classes):
                add(_status_of(cls), code)
    # DRF's own answers (authentication, throttling, parsing, routing): core.api gives them their code.
    api_errors: list[type[drf_exceptions.APIException]] = [drf_exceptions.APIException]
    while api_errors:
        api_error = api_errors.pop()
        api_errors.extend(api_error.__subclasses__())
        # The base class's 500 `error` is what an unexpected exception would be: the API answers none.
        if api_error.__module__.startswith("rest_framework") and api_error is not drf_exceptions.APIException:
            add(int(api_error.status_code), api_error.default_code)
    # A request body's shape: core.api.validated passes the serializer field's error key on as the code.
    fields: list[type[drf_fields.Field]] = [drf_fields.Field]
    while fields:
        field = fields.pop()
        fields.extend(field.__subclasses__())
        if field.__module__.startswith("rest_framework"):
            for code in getattr(field, "default_error_messages", {}):
                add(400, code)
    for code in drf_serializers.Serializer.default_error_messages:
        add(400, code)
    return {status: sorted(codes) for status, codes in sorted(by_status.items())}


# --- the description ---------------------------------------------------------------------------------


def platform_description() -> str:
    scopes = ", ".join(f"`{scope.value}`" for scope in KeyScope)
    codes = "\n".join(
        f"- **{status}**: " + ", ".join(f"`{code}`" for code in codes) for status, codes in error_codes().items()
    )
    return f"""

## Authentication

A person signs in with a session or a token (`Authorization: Token ...`, POST /api/v1/auth/token/). An
enterprise's platform calls with an API key: `Authorization: Api-Key rnk_live_...` (security scheme
`ApiKeyAuth`), or `rnk_test_...` for the sandbox. A key acts for its enterprise alone, as its enterprise
admin does, less what its scopes leave out: {scopes}. It is shown once, expires after at most a year,
can be rotated with a grace period and revoked (then 401). Each key has a rate limit: 429 with Retry-After.

## Idempotency

Every creating POST accepts an `Idempotency-Key` header, and a call with an API key must send one
(400 `idempotency_key_required`). For 24 hours a retry with the same body gets the stored answer with
`Idempotent-Replayed: true`; the same key with another body gets 422; a retry while the first request
still runs gets 409.

## Webhooks

An enterprise registers endpoints (POST /api/v1/platform/webhooks/) and gets a `whsec_...` secret. Each
event is signed to the Standard Webhooks specification (headers `webhook-id`, `webhook-timestamp`,
`webhook-signature`) and delivered from a transactional outbox: it is sent only for a change that
committed, and never lost. Each event type and its `data` is documented under `x-webhooks` (OpenAPI 3.1
`webhooks`). Missed some? GET /api/v1/platform/events/?since=... replays the same events.

## Errors

Every error answers `{{"code", "detail", "field"?}}`: `code` is stable and machine-readable, `detail` is
translated and never holds personal data, `field` names the request field when there is one. The codes,
by HTTP status:

{codes}
"""


# --- the hook -----------------------------------------------------------------------------------------------


def postprocess_platform(result: dict[str, Any], generator: Any = None, request: Any = None, public: Any = None):
    """SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]: the platform channel's docs, added to the schema."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {}).update(event_schemas())
    hooks = webhooks()
    key = "webhooks" if str(spectacular_settings.OAS_VERSION).startswith("3.1") else "x-webhooks"
    result[key] = {**result.get(key, {}), **hooks}
    registration = result.get("paths", {}).get(WEBHOOKS_PATH, {}).get("post")
    if registration is not None:
        registration["callbacks"] = {
            event_type: {"{$request.body#/url}": path_item} for event_type, path_item in hooks.items()
        }
    key_scheme = components.get("securitySchemes", {}).get("ApiKeyAuth")
    if key_scheme is not None and "Scopes:" not in key_scheme.get("description", ""):
        key_scheme["description"] = (
            key_scheme.get("description", "")
            + " Scopes: "
            + ", ".join(f"`{scope.value}`" for scope in KeyScope)
            + ". See Authentication and Idempotency in the API's description."
        )
    codes = error_codes()
    error = components["schemas"].get("Error")
    if error is not None:
        error["x-error-codes"] = {str(status): found for status, found in codes.items()}
        code = error.get("properties", {}).get("code")
        if code is not None:
            code["description"] = (
                "Stable machine-readable reason. Every code, by HTTP status, is listed in the API's "
                "description and in this schema's `x-error-codes`."
            )
    info = result.setdefault("info", {})
    if "## Errors" not in info.get("description", ""):
        info["description"] = info.get("description", "") + platform_description()
    return result
