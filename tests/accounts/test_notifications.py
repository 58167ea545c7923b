"""Notifications (issue 11 §3): each trigger writes one notice to the right people only, the bell's
count, mark read, the email after commit, and the daily expiry task that tells of an object once."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import Notice, NoticeKind, User
from accounts.notifications import notices_mark_read, notify, unread_count
from approvals import services as approval_services
from cards.self_service.services import link_create
from cards.tasks import notify_expiring
from integrations.keys import key_create
from tests import factories
from tests.approvals import card_for, file_for_combo, put_in_review
from tests.approvals.test_change_requests import submit_enterprise_change
from verification.services import verification_review

pytestmark = pytest.mark.django_db


def notices(user, kind=None):
    found = Notice.objects.filter(recipient=user)
    return list(found.filter(kind=kind) if kind else found)


def everyone_but(world, *keys):
    return [user for key, user in world["users"].items() if key not in keys and user is not None]


@pytest.fixture
def addressed(world):
    """Every world user gets an address, as the demo users do."""
    for user in filter(None, world["users"].values()):
        User.objects.filter(pk=user.pk).update(email=f"{user.username}@example.test")
        user.email = f"{user.username}@example.test"
    return world


# --- the inbox ------------------------------------------------------------------


def test_notify_writes_a_notice_and_emails_it_after_commit(addressed, django_capture_on_commit_callbacks):
    user = addressed["users"]["account_manager"]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notice = notify(user, NoticeKind.DECISION, None, title="标题", body="正文", link="/orders/")
        assert mail.outbox == []  # nothing is sent before the commit
    for callback in callbacks:
        callback()
    assert notices(user) == [notice]
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]
    assert "标题" in mail.outbox[0].subject and "/orders/" in mail.outbox[0].body
    notice.refresh_from_db()
    assert notice.emailed_at is not None


def test_a_notice_is_not_emailed_twice(addressed, django_capture_on_commit_callbacks):
    from accounts.notifications import notice_email_send

    user = addressed["users"]["account_manager"]
    with django_capture_on_commit_callbacks(execute=True):
        notice = notify(user, NoticeKind.DECISION, None, title="一次")
    assert notice_email_send(notice_id=notice.pk) is False
    assert len(mail.outbox) == 1


def test_the_bell_counts_and_the_list_marks_read(client, world):
    user = world["users"]["account_manager"]
    other = world["users"]["enterprise_admin"]
    first = notify(user, NoticeKind.DECISION, None, title="第一条", link="/orders/")
    notify(user, NoticeKind.IMPORT_FINISHED, None, title="第二条")
    notify(other, NoticeKind.DECISION, None, title="别人的")
    client.force_login(user)
    home = client.get(reverse("home")).content.decode()
    assert 'data-unread="2"' in home
    page = client.get(reverse("notices")).content.decode()
    assert "第一条" in page and "第二条" in page and "别人的" not in page

    opened = client.post(reverse("notices_read"), {"notice": first.pk, "open": "1"})

    assert opened.status_code == 302 and opened["Location"] == "/orders/"
    assert unread_count(user) == 1
    assert client.post(reverse("notices_read")).status_code == 302
    assert unread_count(user) == 0 and unread_count(other) == 1
    assert "data-unread" not in client.get(reverse("home")).content.decode()


@pytest.mark.parametrize("value", ["999999", "abc", "-1", "1 OR 1=1"])
def test_nobody_marks_another_users_notice(client, world, value):
    other = notify(world["users"]["enterprise_admin"], NoticeKind.DECISION, None, title="x")
    client.force_login(world["users"]["account_manager"])
    assert client.post(reverse("notices_read"), {"notice": other.pk}).status_code == 404
    assert client.post(reverse("notices_read"), {"notice": value}).status_code == 404
    assert unread_count(world["users"]["enterprise_admin"]) == 1


@pytest.mark.parametrize("link", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_opening_a_notice_never_leaves_the_site(client, world, link):
    notice = notify(world["users"]["account_manager"], NoticeKind.DECISION, None, title="x", link=link)
    client.force_login(world["users"]["account_manager"])
    response = client.post(reverse("notices_read"), {"notice": notice.pk, "open": "1"})
    assert response.status_code == 302 and response["Location"] == reverse("notices")


def test_the_inbox_needs_a_login_and_a_post(client, world):
    assert client.get(reverse("notices")).status_code == 302
    client.force_login(world["users"]["account_manager"])
    assert client.get(reverse("notices_read")).status_code == 405
    assert client.get(reverse("notices"), {"page": "x"}).status_code == 200


def test_mark_read_counts_only_the_users_own(world):
    user = world["users"]["account_manager"]
    notify(user, NoticeKind.DECISION, None, title="a")
    notify(world["users"]["ops"], NoticeKind.DECISION, None, title="b")
    assert notices_mark_read(user=user) == 1
    assert unread_count(world["users"]["ops"]) == 1


# --- the triggers ---------------------------------------------------------------------


def test_a_filed_change_request_tells_its_provinces_approvers_only(world):
    change, _values = submit_enterprise_change(world)
    approver = world["users"]["provincial_approver"]
    [notice] = notices(approver, NoticeKind.REVIEW_WAITING)
    assert notice.link == reverse("approvals:change_request_detail", args=[change.public_id])
    for user in everyone_but(world, "provincial_approver"):
        assert notices(user) == [], user.username


def test_a_decided_change_request_tells_its_filer(addressed, django_capture_on_commit_callbacks):
    world = addressed
    change, values = submit_enterprise_change(world)
    with django_capture_on_commit_callbacks(execute=True):
        approval_services.change_request_decide(
            change_request=change, actor=world["users"]["provincial_approver"], approve=False, comment="材料不全"
        )
    [notice] = notices(world["users"]["account_manager"], NoticeKind.DECISION)
    assert values["credential_number"] not in notice.title + notice.body
    # The approvals outbox emails the decision; the notice sends no second email.
    to_filer = [m for m in mail.outbox if m.to == [world["users"]["account_manager"].email]]
    assert len(to_filer) == 1


def test_an_exemption_tells_each_levels_deciders_then_its_filer(world):
    request, _card = file_for_combo(world, "U1")
    levels = list(request.required_levels)
    expected = {"province": "provincial_approver", "group": "group_approver"}
    for level in levels:
        assert len(notices(world["users"][expected[level]], NoticeKind.REVIEW_WAITING)) == 1
    assert notices(world["users"]["provincial_approver_other_province"]) == []
    for level in levels:
        approval_services.exemption_decide(
            request=request, actor=world["users"][expected[level]], level=level, approve=True
        )
    assert len(notices(world["users"]["account_manager"], NoticeKind.DECISION)) == 1


def test_a_face_review_tells_the_provinces_reviewers_and_its_decision_the_submitter(world, no_engine):
    manager = world["users"]["account_manager"]
    card = card_for(world["enterprise"], "U1")
    verification = put_in_review(
        factories.card_user_registration(actor=manager, enterprise=world["enterprise"], cards=[card])
    )
    approver = world["users"]["provincial_approver"]
    [waiting] = notices(approver, NoticeKind.REVIEW_WAITING)
    assert waiting.link == reverse("approvals:review_detail", args=[verification.public_id])
    assert notices(world["users"]["provincial_approver_other_province"]) == []
    assert notices(world["users"]["group_approver"]) == []

    verification_review(verification=verification, actor=approver, approve=False, comment="不是同一人")

    [decided] = notices(manager, NoticeKind.DECISION)
    assert verification.card_user.name not in decided.title + decided.body


def test_an_order_review_decision_tells_its_filer_by_order_number(addressed, django_capture_on_commit_callbacks):
    from cards.models import BusinessType
    from verification.models import Verification

    world = addressed
    manager = world["users"]["account_manager"]
    order = factories.order(
        actor=manager,
        enterprise=world["enterprise"],
        business_type=BusinessType.NEW_INSTALLATION,
        cards=[factories.order_stock_card(enterprise=world["enterprise"])],
    )
    verification = put_in_review(Verification.objects.get(order=order))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        verification_review(
            verification=verification, actor=world["users"]["provincial_approver"], approve=False, comment="非本人"
        )
    [notice] = notices(manager, NoticeKind.DECISION)
    assert order.number in notice.title and notice.link == reverse("orders:detail", args=[order.public_id])
    [email] = [m for m in mail.outbox if m.to == [manager.email]]
    assert order.number in email.subject and order.handler.name not in email.body


def test_a_finished_import_tells_its_uploader(world, django_capture_on_commit_callbacks):
    from cards.imports import services as import_services
    from cards.models import Package
    from tests.cards.import_files import csv_bytes, row, upload

    Package.objects.create(code="IOT-BASIC", name="物联网基础套餐")
    manager = world["users"]["account_manager"]
    with django_capture_on_commit_callbacks(execute=True):
        job = import_services.card_import_create(
            actor=manager, enterprise=world["enterprise"], upload=upload(csv_bytes([row(1), row(2)]), "cards.csv")
        )
    job.refresh_from_db()
    [notice] = notices(manager, NoticeKind.IMPORT_FINISHED)
    assert str(job.imported_rows) in notice.title
    assert notice.link == reverse("card_imports:detail", args=[job.public_id])
    assert all(notices(user) == [] for user in everyone_but(world, "account_manager"))


def test_the_expiry_task_tells_once_per_link_and_key(addressed, django_capture_on_commit_callbacks):
    world = addressed
    admin = world["users"]["enterprise_admin"]
    enterprise = world["enterprise"]
    link, _token = link_create(actor=admin, enterprise=enterprise, label="仓库 A", expires_in_days=3, max_uses=5)
    far, _token = link_create(actor=admin, enterprise=enterprise, label="远期", expires_in_days=30, max_uses=5)
    key, _secret = key_create(actor=admin, enterprise=enterprise, name="erp", scopes=["cards:read"], expires_in_days=2)

    with django_capture_on_commit_callbacks(execute=True):
        first = notify_expiring()
    assert first >= 2
    assert told_of(link) == [admin]  # its creator only
    assert told_of(far) == []
    assert admin in told_of(key) and world["users"]["enterprise_admin_other_enterprise"] not in told_of(key)
    assert world["users"]["account_manager_other_province"] not in told_of(key)
    assert mail.outbox and any("仓库 A" in m.subject for m in mail.outbox)

    sent = len(mail.outbox)
    with django_capture_on_commit_callbacks(execute=True):
        assert notify_expiring() == 0
    assert told_of(link) == [admin] and len(mail.outbox) == sent


def told_of(obj):
    from django.contrib.contenttypes.models import ContentType

    found = Notice.objects.filter(
        kind=NoticeKind.EXPIRING, content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
    )
    return [n.recipient for n in found.order_by("recipient_id")]


# seed_demo names provinces; a flush by an earlier transactional test on the worker removes them.
def test_the_demo_users_get_addresses_on_a_reserved_domain(provinces):
    import io

    from django.core.management import call_command

    from portal.management.commands.seed_demo import DEMO_USERS

    call_command("seed_demo", stdout=io.StringIO())
    users = list(User.objects.filter(username__in=[spec[0] for spec in DEMO_USERS] + ["superuser"]))
    assert len(users) == len(DEMO_USERS) + 1 and all(user.email.endswith("@demo.example") for user in users)
    assert len({user.email for user in users}) == len(users)
