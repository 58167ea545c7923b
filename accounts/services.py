from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import AuditEvent, PiiAccessLog, Province, User
from accounts.permissions import actor_user
from accounts.roles import Role
from core.net import client_ip  # noqa: F401  (the one function for the client's address, re-exported)


def audit_record(
    *, actor: User | None, action: str, obj: models.Model, data: dict[str, Any] | None = None
) -> AuditEvent:
    data = dict(data or {})
    # An actor that is no user (a link holder) says who it is in the event's data.
    data.update(getattr(actor, "audit_data", None) or {})
    return AuditEvent.objects.create(
        actor=actor_user(actor),
        action=action,
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=True),
        object_id=str(obj.pk),
        data=data,
    )


def pii_view_log(*, actor: User, obj: models.Model, field: str, request: HttpRequest | None = None) -> PiiAccessLog:
    return PiiAccessLog.objects.create(
        actor=actor,
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=True),
        object_id=str(obj.pk),
        field=field,
        ip_address=client_ip(request),
    )


def history_for(obj: models.Model) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=True), object_id=str(obj.pk)
    ).select_related("actor")


def user_sync_role_group(*, user: User) -> None:
    """Keep the user in exactly the group of their role, so permissions follow the role."""
    role_groups = Group.objects.filter(name__in=Role.values)
    user.groups.remove(*role_groups.exclude(name=user.role))
    group, _created = Group.objects.get_or_create(name=user.role)
    user.groups.add(group)


def user_create(
    *,
    username: str,
    password: str | None,
    role: str,
    province: Province | None = None,
    enterprise: Any = None,  # an enterprises.Enterprise: that floor stands above this one
    full_name: str = "",
    email: str = "",
    is_staff: bool = False,
) -> User:
    user = User(
        username=username,
        role=role,
        province=province,
        enterprise=enterprise,
        full_name=full_name,
        email=email,
        is_staff=is_staff,
    )
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    user_sync_role_group(user=user)
    return user
