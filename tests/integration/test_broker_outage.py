"""Issue 7 §4.1 end to end: the broker dies mid-flow, and every piece of work finishes after it returns.

The test runs a Redis server of its own on a free port (tests.brokers.OwnRedis, never the shared
one on 6379), sends this process's tasks there and starts a real Celery worker on it. Then:

- a card user is registered while the broker is up but no worker runs: its task is queued, and
  dies with the broker (SIGKILL, no persistence), as do the approvers' emails of an exemption;
- with the broker down: a card-user registration answers 201 and an import 202 within seconds,
  an exemption is decided (its email waits in the outbox), and a reveal fails closed with 503;
- the broker comes back empty; beat's re-queue tasks run on the worker, and every verification,
  import and email finishes, once, even though the tasks are sent again while others are in flight.
"""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from approvals import services as approval_services
from approvals.models import Notification
from cards.models import CardBinding, CardImport, ImportStatus, Package
from tests import factories, idgen
from tests.approvals import file_for_combo
from tests.brokers import OwnRedis, celery_broker
from tests.cards.import_files import csv_bytes, row
from tests.images import jpeg_upload
from tests.workers import WorkerProcess, wait_for
from verification.models import Verification, VerificationStatus

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

SWEEPERS = (
    "verification.tasks.requeue_pending_verifications",
    "cards.tasks.requeue_pending_imports",
    "approvals.tasks.requeue_unsent_notifications",
)


def _register(client, enterprise, card):
    return client.post(
        "/api/v1/card-users/",
        {
            "enterprise": str(enterprise.public_id),
            "cards": [card.iccid],
            "name": "周九",
            "id_type": "resident_id",
            "id_number": idgen.resident_id(),
            "id_photo": jpeg_upload("id.jpg"),
            "live_photo": jpeg_upload("live.jpg"),
            "biometric_consent": "true",
        },
        format="multipart",
    )


def _timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


@pytest.fixture
def own_redis():
    server = OwnRedis().start()
    yield server
    server.kill()


def test_7_4_1_every_piece_of_work_finishes_after_the_broker_returns(
    world, own_redis, shared_private_root, settings, scripted_face_engine
):
    users, enterprise = world["users"], world["enterprise"]
    for role in ("provincial_approver", "account_manager"):
        users[role].email = f"{role}@example.cn"
        users[role].save(update_fields=["email"])
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": own_redis.url(1),
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    Package.objects.create(code="IOT-BASIC", name="物联网基础套餐")
    manager = APIClient()
    manager.force_authenticate(users["account_manager"])
    revealed = factories.verified_card_user(
        actor=users["account_manager"], enterprise=enterprise, cards=[factories.card(enterprise=enterprise)]
    )
    reveal = f"/api/v1/card-users/{revealed.public_id}/reveal/"
    work = Verification.objects.exclude(card_user=revealed)
    worker = None
    with celery_broker(own_redis.url(0)) as app:
        try:
            # Up, but no worker yet: these messages are queued, and die with the broker.
            before = _register(manager, enterprise, factories.card(enterprise=enterprise, data="non_directed"))
            assert before.status_code == 201, before.content
            exemption, _card = file_for_combo(world, "U1")
            assert work.get().queued_at is not None
            assert Notification.objects.filter(queued_at__isnull=False).count() == 1  # to the approver

            own_redis.kill()

            during, took = _timed(
                lambda: _register(manager, enterprise, factories.card(enterprise=enterprise, data="non_directed"))
            )
            assert during.status_code == 201 and took < 8, (during.status_code, took)
            uploaded, took = _timed(
                lambda: manager.post(
                    "/api/v1/card-imports/",
                    {
                        "enterprise": str(enterprise.public_id),
                        "file": SimpleUploadedFile("cards.csv", csv_bytes([row(1), row(2)])),
                    },
                    format="multipart",
                )
            )
            assert uploaded.status_code == 202 and took < 8, (uploaded.status_code, took)
            approval_services.exemption_decide(
                request=exemption, actor=users["provincial_approver"], level="province", approve=True
            )
            refused = manager.post(reveal, {"field": "id_number"}, format="json")
            assert refused.status_code == 503 and refused.json()["code"] == "service_unavailable"
            assert int(refused["Retry-After"]) > 0
            assert work.filter(status=VerificationStatus.PENDING).count() == 2
            assert CardImport.objects.get().status == ImportStatus.PENDING
            assert Notification.objects.filter(sent_at__isnull=True).count() == 2

            own_redis.start()  # back, and empty
            assert manager.post(reveal, {"field": "id_number"}, format="json").status_code == 200
            worker = WorkerProcess(
                private_root=shared_private_root,
                name="outage",
                extra_env={
                    "REDIS_URL": own_redis.url(0),
                    "CACHE_URL": own_redis.url(1),
                    "FACE_ENGINE": "verification.engine.ScriptedEngine",
                    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
                    # Everything pending is stale at once, so the tasks are also sent again while the
                    # first ones are queued or running: the work must still be done once.
                    "WORK_REQUEUE_AFTER": "0",
                },
            )
            for _round in range(3):
                for name in SWEEPERS:
                    app.send_task(name)  # as celery beat does

            def finished():
                return (
                    not work.filter(status=VerificationStatus.PENDING).exists()
                    and CardImport.objects.get().status == ImportStatus.SUCCEEDED
                    and not Notification.objects.filter(sent_at__isnull=True).exists()
                )

            wait_for(finished, timeout=120, message="every verification, import and email to finish")
            for name in SWEEPERS:
                app.send_task(name)
            wait_for(
                lambda: worker.log_path.read_bytes().count(b"requeue_unsent_notifications") >= 8,
                timeout=60,
                message="the last sweep",
            )
            time.sleep(2)  # anything sent by the last sweep would now have run
        finally:
            if worker is not None:
                worker.stop()

    assert work.count() == 2
    for verification in work:
        assert verification.status == VerificationStatus.PASSED, verification.reasons
        assert verification.attempts == 1
    assert CardBinding.objects.filter(ended_at__isnull=True).count() == 3  # two new card users and `revealed`
    job = CardImport.objects.get()
    assert (job.imported_rows, job.error_count) == (2, 0)
    notes = list(Notification.objects.all())
    assert len(notes) == 2 and all(note.sent_at and note.attempts == 1 for note in notes)  # approver, requester
    log = worker.log_path.read_text(errors="replace")
    assert log.count("'sent'") == 2, "an email was sent more than once"
    assert log.count(f"'{ImportStatus.SUCCEEDED}'") == 1, "the import ran more than once"
