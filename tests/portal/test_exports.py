"""List exports (issue 11 §3): CSV and XLSX with the list's filters and search, masked as on screen,
scoped, audited without personal data; large ones built by a task (eager in tests) and downloaded by
their requester only, until they expire."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from accounts.models import AuditEvent
from portal.models import ExportStatus, ListExport
from tests import factories, idgen

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_engine(monkeypatch):
    monkeypatch.setattr("verification.services.enqueue_verification", lambda pk: None)


@pytest.fixture
def manager(world):
    return world["users"]["account_manager"]


@pytest.fixture
def am(client, manager):
    client.force_login(manager)
    return client


def content(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def csv_rows(response) -> list[list[str]]:
    text = content(response).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def xlsx_rows(data: bytes) -> list[list]:
    sheet = load_workbook(io.BytesIO(data), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def export_url(name: str, **params) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"{reverse('exports:list', args=[name])}?{query}"


def test_card_export_csv_and_xlsx_honour_filters_and_scope(am, world):
    ent = world["enterprise"]
    mine = [factories.card(enterprise=ent) for _ in range(3)]
    other = factories.card(enterprise=world["enterprise_other"])
    response = am.get(export_url("cards", format="csv"))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="cards-')
    assert "no-store" in response["Cache-Control"]
    rows = csv_rows(response)
    assert rows[0][:2] == ["ICCID", "Number"]
    iccids = {row[0] for row in rows[1:]}
    assert {card.iccid for card in mine} <= iccids
    assert other.iccid not in iccids  # another province's card is never exported
    # The list's search is the export's.
    searched = csv_rows(am.get(export_url("cards", format="csv", q=mine[1].iccid)))
    assert [row[0] for row in searched[1:]] == [mine[1].iccid]
    workbook = xlsx_rows(content(am.get(export_url("cards", format="xlsx", q=mine[2].msisdn))))
    assert workbook[0][0] == "ICCID"
    assert [row[0] for row in workbook[1:]] == [mine[2].iccid]
    event = AuditEvent.objects.filter(action="list.exported").latest("id")
    assert event.data["list"] == "cards"
    assert event.data["format"] == "xlsx"
    assert event.data["rows"] == 1
    assert event.data["searched"] is True
    assert mine[2].msisdn not in json.dumps(event.data)


def test_card_user_export_is_masked_as_on_screen_and_keeps_the_posted_search(am, manager, world):
    ent = world["enterprise"]
    number = idgen.resident_id()
    wang = factories.card_user_registration(
        actor=manager, enterprise=ent, cards=[factories.card(enterprise=ent)], name="王芳", id_number=number
    ).card_user
    factories.card_user_registration(actor=manager, enterprise=ent, cards=[factories.card(enterprise=ent)], name="李四")
    factories.card_user_registration(
        actor=world["users"]["account_manager_other_province"],
        enterprise=world["enterprise_other"],
        cards=[factories.card(enterprise=world["enterprise_other"])],
        name="王芳",
        id_number=number,
    )
    list_url = am.post(reverse("cards:card_user_list"), {"q": number})["Location"]
    page = am.get(list_url).content.decode()
    link = re.search(r'href="(/exports/card_users/\?[^"]*format=csv[^"]*)"', page).group(1).replace("&amp;", "&")
    assert number not in link
    rows = csv_rows(am.get(link))
    assert len(rows) == 2  # the header and the one match in scope
    assert rows[1][0] == wang.name
    assert rows[1][1] == wang.id_number_masked
    assert number not in content(am.get(link)).decode()
    event = AuditEvent.objects.filter(action="list.exported").latest("id")
    assert number not in json.dumps(event.data, ensure_ascii=False)
    assert "王芳" not in json.dumps(event.data, ensure_ascii=False)
    # An ID number put in the export's URL by hand is refused, not searched.
    assert am.get(export_url("card_users", format="csv", q=number)).status_code == 400


def test_order_and_exemption_exports(am, manager, world):
    ent = world["enterprise"]
    card = factories.active_card(enterprise=ent)
    order = factories.suspend([card])
    rows = csv_rows(am.get(export_url("orders", format="csv", q=order.number)))
    assert [row[0] for row in rows[1:]] == [order.number]
    request = factories.exemption(
        enterprise=ent, cards=[factories.card(enterprise=ent)], levels=["province"], submitted_by=manager
    )
    rows = csv_rows(am.get(export_url("exemptions", format="csv", status="approved")))
    assert [row[0] for row in rows[1:]] == [str(request.public_id)]
    assert csv_rows(am.get(export_url("exemptions", format="csv", status="rejected")))[1:] == []


def test_a_formula_in_a_cell_is_quoted(am, manager, world):
    ent = world["enterprise"]
    factories.card_user_registration(actor=manager, enterprise=ent, cards=[factories.card(enterprise=ent)], name="=1+2")
    rows = csv_rows(am.get(export_url("card_users", format="csv")))
    assert "'=1+2" in [row[0] for row in rows[1:]]


@pytest.mark.parametrize("url", ["/exports/nothing/?format=csv", "/exports/cards/?format=pdf", "/exports/cards/"])
def test_bad_export_requests_are_refused_not_500(am, url):
    assert am.get(url).status_code in (400, 404)


def test_a_large_export_is_built_by_the_task_and_downloaded_by_its_requester_only(
    am, client, world, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_SYNC_MAX_ROWS = 2
    ent = world["enterprise"]
    cards = [factories.card(enterprise=ent) for _ in range(4)]
    factories.card(enterprise=world["enterprise_other"])
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = am.get(export_url("cards", format="csv", enterprise=ent.public_id))
    assert response.status_code == 302
    job = ListExport.objects.get()
    assert job.status == ExportStatus.PENDING
    waiting = am.get(reverse("exports:progress", args=[job.public_id])).json()
    assert waiting["status"] == "pending"
    assert waiting["download_url"] is None
    assert am.get(reverse("exports:download", args=[job.public_id])).status_code == 409
    assert "export_progress.js" in am.get(response["Location"]).content.decode()
    for callback in queued:
        callback()
    job.refresh_from_db()
    assert response["Location"] == reverse("exports:detail", args=[job.public_id])
    assert job.status == ExportStatus.DONE  # tasks run eagerly in tests
    assert job.total_rows == job.done_rows == 4
    page = am.get(response["Location"])
    assert reverse("exports:download", args=[job.public_id]) in page.content.decode()
    progress = am.get(reverse("exports:progress", args=[job.public_id])).json()
    assert progress["status"] == "done"
    assert progress["download_url"] == reverse("exports:download", args=[job.public_id])
    download = am.get(progress["download_url"])
    assert download.status_code == 200
    rows = csv_rows(download)
    assert sorted(row[0] for row in rows[1:]) == sorted(card.iccid for card in cards)
    # The file is stored encrypted, as every private file.
    with open(job.file.path, "rb") as raw:
        assert cards[0].iccid.encode() not in raw.read()
    event = AuditEvent.objects.filter(action="list.exported").latest("id")
    assert event.data["mode"] == "background"
    assert event.data["filters"] == {"enterprise": str(ent.public_id)}

    # Another user, even one who sees the same cards, gets nothing of it.
    other = type(client)()
    other.force_login(world["users"]["provincial_approver"])
    for name in ("detail", "progress", "download"):
        assert other.get(reverse(f"exports:{name}", args=[job.public_id])).status_code == 404

    # Expired: no link, no download.
    ListExport.objects.filter(pk=job.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert am.get(reverse("exports:progress", args=[job.public_id])).json()["download_url"] is None
    assert am.get(reverse("exports:download", args=[job.public_id])).status_code == 404


def test_a_large_xlsx_export(am, world, settings, django_capture_on_commit_callbacks):
    settings.EXPORT_SYNC_MAX_ROWS = 1
    ent = world["enterprise"]
    cards = [factories.card(enterprise=ent) for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        response = am.get(export_url("cards", format="xlsx", enterprise=ent.public_id))
    job = ListExport.objects.get()
    assert response.status_code == 302
    rows = xlsx_rows(content(am.get(reverse("exports:download", args=[job.public_id]))))
    assert sorted(row[0] for row in rows[1:]) == sorted(card.iccid for card in cards)


def test_the_task_is_safe_to_repeat(am, world, settings, django_capture_on_commit_callbacks):
    from portal.exports import export_build

    settings.EXPORT_SYNC_MAX_ROWS = 1
    ent = world["enterprise"]
    for _ in range(2):
        factories.card(enterprise=ent)
    with django_capture_on_commit_callbacks(execute=True):
        am.get(export_url("cards", format="csv", enterprise=ent.public_id))
    job = ListExport.objects.get()
    name = job.file.name
    assert export_build(job_id=job.pk) == "nothing to do"
    assert export_build(job_id=10**9) == "nothing to do"
    job.refresh_from_db()
    assert job.file.name == name


def test_the_sweep_deletes_expired_files_and_requeues_lost_exports(
    am, world, settings, django_capture_on_commit_callbacks
):
    from portal.exports import exports_sweep

    settings.EXPORT_SYNC_MAX_ROWS = 1
    ent = world["enterprise"]
    for _ in range(2):
        factories.card(enterprise=ent)
    with django_capture_on_commit_callbacks(execute=True):
        am.get(export_url("cards", format="csv", enterprise=ent.public_id))
    job = ListExport.objects.get()
    storage, name = job.file.storage, job.file.name
    assert storage.exists(name)
    assert exports_sweep() == 0  # not expired yet
    assert exports_sweep(now=job.expires_at + timedelta(seconds=1)) == 1
    assert not storage.exists(name)
    job.refresh_from_db()
    assert not job.file
    # A pending export whose task never ran (the broker was down) is built by the sweep.
    lost = ListExport.objects.create(
        requested_by=world["users"]["account_manager"], list_name="cards", file_format="csv"
    )
    ListExport.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(hours=1))
    exports_sweep()
    lost.refresh_from_db()
    assert lost.status == ExportStatus.DONE


def test_the_approver_queues_export_what_they_show_with_their_search_and_are_logged(client, manager, world):
    """Issue 11 §3: the approver's queues (exemptions, change requests, face reviews) export as CSV and XLSX."""
    from enterprises.models import ChangeRequest, ChangeRequestStatus

    ent, other = world["enterprise"], world["enterprise_same_province"]
    waiting = factories.exemption(
        enterprise=ent,
        cards=[factories.card(enterprise=ent)],
        levels=["province"],
        submitted_by=manager,
        status="submitted",
    )
    factories.exemption(
        enterprise=other,
        cards=[factories.card(enterprise=other)],
        levels=["province"],
        submitted_by=manager,
        status="submitted",
    )
    change = ChangeRequest.objects.create(
        enterprise=ent,
        target="enterprise",
        status=ChangeRequestStatus.SUBMITTED,
        submitted_by=manager,
        submitted_at=timezone.now(),
    )
    client.force_login(world["users"]["provincial_approver"])
    queue_page = client.get(reverse("approvals:queue")).content.decode()
    assert "/exports/queue_exemptions/" in queue_page and "/exports/queue_change_requests/" in queue_page

    rows = csv_rows(client.get(export_url("queue_exemptions", format="csv")))
    assert rows[0][0] == "Request number" and len(rows) == 3
    searched = csv_rows(client.get(export_url("queue_exemptions", format="csv", q=str(waiting.public_id))))
    assert [row[0] for row in searched[1:]] == [str(waiting.public_id)]
    assert searched[1][1] == ent.name
    event = AuditEvent.objects.filter(action="list.exported").latest("id")
    assert event.data["list"] == "queue_exemptions" and event.data["searched"] is True
    assert str(waiting.public_id) not in json.dumps(event.data)  # the search itself is not logged

    workbook = xlsx_rows(content(client.get(export_url("queue_change_requests", format="xlsx"))))
    assert [row[0] for row in workbook[1:]] == [str(change.public_id)]
    reviews = csv_rows(client.get(export_url("face_reviews", format="csv")))
    assert reviews[0][0] == "Comparison" and reviews[1:] == []
    assert AuditEvent.objects.filter(action="list.exported", data__list="face_reviews").exists()

    # Not an approver: no queue, so no export of it.
    client.force_login(manager)
    for name in ("queue_exemptions", "queue_change_requests", "face_reviews"):
        assert client.get(export_url(name, format="csv")).status_code == 403, name


def test_the_enterprise_export_is_the_lists_search_masked_and_scoped(am, world):
    ent, other = world["enterprise"], world["enterprise_other"]
    page = am.get(reverse("enterprises:list"), {"q": ent.name[:3]}).content.decode()
    link = re.search(r'href="(/exports/enterprises/\?[^"]*format=csv[^"]*)"', page).group(1).replace("&amp;", "&")
    rows = csv_rows(am.get(link))
    assert rows[0][:3] == ["Unit name", "Credential type", "Credential number"]
    names = [row[0] for row in rows[1:]]
    assert ent.name in names
    assert other.name not in names  # another province's enterprise is never exported
    exported = next(row for row in rows[1:] if row[0] == ent.name)
    assert exported[2] == ent.credential_number_masked
    assert ent.credential_number not in content(am.get(link)).decode()
    # A status the enterprise is not in exports none of it.
    none_left = csv_rows(am.get(export_url("enterprises", format="csv", q=ent.name, status="change_pending")))
    assert ent.name not in [row[0] for row in none_left[1:]]
    event = AuditEvent.objects.filter(action="list.exported").latest("id")
    assert event.data["list"] == "enterprises"


def test_the_import_export_is_the_lists_filter_and_scoped(am, world):
    # Inside the test: the other export tests need no card models.
    from cards.models import CardImport, ImportStatus

    done = CardImport.objects.create(
        enterprise=world["enterprise"], file_format="csv", status=ImportStatus.SUCCEEDED, total_rows=3, imported_rows=3
    )
    CardImport.objects.create(enterprise=world["enterprise"], file_format="csv", status=ImportStatus.FAILED)
    other = CardImport.objects.create(
        enterprise=world["enterprise_other"], file_format="csv", status=ImportStatus.SUCCEEDED
    )
    page = am.get(reverse("card_imports:list"), {"status": ImportStatus.SUCCEEDED}).content.decode()
    link = re.search(r'href="(/exports/imports/\?[^"]*format=csv[^"]*)"', page).group(1).replace("&amp;", "&")
    rows = csv_rows(am.get(link))
    assert rows[0][:3] == ["Uploaded", "Enterprise", "Status"]
    # The filter of the page is the export's, and another province's import is never in it.
    assert [row[1] for row in rows[1:]] == [world["enterprise"].name]
    assert rows[1][3:] == [str(done.imported_rows), str(done.total_rows), "0"]
    assert other.enterprise.name not in content(am.get(export_url("imports", format="csv"))).decode()
    assert AuditEvent.objects.filter(action="list.exported").latest("id").data["list"] == "imports"
