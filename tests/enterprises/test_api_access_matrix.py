"""Who may call which endpoint of the enterprise API, on whose data.

Every role (and anonymous) x every endpoint x three enterprises:
  own            Beijing, the enterprise of `enterprise_admin`
  same_province  Beijing, the enterprise of `enterprise_admin_other_enterprise`
  other_province Guangdong
The expected status of each cell is written out below. Invisible objects are
404, visible-but-forbidden 403. Each test runs one role over a whole table and
compares the complete table, so a failure shows every wrong cell at once.
Allowed writes must really write; refused ones must write nothing.

Anonymous requests get 401 with `WWW-Authenticate: Token`: TokenAuthentication
comes first in DEFAULT_AUTHENTICATION_CLASSES, as on every other API endpoint.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts.models import AuditEvent, PiiAccessLog
from enterprises import services
from enterprises.models import ChangeRequest, Document, Enterprise, EnterpriseStatus, ResponsiblePerson
from tests import factories, idgen
from tests.images import jpeg_upload

pytestmark = pytest.mark.django_db

API = "/api/v1"
ANON = 401

OWN, SAME, OTHER = "own", "same_province", "other_province"
TARGETS = {OWN: "enterprise", SAME: "enterprise_same_province", OTHER: "enterprise_other"}
ROLES = [
    "anonymous",
    "account_manager",
    "account_manager_other_province",
    "enterprise_admin",
    "enterprise_admin_other_enterprise",
    "provincial_approver",
    "provincial_approver_other_province",
    "group_approver",
    "ops",
]

# --- the expected tables: role -> (own, same_province, other_province) ------------------

# GET detail, GET documents, GET change-requests, GET change-request detail,
# POST lookup: visibility decides.
READ = {
    "anonymous": (ANON, ANON, ANON),
    "account_manager": (200, 200, 404),
    "account_manager_other_province": (404, 404, 200),
    "enterprise_admin": (200, 404, 404),
    "enterprise_admin_other_enterprise": (404, 200, 404),
    "provincial_approver": (200, 200, 404),
    "provincial_approver_other_province": (404, 404, 200),
    "group_approver": (200, 200, 200),
    "ops": (200, 200, 200),
}

# POST lookup differs from the reads in one place: an account manager asking for another
# province's number is told that province keeps it (409, issue 7 §1.6); everyone else gets 404.
LOOKUP = {
    **READ,
    "account_manager": (200, 200, 409),
    "account_manager_other_province": (409, 409, 200),
}

# GET document download: visible, and policy.can_download_documents (full-PII roles and
# the enterprise's own admin). Ops list documents but may not open them: ID photos are
# personal data in the clear.
DOWNLOAD = {
    "anonymous": (ANON, ANON, ANON),
    "account_manager": (200, 200, 404),
    "account_manager_other_province": (404, 404, 200),
    "enterprise_admin": (200, 404, 404),
    "enterprise_admin_other_enterprise": (404, 200, 404),
    "provincial_approver": (200, 200, 404),
    "provincial_approver_other_province": (404, 404, 200),
    "group_approver": (200, 200, 200),
    "ops": (403, 403, 403),
}

# PATCH detail (policy.can_edit: account managers of the province).
EDIT = {
    "anonymous": (ANON, ANON, ANON),
    "account_manager": (200, 200, 404),
    "account_manager_other_province": (404, 404, 200),
    "enterprise_admin": (403, 404, 404),
    "enterprise_admin_other_enterprise": (404, 403, 404),
    "provincial_approver": (403, 403, 404),
    "provincial_approver_other_province": (404, 404, 403),
    "group_approver": (403, 403, 403),
    "ops": (403, 403, 403),
}

# POST documents and POST change-requests (policy.can_upload_documents /
# can_request_change: account managers of the province, the enterprise's own admin).
UPLOAD = {
    "anonymous": (ANON, ANON, ANON),
    "account_manager": (201, 201, 404),
    "account_manager_other_province": (404, 404, 201),
    "enterprise_admin": (201, 404, 404),
    "enterprise_admin_other_enterprise": (404, 201, 404),
    "provincial_approver": (403, 403, 404),
    "provincial_approver_other_province": (404, 404, 403),
    "group_approver": (403, 403, 403),
    "ops": (403, 403, 403),
}
CHANGE_REQUEST = UPLOAD

# POST reveal (Capability.VIEW_FULL_PII in accounts.permissions, on a visible enterprise).
REVEAL = {
    "anonymous": (ANON, ANON, ANON),
    "account_manager": (200, 200, 404),
    "account_manager_other_province": (404, 404, 200),
    "enterprise_admin": (403, 404, 404),
    "enterprise_admin_other_enterprise": (404, 403, 404),
    "provincial_approver": (200, 200, 404),
    "provincial_approver_other_province": (404, 404, 200),
    "group_approver": (200, 200, 200),
    "ops": (403, 403, 403),
}

# Endpoints without an object: POST register (policy.can_register), GET me, GET list.
REGISTER = {
    "anonymous": ANON,
    "account_manager": 201,
    "account_manager_other_province": 201,
    "enterprise_admin": 403,
    "enterprise_admin_other_enterprise": 403,
    "provincial_approver": 403,
    "provincial_approver_other_province": 403,
    "group_approver": 403,
    "ops": 403,
}
ME = dict.fromkeys(ROLES, 200) | {"anonymous": ANON}
# GET list: the status, and which of the three enterprises it shows.
LIST = {
    "anonymous": (ANON, set()),
    "account_manager": (200, {OWN, SAME}),
    "account_manager_other_province": (200, {OTHER}),
    "enterprise_admin": (200, {OWN}),
    "enterprise_admin_other_enterprise": (200, {SAME}),
    "provincial_approver": (200, {OWN, SAME}),
    "provincial_approver_other_province": (200, {OTHER}),
    "group_approver": (200, {OWN, SAME, OTHER}),
    "ops": (200, {OWN, SAME, OTHER}),
}

READ_ENDPOINTS = ["detail", "documents", "change_requests", "change_request_detail", "lookup"]


# --- helpers ----------------------------------------------------------------


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def snapshot() -> tuple:
    """Everything a request could write: rows of every kind, and stored files."""
    root = Path(settings.PRIVATE_MEDIA_ROOT)
    files = sorted(str(p) for p in root.rglob("*") if p.is_file()) if root.exists() else []
    return (
        Enterprise.objects.count(),
        ResponsiblePerson.objects.count(),
        Document.objects.count(),
        ChangeRequest.objects.count(),
        AuditEvent.objects.count(),
        # Opening a document file is logged as a full view by design (tested on its own).
        PiiAccessLog.objects.exclude(field="file").count(),
        files,
    )


def expected_table(table, role, endpoints) -> dict:
    return {
        (endpoint, target): status
        for endpoint in endpoints
        for target, status in zip(TARGETS, table[role], strict=True)
    }


def open_change_request(world, enterprise):
    """A pending change request on `enterprise`, filed by its province's account manager."""
    users = world["users"]
    actor = (
        users["account_manager_other_province"] if enterprise == world["enterprise_other"] else users["account_manager"]
    )
    return services.change_request_submit(
        actor=actor,
        enterprise=enterprise,
        target="responsible_person",
        values=vars(factories.responsible_data()),
        files=[jpeg_upload("new-id.jpg")],
    )


# --- reads ------------------------------------------------------------------


def read(client, endpoint, enterprise, change_request):
    pid = enterprise.public_id
    if endpoint == "detail":
        return client.get(f"{API}/enterprises/{pid}/"), pid
    if endpoint == "documents":
        return client.get(f"{API}/enterprises/{pid}/documents/"), None
    if endpoint == "change_requests":
        return client.get(f"{API}/enterprises/{pid}/change-requests/"), None
    if endpoint == "change_request_detail":
        return client.get(f"{API}/change-requests/{change_request.public_id}/"), change_request.public_id
    if endpoint == "download":
        document = Document.objects.filter(enterprise=enterprise, kind="responsible_id").first()
        return client.get(f"{API}/documents/{document.public_id}/download/"), None
    if endpoint == "lookup":
        number = {"credential_number": enterprise.credential_number}
        return client.post(f"{API}/enterprises/lookup/", number, format="json"), pid
    raise AssertionError(endpoint)


@pytest.mark.parametrize("role", ROLES)
def test_reads(world, role):
    client = client_for(world["users"][role])
    requests = {target: open_change_request(world, world[key]) for target, key in TARGETS.items()}
    before = snapshot()

    actual = {}
    for endpoint in [*READ_ENDPOINTS, "download"]:
        for target, key in TARGETS.items():
            response, public_id = read(client, endpoint, world[key], requests[target])
            actual[(endpoint, target)] = response.status_code
            if endpoint == "download" and response.status_code == 200:
                assert response["Cache-Control"] == "no-store, private"
            if response.status_code == 200 and public_id is not None:
                # The object asked for, not some other one.
                assert response.json()["public_id"] == str(public_id), (endpoint, target)
            if response.status_code == 404:
                assert response.json()["code"] == "not_found", (endpoint, target)

    expected = (
        expected_table(READ, role, [e for e in READ_ENDPOINTS if e != "lookup"])
        | expected_table(LOOKUP, role, ["lookup"])
        | expected_table(DOWNLOAD, role, ["download"])
    )
    assert actual == expected
    assert snapshot() == before, "a read wrote something"


@pytest.mark.parametrize("role", ROLES)
def test_list_and_me(world, role):
    client = client_for(world["users"][role])
    response = client.get(f"{API}/enterprises/")
    status, visible = LIST[role]
    assert response.status_code == status
    if status == 200:
        ids = {e["public_id"] for e in response.json()["results"]}
        assert ids == {str(world[TARGETS[target]].public_id) for target in visible}
    assert client.get(f"{API}/me/").status_code == ME[role]


# --- writes -----------------------------------------------------------------


def patch_notes(client, world, enterprise):
    response = client.patch(f"{API}/enterprises/{enterprise.public_id}/", {"notes": "matrix"}, format="json")
    enterprise.refresh_from_db()
    return response, enterprise.notes == "matrix"


def upload(client, world, enterprise):
    count = Document.objects.filter(enterprise=enterprise).count()
    response = client.post(
        f"{API}/enterprises/{enterprise.public_id}/documents/",
        {"credential_files": [jpeg_upload("fresh.jpg")]},
        format="multipart",
    )
    return response, Document.objects.filter(enterprise=enterprise).count() == count + 1


def submit_change(client, world, enterprise):
    form = {
        "target": "enterprise",
        "name": f"{enterprise.name}（更名）",
        "credential_type": "business_licence",
        "credential_number": idgen.uscc(),
        "credential_address": "北京市海淀区1号",
        "files": [jpeg_upload("new-licence.jpg")],
    }
    response = client.post(f"{API}/enterprises/{enterprise.public_id}/change-requests/", form, format="multipart")
    enterprise.refresh_from_db()
    written = ChangeRequest.objects.filter(enterprise=enterprise).count() == 1
    assert written == (enterprise.status == EnterpriseStatus.CHANGE_PENDING)
    return response, written


def reveal(client, world, enterprise):
    count = PiiAccessLog.objects.count()
    response = client.post(
        f"{API}/enterprises/{enterprise.public_id}/reveal/", {"field": "responsible_id_number"}, format="json"
    )
    if response.status_code == 200:
        assert response.json()["value"] == enterprise.responsible_person.id_number
    else:
        assert enterprise.responsible_person.id_number not in response.content.decode()
    return response, PiiAccessLog.objects.count() == count + 1


WRITES = {
    "patch": (patch_notes, EDIT),
    "upload": (upload, UPLOAD),
    "change_request": (submit_change, CHANGE_REQUEST),
    "reveal": (reveal, REVEAL),
}


@pytest.mark.parametrize("role", ROLES)
def test_writes(world, role):
    client = client_for(world["users"][role])
    actual, expected = {}, {}
    for endpoint, (call, table) in WRITES.items():
        for target, status in zip(TARGETS, table[role], strict=True):
            before = snapshot()
            response, written = call(client, world, world[TARGETS[target]])
            allowed = status in (200, 201)
            actual[(endpoint, target)] = (response.status_code, written)
            expected[(endpoint, target)] = (status, allowed)
            if not allowed:
                assert snapshot() == before, f"refused {endpoint} on {target} wrote something"
    assert actual == expected


@pytest.mark.parametrize("role", ROLES)
def test_register(world, role):
    client = client_for(world["users"][role])
    before = snapshot()
    form = {
        "name": "新注册物联有限公司",
        "credential_type": "business_licence",
        "credential_number": idgen.uscc(),
        "credential_address": "北京市朝阳区1号",
        "responsible_name": "赵六",
        "responsible_id_type": "resident_id",
        "responsible_id_number": idgen.resident_id(),
        "responsible_id_address": "北京市朝阳区2号",
        "responsible_is_legal_representative": "true",
        "credential_files": [jpeg_upload()],
        "responsible_id_files": [jpeg_upload("id.jpg")],
    }
    response = client.post(f"{API}/enterprises/", form, format="multipart")
    assert response.status_code == REGISTER[role]
    if response.status_code == 201:
        created = Enterprise.objects.get(public_id=response.json()["public_id"])
        # Registered in the account manager's own province.
        assert created.province == world["users"][role].province
        assert Enterprise.objects.count() == before[0] + 1
    else:
        assert snapshot() == before


@pytest.mark.parametrize(
    ("role", "method", "path", "status"),
    [
        # Refused before the body is read: a forbidden caller learns nothing from validation.
        ("provincial_approver", "post", "/enterprises/", 403),
        ("ops", "patch", "/enterprises/{own}/", 403),
        ("group_approver", "post", "/enterprises/{own}/documents/", 403),
        ("provincial_approver", "post", "/enterprises/{own}/change-requests/", 403),
        ("ops", "post", "/enterprises/{own}/reveal/", 403),
        ("enterprise_admin_other_enterprise", "post", "/enterprises/{own}/documents/", 404),
    ],
)
def test_permission_is_checked_before_validation(world, role, method, path, status):
    url = API + path.format(own=world["enterprise"].public_id)
    fmt = "json" if method == "patch" or "reveal" in path else "multipart"
    body = {"notes": ["not", "a", "string"]} if method == "patch" else {}
    before = snapshot()
    response = getattr(client_for(world["users"][role]), method)(url, body, format=fmt)
    assert response.status_code == status
    assert snapshot() == before
