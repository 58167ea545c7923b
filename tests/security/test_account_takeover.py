"""Issue 7 §2.1: ops cannot take over accounts.

Ops (masked-only) may not set anyone's password, and may not create, promote or re-scope a user into a role
that sees personal data in full or decides anything. They file a role grant that a superuser approves.
New users set their own password through a one-time link. Every user-management action is audited.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent, RoleGrant, User
from accounts.roles import Role
from tests import factories

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Own-choice-2027!"


@pytest.fixture
def ops_client(world):
    client = Client()
    client.force_login(world["users"]["ops"])
    return client


@pytest.fixture
def superuser(provinces):
    user = factories.user(role="ops", username="root", is_staff=True)
    User.objects.filter(pk=user.pk).update(is_superuser=True)
    return User.objects.get(pk=user.pk)


@pytest.fixture
def super_client(superuser):
    client = Client()
    client.force_login(superuser)
    return client


def _events(action, user=None):
    qs = AuditEvent.objects.filter(action=action)
    if user is not None:
        qs = qs.filter(object_id=str(user.pk), content_type__model="user")
    return qs


def _link_from(message) -> str:
    match = re.search(r"https?://\S+/accounts/set-password/\S+/", message.body)
    assert match, message.body
    return match.group(0)


# --- passwords --------------------------------------------------------------------------


def test_7_2_1_ops_cannot_set_an_approvers_password(ops_client, world):
    approver = world["users"]["provincial_approver"]
    url = f"/admin/accounts/user/{approver.pk}/password/"
    assert ops_client.get(url).status_code in (403, 404)
    response = ops_client.post(url, {"password1": "Taken-over-2026!", "password2": "Taken-over-2026!"})
    assert response.status_code in (403, 404)
    approver.refresh_from_db()
    assert approver.check_password(factories.PASSWORD)
    assert not approver.check_password("Taken-over-2026!")
    attempt = Client().post(reverse("login"), {"username": approver.username, "password": "Taken-over-2026!"})
    assert attempt.status_code == 200  # the login form again: the password was not changed


def test_7_2_1_not_even_a_superuser_types_a_password_for_someone_else(super_client, world):
    approver = world["users"]["provincial_approver"]
    response = super_client.post(
        f"/admin/accounts/user/{approver.pk}/password/",
        {"password1": "Chosen-by-root-1!", "password2": "Chosen-by-root-1!"},
    )
    assert response.status_code in (403, 404)
    approver.refresh_from_db()
    assert approver.check_password(factories.PASSWORD)


def test_7_2_1_the_change_form_offers_no_password_form(ops_client, world):
    admin_user = world["users"]["enterprise_admin"]
    html = ops_client.get(reverse("admin:accounts_user_change", args=[admin_user.pk])).content.decode()
    assert "../password/" not in html and "password/" not in html.split("set-password")[0].split("admin")[-1]


# --- creating users ---------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.ACCOUNT_MANAGER, Role.PROVINCIAL_APPROVER, Role.GROUP_APPROVER])
def test_7_2_1_ops_cannot_create_a_user_who_sees_data_in_full_or_decides(ops_client, world, role):
    response = ops_client.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "mole",
            "full_name": "内鬼",
            "email": "mole@example.com",
            "role": role,
            "province": world["enterprise"].province_id,
            "password1": "Mole-pass-2026!",
            "password2": "Mole-pass-2026!",
        },
    )
    assert response.status_code == 200  # the form again, with the refusal
    assert "role grant" in response.content.decode()
    assert not User.objects.filter(username="mole").exists()


def test_7_2_1_ops_create_an_enterprise_admin_who_sets_their_own_password(
    ops_client, world, settings, django_capture_on_commit_callbacks
):
    settings.PORTAL_BASE_URL = "https://portal.example.com"
    with django_capture_on_commit_callbacks(execute=True):
        response = ops_client.post(
            reverse("admin:accounts_user_add"),
            {
                "username": "new_admin",
                "full_name": "新管理员",
                "email": "new_admin@example.com",
                "role": Role.ENTERPRISE_ADMIN,
                "enterprise": world["enterprise"].pk,
                "password1": "Chosen-by-ops-1!",
                "password2": "Chosen-by-ops-1!",
                "is_staff": "on",
                "is_superuser": "on",
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(username="new_admin")
    assert not user.has_usable_password()  # nobody typed a password for them
    assert not user.is_staff and not user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == [Role.ENTERPRISE_ADMIN]
    assert _events("user.created", user).get().actor == world["users"]["ops"]
    assert _events("user.password_link_sent", user).exists()

    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new_admin@example.com"]
    link = _link_from(mail.outbox[0]).replace("https://portal.example.com", "")
    browser = Client()
    form = browser.get(link, follow=True)
    assert form.status_code == 200
    set_url = form.redirect_chain[-1][0] if form.redirect_chain else link
    done = browser.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert _events("user.password_set", user).exists()
    # One use only.
    again = Client().get(link, follow=True)
    assert "invalid" in again.content.decode().lower() or "no longer" in again.content.decode().lower()


def test_7_2_1_the_set_password_link_expires(world, settings, monkeypatch, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.contrib.auth.tokens import default_token_generator

    from accounts.users import user_invite

    settings.PASSWORD_RESET_TIMEOUT = 3600
    settings.PORTAL_BASE_URL = "https://portal.example.com"
    with django_capture_on_commit_callbacks(execute=True):
        user = user_invite(
            actor=world["users"]["ops"], username="late", role=Role.OPS, email="late@example.com", request=None
        )
    link = _link_from(mail.outbox[-1])
    real_now = default_token_generator._now
    monkeypatch.setattr(default_token_generator, "_now", lambda: real_now() + timedelta(hours=2))
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    page = Client().get(path, follow=True)
    assert "no longer" in page.content.decode().lower()
    user.refresh_from_db()
    assert not user.has_usable_password()


# --- changing users ---------------------------------------------------------------------


def _change_data(user, **overrides):
    data = {
        "username": user.username,
        "full_name": user.full_name,
        "email": user.email,
        "role": user.role,
        "province": user.province_id or "",
        "enterprise": user.enterprise_id or "",
        "is_active": "on" if user.is_active else "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v != ""}


def test_7_2_1_ops_cannot_promote_or_rescope_into_a_deciding_role(ops_client, world):
    colleague = factories.user(role="ops", username="ops2", is_staff=True)
    url = reverse("admin:accounts_user_change", args=[colleague.pk])
    response = ops_client.post(url, _change_data(colleague, role=Role.GROUP_APPROVER))
    assert response.status_code == 200 and "role grant" in response.content.decode()
    colleague.refresh_from_db()
    assert colleague.role == Role.OPS

    approver = world["users"]["provincial_approver"]
    url = reverse("admin:accounts_user_change", args=[approver.pk])
    response = ops_client.post(url, _change_data(approver, province=world["enterprise_other"].province_id))
    assert response.status_code == 200
    approver.refresh_from_db()
    assert approver.province == world["enterprise"].province


def test_7_2_1_ops_cannot_grant_staff_superuser_groups_or_permissions(ops_client, world):
    from django.contrib.auth.models import Group, Permission

    target = world["users"]["enterprise_admin"]
    url = reverse("admin:accounts_user_change", args=[target.pk])
    pii = Permission.objects.get(codename="view_full_pii")
    approver_group = Group.objects.get(name=Role.PROVINCIAL_APPROVER)
    response = ops_client.post(
        url,
        {
            **_change_data(target),
            "is_staff": "on",
            "is_superuser": "on",
            "user_permissions": [pii.pk],
            "groups": [approver_group.pk],
        },
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert not target.is_staff and not target.is_superuser
    assert not target.has_perm("accounts.view_full_pii")
    assert list(target.groups.values_list("name", flat=True)) == [Role.ENTERPRISE_ADMIN]


def test_7_2_1_ops_cannot_redirect_the_mail_of_an_account_that_has_a_password(ops_client, world):
    target = world["users"]["provincial_approver"]
    url = reverse("admin:accounts_user_change", args=[target.pk])
    response = ops_client.post(url, _change_data(target, email="attacker@example.com"))
    assert response.status_code == 200
    target.refresh_from_db()
    assert target.email != "attacker@example.com"


def test_7_2_1_ops_deactivate_an_account_and_it_is_audited(ops_client, world):
    target = world["users"]["provincial_approver"]
    url = reverse("admin:accounts_user_change", args=[target.pk])
    data = _change_data(target)
    data.pop("is_active")
    assert ops_client.post(url, data).status_code == 302
    target.refresh_from_db()
    assert not target.is_active
    event = _events("user.changed", target).get()
    assert event.actor == world["users"]["ops"] and event.data["is_active"] == [True, False]


def test_7_2_1_bulk_actions_send_links_and_never_delete(ops_client, world, django_capture_on_commit_callbacks):
    target = world["users"]["enterprise_admin"]
    User.objects.filter(pk=target.pk).update(email="ea@example.com")
    changelist = reverse("admin:accounts_user_changelist")
    page = ops_client.get(changelist).content.decode()
    assert "delete_selected" not in page
    with django_capture_on_commit_callbacks(execute=True):
        response = ops_client.post(changelist, {"action": "send_password_link", ACTION_CHECKBOX_NAME: [target.pk]})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ea@example.com"]
    assert _events("user.password_link_sent", target).get().actor == world["users"]["ops"]
    target.refresh_from_db()
    assert target.check_password(factories.PASSWORD)  # a link sets nothing by itself


# --- role grants ------------------------------------------------------------------------


def test_7_2_1_a_role_grant_filed_by_ops_is_approved_by_a_superuser(ops_client, super_client, world, superuser):
    ops = world["users"]["ops"]
    candidate = factories.user(role="ops", username="to_promote", is_staff=True)
    add = ops_client.post(
        reverse("admin:accounts_rolegrant_add"),
        {
            "user": candidate.pk,
            "role": Role.PROVINCIAL_APPROVER,
            "province": world["enterprise"].province_id,
            "reason": "新任北京审批人",
        },
    )
    assert add.status_code == 302, add.content.decode()[:3000]
    grant = RoleGrant.objects.get()
    assert (grant.requested_by, grant.status) == (ops, "pending")
    candidate.refresh_from_db()
    assert candidate.role == Role.OPS  # nothing changes before the approval
    assert _events("role_grant.filed").get().actor == ops

    # Ops cannot approve it.
    changelist = reverse("admin:accounts_rolegrant_changelist")
    ops_client.post(changelist, {"action": "approve_grants", ACTION_CHECKBOX_NAME: [grant.pk]})
    grant.refresh_from_db()
    assert grant.status == "pending"

    response = super_client.post(changelist, {"action": "approve_grants", ACTION_CHECKBOX_NAME: [grant.pk]})
    assert response.status_code == 302
    grant.refresh_from_db()
    candidate.refresh_from_db()
    assert grant.status == "approved" and grant.decided_by == superuser
    assert candidate.role == Role.PROVINCIAL_APPROVER and candidate.province == world["enterprise"].province
    assert not candidate.is_staff
    assert candidate.has_perm("accounts.view_full_pii")
    assert _events("role_grant.approved").get().actor == superuser
    assert _events("user.changed", candidate).exists()


def test_7_2_1_nobody_approves_their_own_grant_and_a_rejection_says_why(world, superuser):
    from accounts.users import role_grant_decide, role_grant_file
    from core.errors import PermissionDenied, ValidationFailed

    candidate = factories.user(role="ops", username="cand", is_staff=True)
    grant = role_grant_file(actor=superuser, user=candidate, role=Role.GROUP_APPROVER, reason="集团")
    with pytest.raises(PermissionDenied):
        role_grant_decide(grant=grant, actor=superuser, approve=True)
    other_root = factories.user(role="ops", username="root2", is_staff=True)
    User.objects.filter(pk=other_root.pk).update(is_superuser=True)
    other_root.refresh_from_db()
    with pytest.raises(ValidationFailed) as exc:
        role_grant_decide(grant=grant, actor=other_root, approve=False, comment="")
    assert exc.value.code == "comment_required"
    role_grant_decide(grant=grant, actor=other_root, approve=False, comment="未经部门批准")
    grant.refresh_from_db()
    candidate.refresh_from_db()
    assert grant.status == "rejected" and grant.decision_comment == "未经部门批准"
    assert candidate.role == Role.OPS
    assert _events("role_grant.rejected").get().data["comment"] == "未经部门批准"


def test_7_2_1_ops_cannot_file_a_grant_for_themselves(world):
    from accounts.users import role_grant_file
    from core.errors import PermissionDenied

    ops = world["users"]["ops"]
    with pytest.raises(PermissionDenied):
        role_grant_file(
            actor=ops, user=ops, role=Role.ACCOUNT_MANAGER, province=world["enterprise"].province, reason="我自己"
        )


def test_7_2_1_a_superuser_creates_an_approver_directly_and_it_is_audited(super_client, world, superuser):
    response = super_client.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "direct_approver",
            "full_name": "直接",
            "email": "d@example.com",
            "role": Role.PROVINCIAL_APPROVER,
            "province": world["enterprise"].province_id,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(username="direct_approver")
    assert user.role == Role.PROVINCIAL_APPROVER and not user.has_usable_password()
    assert _events("user.created", user).get().actor == superuser


def test_7_2_1_the_service_and_seed_keep_working(provinces):
    from django.core.management import call_command

    from accounts.services import user_create

    user = user_create(username="svc", password="Svc-pass-2026!", role=Role.OPS)
    assert user.check_password("Svc-pass-2026!")
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    assert User.objects.get(username="approver_bj").check_password("demo-pass-2026")
