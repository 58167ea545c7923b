"""Test data made through the services, so tests see what users would create."""

from __future__ import annotations

import itertools

import factory

from accounts.models import User
from accounts.services import user_create
from enterprises.services import EnterpriseData, ResponsiblePersonData, enterprise_register
from tests import idgen
from tests.images import jpeg_upload, pdf_upload

_seq = itertools.count(1)
PASSWORD = "Test-pass-2026!"


class UserFactory(factory.django.DjangoModelFactory):
    """For tests that need a bare user row; `user()` below goes through the service."""

    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    role = "ops"


def user(*, role: str, username: str | None = None, password: str = PASSWORD, **kwargs) -> User:
    return user_create(username=username or f"{role}{next(_seq)}", password=password, role=role, **kwargs)


def enterprise_data(**overrides) -> EnterpriseData:
    values = dict(
        name=f"测试物联有限公司{next(_seq)}",
        credential_type="business_licence",
        credential_number=idgen.uscc(),
        credential_address="北京市朝阳区建国路1号",
    )
    values.update(overrides)
    return EnterpriseData(**values)


def responsible_data(**overrides) -> ResponsiblePersonData:
    values = dict(
        name="张三",
        id_type="resident_id",
        id_number=idgen.resident_id(),
        id_address="北京市朝阳区建国路2号",
        is_legal_representative=True,
    )
    values.update(overrides)
    return ResponsiblePersonData(**values)


def enterprise(*, actor: User, responsible: dict | None = None, **overrides):
    person = responsible_data(**(responsible or {}))
    data = enterprise_data(**overrides)
    letter_path = data.credential_type == "official_letter"
    return enterprise_register(
        actor=actor,
        enterprise=data,
        responsible=person,
        credential_files=[pdf_upload() if letter_path else jpeg_upload()],
        responsible_id_files=[jpeg_upload("id.jpg")],
        authorisation_letter_files=[] if person.is_legal_representative else [pdf_upload("auth.pdf")],
    )
