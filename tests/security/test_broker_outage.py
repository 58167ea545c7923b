"""Issue 7 §4.1: a Redis outage strands no work (unit level, any database).

Before: with the broker down `POST /api/v1/card-users/` answered 500 after 19 s with its rows
committed and pending for good, an import answered 202 and stayed pending for good, emails
were lost, and reveals answered 500 when the cache was down.

Here the Celery app of this process points at a closed port (a real kombu publish that
fails), then back to in-process tasks for "the broker is back". The end-to-end version with
a real broker killed under a real worker is tests/integration/test_broker_outage.py.
"""

from __future__ import annotations

import logging
import time

import pytest
from django.core import mail
from django.db import transaction
from rest_framework.test import APIClient

from approvals import services as approval_services
from approvals.models import Notification, RequestStatus
from approvals.tasks import requeue_unsent_notifications, send_notification
from cards.imports.services import card_import_run
from cards.models import Card, CardImport, ImportStatus, Package
from cards.tasks import requeue_pending_imports
from tests import factories, idgen
from tests.approvals import file_for_combo
from tests.brokers import celery_broker, free_port
from tests.cards.import_files import csv_bytes, row, upload
from tests.images import jpeg_upload
from verification.models import Verification, VerificationStatus
from verification.tasks import requeue_pending_verifications

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def broker_down():
    with celery_broker(f"redis://127.0.0.1:{free_port()}/0") as app:
        yield app


@pytest.fixture
def emails(world):
    """The requester and the approvers have addresses; returns the sent messages (locmem backend)."""
    for role in ("provincial_approver", "group_approver", "account_manager"):
        user = world["users"][role]
        user.email = f"{role}@example.cn"
        user.save(update_fields=["email"])
    mail.outbox = []
    return mail.outbox


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _register_body(enterprise, card, number):
    return {
        "enterprise": str(enterprise.public_id),
        "cards": [card.iccid],
        "name": "周九",
        "id_type": "resident_id",
        "id_number": number,
        "id_photo": jpeg_upload("id.jpg"),
        "live_photo": jpeg_upload("live.jpg"),
        "biometric_consent": "true",
    }


def test_7_4_1_card_user_registered_while_the_broker_is_down_is_answered_201_and_pending(
    world, broker_down, scripted_face_engine, django_capture_on_commit_callbacks, caplog
):
    manager, enterprise = world["users"]["account_manager"], world["enterprise"]
    card = factories.card(enterprise=enterprise, data="non_directed")
    number = idgen.resident_id()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True):
        response = _api(manager).post(
            f"{API}/card-users/", _register_body(enterprise, card, number), format="multipart"
        )
    took = time.monotonic() - started

    assert response.status_code == 201, response.content
    assert took < 8, f"the broker outage held the request for {took:.1f} s"
    verification = Verification.objects.get(public_id=response.json()["verification"]["public_id"])
    assert verification.status == VerificationStatus.PENDING and verification.queued_at is None
    warning = next(r for r in caplog.records if "not queued" in r.getMessage())
    assert f"verification {verification.pk}" in warning.getMessage()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert number not in logged and "周九" not in logged


def test_7_4_1_import_uploaded_while_the_broker_is_down_is_answered_202_and_pending(
    world, broker_down, django_capture_on_commit_callbacks
):
    Package.objects.create(code="IOT-BASIC", name="物联网基础套餐")
    with django_capture_on_commit_callbacks(execute=True):
        response = _api(world["users"]["account_manager"]).post(
            f"{API}/card-imports/",
            {"enterprise": str(world["enterprise"].public_id), "file": upload(csv_bytes([row(1)]))},
            format="multipart",
        )
    assert response.status_code == 202, response.content
    job = CardImport.objects.get()
    assert job.status == ImportStatus.PENDING and job.queued_at is None


def test_7_4_1_a_decision_taken_while_the_broker_is_down_keeps_its_email_in_the_outbox(
    world, emails, django_capture_on_commit_callbacks
):
    request, _card = file_for_combo(world, "U1")
    Notification.objects.all().delete()
    with celery_broker(f"redis://127.0.0.1:{free_port()}/0"), django_capture_on_commit_callbacks(execute=True):
        decided = approval_services.exemption_decide(
            request=request, actor=world["users"]["provincial_approver"], level="province", approve=True
        )
    assert decided.status == RequestStatus.APPROVED
    note = Notification.objects.get()
    assert note.sent_at is None and note.queued_at is None and note.address == "account_manager@example.cn"
    assert emails == []

    # The broker is back (tasks in-process again): the beat task sends it, once.
    assert requeue_unsent_notifications.apply(kwargs={}).get() == 0  # not stale yet
    Notification.objects.update(created_at=note.created_at.replace(year=2020))
    assert requeue_unsent_notifications.apply().get() == 1
    note.refresh_from_db()
    assert note.sent_at is not None and [m.to for m in emails] == [["account_manager@example.cn"]]
    assert send_notification.apply(args=[note.pk]).get() == "nothing_to_do"
    assert requeue_unsent_notifications.apply().get() == 0
    assert len(emails) == 1


def test_7_4_1_a_mail_outage_leaves_the_email_unsent_and_it_is_sent_again(
    world, emails, monkeypatch, django_capture_on_commit_callbacks, settings
):
    class Broken:
        def send_messages(self, messages):
            raise OSError("smtp down")

    request, _card = file_for_combo(world, "U1")
    Notification.objects.all().delete()
    with monkeypatch.context() as patch:
        patch.setattr("approvals.notifications.get_connection", lambda: Broken())
        with django_capture_on_commit_callbacks(execute=True):
            approval_services.exemption_decide(
                request=request, actor=world["users"]["provincial_approver"], level="province", approve=True
            )
    note = Notification.objects.get()
    assert note.sent_at is None and note.attempts == 1 and note.last_error == "OSError"
    settings.WORK_REQUEUE_AFTER = 0
    assert requeue_unsent_notifications.apply().get() == 1
    note.refresh_from_db()
    assert note.sent_at is not None and note.attempts == 2 and len(emails) == 1


def test_7_4_1_the_beat_task_finishes_pending_verifications_and_imports_once(
    world, scripted_face_engine, django_capture_on_commit_callbacks, settings
):
    manager, enterprise = world["users"]["account_manager"], world["enterprise"]
    Package.objects.create(code="IOT-BASIC", name="物联网基础套餐")
    card = factories.card(enterprise=enterprise, data="non_directed")
    with celery_broker(f"redis://127.0.0.1:{free_port()}/0"), django_capture_on_commit_callbacks(execute=True):
        registered = _api(manager).post(
            f"{API}/card-users/", _register_body(enterprise, card, idgen.resident_id()), format="multipart"
        )
        uploaded = _api(manager).post(
            f"{API}/card-imports/",
            {"enterprise": str(enterprise.public_id), "file": upload(csv_bytes([row(1)]))},
            format="multipart",
        )
    assert (registered.status_code, uploaded.status_code) == (201, 202)
    verification = Verification.objects.get()
    job = CardImport.objects.get()
    assert verification.status == VerificationStatus.PENDING and job.status == ImportStatus.PENDING

    # Not past WORK_REQUEUE_AFTER yet: nothing is sent.
    assert requeue_pending_verifications.apply().get() == 0
    assert requeue_pending_imports.apply().get() == 0

    settings.WORK_REQUEUE_AFTER = 0
    assert requeue_pending_verifications.apply().get() == 1
    assert requeue_pending_imports.apply().get() == 1
    verification.refresh_from_db()
    job.refresh_from_db()
    assert verification.status == VerificationStatus.PASSED and verification.attempts == 1
    assert verification.queued_at is not None
    assert job.status == ImportStatus.SUCCEEDED and job.imported_rows == 1
    # Done work is not sent again.
    assert requeue_pending_verifications.apply().get() == 0
    assert requeue_pending_imports.apply().get() == 0
    assert Card.objects.filter(enterprise=enterprise).count() == 2


def test_7_4_1_a_second_message_for_an_import_in_flight_does_nothing(world, packages_basic):
    """The beat task may send an import again while its first task is still running: the second
    task must not import it twice. A redelivery of the running task itself (worker lost) still runs."""
    from cards.imports import services as import_services

    job = import_services.card_import_create(
        actor=world["users"]["account_manager"], enterprise=world["enterprise"], upload=upload(csv_bytes([row(1)]))
    )
    CardImport.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING, task_id="first-task")
    assert card_import_run(import_id=job.pk, task_id="second-task") == "nothing_to_do"
    assert Card.objects.count() == 0
    assert card_import_run(import_id=job.pk, task_id="first-task") == ImportStatus.SUCCEEDED
    assert card_import_run(import_id=job.pk, task_id="first-task") == "nothing_to_do"
    assert Card.objects.count() == 1


@pytest.fixture
def packages_basic(db):
    return Package.objects.create(code="IOT-BASIC", name="物联网基础套餐")


@pytest.fixture
def cache_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


def test_7_4_1_api_reveal_fails_closed_with_503_when_the_cache_is_down(world, cache_down):
    manager, enterprise = world["users"]["account_manager"], world["enterprise"]
    card_user = factories.verified_card_user(
        actor=manager, enterprise=enterprise, cards=[factories.card(enterprise=enterprise)]
    )
    response = _api(manager).post(
        f"{API}/card-users/{card_user.public_id}/reveal/", {"field": "id_number"}, format="json"
    )
    assert response.status_code == 503, response.content
    assert int(response["Retry-After"]) > 0
    body = response.json()
    assert body["code"] == "service_unavailable" and "paused" in body["detail"]
    assert card_user.id_number not in response.content.decode()


@pytest.mark.zh
def test_7_4_1_page_reveal_fails_closed_with_a_chinese_503_page_when_the_cache_is_down(world, cache_down, client):
    manager, enterprise = world["users"]["account_manager"], world["enterprise"]
    card_user = factories.verified_card_user(
        actor=manager, enterprise=enterprise, cards=[factories.card(enterprise=enterprise)]
    )
    client.force_login(manager)
    response = client.post(f"/cards/card-users/{card_user.public_id}/reveal/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    body = response.content.decode()
    assert "暂停" in body and card_user.id_number not in body


def test_enterprise_reveal_page_fails_closed_too(world, cache_down, client):
    manager, enterprise = world["users"]["account_manager"], world["enterprise"]
    client.force_login(manager)
    response = client.post(f"/enterprises/{enterprise.public_id}/reveal/", {"field": "credential_number"})
    assert response.status_code == 503
    assert enterprise.credential_number not in response.content.decode()


def test_notifications_are_written_with_the_decision_not_after(world, emails):
    """The outbox row exists before commit: a rolled-back decision leaves none."""
    request, _card = file_for_combo(world, "U1")
    before = Notification.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        approval_services.exemption_decide(
            request=request, actor=world["users"]["provincial_approver"], level="province", approve=True
        )
        assert Notification.objects.count() == before + 1
        raise RuntimeError("roll back")
    assert Notification.objects.count() == before
