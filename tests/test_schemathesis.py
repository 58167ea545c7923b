"""Schemathesis over the whole OpenAPI schema (issue 10 §6): no 5xx, and every answer is one the schema documents.

Every operation in the schema as it is when the test runs (the generator's, as /api/schema/ serves it) gets
examples generated from its own schema, and each answer is checked: not a server error, a documented status
code, a documented content type, documented headers, and a body that matches the documented schema. Valid
input runs twice, as a platform key holding every scope and as an enterprise admin's browser session; input
that breaks the schema runs as the key. Two examples in three name real objects in the path (the robustness
test's world), so ids resolve and the 2xx shapes are checked too, not only 404s.

Each example runs in a savepoint that is rolled back, so one example's writes (a revoked key, a withdrawn
request) do not change what the next one finds. Generation is derandomised and bounded, so the run is
repeatable and takes well under a minute; the failures are collected and shown together, one per operation
and check.
"""

from __future__ import annotations

import functools

import pytest
import schemathesis
from django.db import transaction
from django.test import Client
from django.test.client import ClientHandler
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import DataGenerationMethod, GenerationConfig
from schemathesis.checks import not_a_server_error
from schemathesis.exceptions import CheckFailed
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from integrations.keys import key_create
from integrations.scopes import KeyScope
from tests.test_robustness import make_objects

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
)
EXAMPLES_PER_OPERATION = 5


def _django_app(environ, start_response):
    """The project as a WSGI app, through Django's test handler: it keeps the test's database connection
    open (the plain WSGIHandler closes it at the end of each request, which would break the test's
    transaction) and skips CSRF as the test Client does, so that a session can write."""
    response = ClientHandler(enforce_csrf_checks=False)(environ)
    headers = list(response.items())
    headers += [("Set-Cookie", morsel.OutputString()) for morsel in response.cookies.values()]
    start_response(f"{response.status_code} {response.reason_phrase}", headers)
    if response.streaming:
        return [b"".join(response.streaming_content)]
    return [response.content]


@functools.cache
def _raw_schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _schema(data: str):
    # The test sends its own credentials; schemathesis would otherwise generate Authorization headers.
    config = GenerationConfig(with_security_parameters=False)
    return schemathesis.from_dict(
        _raw_schema(),
        app=_django_app,
        generation_config=config,
        data_generation_methods=[DataGenerationMethod[data]],
    )


def _world_for_calls(world):
    objects = make_objects(world)
    manager = world["users"]["account_manager"]
    _record, key = key_create(
        actor=manager, enterprise=world["enterprise"], name="Schemathesis", scopes=[scope.value for scope in KeyScope]
    )
    return objects, key


@pytest.fixture(scope="module")
def calls_world(module_data):
    return module_data.build(_world_for_calls, module_data.world)


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def _with_real_ids(case, objects: dict, enterprise_id: str) -> None:
    """Name real objects: the path's ids, found as the robustness test finds them (by the path's first two
    segments, "platform/webhooks", with one value per parameter, else by its first segment), and the
    enterprise where a query or a body names one."""
    segments = case.operation.path.split("/")
    nested = "/".join(segments[3:5])
    found = objects.get(nested, objects.get(segments[3]))
    if case.path_parameters and found is not None:
        real = found if isinstance(found, dict) else dict.fromkeys(case.path_parameters, found)
        for name in case.path_parameters:
            if name == "kind":
                case.path_parameters[name] = "live_photo"
            elif name in real:
                case.path_parameters[name] = str(real[name])
    for part in (case.query, case.body):
        if isinstance(part, dict) and "enterprise" in part:
            part["enterprise"] = enterprise_id


def _first_lines(exc: Exception) -> str:
    """What failed, without the response bodies schemathesis appends (an HTML page would drown the list)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " / ".join(lines[:4])[:500]


def _run_operation(
    operation, credentials: dict, objects: dict, enterprise_id: str, failures: dict, statuses: dict
) -> None:
    headers, cookies = credentials.get("headers"), credentials.get("cookies")
    label = f"{operation.method.upper()} {operation.path}"

    examples = iter(range(10**6))

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        # Two examples in three name real objects (the first one always): a drawn boolean would be False in
        # every example of some operations, whose 2xx answers would then go unchecked.
        if next(examples) % 3 != 2:
            _with_real_ids(case, objects, enterprise_id)
        with transaction.atomic():
            response = case.call(headers=headers, cookies=cookies)
            transaction.set_rollback(True)
        statuses.setdefault(label, set()).add(response.status_code)
        for check_function in CHECKS:
            key = (label, check_function.__name__)
            if key in failures:
                continue
            try:
                case.validate_response(response, checks=(check_function,))
            except CheckFailed as exc:
                failures[key] = (
                    f"{label} [{check_function.__name__}] {response.status_code}: {_first_lines(exc)}\n"
                    f"    {case.as_curl_command(headers={'Authorization': '…', 'Cookie': '…'})[:500]}"
                )

    check()


# Valid input as a key and as a session; input that breaks the schema (wrong types, missing fields, values
# out of range) as a key, which reaches the most write paths.
@pytest.mark.parametrize(
    ("auth", "data"), [("platform_key", "positive"), ("session", "positive"), ("platform_key", "negative")]
)
def test_every_operation_conforms_to_the_schema(world, calls_world, settings, auth, data):
    objects, key = calls_world
    settings.PLATFORM_KEY_RATE = "1000000/minute"  # the limit has its own tests; here it would only answer 429
    if auth == "platform_key":
        credentials = {"headers": {"Authorization": f"Api-Key {key}"}}
    else:
        # As a cookie of the test client's jar: it sets the Cookie header itself, over one given as a header.
        credentials = {"cookies": {"sessionid": _session_cookie(world["users"]["enterprise_admin"])}}
    failures: dict = {}
    statuses: dict = {}
    operations = [result.ok() for result in _schema(data).get_all_operations()]
    assert len(operations) == sum(
        method in ("get", "post", "put", "patch", "delete")
        for item in _raw_schema()["paths"].values()
        for method in item
    )
    for operation in operations:
        _run_operation(operation, credentials, objects, str(world["enterprise"].public_id), failures, statuses)
    assert not failures, f"{len(failures)} failure(s):\n" + "\n".join(failures.values())
    # The run reached the views as the caller, not only their 401s and 404s: the credentials work, the real
    # ids resolve, and the 2xx bodies were checked against their schemas.
    succeeded = {label for label, codes in statuses.items() if any(200 <= code < 300 for code in codes)}
    if data == "positive":
        assert {"GET /api/v1/cards/", "GET /api/v1/cards/{iccid}/", "GET /api/v1/card-users/{public_id}/"} <= succeeded
        assert len(succeeded) >= len(operations) // 3, sorted(statuses.items())
    else:  # the broken input was refused, not let through
        assert sum(400 <= code < 500 for codes in statuses.values() for code in codes) >= len(operations) // 2
