"""Who may open which page for which enterprise: every role x every page x own / other objects.

One test per page. Each cell runs in its own savepoint that is rolled back
afterwards, so the cells of a page share one `world` and do not see each
other's writes. A failing page lists every cell that differs from the table.

Cell values: LOGIN = redirect to the login page (anonymous); 404 = the object
is invisible to the role; 403 = visible, but the role may not do this;
200 / 302 = allowed. An allowed POST must write exactly what the page writes;
every other cell must write nothing.

Columns of the object tables: `own` is world["enterprise"] (Beijing, the
enterprise of "enterprise_admin"), `same_province` is
world["enterprise_same_province"] (Beijing, "enterprise_admin_other_enterprise"'s),
`other_province` is world["enterprise_other"] (Guangdong).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent, PiiAccessLog
from enterprises.models import ChangeRequest, Document, DocumentKind, Enterprise, ResponsiblePerson
from tests import idgen
from tests.images import jpeg_upload

pytestmark = pytest.mark.django_db

LOGIN = "login"
OBJECTS = ("own", "same_province", "other_province")
OBJECT_KEYS = {"own": "enterprise", "same_province": "enterprise_same_province", "other_province": "enterprise_other"}
USERS = (
    "anonymous",
    "account_manager",
    "account_manager_other_province",
    "enterprise_admin",
    "enterprise_admin_other_enterprise",
    "provincial_approver",
    "provincial_approver_other_province",
    "group_approver",
    "ops",
)

# --- the tables -----------------------------------------------------------------

# Pages without an object.                       list   create  create  return  return  mine
#                                                 GET    GET     POST    GET     POST    GET
PAGES = {
    "anonymous": dict(
        list=LOGIN, create_get=LOGIN, create_post=LOGIN, returning_get=LOGIN, returning_post=LOGIN, mine=LOGIN
    ),  # noqa: E501
    "account_manager": dict(list=200, create_get=200, create_post=302, returning_get=200, returning_post=302, mine=404),  # noqa: E501
    # The Guangdong manager may search, but cannot find a Beijing enterprise: the form says "not found".
    "account_manager_other_province": dict(
        list=200, create_get=200, create_post=302, returning_get=200, returning_post=200, mine=404
    ),  # noqa: E501
    # Enterprise admins are sent from the list to their own enterprise.
    "enterprise_admin": dict(
        list=302, create_get=403, create_post=403, returning_get=403, returning_post=403, mine=302
    ),  # noqa: E501
    "enterprise_admin_other_enterprise": dict(
        list=302, create_get=403, create_post=403, returning_get=403, returning_post=403, mine=302
    ),  # noqa: E501
    "provincial_approver": dict(
        list=200, create_get=403, create_post=403, returning_get=403, returning_post=403, mine=404
    ),  # noqa: E501
    "provincial_approver_other_province": dict(
        list=200, create_get=403, create_post=403, returning_get=403, returning_post=403, mine=404
    ),  # noqa: E501
    "group_approver": dict(list=200, create_get=403, create_post=403, returning_get=403, returning_post=403, mine=404),  # noqa: E501
    "ops": dict(list=200, create_get=403, create_post=403, returning_get=403, returning_post=403, mine=404),  # noqa: E501
}

#                                        own    same_province  other_province
DETAIL = {
    "anonymous": (LOGIN, LOGIN, LOGIN),
    "account_manager": (200, 200, 404),
    "account_manager_other_province": (404, 404, 200),
    "enterprise_admin": (200, 404, 404),
    "enterprise_admin_other_enterprise": (404, 200, 404),
    "provincial_approver": (200, 200, 404),
    "provincial_approver_other_province": (404, 404, 200),
    "group_approver": (200, 200, 200),
    "ops": (200, 200, 200),
}

# Full view of a number: needs accounts.view_full_pii (not enterprise admins, not ops).
REVEAL = {
    "anonymous": (LOGIN, LOGIN, LOGIN),
    "account_manager": (200, 200, 404),
    "account_manager_other_province": (404, 404, 200),
    "enterprise_admin": (403, 404, 404),
    "enterprise_admin_other_enterprise": (404, 403, 404),
    "provincial_approver": (200, 200, 404),
    "provincial_approver_other_province": (404, 404, 200),
    "group_approver": (200, 200, 200),
    "ops": (403, 403, 403),
}

# Edit notes / account manager: account managers of the enterprise's province only (policy.can_edit).
EDIT_GET = {
    "anonymous": (LOGIN, LOGIN, LOGIN),
    "account_manager": (200, 200, 404),
    "account_manager_other_province": (404, 404, 200),
    "enterprise_admin": (403, 404, 404),
    "enterprise_admin_other_enterprise": (404, 403, 404),
    "provincial_approver": (403, 403, 404),
    "provincial_approver_other_province": (404, 404, 403),
    "group_approver": (403, 403, 403),
    "ops": (403, 403, 403),
}
EDIT_POST = {
    "anonymous": (LOGIN, LOGIN, LOGIN),
    "account_manager": (302, 302, 404),
    "account_manager_other_province": (404, 404, 302),
    "enterprise_admin": (403, 404, 404),
    "enterprise_admin_other_enterprise": (404, 403, 404),
    "provincial_approver": (403, 403, 404),
    "provincial_approver_other_province": (404, 404, 403),
    "group_approver": (403, 403, 403),
    "ops": (403, 403, 403),
}

# Upload documents and request changes: account managers of the province and the enterprise's own admin.
UPLOAD_GET = CHANGE_REQUEST_GET = {
    "anonymous": (LOGIN, LOGIN, LOGIN),
    "account_manager": (200, 200, 404),
    "account_manager_other_province": (404, 404, 200),
    "enterprise_admin": (200, 404, 404),
    "enterprise_admin_other_enterprise": (404, 200, 404),
    "provincial_approver": (403, 403, 404),
    "provincial_approver_other_province": (404, 404, 403),
    "group_approver": (403, 403, 403),
    "ops": (403, 403, 403),
}
UPLOAD_POST = CHANGE_REQUEST_POST = {
    "anonymous": (LOGIN, LOGIN, LOGIN),
    "account_manager": (302, 302, 404),
    "account_manager_other_province": (404, 404, 302),
    "enterprise_admin": (302, 404, 404),
    "enterprise_admin_other_enterprise": (404, 302, 404),
    "provincial_approver": (403, 403, 404),
    "provincial_approver_other_province": (404, 404, 403),
    "group_approver": (403, 403, 403),
    "ops": (403, 403, 403),
}

# Documents are images of IDs: roles that see personal data in full, and the enterprise's own admin.
# Ops see the list of documents but may not open them (they see personal data masked only).
DOWNLOAD = {
    "anonymous": (LOGIN, LOGIN, LOGIN),
    "account_manager": (200, 200, 404),
    "account_manager_other_province": (404, 404, 200),
    "enterprise_admin": (200, 404, 404),
    "enterprise_admin_other_enterprise": (404, 200, 404),
    "provincial_approver": (200, 200, 404),
    "provincial_approver_other_province": (404, 404, 200),
    "group_approver": (200, 200, 200),
    "ops": (403, 403, 403),
}


# --- what each page does --------------------------------------------------------


def snapshot() -> dict[str, int]:
    return {
        "enterprises": Enterprise.objects.count(),
        "persons": ResponsiblePerson.objects.count(),
        "documents": Document.objects.count(),
        "change_requests": ChangeRequest.objects.count(),
        "audit": AuditEvent.objects.count(),
        # Opening a document file is logged as a full view by design (tested on its own).
        "pii_views": PiiAccessLog.objects.exclude(field="file").count(),
    }


def register_payload() -> dict:
    return {
        "name": "矩阵测试物联有限公司",
        "credential_type": "business_licence",
        "credential_number": idgen.uscc(),
        "credential_address": "北京市东城区1号",
        "credential_files": [jpeg_upload()],
        "responsible_name": "李四",
        "responsible_id_type": "resident_id",
        "responsible_id_number": idgen.resident_id(),
        "responsible_id_address": "北京市东城区2号",
        "responsible_is_legal_representative": "on",
        "responsible_id_files": [jpeg_upload("id.jpg")],
    }


def change_request_payload() -> dict:
    return {
        "name": "矩阵变更后名称有限公司",
        "credential_type": "business_licence",
        "credential_number": idgen.uscc(),
        "credential_address": "北京市东城区3号",
        "files": [jpeg_upload()],
        "reason": "更名",
    }


@dataclass(frozen=True)
class Page:
    request: Callable  # (client, world, enterprise) -> response
    writes: dict = field(default_factory=dict)  # row-count changes when the cell is allowed
    success: int = 200  # the status of an allowed cell
    redirect_to: Callable | None = None  # (world, user, enterprise) -> expected Location of an allowed 302


def _url(name, enterprise, query=""):
    return reverse(name, args=[enterprise.public_id]) + query


def _detail_of(world, user, enterprise):
    return _url("enterprises:detail", enterprise)


def _own_detail(world, user, enterprise):
    return _url("enterprises:detail", user.enterprise)


def _new_enterprise_detail(world, user, enterprise):
    return _url("enterprises:detail", Enterprise.objects.get(name="矩阵测试物联有限公司"))


def _download(client, world, enterprise):
    document = Document.objects.get(enterprise=enterprise, kind=DocumentKind.CREDENTIAL, version=1)
    return client.get(reverse("documents:download", args=[document.public_id]))


PAGE_ACTIONS = {
    "list": Page(lambda c, w, e: c.get(reverse("enterprises:list")), redirect_to=_own_detail),
    "create_get": Page(lambda c, w, e: c.get(reverse("enterprises:create"))),
    "create_post": Page(
        lambda c, w, e: c.post(reverse("enterprises:create"), register_payload()),
        writes={"enterprises": 1, "persons": 1, "documents": 2, "audit": 1},
        success=302,
        redirect_to=_new_enterprise_detail,
    ),
    "returning_get": Page(lambda c, w, e: c.get(reverse("enterprises:returning"))),
    "returning_post": Page(
        lambda c, w, e: c.post(
            reverse("enterprises:returning"), {"credential_number": w["enterprise"].credential_number}
        ),
        success=302,
        redirect_to=lambda w, u, e: _url("enterprises:upload", w["enterprise"]),
    ),
    "mine": Page(lambda c, w, e: c.get(reverse("enterprises:mine")), success=302, redirect_to=_own_detail),
    "detail": Page(lambda c, w, e: c.get(_url("enterprises:detail", e))),
    "reveal": Page(
        lambda c, w, e: c.post(_url("enterprises:reveal", e), {"field": "credential_number"}),
        writes={"pii_views": 1},
    ),
    "edit_get": Page(lambda c, w, e: c.get(_url("enterprises:edit", e))),
    "edit_post": Page(
        lambda c, w, e: c.post(_url("enterprises:edit", e), {"account_manager": e.account_manager_id, "notes": "回访"}),
        writes={"audit": 1},
        success=302,
        redirect_to=_detail_of,
    ),
    "upload_get": Page(lambda c, w, e: c.get(_url("enterprises:upload", e))),
    "upload_post": Page(
        lambda c, w, e: c.post(_url("enterprises:upload", e), {"credential_files": [jpeg_upload()]}),
        writes={"documents": 1, "audit": 1},
        success=302,
        redirect_to=_detail_of,
    ),
    "change_request_get": Page(lambda c, w, e: c.get(_url("enterprises:change_request", e, "?target=enterprise"))),
    "change_request_post": Page(
        lambda c, w, e: c.post(_url("enterprises:change_request", e, "?target=enterprise"), change_request_payload()),
        writes={"change_requests": 1, "documents": 1, "audit": 1},
        success=302,
        redirect_to=_detail_of,
    ),
    "download": Page(_download),
}

OBJECT_TABLES = {
    "detail": DETAIL,
    "reveal": REVEAL,
    "edit_get": EDIT_GET,
    "edit_post": EDIT_POST,
    "upload_get": UPLOAD_GET,
    "upload_post": UPLOAD_POST,
    "change_request_get": CHANGE_REQUEST_GET,
    "change_request_post": CHANGE_REQUEST_POST,
    "download": DOWNLOAD,
}
PLAIN_PAGES = ("list", "create_get", "create_post", "returning_get", "returning_post", "mine")


# --- running a cell ---------------------------------------------------------------


class _Rollback(Exception):
    pass


def run_cell(page_name: str, world, user_key: str, enterprise, expected) -> list[str]:
    """Run one cell in a savepoint that is rolled back; return what differs from the table."""
    page = PAGE_ACTIONS[page_name]
    user = world["users"][user_key]
    problems: list[str] = []
    try:
        with transaction.atomic():
            client = Client()
            if user is not None:
                client.force_login(user)
            before = snapshot()
            response = page.request(client, world, enterprise)
            after = snapshot()
            location = response.get("Location", "")
            login_prefix = reverse("login") + "?next="
            got = LOGIN if response.status_code == 302 and location.startswith(login_prefix) else response.status_code
            if got != expected:
                problems.append(f"expected {expected}, got {got}")
            if got == expected == 302 and page.redirect_to is not None:
                want = page.redirect_to(world, user, enterprise)
                if location != want:
                    problems.append(f"redirected to {location}, expected {want}")
            allowed = expected == page.success
            wanted = {key: (page.writes.get(key, 0) if allowed else 0) for key in before}
            delta = {key: after[key] - before[key] for key in before}
            if delta != wanted:
                problems.append(f"wrote {_nonzero(delta)}, expected {_nonzero(wanted)}")
            raise _Rollback
    except _Rollback:
        pass
    return problems


def _nonzero(changes: dict) -> dict:
    return {key: value for key, value in changes.items() if value}


def _report(page_name: str, failures: dict) -> str:
    lines = [f"{page_name}: {len(failures)} cell(s) differ from the table"]
    lines += [f"  {cell}: {'; '.join(problems)}" for cell, problems in failures.items()]
    return "\n".join(lines)


def test_tables_cover_every_role_of_the_world(world):
    assert set(world["users"]) == set(USERS) == set(PAGES)
    for table in OBJECT_TABLES.values():
        assert set(table) == set(USERS)
        assert all(len(row) == len(OBJECTS) for row in table.values())


@pytest.mark.parametrize("page_name", PLAIN_PAGES)
def test_page_without_object(world, page_name):
    failures = {}
    for user_key in USERS:
        problems = run_cell(page_name, world, user_key, None, PAGES[user_key][page_name])
        if problems:
            failures[user_key] = problems
    assert not failures, _report(page_name, failures)


@pytest.mark.parametrize("page_name", list(OBJECT_TABLES))
def test_page_with_object(world, page_name):
    table = OBJECT_TABLES[page_name]
    failures = {}
    for user_key in USERS:
        for object_key, expected in zip(OBJECTS, table[user_key], strict=True):
            enterprise = world[OBJECT_KEYS[object_key]]
            problems = run_cell(page_name, world, user_key, enterprise, expected)
            if problems:
                failures[f"{user_key} x {object_key}"] = problems
    assert not failures, _report(page_name, failures)
