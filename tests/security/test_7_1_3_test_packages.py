"""Issue 7 §1.3 / U4: an IoT test-card package is a trial, not a way out of U2 (or U1, U3).

The rule stands: cards on a test package need no card-user real-name (U4). But only ops define
test packages, each with a test period of at most 180 days; only an in-stock card that was never
active and never on a commercial package goes onto one; its services are the package's; when the
period ends the beat task suspends it unless it moved to a commercial package, where U0-U6 apply.

Business goes through cards.orders (order_create, business_type "service_change") and the card
services; time is "frozen" by setting the stored dates.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from cards.errors import RealnameRequired
from cards.imports import parsing as import_parsing
from cards.imports import report as import_report
from cards.imports import services as import_services
from cards.inventory import services as card_services
from cards.models import BusinessType, Card, CardEvent, CardImport, CardStatus, ImportStatus, Order, Package
from core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from tests import factories, idgen

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_engine(monkeypatch):
    """Orders here need no face comparison; none is queued."""
    monkeypatch.setattr("verification.services.enqueue_verification", lambda pk: None)


@pytest.fixture
def am(world):
    return world["users"]["account_manager"]


@pytest.fixture
def ent(world):
    return world["enterprise"]


def fresh(card: Card) -> Card:
    return Card.objects.select_related("package").get(pk=card.pk)


def levels(card: Card) -> tuple[str, str, str]:
    return card.data_service, card.voice_service, card.sms_service


def service_change(am, ent, cards, **parameters):
    """A service-change order (H2): the way business changes a card's package or services."""
    return factories.order(
        actor=am,
        enterprise=ent,
        business_type=BusinessType.SERVICE_CHANGE,
        cards=cards,
        live_photo=False,
        parameters=parameters,
    )


def trial(code="IOT-TRIAL", *, days=90, data="none", voice="none", sms="none") -> Package:
    return factories.package(code=code, test=True, days=days, data=data, voice=voice, sms=sms)


def on_trial(ent, package: Package | None = None, *, segment_149=True, activate=False) -> Card:
    package = package or trial()
    card = card_services.card_create(
        actor=None,
        enterprise=ent,
        iccid=idgen.iccid(),
        msisdn=factories.msisdn(segment_149=segment_149),
        package=package,
    )
    if activate:
        factories.card_transition("activate", card, actor=None)
    return fresh(card)


# --- the attack of the issue -------------------------------------------------------------


def test_7_1_3_U4_attack_u2_card_cannot_move_onto_the_test_package_by_a_service_change_order(am, ent):
    """As admin_bj: U2 card refused (409), then services change to IOT-TEST, then activated: closed."""
    factories.iot_test_package()
    card = factories.order_stock_card(enterprise=ent, segment_149=True, sms="non_directed")
    with pytest.raises(RealnameRequired):
        factories.card_transition("activate", card, actor=am)
    assert fresh(card).status == CardStatus.AWAITING_REALNAME

    orders_before = Order.objects.count()
    with pytest.raises(ValidationFailed) as caught:
        service_change(am, ent, [card], package="IOT-TEST")
    assert caught.value.code == "test_package_not_allowed"
    assert "test-card package" in str(caught.value.message)
    assert Order.objects.count() == orders_before  # the refused order left no row
    orders_folder = Path(settings.PRIVATE_MEDIA_ROOT) / "orders"
    assert not [p for p in orders_folder.rglob("*") if p.is_file()]  # the refused order left no photo behind
    card = fresh(card)
    assert (card.package.code, card.sms_service, card.realname_rules) == ("IOT-STD", "non_directed", "U2")
    with pytest.raises(RealnameRequired):
        factories.card_transition("activate", card, actor=am)


def test_7_1_3_U4_attack_refused_by_the_card_service_itself_in_every_channel(am, ent):
    test_package = factories.iot_test_package()
    card = factories.order_stock_card(enterprise=ent, segment_149=True, sms="non_directed")
    with pytest.raises(ValidationFailed) as caught:
        factories.card_transition("change_services", card, actor=am, package=test_package)
    assert (caught.value.code, caught.value.field) == ("test_package_not_allowed", "package")
    assert fresh(card).package.code == "IOT-STD"
    assert not CardEvent.objects.filter(card=card, action="services_changed").exists()


def import_job(actor, enterprise, rows, django_capture_on_commit_callbacks) -> CardImport:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(import_parsing.COLUMNS)
    writer.writerows(rows)
    upload = SimpleUploadedFile("cards.csv", out.getvalue().encode(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        job = import_services.card_import_create(actor=actor, enterprise=enterprise, upload=upload)
    job.refresh_from_db()
    return job


def test_7_1_3_U4_attack_import_row_on_the_test_package_with_other_services_is_an_error_row(
    am, ent, django_capture_on_commit_callbacks
):
    factories.iot_test_package()  # defines none / none / none
    rows = [
        [
            idgen.iccid(),
            factories.msisdn(segment_149=True),
            "",
            "IOT-TEST",
            "non_directed",
            "non_directed",
            "non_directed",
        ]
    ]
    job = import_job(am, ent, rows, django_capture_on_commit_callbacks)
    assert job.status == ImportStatus.FAILED
    assert not Card.objects.exists()
    errors = {(e["row"], e["column"], e["code"]) for e in job.errors}
    assert errors == {
        (2, "data", "test_package_services"),
        (2, "voice", "test_package_services"),
        (2, "sms", "test_package_services"),
    }
    report = import_report.error_report_csv(job).decode("utf-8-sig")
    assert "test_package_services" in report and "IOT-TEST" in report


def test_7_1_3_U4_import_on_a_test_package_with_its_services_starts_the_trial(
    am, ent, django_capture_on_commit_callbacks
):
    trial("IOT-TRIAL", days=30, data="non_directed", sms="non_directed")
    factories.package(code="IOT-STD")
    before = timezone.now()
    rows = [
        [idgen.iccid(), factories.msisdn(segment_149=True), "", "IOT-TRIAL", "non_directed", "none", "非定向"],
        [idgen.iccid(), factories.msisdn(), "", "IOT-STD", "directed", "none", "none"],
    ]
    job = import_job(am, ent, rows, django_capture_on_commit_callbacks)
    assert job.status == ImportStatus.SUCCEEDED, job.errors
    on_test = Card.objects.get(package__code="IOT-TRIAL")
    plain = Card.objects.get(package__code="IOT-STD")
    assert (on_test.realname_rules, on_test.has_been_commercial) == ("U4", False)
    assert before <= on_test.test_period_started_at <= timezone.now()
    assert on_test.test_period_ends_at == on_test.test_period_started_at + timedelta(days=30)
    assert (plain.has_been_commercial, plain.test_period_ends_at, plain.first_activated_at) == (True, None, None)


# --- a card created on a test package takes its services -----------------------------------


def test_7_1_3_U4_card_created_on_a_test_package_gets_the_package_services(ent):
    package = trial(days=60, data="non_directed", sms="directed")
    card = on_trial(ent, package)
    assert levels(card) == ("non_directed", "none", "directed")
    assert (card.realname_rules, card.has_been_commercial) == ("U4", False)
    assert card.test_period_ends_at == card.test_period_started_at + timedelta(days=60)
    with pytest.raises(ValidationFailed) as caught:
        card_services.card_create(
            actor=None,
            enterprise=ent,
            iccid=idgen.iccid(),
            msisdn=factories.msisdn(),
            package=package,
            voice="non_directed",
        )
    assert (caught.value.code, caught.value.field) == ("test_package_services", "voice_service")
    assert Card.objects.count() == 1


def test_7_1_3_card_created_on_a_commercial_package_is_marked_commercial(ent):
    card = factories.card(enterprise=ent)
    assert (card.has_been_commercial, card.test_period_ends_at) == (True, None)


# --- only an in-stock card that was never active and never commercial ------------------------


@pytest.mark.parametrize(
    "history", ["active", "suspended", "commercial_in_stock", "awaiting_realname", "was_commercial_then_test"]
)
def test_7_1_3_U4_only_an_in_stock_never_active_card_goes_onto_a_test_package(am, ent, history):
    other_trial = trial("IOT-TRIAL-2")
    if history in ("active", "suspended"):
        card = on_trial(ent, activate=True)
        if history == "suspended":
            factories.card_transition("suspend", card, actor=None)
    elif history == "commercial_in_stock":
        card = factories.card(enterprise=ent)
    elif history == "awaiting_realname":
        card = factories.card(enterprise=ent, segment_149=True, voice="non_directed")
        with pytest.raises(RealnameRequired):
            factories.card_transition("activate", card, actor=None)
    else:
        card = on_trial(ent)
        factories.card_transition("change_services", card, actor=None, package=factories.package(code="IOT-STD"))
        assert fresh(card).status == CardStatus.IN_STOCK
    card = fresh(card)
    before = (card.package_id, levels(card), card.status)
    with pytest.raises(ValidationFailed) as caught:
        service_change(am, ent, [card], package=other_trial.code)
    assert caught.value.code == "test_package_not_allowed"
    card = fresh(card)
    assert (card.package_id, levels(card), card.status) == before


def test_7_1_3_U4_an_in_stock_test_card_may_move_to_another_test_package_and_takes_its_services(am, ent):
    card = on_trial(ent, trial("IOT-TRIAL", days=30))
    second = trial("IOT-TRIAL-2", days=120, data="directed", voice="directed")
    service_change(am, ent, [card], package=second.code)
    card = fresh(card)
    assert (card.package, levels(card)) == (second, ("directed", "directed", "none"))
    assert card.test_period_ends_at == card.test_period_started_at + timedelta(days=120)


def test_7_1_3_U4_a_card_that_was_active_records_it(ent):
    card = on_trial(ent, activate=True)
    assert card.first_activated_at is not None
    factories.card_transition("suspend", card, actor=None)
    factories.card_transition("resume", card, actor=None)
    assert fresh(card).first_activated_at == card.first_activated_at


# --- the services of a test card are the package's ----------------------------------------------


@pytest.mark.parametrize("activate", [False, True])
def test_7_1_3_U4_a_service_change_on_a_test_card_is_refused(am, ent, activate):
    card = on_trial(ent, activate=activate)
    with pytest.raises(ValidationFailed) as caught:
        service_change(am, ent, [card], sms="non_directed")
    assert caught.value.code == "test_package_services"
    assert "IOT-TRIAL" in str(caught.value.message)
    with pytest.raises(ValidationFailed):
        factories.card_transition("change_services", card, actor=am, data="non_directed")
    assert levels(fresh(card)) == ("none", "none", "none")


def test_7_1_3_U4_moving_onto_a_test_package_sets_its_services(am, ent):
    """The services page posts the card's current levels with the new package: they are replaced."""
    card = on_trial(ent, trial("IOT-TRIAL", data="directed"))
    second = trial("IOT-TRIAL-2", data="non_directed", sms="non_directed")
    factories.card_transition(
        "change_services", card, actor=am, package=second, data="directed", voice="none", sms="none"
    )
    assert levels(fresh(card)) == ("non_directed", "none", "non_directed")
    # A level that asks for something else than the package's is refused, not ignored.
    third = trial("IOT-TRIAL-3")
    with pytest.raises(ValidationFailed) as caught:
        factories.card_transition("change_services", card, actor=am, package=third, voice="directed")
    assert caught.value.code == "test_package_services"
    assert fresh(card).package == second


# --- the end of the test period -------------------------------------------------------------------


def expire(*cards: Card) -> None:
    Card.objects.filter(pk__in=[c.pk for c in cards]).update(test_period_ends_at=timezone.now() - timedelta(minutes=1))


def test_7_1_3_U4_beat_task_suspends_cards_whose_test_period_ended_and_is_idempotent(ent):
    from cards.tasks import end_test_periods

    ended = on_trial(ent, activate=True)
    running = on_trial(ent, activate=True)
    in_stock = on_trial(ent)
    moved = on_trial(ent, activate=True)
    factories.card_transition("change_services", moved, actor=None, package=factories.package(code="IOT-STD"))
    expire(ended, in_stock, moved)  # `moved` is no longer a test card: a stale date must not suspend it

    assert end_test_periods() == 1
    ended = fresh(ended)
    assert ended.status == CardStatus.SUSPENDED
    event = CardEvent.objects.get(card=ended, action="test_period_ended")
    assert (event.actor, event.from_status, event.to_status) == (None, CardStatus.ACTIVE, CardStatus.SUSPENDED)
    assert event.data["reason"] == "test_period_ended"
    assert fresh(running).status == CardStatus.ACTIVE
    assert fresh(in_stock).status == CardStatus.IN_STOCK
    assert fresh(moved).status == CardStatus.ACTIVE

    assert end_test_periods() == 0
    assert CardEvent.objects.filter(action="test_period_ended").count() == 1
    assert card_services.card_end_test_period(card=ended) is False


def test_7_1_3_U4_beat_task_pages_through_every_due_card(ent, monkeypatch):
    from cards import tasks

    monkeypatch.setattr(tasks, "TEST_PERIOD_BATCH", 2)
    cards = [on_trial(ent, activate=True) for _ in range(5)]
    expire(*cards)
    assert tasks.end_test_periods() == 5
    assert set(Card.objects.values_list("status", flat=True)) == {CardStatus.SUSPENDED}


def test_7_1_3_U4_after_the_test_period_the_card_is_not_used_again_on_the_test_package(am, ent):
    from cards.tasks import end_test_periods

    ended = on_trial(ent, activate=True)
    in_stock = on_trial(ent)
    expire(ended, in_stock)
    end_test_periods()
    with pytest.raises(InvalidTransition) as caught:
        factories.card_transition("resume", ended, actor=am)
    assert caught.value.code == "test_period_ended"
    with pytest.raises(InvalidTransition) as caught:
        factories.card_transition("activate", in_stock, actor=am)
    assert caught.value.code == "test_period_ended"
    assert fresh(in_stock).status == CardStatus.IN_STOCK
    # Moved to a commercial package (U0 here: no services), the card is used again.
    service_change(am, ent, [ended], package=factories.package(code="IOT-STD").code)
    factories.order(
        actor=am,
        enterprise=ent,
        business_type=BusinessType.SUSPEND_RESUME,
        cards=[ended],
        live_photo=False,
        parameters={"action": "resume"},
    )
    ended = fresh(ended)
    assert (ended.status, ended.package.code, ended.test_period_ends_at, ended.has_been_commercial) == (
        CardStatus.ACTIVE,
        "IOT-STD",
        None,
        True,
    )


def test_7_1_3_U4_the_beat_schedule_runs_the_task():
    from django.conf import settings

    from config.celery import app

    entries = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "cards.tasks.end_test_periods"]
    assert len(entries) == 1
    assert "cards.tasks.end_test_periods" in app.tasks


# --- test -> commercial: U0-U6 apply again -----------------------------------------------------------


def test_7_1_3_U4_test_to_commercial_on_an_active_card_needs_the_real_name_the_rules_ask(am, ent):
    card = on_trial(ent, trial(sms="non_directed"), activate=True)
    factories.package(code="IOT-149")
    with pytest.raises(RealnameRequired) as caught:
        service_change(am, ent, [card], package="IOT-149")
    assert caught.value.decision.rules == ("U2",)
    assert "No exemption is possible" in str(caught.value.message)
    assert fresh(card).package.code == "IOT-TRIAL"
    factories.verified_card_user(actor=am, enterprise=ent, cards=[card])
    service_change(am, ent, [card], package="IOT-149")
    card = fresh(card)
    assert (card.package.code, card.realname_rules, card.status) == ("IOT-149", "U2", CardStatus.ACTIVE)
    assert (card.has_been_commercial, card.test_period_ends_at) == (True, None)


# --- defining test packages: ops only, at most 180 days --------------------------------------------


def package_fields(**overrides):
    values = dict(
        code="IOT-NEWTEST",
        name="新测试卡套餐",
        is_test_package=True,
        test_period_days=180,
        data_service="non_directed",
        voice_service="none",
        sms_service="directed",
    )
    values.update(overrides)
    return values


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"test_period_days": None}, "test_period_days"),
        ({"test_period_days": 181}, "test_period_days"),
        ({"test_period_days": 0}, "test_period_days"),
        ({"sms_service": ""}, "sms_service"),
        ({"is_test_package": False}, "test_period_days"),
    ],
)
def test_7_1_3_U4_model_validation_bounds_the_test_period(overrides, field):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        Package(**package_fields(**overrides)).full_clean()
    assert field in caught.value.message_dict
    Package(**package_fields()).full_clean()


@pytest.mark.parametrize(
    "overrides",
    [{"test_period_days": 181}, {"test_period_days": None}, {"is_test_package": False}, {"data_service": ""}],
)
def test_7_1_3_U4_database_check_constraint_bounds_the_test_period(overrides):
    with pytest.raises(IntegrityError), transaction.atomic():
        Package.objects.create(**package_fields(**overrides))


def test_7_1_3_U4_only_ops_define_test_packages(world):
    from cards.inventory.packages import package_create

    fields = package_fields()
    for role in ("account_manager", "enterprise_admin", "provincial_approver", "group_approver"):
        with pytest.raises(PermissionDenied):
            package_create(actor=world["users"][role], **fields)
    assert not Package.objects.filter(code="IOT-NEWTEST").exists()
    package = package_create(actor=world["users"]["ops"], **fields)
    assert (package.is_test_package, package.test_period_days) == (True, 180)
    with pytest.raises(ValidationFailed) as caught:
        package_create(actor=world["users"]["ops"], **package_fields(code="IOT-LONG", test_period_days=365))
    assert caught.value.field == "test_period_days"


@pytest.mark.parametrize("start_as_test", [True, False])
def test_7_1_3_U4_a_package_that_holds_cards_cannot_change_its_test_flag(world, ent, start_as_test):
    from cards.inventory.packages import package_update

    ops = world["users"]["ops"]
    package = trial() if start_as_test else factories.package(code="IOT-PLAIN")
    card = on_trial(ent, package) if start_as_test else factories.card(enterprise=ent, pkg=package)
    flip = package_fields(code=package.code, name=package.name, is_test_package=not start_as_test)
    if start_as_test:
        flip.update(test_period_days=None, data_service="", voice_service="", sms_service="")
    with pytest.raises(ValidationFailed) as caught:
        package_update(actor=ops, package=package, **{k: v for k, v in flip.items() if k != "code"})
    assert (caught.value.code, caught.value.field) == ("package_in_use", "is_test_package")
    package.refresh_from_db()
    assert package.is_test_package is start_as_test
    assert fresh(card).realname_rules == ("U4" if start_as_test else "U0")


@pytest.fixture
def ops_client(client, world):
    client.force_login(world["users"]["ops"])
    return client


def admin_form(**overrides):
    values = {
        "code": "IOT-NEWTEST",
        "name": "新测试卡套餐",
        "is_test_package": "on",
        "is_active": "on",
        "test_period_days": "180",
        "data_service": "non_directed",
        "voice_service": "none",
        "sms_service": "none",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def test_7_1_3_U4_admin_ops_define_a_test_package_of_at_most_180_days(ops_client):
    from accounts.models import AuditEvent

    response = ops_client.post(
        "/admin/cards/package/add/", admin_form(test_period_days="181"), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    assert "The test period is at most 180 days (rule U4)." in response.content.decode()
    assert not Package.objects.filter(code="IOT-NEWTEST").exists()
    response = ops_client.post(
        "/admin/cards/package/add/", admin_form(test_period_days="", sms_service=""), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "An IoT test-card package needs a test period" in page
    assert "An IoT test-card package defines this service" in page

    response = ops_client.post("/admin/cards/package/add/", admin_form())
    assert response.status_code == 302, response.content.decode()[:2000]
    package = Package.objects.get(code="IOT-NEWTEST")
    assert (package.is_test_package, package.test_period_days, package.data_service) == (True, 180, "non_directed")
    assert AuditEvent.objects.filter(action="package.created", object_id=str(package.pk)).exists()


def test_7_1_3_U4_admin_refuses_to_switch_the_test_flag_of_a_package_with_cards(ops_client, ent):
    package = factories.package(code="IOT-PLAIN")
    factories.card(enterprise=ent, pkg=package)
    response = ops_client.post(
        f"/admin/cards/package/{package.pk}/change/",
        admin_form(code="IOT-PLAIN", name=package.name),
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert "holds cards" in response.content.decode()
    package.refresh_from_db()
    assert package.is_test_package is False


def test_7_1_3_U4_nobody_but_ops_reaches_the_package_admin(client, world):
    for role in ("account_manager", "enterprise_admin", "provincial_approver"):
        client.force_login(world["users"][role])
        response = client.post("/admin/cards/package/add/", admin_form())
        assert response.status_code in (302, 403)
        assert client.post("/approvals/admin/cards/package/add/", admin_form()).status_code in (302, 403, 404)
    assert not Package.objects.filter(code="IOT-NEWTEST").exists()


# --- what users see -----------------------------------------------------------------------------------


def test_7_1_3_U4_card_api_and_page_show_the_end_of_the_test_period(am, ent, client):
    from rest_framework.test import APIClient

    card = on_trial(ent, trial(days=30))
    plain = factories.card(enterprise=ent)
    api = APIClient()
    api.force_authenticate(am)
    body = api.get(f"/api/v1/cards/{card.iccid}/").json()
    assert body["test_period_ends_at"] == timezone.localtime(card.test_period_ends_at).isoformat()
    assert api.get(f"/api/v1/cards/{plain.iccid}/").json()["test_period_ends_at"] is None
    client.force_login(am)
    page = client.get(f"/cards/{card.iccid}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Test period ends" in page
    assert timezone.localtime(card.test_period_ends_at).strftime("%Y-%m-%d") in page


# seed_demo names provinces; a flush by an earlier transactional test on the worker removes them.
def test_7_1_3_U4_seed_demo_test_package_has_a_period_and_services(provinces):
    from django.core.management import call_command

    call_command("seed_demo", stdout=io.StringIO())
    package = Package.objects.get(code="IOT-TEST")
    assert package.is_test_package and 1 <= package.test_period_days <= 180
    cards = Card.objects.filter(package=package)
    assert cards.exists()
    for card in cards:
        assert levels(card) == (package.data_service, package.voice_service, package.sms_service)
        assert card.test_period_ends_at == card.test_period_started_at + timedelta(days=package.test_period_days)


# --- existing rows: the data migration -----------------------------------------------------------------


def test_7_1_3_U4_data_migration_fills_the_facts_and_ends_trials_entered_by_the_hole(ent):
    """Cards events tell which cards were ever active; a card that went onto a test package
    through the hole (after being commercial or active) has its trial ended at once."""
    import importlib

    from django.apps import apps

    from cards.tasks import end_test_periods

    migration = importlib.import_module("cards.migrations.0006_fill_test_package_trial_facts")
    test_package = factories.iot_test_package()
    # The hole, as it was: a U2 card moved onto the test package and activated.
    escaped = factories.card(enterprise=ent, segment_149=True, sms="non_directed")
    Card.objects.filter(pk=escaped.pk).update(package=test_package, realname_required=False, realname_rules="U4")
    CardEvent.objects.create(
        card=escaped,
        action="services_changed",
        from_status="in_stock",
        to_status="in_stock",
        data={"before": {"package": "IOT-STD"}, "after": {"package": "IOT-TEST"}},
    )
    Card.objects.filter(pk=escaped.pk).update(status=CardStatus.ACTIVE)
    CardEvent.objects.create(card=escaped, action="activated", from_status="in_stock", to_status="active")
    trial_card = on_trial(ent, test_package)
    plain = factories.card(enterprise=ent)
    Card.objects.update(
        first_activated_at=None, has_been_commercial=False, test_period_started_at=None, test_period_ends_at=None
    )

    migration.fill_card_facts(apps, None)

    escaped, trial_card, plain = fresh(escaped), fresh(trial_card), fresh(plain)
    assert escaped.has_been_commercial and escaped.first_activated_at is not None
    assert escaped.test_period_ends_at <= timezone.now()
    assert not trial_card.has_been_commercial and trial_card.first_activated_at is None
    assert trial_card.test_period_started_at == trial_card.created_at
    assert trial_card.test_period_ends_at == trial_card.created_at + timedelta(days=test_package.test_period_days)
    assert plain.has_been_commercial and plain.test_period_ends_at is None
    end_test_periods()
    assert fresh(escaped).status == CardStatus.SUSPENDED
