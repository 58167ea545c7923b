"""The sandbox of test keys (issue 10 §5): one per real enterprise, seeded, labelled and apart from real records;
the magic ID numbers' outcomes without real face matching; one-ID-five-cards kept apart; the callbacks' header;
and the reset."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from accounts.permissions import Capability, can
from approvals import selectors as approval_selectors
from cards.card_users.services import live_card_count
from cards.inventory import sandbox as card_sandbox
from cards.inventory.selectors import cards_visible_to
from cards.models import Card, CardBinding, CardEvent, CardUser, RegistrationStatus
from core.errors import PermissionDenied, ValidationFailed
from enterprises.models import Enterprise
from enterprises.sandbox import SANDBOX_LABEL, sandbox_for, sandbox_of, sandbox_reset
from enterprises.selectors import enterprises_visible_to
from integrations import keys
from integrations.webhooks import signing
from integrations.webhooks.events import emit
from integrations.webhooks.models import Delivery, Event, WebhookEndpoint
from tests import factories, idgen
from tests.factories import jpeg_upload
from verification.models import Verification, VerificationStatus

pytestmark = pytest.mark.django_db

REGISTERED, IN_REVIEW, CARD_LIMIT, FACE_MISMATCH = (
    "110101199001010015",
    "110101199001010023",
    "110101199001010031",
    "11010119900101004X",
)
ALL_SCOPES = ["cards:read", "cards:write", "card_users:write", "orders:write", "webhooks:manage"]


def _key(world, *, test: bool, enterprise=None):
    enterprise = enterprise or world["enterprise"]
    _record, raw = keys.key_create(
        actor=world["users"]["account_manager"], enterprise=enterprise, name="fleet", scopes=ALL_SCOPES, test=test
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def _register(client, enterprise, iccid, id_number, capture):
    with capture(execute=True):
        return client.post(
            "/api/v1/card-users/",
            {
                "enterprise": str(enterprise.public_id),
                "cards": [iccid],
                "name": "测试用户",
                "id_type": "resident_id",
                "id_number": id_number,
                "id_photo": jpeg_upload("id.jpg"),
                "live_photo": jpeg_upload("live.jpg"),
                "biometric_consent": "true",
            },
            format="multipart",
            HTTP_IDEMPOTENCY_KEY=f"reg-{iccid}-{id_number}",
        )


def test_the_magic_numbers_have_valid_check_digits():
    for number in card_sandbox.MAGIC_ID_NUMBERS:
        assert idgen.resident_id(area=number[:6], birth=number[6:14], seq=number[14:17]) == number


def test_a_test_key_creates_one_labelled_seeded_sandbox(world):
    real = world["enterprise"]
    assert sandbox_of(real) is None
    _key(world, test=True)
    sandbox = sandbox_of(real)
    assert sandbox is not None and sandbox.is_sandbox and sandbox.sandbox_of == real
    assert sandbox.name.startswith(SANDBOX_LABEL) and real.name in sandbox.name
    assert sandbox.province_id == real.province_id and not sandbox.credential_number
    cards = list(Card.objects.filter(enterprise=sandbox).order_by("iccid"))
    assert [c.iccid for c in cards] == [card_sandbox.sandbox_iccid(sandbox, n) for n in range(1, 21)]
    assert all(c.iccid.startswith("898699") and c.msisdn.startswith("19999") for c in cards)
    # A second test key, or asking again, finds the same sandbox.
    _key(world, test=True)
    assert sandbox_for(real) == sandbox and Enterprise.objects.filter(sandbox_of=real).count() == 1
    # A live key makes none, and a key is never issued to a sandbox itself.
    _key(world, test=False, enterprise=world["enterprise_same_province"])
    assert sandbox_of(world["enterprise_same_province"]) is None
    # (Nobody reaches a sandbox through the table, and the service refuses one besides.)
    with pytest.raises((PermissionDenied, ValidationFailed)):
        keys.key_create(actor=world["users"]["account_manager"], enterprise=sandbox, name="x", scopes=["cards:read"])


def test_a_test_key_sees_only_sandbox_cards_and_a_live_key_none_of_them(world):
    real = world["enterprise"]
    real_card = factories.card(enterprise=real, data="non_directed")
    test_client, live_client = _key(world, test=True), _key(world, test=False)
    sandbox = sandbox_of(real)
    sandbox_iccids = {card_sandbox.sandbox_iccid(sandbox, n) for n in range(1, 21)}

    listed = test_client.get("/api/v1/cards/")
    assert listed.status_code == 200
    assert {row["iccid"] for row in listed.json()["results"]} == sandbox_iccids
    assert test_client.get(f"/api/v1/cards/{real_card.iccid}/").status_code == 404

    live = live_client.get("/api/v1/cards/")
    assert {row["iccid"] for row in live.json()["results"]} == {real_card.iccid}
    assert live_client.get(f"/api/v1/cards/{next(iter(sandbox_iccids))}/").status_code == 404

    # The test key's enterprise list is its sandbox, and the real enterprise's id finds the sandbox.
    enterprises = test_client.get("/api/v1/enterprises/").json()["results"]
    assert [row["public_id"] for row in enterprises] == [str(sandbox.public_id)]


def test_people_never_see_or_count_sandbox_records(world, client):
    real = world["enterprise"]
    _key(world, test=True)
    sandbox = sandbox_of(real)
    for role in ("account_manager", "enterprise_admin", "provincial_approver", "group_approver", "ops"):
        user = world["users"][role]
        assert sandbox not in enterprises_visible_to(user), role
        assert not cards_visible_to(user).filter(enterprise=sandbox).exists(), role
        assert not can(user, Capability.VIEW, sandbox), role
        assert not can(user, Capability.CARDS_MANAGE, sandbox), role
    manager = world["users"]["account_manager"]
    client.force_login(manager)
    home = client.get("/")
    assert home.status_code == 200 and SANDBOX_LABEL not in home.content.decode()
    assert home.context["enterprise_count"] == enterprises_visible_to(manager).count() == 2
    listing = client.get(reverse("enterprises:list"))
    assert SANDBOX_LABEL not in listing.content.decode()
    assert client.get(reverse("enterprises:detail", kwargs={"public_id": sandbox.public_id})).status_code == 404


@pytest.mark.parametrize(
    ("number", "http", "registration", "verification"),
    [
        (REGISTERED, 201, RegistrationStatus.REGISTERED, VerificationStatus.PASSED),
        (IN_REVIEW, 201, RegistrationStatus.IN_REVIEW, VerificationStatus.IN_REVIEW),
        (FACE_MISMATCH, 201, RegistrationStatus.DECLINED, VerificationStatus.DECLINED),
        (CARD_LIMIT, 409, None, None),
        ("110105198507121231", 201, RegistrationStatus.REGISTERED, VerificationStatus.PASSED),
    ],
)
def test_magic_numbers_force_their_outcome_without_real_face_matching(
    world, scripted_face_engine, django_capture_on_commit_callbacks, number, http, registration, verification
):
    # The process's engine would decline everything: a sandbox never asks it.
    scripted_face_engine("fail", distance=0.9)
    client = _key(world, test=True)
    sandbox = sandbox_of(world["enterprise"])
    iccid = card_sandbox.sandbox_iccid(sandbox, 1)
    response = _register(client, world["enterprise"], iccid, number, django_capture_on_commit_callbacks)
    assert response.status_code == http, response.content
    assert scripted_face_engine.engine.calls == 0
    if registration is None:
        assert response.json()["code"] == "one_id_five_cards"
        assert not CardUser.objects.filter(enterprise=sandbox).exists()
        return
    card_user = CardUser.objects.get(enterprise=sandbox)
    assert card_user.registration_status == registration
    record = Verification.objects.get(card_user=card_user)
    assert record.status == verification and record.engine == "sandbox" and record.live_photo_phash == ""
    bound = CardBinding.objects.filter(card_user=card_user, ended_at__isnull=True).exists()
    assert bound == (registration == RegistrationStatus.REGISTERED)
    if registration == RegistrationStatus.DECLINED:
        assert "face_mismatch" in {reason["code"] for reason in record.reasons}
    status = client.get(response.json()["verification_url"])
    assert status.status_code == 200


def test_a_real_comparison_on_the_same_process_still_uses_the_real_engine(
    world, scripted_face_engine, django_capture_on_commit_callbacks
):
    scripted_face_engine("pass")
    test_client, live_client = _key(world, test=True), _key(world, test=False)
    sandbox = sandbox_of(world["enterprise"])
    _register(
        test_client,
        world["enterprise"],
        card_sandbox.sandbox_iccid(sandbox, 2),
        REGISTERED,
        django_capture_on_commit_callbacks,
    )
    assert scripted_face_engine.engine.calls == 0
    real_card = factories.card(enterprise=world["enterprise"], data="non_directed")
    response = _register(
        live_client, world["enterprise"], real_card.iccid, REGISTERED, django_capture_on_commit_callbacks
    )
    assert response.status_code == 201 and scripted_face_engine.engine.calls == 1
    assert Verification.objects.get(card_user__enterprise=world["enterprise"]).engine == "scripted"


def test_one_id_five_cards_never_mixes_sandbox_and_real_bindings(
    world, scripted_face_engine, django_capture_on_commit_callbacks
):
    number = idgen.resident_id()
    real = world["enterprise"]
    real_cards = [factories.card(enterprise=real, data="non_directed") for _ in range(5)]
    factories.verified_card_user(
        actor=world["users"]["account_manager"], enterprise=real, cards=real_cards, id_number=number
    )
    index = CardUser.objects.get(enterprise=real).id_number_index
    assert live_card_count(index) == 5
    client = _key(world, test=True)
    sandbox = sandbox_of(real)
    # The real person's five cards take no sandbox slot...
    assert live_card_count(index, sandbox) == 0
    response = _register(
        client, real, card_sandbox.sandbox_iccid(sandbox, 3), number, django_capture_on_commit_callbacks
    )
    assert response.status_code == 201, response.content
    assert CardUser.objects.get(enterprise=sandbox).registration_status == RegistrationStatus.REGISTERED
    # ... and the sandbox's binding counts for the sandbox alone.
    assert live_card_count(index) == 5 and live_card_count(index, sandbox) == 1


def test_the_approver_desk_and_queues_ignore_sandbox_rows(
    world, scripted_face_engine, django_capture_on_commit_callbacks, client
):
    client_key = _key(world, test=True)
    sandbox = sandbox_of(world["enterprise"])
    _register(
        client_key,
        world["enterprise"],
        card_sandbox.sandbox_iccid(sandbox, 4),
        IN_REVIEW,
        django_capture_on_commit_callbacks,
    )
    record = Verification.objects.get(enterprise=sandbox)
    assert record.status == VerificationStatus.IN_REVIEW
    approver = world["users"]["provincial_approver"]
    assert not approval_selectors.review_queue(approver).filter(pk=record.pk).exists()
    assert approval_selectors.review_queue(approver).count() == 0
    client.force_login(approver)
    home = client.get("/")
    assert home.status_code == 200
    queue = client.get(reverse("approvals:review_queue"))
    assert queue.status_code == 200 and str(record.public_id) not in queue.content.decode()
    ops = world["users"]["ops"]
    assert (
        not Verification.objects.filter(pk=record.pk)
        .filter(pk__in=approval_selectors.verifications_visible_to(ops))
        .exists()
    )


def test_sandbox_callbacks_carry_the_sandbox_header(world, settings):
    from integrations.webhooks.deliver import attempt_delivery
    from tests.integrations.test_webhooks import _Receiver

    settings.WEBHOOK_ALLOW_LOOPBACK = True
    _key(world, test=True)
    sandbox = sandbox_of(world["enterprise"])
    receiver = _Receiver([200, 200])
    try:
        for enterprise in (sandbox, world["enterprise"]):
            WebhookEndpoint.objects.create(enterprise=enterprise, url=receiver.url, secret=signing.new_secret())
            event = emit(enterprise, "card.activated", {"card": "c1", "status": "active"})
            assert attempt_delivery(Delivery.objects.get(event=event).pk).succeeded
        (sandbox_headers, _body), (real_headers, _body2) = receiver.received
        assert sandbox_headers["webhook-sandbox"] == "true"
        assert "webhook-sandbox" not in real_headers
    finally:
        receiver.close()


def test_reset_wipes_the_sandbox_and_seeds_its_cards_again(
    world, scripted_face_engine, django_capture_on_commit_callbacks, settings
):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    real = world["enterprise"]
    real_card = factories.card(enterprise=real, data="non_directed")
    client = _key(world, test=True)
    sandbox = sandbox_of(real)
    for n, number in ((5, REGISTERED), (6, IN_REVIEW), (7, FACE_MISMATCH)):
        _register(client, real, card_sandbox.sandbox_iccid(sandbox, n), number, django_capture_on_commit_callbacks)
    endpoint = WebhookEndpoint.objects.create(
        enterprise=sandbox, url="http://127.0.0.1:9/", secret=signing.new_secret()
    )
    emit(sandbox, "card.activated", {"card": "c1", "status": "active"})
    Card.objects.filter(enterprise=sandbox, iccid=card_sandbox.sandbox_iccid(sandbox, 20)).delete()
    assert CardUser.objects.filter(enterprise=sandbox).count() == 3

    with pytest.raises(PermissionDenied):
        sandbox_reset(actor=world["users"]["account_manager_other_province"], enterprise=real)
    with pytest.raises(PermissionDenied):
        sandbox_reset(actor=world["users"]["enterprise_admin_other_enterprise"], enterprise=real)
    with pytest.raises(ValidationFailed):
        sandbox_reset(actor=world["users"]["ops"], enterprise=sandbox)
    with django_capture_on_commit_callbacks(execute=True):
        assert sandbox_reset(actor=world["users"]["enterprise_admin"], enterprise=real) == sandbox

    assert not CardUser.objects.filter(enterprise=sandbox).exists()
    assert not Verification.objects.filter(enterprise=sandbox).exists()
    assert not Event.objects.filter(enterprise=sandbox).exists()
    assert not CardEvent.objects.filter(card__enterprise=sandbox).exclude(action="created").exists()
    assert sorted(Card.objects.filter(enterprise=sandbox).values_list("iccid", flat=True)) == sorted(
        card_sandbox.sandbox_iccid(sandbox, n) for n in range(1, 21)
    )
    assert not CardBinding.objects.filter(card__enterprise=sandbox).exists()
    # The platform's set-up stays, and nothing real moved.
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert Card.objects.filter(pk=real_card.pk).exists()
    assert AuditEvent.objects.filter(action="enterprise.sandbox_reset", object_id=str(real.pk)).exists()
    # The sandbox works again after a reset.
    again = _register(
        client, real, card_sandbox.sandbox_iccid(sandbox, 5), REGISTERED, django_capture_on_commit_callbacks
    )
    assert again.status_code == 201


def test_a_key_cannot_reset_a_sandbox(world):
    from integrations.auth import KeyActor

    _key(world, test=True)
    record = keys.key_create(
        actor=world["users"]["account_manager"], enterprise=world["enterprise"], name="t", scopes=ALL_SCOPES, test=True
    )[0]
    with pytest.raises(PermissionDenied):
        sandbox_reset(actor=KeyActor(record), enterprise=world["enterprise"])


def test_the_operations_admin_lists_real_records_and_resets_a_sandbox(
    world, scripted_face_engine, django_capture_on_commit_callbacks, client
):
    real = world["enterprise"]
    key_client = _key(world, test=True)
    sandbox = sandbox_of(real)
    _register(key_client, real, card_sandbox.sandbox_iccid(sandbox, 8), REGISTERED, django_capture_on_commit_callbacks)
    real_card = factories.card(enterprise=real, data="non_directed")
    client.force_login(world["users"]["ops"])

    enterprises = client.get("/admin/enterprises/enterprise/")
    assert enterprises.status_code == 200
    assert real.name in enterprises.content.decode() and SANDBOX_LABEL not in enterprises.content.decode()
    only_sandboxes = client.get("/admin/enterprises/enterprise/", {"records": "sandbox"})
    assert SANDBOX_LABEL in only_sandboxes.content.decode()
    cards = client.get("/admin/cards/card/")
    assert cards.status_code == 200
    html = cards.content.decode()
    assert real_card.iccid in html and card_sandbox.sandbox_iccid(sandbox, 1) not in html
    assert (
        card_sandbox.sandbox_iccid(sandbox, 1)
        in client.get("/admin/cards/card/", {"records": "sandbox"}).content.decode()
    )
    for url in ("/admin/cards/carduser/", "/admin/cards/cardbinding/", "/admin/cards/cardevent/"):
        assert client.get(url).status_code == 200, url
    assert client.get("/admin/cards/carduser/").context["cl"].result_count == 0
    assert client.get("/admin/cards/carduser/", {"records": "sandbox"}).context["cl"].result_count == 1

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/enterprises/enterprise/",
            {"action": "reset_sandbox", "_selected_action": [real.pk, world["enterprise_other"].pk]},
            follow=True,
        )
    assert response.status_code == 200
    body = response.content.decode()
    assert "1 sandbox(es) reset." in body and "has no sandbox" in body
    assert not CardUser.objects.filter(enterprise=sandbox).exists()
    assert Card.objects.filter(enterprise=sandbox).count() == card_sandbox.SANDBOX_CARDS


def test_the_magic_numbers_are_documented_in_the_readme_and_the_schema(client):
    from pathlib import Path

    from django.conf import settings

    readme = (Path(settings.BASE_DIR) / "README.md").read_text(encoding="utf-8")
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for number in card_sandbox.MAGIC_ID_NUMBERS:
        assert number in readme and number in schema, number
    assert "webhook-sandbox" in readme and "webhook-sandbox" in schema


def test_a_test_key_reads_every_list_and_its_sandbox_records_without_a_server_error(
    world, scripted_face_engine, django_capture_on_commit_callbacks, client
):
    real = world["enterprise"]
    key_client = _key(world, test=True)
    sandbox = sandbox_of(real)
    iccid = card_sandbox.sandbox_iccid(sandbox, 9)
    registered = _register(key_client, real, iccid, REGISTERED, django_capture_on_commit_callbacks).json()
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    lists = [path for path, ops in schema["paths"].items() if "get" in ops and "{" not in path]
    assert "/api/v1/cards/" in lists
    details = [
        f"/api/v1/enterprises/{sandbox.public_id}/",
        f"/api/v1/enterprises/{real.public_id}/",
        f"/api/v1/cards/{iccid}/",
        f"/api/v1/card-users/{registered['card_user']['public_id']}/",
        registered["verification_url"],
    ]
    for url in lists + details:
        response = key_client.get(url)
        assert response.status_code < 500, (url, response.status_code, response.content[:300])
    for url in details:
        assert key_client.get(url).status_code == 200, url


def test_me_tells_a_key_which_enterprise_it_acts_for(world):
    test_client, live_client = _key(world, test=True), _key(world, test=False)
    sandbox = sandbox_of(world["enterprise"])
    test_me, live_me = test_client.get("/api/v1/me/").json(), live_client.get("/api/v1/me/").json()
    assert test_me["enterprise"] == str(sandbox.public_id) and test_me["username"].startswith("API key rnk_test_")
    assert live_me["enterprise"] == str(world["enterprise"].public_id) and live_me["role"] == "enterprise_admin"
    # A key holds no personal tokens: the token views take only a person (401), and nothing breaks.
    assert live_client.get("/api/v1/auth/tokens/").status_code == 401
    assert live_client.post("/api/v1/auth/logout/").status_code < 500
