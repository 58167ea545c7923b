"""Issue 12 §1.3: the dashboard's face-match rates read per-enterprise counters (verification.tallies), kept in
the transactions that record and retake a comparison; here they equal what counting the comparisons says, for
every role, after a realistic mix, and the recount, the fold and the migration's fill keep them so."""

from __future__ import annotations

import datetime
import importlib
from contextlib import contextmanager
from unittest import mock

import pytest
from django.apps import apps as django_apps
from django.db.models import Count
from django.db.models.functions import TruncWeek
from django.utils import timezone
from rest_framework.test import APIClient

from cards.card_users.services import card_user_retake
from core.ledger import ledger_sums
from enterprises.sandbox import sandbox_for, sandbox_reset
from integrations import keys
from portal import dashboard
from tests import factories
from tests.approvals import put_in_review
from tests.images import jpeg_upload
from verification.matching import run_comparison
from verification.models import Verification, VerificationStatus, VerificationTally
from verification.selectors import verification_tallies_visible_to, verifications_visible_to
from verification.tallies import (
    TALLY_KEY_FIELDS,
    completed_counts,
    tally_key,
    verification_tallies_compact,
    verification_tallies_recount,
)

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
FACE_MISMATCH = "11010119900101004X"  # the sandbox's magic number for "the photos do not match"


@contextmanager
def at(moment: datetime.datetime):
    """The services run as if it were `moment` (the comparison completes then)."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


def counted_by_rows(user, now) -> dict[tuple[datetime.date, str], int]:
    """The figures as the dashboard counted them before the counters: the comparisons themselves, grouped."""
    today = timezone.localdate(now)
    first = today - datetime.timedelta(days=today.weekday(), weeks=dashboard.WEEKS - 1)
    start = timezone.make_aware(datetime.datetime.combine(first, datetime.time.min))
    rows = (
        verifications_visible_to(user)
        .order_by()
        .filter(completed_at__gte=start)
        .exclude(outcome="")
        .annotate(week=TruncWeek("completed_at"))
        .values("week", "outcome")
        .annotate(n=Count("pk"))
    )
    return {(timezone.localtime(row["week"]).date(), row["outcome"]): row["n"] for row in rows}


def shown(user, now) -> dict[tuple[datetime.date, str], int]:
    return {
        (week.week, outcome): count
        for week in dashboard.face_rates_by_week(user, now)
        for outcome, count in week.counts.items()
        if count
    }


def registration(world, enterprise, *, actor=None, **kwargs):
    return factories.card_user_registration(
        actor=actor or world["users"]["account_manager"],
        enterprise=enterprise,
        cards=[factories.card(enterprise=enterprise, data="non_directed")],
        **kwargs,
    )


def sandbox_mismatch(world, capture) -> Verification:
    """A sandbox's comparison, registered through a test key and compared by the sandbox's engine."""
    _record, raw = keys.key_create(
        actor=world["users"]["account_manager"],
        enterprise=world["enterprise"],
        name="fleet",
        scopes=["cards:read", "card_users:write"],
        test=True,
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    sandbox = sandbox_for(world["enterprise"])
    iccid = sandbox.cards.order_by("iccid").values_list("iccid", flat=True).first()
    with capture(execute=True):
        response = client.post(
            "/api/v1/card-users/",
            {
                "enterprise": str(world["enterprise"].public_id),
                "cards": [iccid],
                "name": "测试用户",
                "id_type": "resident_id",
                "id_number": FACE_MISMATCH,
                "id_photo": jpeg_upload("id.jpg"),
                "live_photo": jpeg_upload("live.jpg"),
                "biometric_consent": "true",
            },
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="sandbox-mismatch",
        )
    assert response.status_code == 201, response.content
    record = Verification.objects.get(enterprise=sandbox)
    run_comparison(record.pk)  # the queue is held in these tests (no_engine)
    record.refresh_from_db()
    assert record.status == VerificationStatus.DECLINED and record.outcome == "fail"
    return record


def make_mix(world, capture, settings):
    """Every outcome, over several weeks and three enterprises in two provinces, a retake and a sandbox's."""
    settings.FACE_RETAKE_LIMIT = 2
    bj, bj2, gd = world["enterprise"], world["enterprise_same_province"], world["enterprise_other"]
    manager_gd = world["users"]["account_manager_other_province"]
    now = timezone.now()
    factories.face_result(registration(world, bj), "pass")
    with at(now - 8 * DAY):
        put_in_review(registration(world, bj))
    with at(now - 22 * DAY):
        factories.face_result(registration(world, bj), "fail", distance=0.8)
    factories.face_result(registration(world, bj), "rejected")
    registration(world, bj)  # still comparing: counted nowhere
    # A clear mismatch at the counter two weeks ago, retaken today and matched (a reviewer then looks).
    mismatch = registration(world, bj2, retake_offered=True)
    with at(now - 15 * DAY):
        factories.face_result(mismatch, "fail", distance=0.82)
    assert Verification.objects.get(pk=mismatch.pk).status == VerificationStatus.MISMATCH
    retaken = card_user_retake(
        actor=world["users"]["account_manager"], card_user=mismatch.card_user, live_photo=jpeg_upload("again.jpg")
    )
    assert tally_key(retaken) is None
    factories.face_result(retaken, "pass", distance=0.3)
    with at(now - 60 * DAY):
        factories.face_result(registration(world, gd, actor=manager_gd), "pass")
    factories.face_result(registration(world, gd, actor=manager_gd), "fail", distance=0.9)
    # Outside the twelve weeks: counted, never shown.
    with at(now - 100 * DAY):
        factories.face_result(registration(world, gd, actor=manager_gd), "pass")
    sandbox_mismatch(world, capture)
    return now


@pytest.fixture
def mix(world, no_engine, django_capture_on_commit_callbacks, settings):
    return make_mix(world, django_capture_on_commit_callbacks, settings)


def test_the_counters_give_every_role_what_counting_the_comparisons_gives(world, mix):
    now = mix
    assert VerificationTally.objects.filter(count__lt=0).exists()  # the retake's -1, before any fold
    for role, user in world["users"].items():
        assert shown(user, now) == counted_by_rows(user, now), role
    manager, ops = world["users"]["account_manager"], world["users"]["ops"]
    # Beijing's two enterprises: pass x2 (one the retake's), review, fail, rejected; no sandbox, no Guangdong.
    assert sorted(shown(manager, now).values()) == [1, 1, 1, 2] and sum(shown(manager, now).values()) == 5
    assert sum(shown(ops, now).values()) == 7
    sandbox = sandbox_for(world["enterprise"])
    assert VerificationTally.objects.filter(enterprise=sandbox).exists()
    assert sandbox.pk not in set(verification_tallies_visible_to(ops).values_list("enterprise_id", flat=True))
    assert verification_tallies_recount() == {}  # the services left nothing to repair


def test_the_fold_keeps_every_figure_and_leaves_one_row_per_key(world, mix):
    now = mix
    before = {role: shown(user, now) for role, user in world["users"].items()}
    removed = verification_tallies_compact()
    assert removed > 0
    assert VerificationTally.objects.count() == len(ledger_sums(VerificationTally, TALLY_KEY_FIELDS))
    assert not VerificationTally.objects.filter(count=0).exists()
    assert {role: shown(user, now) for role, user in world["users"].items()} == before
    assert verification_tallies_compact() == 0


def test_the_recount_repairs_a_write_that_bypassed_the_services(world, mix):
    now = mix
    ops = world["users"]["ops"]
    failed = Verification.objects.filter(outcome="fail", enterprise=world["enterprise_other"]).get()
    Verification.objects.filter(pk=failed.pk).update(outcome="pass")  # no counter moves
    assert shown(ops, now) != counted_by_rows(ops, now)
    week = tally_key(failed)[1]
    key = (failed.enterprise_id, week)
    assert verification_tallies_recount() == {(*key, "fail"): -1, (*key, "pass"): 1}
    for role, user in world["users"].items():
        assert shown(user, now) == counted_by_rows(user, now), role
    assert verification_tallies_recount() == {}


def test_the_migration_fills_the_counters_as_the_recount_counts(world, mix):
    now = mix
    counted = completed_counts(Verification.objects.all())
    VerificationTally.objects.all().delete()
    fill = importlib.import_module("verification.migrations.0011_fill_verification_tallies").fill
    fill(django_apps, None)
    assert +ledger_sums(VerificationTally, TALLY_KEY_FIELDS) == +counted
    assert sum(counted.values()) == Verification.objects.exclude(completed_at=None).count() == 9
    for role, user in world["users"].items():
        assert shown(user, now) == counted_by_rows(user, now), role


def test_a_sandbox_reset_forgets_its_comparisons_counters(world, mix, django_capture_on_commit_callbacks):
    sandbox = sandbox_for(world["enterprise"])
    with django_capture_on_commit_callbacks(execute=True):
        sandbox_reset(actor=world["users"]["enterprise_admin"], enterprise=world["enterprise"])
    assert not Verification.objects.filter(enterprise=sandbox).exists()
    assert not VerificationTally.objects.filter(enterprise=sandbox).exists()
    assert verification_tallies_recount() == {}
