"""The OpenAPI schema: served, complete, valid without warnings; the docs pages render."""

from __future__ import annotations

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.management.commands.spectacular import SchemaGenerationError
from rest_framework.test import APIClient

ENTERPRISE_PATHS = {
    "/api/v1/enterprises/": {"get", "post"},
    "/api/v1/enterprises/lookup/": {"post"},
    "/api/v1/enterprises/{public_id}/": {"get", "patch"},
    "/api/v1/enterprises/{public_id}/documents/": {"get", "post"},
    "/api/v1/enterprises/{public_id}/reveal/": {"post"},
    "/api/v1/enterprises/{public_id}/change-requests/": {"get", "post"},
    "/api/v1/documents/{public_id}/download/": {"get"},
    "/api/v1/change-requests/{public_id}/": {"get"},
    "/api/v1/me/": {"get"},
    "/api/v1/auth/token/": {"post"},
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """`manage.py spectacular --validate --fail-on-warn`, once; on failure, the schema anyway and the warnings."""
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    GENERATOR_STATS.reset()  # the counters are process-wide: count this run only
    try:
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
        problems = []
    except SchemaGenerationError:
        problems = sorted({*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache})
        GENERATOR_STATS.reset()
        call_command("spectacular", "--file", str(path))
    return yaml.safe_load(path.read_text()), problems


@pytest.fixture(scope="module")
def schema(generated):
    return generated[0]


def test_spectacular_validate_fail_on_warn_succeeds(generated):
    _schema, problems = generated
    assert problems == [], "\n".join(problems)


def test_schema_has_the_paths(schema):
    assert schema["openapi"].startswith("3.")
    for path, methods in ENTERPRISE_PATHS.items():
        assert path in schema["paths"], path
        assert methods <= set(schema["paths"][path]), path


def test_uploads_are_multipart_and_ids_uuid(schema):
    paths = schema["paths"]
    register = paths["/api/v1/enterprises/"]["post"]
    assert set(register["requestBody"]["content"]) == {"multipart/form-data"}
    body = schema["components"]["schemas"]["EnterpriseRegisterRequest"]
    assert body["properties"]["credential_files"]["items"] == {"type": "string", "format": "binary"}
    assert {"credential_files", "responsible_id_files", "responsible_is_legal_representative"} <= set(body["required"])
    for path in ["/api/v1/enterprises/{public_id}/documents/", "/api/v1/enterprises/{public_id}/change-requests/"]:
        assert set(paths[path]["post"]["requestBody"]["content"]) == {"multipart/form-data"}
    detail = paths["/api/v1/enterprises/{public_id}/"]["get"]
    [param] = [p for p in detail["parameters"] if p["in"] == "path"]
    assert param["schema"] == {"type": "string", "format": "uuid"}


def test_errors_and_masking_are_documented(schema):
    paths, components = schema["paths"], schema["components"]["schemas"]
    register = paths["/api/v1/enterprises/"]["post"]["responses"]
    assert {"201", "400", "403", "409"} <= set(register)
    assert register["400"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert "429" in paths["/api/v1/enterprises/{public_id}/reveal/"]["post"]["responses"]
    download = paths["/api/v1/documents/{public_id}/download/"]["get"]["responses"]["200"]["content"]
    assert {"image/jpeg", "application/pdf"} <= set(download)
    # Only masked numbers in the read shapes; the full value only in the reveal response.
    detail = components["EnterpriseDetail"]["properties"]
    assert "credential_number_masked" in detail and "credential_number" not in detail
    assert "id_number_masked" in components["ResponsiblePerson"]["properties"]
    assert "id_number" not in components["ResponsiblePerson"]["properties"]
    assert "value" in components["EnterpriseRevealResponse"]["properties"]


def test_schema_endpoint(db):
    response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/v1/enterprises/" in response.content


@pytest.mark.parametrize(("url", "marker"), [("/api/docs/", "swagger-ui"), ("/api/redoc/", "redoc")])
def test_docs_pages_render_without_a_cdn(db, url, marker):
    response = APIClient().get(url)
    assert response.status_code == 200
    html = response.content.decode()
    # Served from drf-spectacular-sidecar's static files, not from a CDN (there is no internet).
    # ReDoc's bundle is the sidecar's, served by portal.api_docs without its CDN logo.
    assert marker in html and ("/static/drf_spectacular_sidecar/" in html or "/api/redoc/redoc.standalone.js" in html)
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_load_nothing_from_another_host(db, url):
    """Operator intranets reach no CDN and no Google Fonts (issue 11 §5): every src and href is on this
    site, and the page's CSP names no other host, so nothing else would load even if a script asked."""
    import re

    response = APIClient().get(url)
    html = response.content.decode()
    external = re.findall(r'(?:src|href)\s*=\s*["\']?\s*((?:https?:)?//[^"\'\s>]+)', html, re.I)
    assert external == []
    assert "fonts.googleapis.com" not in html and "fonts.gstatic.com" not in html
    policy = response.headers["Content-Security-Policy"]
    assert not re.search(r"https?://|//[a-z]", policy), policy
    # The scripts the page names are served here: the libraries as static files, Swagger's start-up
    # script by its own view.
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', html)
    assert scripts and all(s.startswith(("/static/", f"{url}?script", f"{url}redoc.")) for s in scripts), scripts


def test_the_redoc_bundle_is_the_sidecars_without_its_cdn_image(db):
    from pathlib import Path

    from django.contrib.staticfiles import finders

    from portal import api_docs

    response = APIClient().get("/api/redoc/redoc.standalone.js")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/javascript")
    body = response.content.decode()
    assert "cdn.redoc.ly" not in body and "fonts.googleapis.com" not in body
    original = Path(finders.find(api_docs.REDOC_BUNDLE)).read_text(encoding="utf-8")
    assert body == original.replace(api_docs.EXTERNAL_LOGO, api_docs.LOCAL_LOGO)


# --- the platform channel (issue 10 §6) ----------------------------------------------------------------


def _resolve(schema, ref):
    node = schema
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_every_event_type_is_a_documented_webhook_with_the_standard_webhooks_headers(schema):
    from integrations.webhooks.models import EventType
    from integrations.webhooks.payloads import PAYLOADS

    # OpenAPI 3.0 has no root `webhooks`: the same path items go under `x-webhooks` (what ReDoc renders).
    hooks = schema["webhooks"] if schema["openapi"].startswith("3.1") else schema["x-webhooks"]
    assert set(hooks) == set(EventType.values) - {EventType.TEST}
    for event_type, item in hooks.items():
        operation = item["post"]
        headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
        assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= {
            n for n, p in headers.items() if p["required"]
        }
        assert "2XX" in operation["responses"] and "Retry-After" in operation["responses"]["429"]["headers"]
        body = _resolve(schema, operation["requestBody"]["content"]["application/json"]["schema"]["$ref"])
        assert body["required"] == ["type", "timestamp", "data"]
        assert body["properties"]["type"]["enum"] == [event_type]
        data = body["properties"]["data"]
        # The documented fields are the ones emit_event builds: one table for both.
        assert list(data["properties"]) == data["required"] == list(PAYLOADS[event_type].names)
        assert all(field["description"] for field in data["properties"].values())
        assert not {"name", "id_number", "msisdn", "phone", "photo"} & set(data["properties"])


def test_key_auth_idempotency_and_every_error_code_are_documented(schema):
    from core.errors import DomainError

    key = schema["components"]["securitySchemes"]["ApiKeyAuth"]
    assert key["in"] == "header" and key["name"] == "Authorization" and "cards:read" in key["description"]
    description = schema["info"]["description"]
    assert (
        "Api-Key rnk_live_" in description and "Idempotency-Key" in description and "webhook-signature" in description
    )
    codes = schema["components"]["schemas"]["Error"]["x-error-codes"]
    every = {code for found in codes.values() for code in found}
    # Each domain error's default code, codes given at a raise (services, validators, the SSRF guard),
    # DRF's own and a serializer field's.
    stack, defaults = [DomainError], set()
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        defaults.add(cls.default_code)
    assert defaults <= every
    assert {"one_id_five_cards", "invalid_iccid_checksum", "url_not_https", "link_exhausted"} <= every
    assert {"not_authenticated", "throttled", "parse_error", "required", "max_length"} <= every
    assert "one_id_five_cards" in codes["409"] and "not_authenticated" in codes["401"] and "throttled" in codes["429"]
    assert "500" not in codes
    for found in codes.values():
        assert all(f"`{code}`" in description for code in found)


def test_the_endpoint_registration_lists_every_event_as_a_standard_callback():
    """Where POST /api/v1/platform/webhooks/ is in the schema, OpenAPI 3.0 callbacks name the same events."""
    from integrations.webhooks.openapi import postprocess_platform, webhooks

    result = postprocess_platform(
        {"info": {}, "paths": {"/api/v1/platform/webhooks/": {"post": {"operationId": "create"}}}, "components": {}}
    )
    callbacks = result["paths"]["/api/v1/platform/webhooks/"]["post"]["callbacks"]
    assert set(callbacks) == set(webhooks())
    assert callbacks["card.activated"] == {"{$request.body#/url}": webhooks()["card.activated"]}
