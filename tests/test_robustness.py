"""No input gives a 500: every API operation in the OpenAPI schema, every portal page and
every page of the two admin sites, called with malformed input.

Each is called on a real object of its kind, on an id that does not exist and on one
that is malformed. API writes get a broken JSON body, the wrong JSON type, fields of
the wrong types, junk files and an empty body; page posts get junk form fields and
junk files; reads get junk filters. The callers are an account manager (who may do
most), an enterprise admin and a provincial approver (who decides). Every answer must
be a deliberate 2xx, 3xx or 4xx. The tests collect every 5xx (an exception inside the
view is one) and show them all at once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLResolver, get_resolver
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from cards.imports import services as import_services
from cards.management.commands.make_card_file import card_csv
from cards.self_service.services import link_create
from core.pending_uploads import pending_upload_keep
from enterprises.services import change_request_submit
from integrations.keys import key_create
from integrations.webhooks import signing
from integrations.webhooks.events import emit
from integrations.webhooks.models import Delivery, DeliveryAttempt, WebhookEndpoint
from portal.models import ListExport
from tests import factories, idgen
from tests.approvals import file_for_combo
from tests.images import jpeg_upload

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

MISSING_UUID = "00000000-0000-0000-0000-000000000000"
MALFORMED = ["not-a-uuid", "1" * 300]
MISSING_ICCID = "89860" + "0" * 15

WRONG_TYPES = {
    "field": ["credential_number"],
    "decision": 5,
    "approve": "maybe",
    "comment": {"a": 1},
    "reason": None,
    "msisdn": 14912345678,
    "data": [],
    "voice": {},
    "sms": None,
    "test_package": "perhaps",
    "cards": "abc",
    "iccids": [None, {}],
    "enterprise": [],
    "id_number": "1" * 5000,
    "id_type": 7,
    "name": "\x00",
    "business_type": 7,
    "target": ["enterprise"],
    "values": "x",
    "services": 3,
    "parameters": [1],
    "package": {"code": None},
    "credential_number": 12345,
    "page": "x",
    "username": [],
    "password": None,
    "is_legal_representative": "sometimes",
    "biometric_consent": "ja",
}


def _junk_files() -> dict:
    junk = {
        name: SimpleUploadedFile(f"{name}.jpg", b"not an image", content_type="image/jpeg")
        for name in (
            "file",
            "files",
            "id_photo",
            "live_photo",
            "handler_id_photo",
            "handler_live_photo",
            "credential_files",
            "id_photos",
            "authorisation_letter",
            "province",
            "group",
        )
    }
    junk.update({"enterprise": "not-a-uuid", "iccids": "x,y", "field": "nothing", "biometric_consent": "maybe"})
    return junk


BODIES = {
    "broken json": dict(data=b"{not json", content_type="application/json"),
    "json list": dict(data=b"[1, 2]", content_type="application/json"),
    "wrong types": dict(data=WRONG_TYPES, format="json"),
    "junk files": dict(data=None, format="multipart"),  # filled per request: files are read once
    "empty": dict(data=b"", content_type="application/json"),
}
QUERIES = [
    {},
    {
        "status": "nonsense",
        "page": "x",
        "page_size": "-1",
        "iccid__startswith": "zz",
        "enterprise": "not-a-uuid",
        "package": "\x00",
        "province": "99",
        "q": "%" * 200,
        "created_after": "yesterday",
        "kind": "other",
    },
    {"page": "999999"},
    # The dashboards' list filters (issue 11 §3): an age bucket, a day, a rule and a real-name state.
    {"age": "\x00" * 3, "day": "2026-02-30", "rule": "U1\x00", "realname": "covered", "province": "\x00"},
]


def make_objects(world):
    """One real object of each kind the paths name, in the account manager's province."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("verification.services.enqueue_verification", lambda verification_id: None)
        return _objects(world)


def _objects(world):
    manager = world["users"]["account_manager"]
    enterprise = world["enterprise"]
    cards = [factories.card(enterprise=enterprise) for _ in range(3)]
    verification = factories.card_user_registration(actor=manager, enterprise=enterprise, cards=[cards[0]])
    order = factories.order(actor=manager, enterprise=enterprise, business_type="new_installation", cards=[cards[1]])
    exemption, _card = file_for_combo(world, "U1")
    change = change_request_submit(
        actor=manager,
        enterprise=enterprise,
        target="enterprise",
        values={
            "name": "北京物联新名称有限公司",
            "credential_type": "business_licence",
            "credential_number": idgen.uscc(),
            "credential_address": "北京市东城区新地址8号",
        },
        files=[jpeg_upload("licence.jpg")],
        reason="单位更名",
    )
    package = factories.package(code="IOT-ROBUST")
    job = import_services.card_import_create(
        actor=manager,
        enterprise=enterprise,
        upload=SimpleUploadedFile("cards.csv", card_csv(2, package_code=package.code), content_type="text/csv"),
    )
    link, token = link_create(actor=manager, enterprise=enterprise, label="Robust", max_uses=5)
    platform_key, _ = key_create(actor=manager, enterprise=enterprise, name="Robust", scopes=["cards:read"])
    endpoint, attempt = _webhook_with_an_attempt(enterprise)
    doomed, _attempt = _webhook_with_an_attempt(enterprise)
    # A test key too: the enterprise has a sandbox, so its reset page answers (issue 10 §5).
    key_create(actor=manager, enterprise=enterprise, name="Robust sandbox", scopes=["cards:read"], test=True)
    export = ListExport.objects.create(requested_by=manager, list_name="cards", file_format="csv")
    return {
        "attachment": exemption.attachments.first().pk,
        "self-service": link.public_id,  # /api/v1/self-service/links/{public_id}/revoke/
        "self-service-links": link.public_id,
        "self-service-tokens": token,
        "platform": platform_key.public_id,  # /api/v1/platform/keys/{public_id}/...
        # /api/v1/platform/webhooks/{public_id}/deliveries/{attempt_id}/resend/: one value per parameter; the
        # DELETE gets an endpoint of its own, so that the paths after it still find theirs.
        "platform/webhooks": {"public_id": endpoint.public_id, "attempt_id": attempt.public_id},
        "delete platform/webhooks": {"public_id": doomed.public_id, "attempt_id": attempt.public_id},
        "enterprises": enterprise.public_id,
        "documents": enterprise.documents.first().public_id,
        "cards": cards[2].iccid,
        "card-users": verification.card_user.public_id,
        "verifications": verification.public_id,
        "reviews": verification.public_id,
        "orders": order.public_id,
        "exemptions": exemption.public_id,
        "change-requests": change.public_id,
        "card-imports": job.public_id,
        "auth": _token_key(manager),  # /api/v1/auth/tokens/{key}/
        "password-links": "MQ",
        "exports": export.public_id,  # /accounts/set-password/<uidb64>/<token>/: a link that is not valid
        "pending-uploads": pending_upload_keep(owner=f"user:{manager.pk}", field="photo", upload=jpeg_upload()),
    }


def _webhook_with_an_attempt(enterprise):
    """An endpoint (a public address: nothing is sent in these tests) with one failed attempt of an event."""
    endpoint = WebhookEndpoint.objects.create(
        enterprise=enterprise, url="https://203.0.113.10/hook", secret=signing.new_secret()
    )
    event = emit(enterprise, "card.activated", {"card": "c1", "status": "active"})
    delivery = Delivery.objects.get(event=event, endpoint=endpoint)
    attempt = DeliveryAttempt.objects.create(
        delivery=delivery, attempt=1, status_code=500, attempted_at=timezone.now(), next_attempt_at=timezone.now()
    )
    return endpoint, attempt


@pytest.fixture(scope="module")
def objects(module_data):
    """Built once for the module: the tests only read them (conftest.ModuleData)."""
    return module_data.build(make_objects, module_data.world)


def _token_key(user) -> str:
    from knox.models import AuthToken

    return AuthToken.objects.create(user)[0].token_key


@functools.cache
def _operations() -> list[tuple[str, str]]:
    return list(_schema_operations())


@functools.cache
def _schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _schema_operations():
    for path, item in _schema()["paths"].items():
        for method in ("get", "post", "patch", "put", "delete"):
            if method in item:
                yield path, method


def _query_names(path: str, method: str) -> set[str]:
    operation = _schema()["paths"][path][method]
    return {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}


def _urls(path: str, objects: dict, method: str = "get") -> list[str]:
    params = re.findall(r"\{(\w+)\}", path)
    if not params:
        return [path]
    segments = path.split("/")
    # A resource may name its object by its first two segments ("platform/webhooks"), with one value per
    # path parameter, and one for a method ("delete platform/webhooks"); else by its first segment.
    nested = "/".join(segments[3:5])
    found = objects.get(f"{method} {nested}", objects.get(nested, objects.get(segments[3])))
    real = found if isinstance(found, dict) else dict.fromkeys(params, found)
    missing = MISSING_ICCID if "{iccid}" in path else MISSING_UUID
    urls = []
    for value in [None, missing, *MALFORMED]:
        url = path
        for param in params:
            replacement = "live_photo" if param == "kind" else str(real[param]) if value is None else value
            url = url.replace("{" + param + "}", replacement, 1)
        urls.append(url)
    return urls


def _call(client: APIClient, method: str, url: str, body_name: str | None, known: Collection[str] = ()):
    if method == "get":
        # As sent (a name the operation does not document is refused with 400 before anything reads it),
        # and with only the names it documents, so that the junk values reach its filters too.
        return [client.get(url, query) for query in QUERIES] + [
            client.get(url, {name: value for name, value in query.items() if name in known}) for query in QUERIES[1:]
        ]
    spec = dict(BODIES[body_name])
    if body_name == "junk files":
        spec["data"] = _junk_files()
    return [getattr(client, method)(url, **spec)]


ROLES = ("account_manager", "enterprise_admin", "provincial_approver")


# One test per role, so that the parallel workers share them.
@pytest.mark.parametrize("role", ROLES)
def test_no_api_input_gives_a_server_error(world, objects, role):
    failures = []
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(world["users"][role])
    for path, method in _operations():
        for url in _urls(path, objects, method):
            for body_name in [None] if method == "get" else BODIES:
                for response in _call(client, method, url, body_name, _query_names(path, method)):
                    if response.status_code >= 500:
                        failures.append(
                            f"{role} {method.upper()} {url[:80]} [{body_name or 'query'}]: {response.status_code}"
                        )
    assert not failures, "\n".join(failures)


# --- portal pages ---------------------------------------------------------------------

# Where a page's path names an object: the first segments of the route, and the object's kind.
PAGE_OBJECTS = [
    ("enterprises/", "enterprises"),
    ("documents/", "documents"),
    ("cards/imports/", "card-imports"),
    ("cards/self-service/enterprise/", "enterprises"),
    ("cards/self-service/", "self-service-links"),
    ("s/", "self-service-tokens"),
    ("cards/card-users/", "card-users"),
    ("cards/", "cards"),
    ("orders/", "orders"),
    ("approvals/exemptions/", "exemptions"),
    ("approvals/reviews/", "reviews"),
    ("approvals/change-requests/", "change-requests"),
    ("accounts/set-password/", "password-links"),
    ("platform/webhooks/enterprise/", "enterprises"),
    ("platform/webhooks/<str:public_id>/delete/", "delete platform/webhooks"),
    ("platform/webhooks/", "platform/webhooks"),
    ("platform/keys/enterprise/", "enterprises"),  # the API keys page, and its sandbox reset
    ("platform/keys/", "platform"),  # /platform/keys/<key>/rotate/ and revoke/
    ("exports/", "exports"),  # a large list export's progress and download (portal.exports)
    ("uploads/pending/", "pending-uploads"),  # a photo a form kept when it came back with errors
]
CHOICES = {
    "kind": ["live_photo", "id_photo", "junk"],
    "action": ["activate", "suspend", "junk"],
    "which": ["live", "x"],
}
SKIPPED_PAGES = (
    "api/",
    "admin/",
    "approvals/admin/",
    "accounts/logout/",
)  # the API above; Django's admin; logout ends the session
FORM_JUNK = {
    "field": "nothing",
    "decision": "maybe",
    "comment": "x" * 20_000,
    "enterprise": "not-a-uuid",
    "iccids": "1,2,x",
    "business_type": "nonsense",
    "id_type": "\x00",
    "id_number": "1" * 5000,
    "credential_type": "other",
    "credential_number": "%%%",
    "status": "bogus",
    "package": "missing",
    "data_service": "all",
    "step": "99",
    "cards": "abc",
    "target": "weird",
    "is_legal_representative": "perhaps",
    "biometric_consent": "ja",
    "account_manager": "-1",
    "language": "xx",
    "next": "//evil.example/",
    "username": "",
    "password": "",
}


def _page_routes():
    def walk(patterns, prefix=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            else:
                yield route

    for route in walk(get_resolver().url_patterns):
        if not route.startswith(SKIPPED_PAGES) and not route.startswith("^"):
            yield route


def _page_urls(route: str, objects: dict) -> list[str]:
    params = re.findall(r"<(?:(\w+):)?(\w+)>", route)
    if not params:
        return ["/" + route]
    kind = next(kind for prefix, kind in PAGE_OBJECTS if route.startswith(prefix))
    missing = MISSING_ICCID if kind == "cards" else MISSING_UUID
    # A kind may give one real value per parameter (make_objects: "platform/webhooks").
    real = objects[kind] if isinstance(objects[kind], dict) else {name: objects[kind] for _c, name in params}
    urls = []
    for value in [None, missing, *MALFORMED]:
        for choice_index in range(3):
            url = route
            for converter, name in params:
                if name in CHOICES:
                    replacement = CHOICES[name][choice_index % len(CHOICES[name])]
                elif converter == "int":
                    replacement = str(objects["attachment"]) if choice_index == 0 else "999999"
                else:
                    replacement = str(real[name]) if value is None else value
                url = re.sub(r"<(?:\w+:)?" + name + ">", replacement, url, count=1)
            urls.append("/" + url)
    return sorted(set(urls))


@pytest.mark.parametrize("role", ROLES)
def test_no_page_input_gives_a_server_error(world, objects, role):
    failures = []
    client = Client(raise_request_exception=False)
    client.force_login(world["users"][role])
    for route in _page_routes():
        for url in _page_urls(route, objects):
            responses = [client.get(url, query) for query in QUERIES]
            responses.append(client.post(url, {**FORM_JUNK, **_junk_files()}))
            responses.append(client.post(url, {}))
            for response in responses:
                if response.status_code >= 500:
                    failures.append(f"{role} {response.request['REQUEST_METHOD']} {url[:80]}: {response.status_code}")
    assert not failures, "\n".join(failures)


# --- the admin sites: ops in Django's admin, approvers on their desk -----------------------------

ADMIN_JUNK_QUERIES = [
    {"q": "%00\x00" + "9" * 300, "o": "99.-x", "p": "abc", "all": "", "e": "1"},
    {
        "status__exact": "bogus",
        "created_at__gte": "yesterday",
        "level": "nowhere",
        "rule": "U9",
        "realname_required__exact": "2",
        "package__id__exact": "x",
        "enterprise__id__exact": "-1",
        "id__in": "a,b",
        "_changelist_filters": "%%",
    },
]


def _admin_urls(site_prefix: str, site) -> list[str]:
    urls = [site_prefix]
    for model in site._registry:
        base = f"{site_prefix}{model._meta.app_label}/{model._meta.model_name}/"
        first = model._default_manager.order_by("pk").first()
        urls += [base, f"{base}999999/change/", f"{base}not-a-pk/change/"]
        if first is not None:
            urls += [f"{base}{first.pk}/change/", f"{base}{first.pk}/history/", f"{base}{first.pk}/delete/"]
    return urls


def test_no_admin_input_gives_a_server_error(world, objects):
    from django.contrib import admin

    from approvals.admin import approvals_site

    failures = []
    for role, prefix, site in (
        ("ops", "/admin/", admin.site),
        ("provincial_approver", "/approvals/admin/", approvals_site),
        ("group_approver", "/approvals/admin/", approvals_site),
    ):
        client = Client(raise_request_exception=False)
        client.force_login(world["users"][role])
        for url in _admin_urls(prefix, site):
            responses = [client.get(url, query) for query in ADMIN_JUNK_QUERIES]
            responses.append(
                client.post(url, {"action": "nonsense", "_selected_action": ["x", "999999"], "comment": "x"})
            )
            for response in responses:
                if response.status_code >= 500:
                    failures.append(f"{role} {response.request['REQUEST_METHOD']} {url}: {response.status_code}")
    assert not failures, "\n".join(failures)
