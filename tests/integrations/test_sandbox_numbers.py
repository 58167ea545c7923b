"""A sandbox keeps to card numbers of its own range, and real cards keep out of every sandbox's: so a test
key's import or card is never answered "already registered" for a real card's number (issue 11, sandbox edges)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from cards.imports.report import error_rows
from cards.inventory.services import card_create
from cards.models import Card, CardImport
from cards.validation import sandbox_iccid_prefix, sandbox_msisdn_prefix
from core.errors import ValidationFailed
from enterprises.sandbox import sandbox_of
from integrations import keys
from tests import factories
from tests.cards.import_files import csv_bytes, luhn_complete, row

pytestmark = pytest.mark.django_db


def _test_key_client(world):
    _record, raw = keys.key_create(
        actor=world["users"]["account_manager"],
        enterprise=world["enterprise"],
        name="fleet",
        scopes=["cards:read", "cards:write"],
        test=True,
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def _import(client, world, rows, capture):
    upload = SimpleUploadedFile("cards.csv", csv_bytes(rows), content_type="text/csv")
    with capture(execute=True):
        response = client.post(
            "/api/v1/card-imports/",
            {"enterprise": str(world["enterprise"].public_id), "file": upload},
            format="multipart",
            HTTP_IDEMPOTENCY_KEY=f"import-{len(rows)}-{rows[0][0]}",
        )
    assert response.status_code == 202, response.content
    return CardImport.objects.get(public_id=response.json()["id"])


def test_a_test_keys_import_of_a_real_cards_iccid_is_refused_without_saying_it_exists(
    world, django_capture_on_commit_callbacks
):
    package = factories.package(code="IOT-SBX")
    real_card = factories.card(enterprise=world["enterprise"])
    client = _test_key_client(world)
    job = _import(
        client, world, [row(1, package=package.code, icc=real_card.iccid)], django_capture_on_commit_callbacks
    )
    assert job.status == "failed"
    codes = {error["code"] for error in error_rows(job)}
    assert codes == {"sandbox_number_range"}
    assert "already_registered" not in codes
    # The same file with an unused real-range ICCID gets the same answer: nothing tells the two apart.
    job_unused = _import(client, world, [row(2, package=package.code)], django_capture_on_commit_callbacks)
    assert {error["code"] for error in error_rows(job_unused)} == {"sandbox_number_range"}


def test_a_test_key_imports_cards_in_its_own_range(world, django_capture_on_commit_callbacks):
    package = factories.package(code="IOT-SBX")
    client = _test_key_client(world)
    sandbox = sandbox_of(world["enterprise"])
    iccid = luhn_complete(f"{sandbox_iccid_prefix(sandbox.pk)}77")
    msisdn = f"{sandbox_msisdn_prefix(sandbox.pk)}77"
    job = _import(
        client, world, [row(1, package=package.code, icc=iccid, msisdn=msisdn)], django_capture_on_commit_callbacks
    )
    assert job.status == "succeeded", error_rows(job)
    assert Card.objects.get(iccid=iccid).enterprise == sandbox


def test_another_sandboxs_range_is_refused_too(world):
    package = factories.package(code="IOT-SBX")
    _test_key_client(world)
    sandbox = sandbox_of(world["enterprise"])
    other_pk = sandbox.pk + 1
    with pytest.raises(ValidationFailed) as refused:
        card_create(
            actor=None,
            enterprise=sandbox,
            iccid=luhn_complete(f"{sandbox_iccid_prefix(other_pk)}01"),
            msisdn=f"{sandbox_msisdn_prefix(other_pk)}01",
            package=package,
        )
    assert refused.value.code == "sandbox_number_range"


def test_a_real_enterprise_cannot_take_a_sandbox_number(world):
    package = factories.package(code="IOT-SBX")
    with pytest.raises(ValidationFailed) as refused:
        card_create(
            actor=None,
            enterprise=world["enterprise"],
            iccid=luhn_complete("898699000000000101"),
            msisdn="1064000000001",
            package=package,
        )
    assert refused.value.code == "sandbox_number_reserved"
    with pytest.raises(ValidationFailed) as refused_number:
        card_create(
            actor=None,
            enterprise=world["enterprise"],
            iccid=luhn_complete("898603100000000101"),
            msisdn="1999900000101",
            package=package,
        )
    assert refused_number.value.code == "sandbox_number_reserved"
    assert not Card.objects.filter(enterprise=world["enterprise"], iccid__startswith="898699").exists()
