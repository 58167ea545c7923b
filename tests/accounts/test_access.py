"""Scoping, roles and login throttling: who sees which records (DESIGN §1, §4)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.access import NOTHING, scoped
from accounts.models import User
from accounts.permissions import ROLE_PERMISSIONS, Capability, can, scope_filter
from accounts.roles import VIEW_FULL_PII, Role
from accounts.services import user_create
from core.errors import Conflict, NotFound
from enterprises import selectors
from enterprises.models import Document, Enterprise
from tests import factories

pytestmark = pytest.mark.django_db

E, SAME, OTHER = "enterprise", "enterprise_same_province", "enterprise_other"

# Which enterprises each user sees. E and SAME are in Beijing, OTHER in Guangdong;
# the enterprise admin belongs to E, the other enterprise admin to SAME.
VISIBLE = {
    "anonymous": set(),
    "account_manager": {E, SAME},
    "account_manager_other_province": {OTHER},
    "enterprise_admin": {E},
    "enterprise_admin_other_enterprise": {SAME},
    "provincial_approver": {E, SAME},
    "provincial_approver_other_province": {OTHER},
    "group_approver": {E, SAME, OTHER},
    "ops": {E, SAME, OTHER},
}


def _names(world, enterprises) -> set[str]:
    by_pk = {world[key].pk: key for key in (E, SAME, OTHER)}
    return {by_pk[e.pk] for e in enterprises}


def test_the_table_covers_every_user_of_the_world(world):
    assert set(VISIBLE) == set(world["users"])
    assert {u.role for u in world["users"].values() if u} == set(Role.values)


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_enterprises_each_role_sees(world, who):
    user = world["users"][who]
    expected = VISIBLE[who]
    assert _names(world, scoped(Enterprise.objects.all(), user)) == expected
    assert _names(world, Enterprise.objects.filter(scope_filter(user))) == expected
    assert _names(world, selectors.enterprises_visible_to(user)) == expected
    for key in (E, SAME, OTHER):
        if key in expected:
            assert selectors.enterprise_for_user(user, world[key].public_id) == world[key]
        else:
            with pytest.raises(NotFound):
                selectors.enterprise_for_user(user, world[key].public_id)


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_documents_each_role_sees(world, who):
    user = world["users"][who]
    expected = VISIBLE[who]
    # Every enterprise of the world has a credential photo and a responsible person's ID photo.
    assert Document.objects.count() == 6
    visible = list(selectors.documents_visible_to(user))
    assert _names(world, [d.enterprise for d in visible]) == expected
    assert len(visible) == 2 * len(expected)
    assert set(scoped(Document.objects.all(), user, path="enterprise__")) == set(visible)
    for document in Document.objects.all():
        owner = _names(world, [document.enterprise]).pop()
        if owner in expected:
            assert selectors.document_for_user(user, document.public_id) == document
        else:
            with pytest.raises(NotFound):
                selectors.document_for_user(user, document.public_id)


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_credential_lookup_each_role_may_do(world, who):
    user = world["users"][who]
    for key in (E, SAME, OTHER):
        number = world[key].credential_number
        if key in VISIBLE[who]:
            assert selectors.enterprise_by_credential_number(user, number) == world[key]
        elif user is not None and user.role == "account_manager":
            # Told that another province keeps it, as their registration would be (issue 7 §1.6).
            with pytest.raises(Conflict) as exc:
                selectors.enterprise_by_credential_number(user, number)
            assert exc.value.code == "registered_in_other_province"
        else:
            with pytest.raises(NotFound):
                selectors.enterprise_by_credential_number(user, number)


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_change_requests_each_role_sees(world, who):
    from enterprises import services
    from tests.images import jpeg_upload

    manager = world["users"]["account_manager"]
    manager_gd = world["users"]["account_manager_other_province"]
    for key, actor in ((E, manager), (SAME, manager), (OTHER, manager_gd)):
        enterprise = world[key]
        services.change_request_submit(
            actor=actor,
            enterprise=enterprise,
            target="enterprise",
            values={
                "name": enterprise.name + "（新）",
                "credential_type": enterprise.credential_type,
                "credential_number": enterprise.credential_number,
                "credential_address": enterprise.credential_address,
            },
            files=[jpeg_upload()],
        )
    visible = selectors.change_requests_visible_to(world["users"][who])
    assert _names(world, [r.enterprise for r in visible]) == VISIBLE[who]


def test_anonymous_user_object_sees_nothing(world):
    anonymous = AnonymousUser()
    assert scope_filter(anonymous) == NOTHING
    assert not selectors.enterprises_visible_to(anonymous).exists()
    assert not selectors.documents_visible_to(anonymous).exists()


@pytest.mark.parametrize("who", sorted(k for k in VISIBLE if k != "anonymous"))
def test_an_inactive_user_sees_nothing(world, who):
    user = world["users"][who]
    User.objects.filter(pk=user.pk).update(is_active=False)
    user.refresh_from_db()
    assert scope_filter(user) == NOTHING
    assert not selectors.enterprises_visible_to(user).exists()
    assert not selectors.documents_visible_to(user).exists()
    assert not selectors.change_requests_visible_to(user).exists()
    with pytest.raises(NotFound):
        selectors.enterprise_for_user(user, world[E].public_id)


def test_a_superuser_sees_everything(world):
    root = User.objects.create_superuser(username="root", password="x" * 12)
    assert _names(world, selectors.enterprises_visible_to(root)) == {E, SAME, OTHER}


def test_an_unparseable_id_is_not_found(world):
    with pytest.raises(NotFound):
        selectors.enterprise_for_user(world["users"]["ops"], "not-a-uuid")
    with pytest.raises(NotFound):
        selectors.document_for_user(world["users"]["ops"], "../../etc/passwd")


# --- user constraints ----------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.ACCOUNT_MANAGER, Role.PROVINCIAL_APPROVER])
def test_province_roles_need_a_province(db, role):
    with pytest.raises(ValidationError):
        user_create(username="no_province", password="Test-pass-2026!", role=role)
    assert not User.objects.filter(username="no_province").exists()


def test_enterprise_admin_needs_an_enterprise(db):
    with pytest.raises(ValidationError):
        user_create(username="no_enterprise", password="Test-pass-2026!", role=Role.ENTERPRISE_ADMIN)
    assert not User.objects.filter(username="no_enterprise").exists()


def test_the_database_enforces_the_same_constraints(db):
    for role in (Role.ACCOUNT_MANAGER, Role.PROVINCIAL_APPROVER, Role.ENTERPRISE_ADMIN):
        with pytest.raises(IntegrityError), transaction.atomic():
            factories.UserFactory(role=role)


@pytest.mark.parametrize("role", [Role.GROUP_APPROVER, Role.OPS])
def test_nationwide_roles_need_neither(db, role):
    user = user_create(username=f"u_{role}", password=None, role=role)
    assert user.province is None and user.enterprise is None
    assert not user.has_usable_password()


# --- role groups and permissions -----------------------------------------------------


@pytest.mark.parametrize("role", Role.values)
def test_role_groups_carry_the_listed_permissions(db, role):
    group = Group.objects.get(name=role)
    held = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
    assert held == set(ROLE_PERMISSIONS[role])


def test_every_listed_permission_exists(db):
    from django.contrib.auth.models import Permission

    for names in ROLE_PERMISSIONS.values():
        for name in names:
            app_label, codename = name.split(".")
            assert Permission.objects.filter(content_type__app_label=app_label, codename=codename).exists(), name


@pytest.mark.parametrize(
    "who, full_pii",
    [
        ("account_manager", True),
        ("provincial_approver", True),
        ("group_approver", True),
        ("enterprise_admin", False),
        ("ops", False),
    ],
)
def test_who_may_view_personal_data_in_full(world, who, full_pii):
    user = User.objects.get(pk=world["users"][who].pk)  # fresh permission cache
    assert list(user.groups.values_list("name", flat=True)) == [user.role]
    assert user.has_perm(VIEW_FULL_PII) is full_pii
    assert can(user, Capability.VIEW_FULL_PII) is full_pii


def test_ops_permissions_are_view_and_user_admin_only(world):
    ops = User.objects.get(pk=world["users"]["ops"].pk)
    assert ops.has_perm("enterprises.view_enterprise")
    assert not ops.has_perm("enterprises.change_enterprise")
    assert not ops.has_perm("enterprises.delete_document")
    assert not can(ops, Capability.VIEW_FULL_PII)


def test_role_change_moves_the_user_to_the_new_group(world):
    from accounts.services import user_sync_role_group

    user = world["users"]["ops"]
    user.role = Role.GROUP_APPROVER
    user.save()
    user_sync_role_group(user=user)
    user = User.objects.get(pk=user.pk)
    assert list(user.groups.values_list("name", flat=True)) == [Role.GROUP_APPROVER]
    assert user.has_perm(VIEW_FULL_PII)


# --- login throttling ------------------------------------------------------------------


def test_login_is_locked_after_the_failure_limit(client, settings, provinces):
    user = factories.user(role="account_manager", province=provinces["beijing"], username="throttled")
    url = reverse("login")
    limit = settings.AXES_FAILURE_LIMIT
    assert limit == 5
    for _ in range(limit):
        client.post(url, {"username": user.username, "password": "wrong-password"})
    response = client.post(url, {"username": user.username, "password": factories.PASSWORD})
    assert response.status_code == 429
    assert "registration/locked_out.html" in [t.name for t in response.templates]
    assert "_auth_user_id" not in client.session


def test_login_below_the_failure_limit_still_works(client, settings, provinces):
    user = factories.user(role="account_manager", province=provinces["beijing"], username="almost")
    url = reverse("login")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(url, {"username": user.username, "password": "wrong-password"})
        assert response.status_code == 200  # the form again, with an error
    response = client.post(url, {"username": user.username, "password": factories.PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_lockout_is_per_username(client, settings, provinces):
    locked = factories.user(role="account_manager", province=provinces["beijing"], username="locked_one")
    other = factories.user(role="account_manager", province=provinces["beijing"], username="other_one")
    url = reverse("login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(url, {"username": locked.username, "password": "wrong-password"})
    response = client.post(url, {"username": other.username, "password": factories.PASSWORD})
    assert response.status_code == 302
