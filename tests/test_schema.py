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
    assert marker in html and "/static/drf_spectacular_sidecar/" in html
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html
