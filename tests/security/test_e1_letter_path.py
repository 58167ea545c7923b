"""Issue 7 §1.4 / E1: the letter-with-seal path is only for units that cannot hold a credential,
and a letter unit is found again, and registered once, by the blind index of its normalised name.

The rule text: 如为党政机关、军队、部队等无法提供单位有效证件的，可提供单位介绍信/公函+公章.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.pii import unit_name_index
from core.errors import Conflict, ValidationFailed
from core.identity import normalize_unit_name
from core.pending_uploads import FOLDER as KEPT  # a form's files kept for its next submit (issue 11 §2)
from enterprises import selectors, services
from enterprises.models import ChangeRequest, Document, Enterprise, UnitKind
from tests import factories, idgen
from tests.images import jpeg_upload, pdf_upload

pytestmark = pytest.mark.django_db

API = "/api/v1"
WATER = "北京市水务局"


def stored_files() -> list[Path]:
    root = Path(settings.PRIVATE_MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file() and KEPT not in p.parts) if root.exists() else []


def rows() -> tuple[int, int, int]:
    return Enterprise.objects.count(), Document.objects.count(), ChangeRequest.objects.count()


def letter_data(*, name: str = WATER, unit_kind: str = "party_government"):
    return factories.enterprise_data(
        name=name, credential_type="official_letter", credential_number="", unit_kind=unit_kind
    )


def register(actor, data):
    return services.enterprise_register(
        actor=actor,
        enterprise=data,
        responsible=factories.responsible_data(),
        credential_files=[pdf_upload()],
        responsible_id_files=[jpeg_upload("id.jpg")],
    )


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def api_register_form(**overrides) -> dict:
    form = {
        "name": WATER,
        "unit_kind": "party_government",
        "credential_type": "official_letter",
        "credential_number": "",
        "credential_address": "北京市海淀区玉渊潭南路5号",
        "responsible_name": "刘洋",
        "responsible_id_type": "resident_id",
        "responsible_id_number": idgen.resident_id(),
        "responsible_id_address": "北京市海淀区玉渊潭南路5号",
        "responsible_is_legal_representative": "true",
        "credential_files": [pdf_upload()],
        "responsible_id_files": [jpeg_upload("id.jpg")],
    }
    form.update(overrides)
    return form


def page_register_payload(**overrides) -> dict:
    data = api_register_form(responsible_is_legal_representative="on", business_reference="")
    data.update(overrides)
    return data


@pytest.fixture
def manager(world):
    return world["users"]["account_manager"]


@pytest.fixture
def manager_gd(world):
    return world["users"]["account_manager_other_province"]


# --- the kinds: reference data ops keep ------------------------------------------------


def test_7_1_4_the_kinds_are_seeded_with_organs_and_the_military_marked(provinces):
    marked = set(UnitKind.objects.filter(cannot_hold_credential=True).values_list("code", flat=True))
    unmarked = set(UnitKind.objects.filter(cannot_hold_credential=False).values_list("code", flat=True))
    assert marked == {"party_government", "military", "armed_police"}
    assert {"enterprise", "public_institution", "social_organisation", "other"} <= unmarked
    assert UnitKind.objects.get(code="party_government").name == "党政机关"


def test_7_1_4_every_enterprise_records_its_kind(manager):
    record = factories.enterprise(actor=manager)
    assert record.unit_kind.code == "enterprise"
    organ = factories.enterprise(actor=manager, unit_kind="party_government", credential_number=idgen.uscc(prefix="11"))
    assert organ.unit_kind.code == "party_government"


# --- E1: who may take the letter path, in the service ------------------------------------


@pytest.mark.parametrize("kind", ["enterprise", "public_institution", "social_organisation", "other"])
def test_7_1_4_a_kind_that_can_hold_a_credential_may_not_take_the_letter_path(manager, kind):
    before, files = rows(), stored_files()
    with pytest.raises(ValidationFailed) as excinfo:
        register(manager, letter_data(unit_kind=kind))
    assert excinfo.value.code == "letter_not_allowed"
    assert excinfo.value.field == "credential_type"
    assert "党政机关" in str(excinfo.value.message) or "party" in str(excinfo.value.message).lower()
    assert rows() == before and stored_files() == files


@pytest.mark.parametrize("kind", ["party_government", "military", "armed_police"])
def test_7_1_4_organs_and_the_military_take_the_letter_path(manager, kind):
    record = register(manager, letter_data(name=f"{kind}单位", unit_kind=kind))
    assert record.credential_type == "official_letter" and record.unit_kind.code == kind


def test_7_1_4_a_kind_ops_mark_may_take_the_letter_path(manager):
    UnitKind.objects.create(code="foreign_mission", name="驻华机构", cannot_hold_credential=True)
    record = register(manager, letter_data(name="某驻华机构", unit_kind="foreign_mission"))
    assert record.unit_kind.code == "foreign_mission"


def test_7_1_4_the_letter_path_needs_a_kind(manager):
    with pytest.raises(ValidationFailed) as excinfo:
        register(manager, letter_data(unit_kind=""))
    assert (excinfo.value.code, excinfo.value.field) == ("required", "unit_kind")


def test_7_1_4_an_unknown_or_retired_kind_is_refused(manager):
    UnitKind.objects.filter(code="military").update(is_active=False)
    for code in ("military", "no_such_kind"):
        with pytest.raises(ValidationFailed) as excinfo:
            register(manager, letter_data(unit_kind=code))
        assert (excinfo.value.code, excinfo.value.field) == ("invalid_unit_kind", "unit_kind")


# --- the registration page ---------------------------------------------------------------


def test_7_1_4_the_form_offers_the_letter_only_with_a_marked_kind_and_says_why(client, manager):
    client.force_login(manager)
    html = client.get(reverse("enterprises:create")).content.decode()
    assert 'name="unit_kind"' in html
    # portal.js offers the official_letter choice only with these kinds; the form says why.
    assert 'data-letter-kinds="armed_police military party_government"' in html
    assert "official letter" in html.lower() and "cannot hold" in html.lower()


def test_7_1_4_the_page_refuses_the_letter_path_for_an_enterprise(client, manager):
    client.force_login(manager)
    before, files = rows(), stored_files()
    response = client.post(reverse("enterprises:create"), page_register_payload(unit_kind="enterprise"))
    assert response.status_code == 200
    errors = response.context["form"].errors.as_data()
    assert [e.code for e in errors["credential_type"]] == ["letter_not_allowed"]
    assert rows() == before and stored_files() == files

    done = client.post(reverse("enterprises:create"), page_register_payload())
    assert done.status_code == 302
    assert Enterprise.objects.get(name=WATER).unit_kind.code == "party_government"


# --- the API -------------------------------------------------------------------------------


def test_7_1_4_the_api_refuses_the_letter_path_for_an_enterprise(manager):
    api = api_for(manager)
    before = rows()
    response = api.post(f"{API}/enterprises/", api_register_form(unit_kind="enterprise"), format="multipart")
    assert response.status_code == 400, response.content
    assert (response.json()["code"], response.json()["field"]) == ("letter_not_allowed", "credential_type")
    assert rows() == before

    done = api.post(f"{API}/enterprises/", api_register_form(), format="multipart")
    assert done.status_code == 201, done.content
    assert done.json()["unit_kind"] == "party_government"


def test_7_1_4_the_api_lists_the_kinds(manager):
    response = api_for(manager).get(f"{API}/unit-kinds/")
    assert response.status_code == 200
    kinds = {k["code"]: k for k in response.json()}
    assert kinds["military"]["cannot_hold_credential"] is True
    assert kinds["enterprise"]["cannot_hold_credential"] is False


# --- the change-request path (E3) -----------------------------------------------------------


def change_values(**overrides) -> dict:
    values = {
        "name": "北京物联科技有限公司",
        "unit_kind": "enterprise",
        "credential_type": "official_letter",
        "credential_number": "",
        "credential_address": "北京市朝阳区建国路1号",
    }
    values.update(overrides)
    return values


def test_7_1_4_a_change_request_may_not_move_an_enterprise_onto_the_letter_path(world):
    enterprise = world["enterprise"]
    for actor in (world["users"]["account_manager"], world["users"]["enterprise_admin"]):
        for values in (change_values(), change_values(unit_kind="")):  # "" keeps the current kind
            with pytest.raises(ValidationFailed) as excinfo:
                services.change_request_submit(
                    actor=actor, enterprise=enterprise, target="enterprise", values=values, files=[pdf_upload()]
                )
            assert excinfo.value.code == "letter_not_allowed"
    assert not ChangeRequest.objects.exists()


def test_7_1_4_a_change_request_page_and_api_refuse_it_too(client, world):
    enterprise = world["enterprise"]
    admin = world["users"]["enterprise_admin"]
    client.force_login(admin)
    url = reverse("enterprises:change_request", args=[enterprise.public_id]) + "?target=enterprise"
    page = client.post(url, {**change_values(), "files": [pdf_upload()], "reason": "改为公函"})
    assert page.status_code == 200
    assert [e.code for e in page.context["form"].errors.as_data()["credential_type"]] == ["letter_not_allowed"]

    response = api_for(admin).post(
        f"{API}/enterprises/{enterprise.public_id}/change-requests/",
        {"target": "enterprise", **change_values(), "files": [pdf_upload()]},
        format="multipart",
    )
    assert response.status_code == 400 and response.json()["code"] == "letter_not_allowed"
    assert not ChangeRequest.objects.exists()


def test_7_1_4_a_change_of_kind_is_applied_with_the_change(world):
    from approvals.services import change_request_decide

    enterprise = world["enterprise"]
    change = services.change_request_submit(
        actor=world["users"]["account_manager"],
        enterprise=enterprise,
        target="enterprise",
        values=change_values(name="北京市某委员会", unit_kind="party_government"),
        files=[pdf_upload()],
    )
    change_request_decide(change_request=change, actor=world["users"]["provincial_approver"], approve=True)
    enterprise.refresh_from_db()
    assert (enterprise.unit_kind.code, enterprise.credential_type, enterprise.credential_number_index) == (
        "party_government",
        "official_letter",
        None,
    )
    assert enterprise.name_index == unit_name_index("北京市某委员会")
    assert enterprise.versions.get().previous_values["unit_kind"] == "enterprise"


# --- a letter unit registers once per province, found by its normalised name -----------------


@pytest.mark.parametrize(
    "raw,normalised",
    [
        ("北京市水务局", "北京市水务局"),
        (" 北京市 水务局 ", "北京市水务局"),
        ("北京市\u3000水务局。", "北京市水务局"),
        ("北京市水务局（办公室）", "北京市水务局办公室"),
        ("中国人民解放军９１２３４部队", "中国人民解放军91234部队"),
        ("ＡＢＣ·研究所", "abc研究所"),
    ],
)
def test_7_1_4_unit_names_are_normalised_before_the_index(raw, normalised):
    assert normalize_unit_name(raw) == normalised


def test_7_1_4_the_name_index_is_keyed_and_has_its_own_purpose(settings):
    from accounts.pii import blind_index, credential_index

    first = unit_name_index(WATER)
    assert first == unit_name_index(" 北京市　水务局 ")
    assert first != credential_index(normalize_unit_name(WATER))
    assert first != blind_index(normalize_unit_name(WATER), purpose="org_credential")
    settings.BLIND_INDEX_KEY = "another-key-for-this-test"
    assert unit_name_index(WATER) != first


@pytest.mark.parametrize("typed", [WATER, " 北京市 水务局", "北京市水务局。", "北京市　水务局"])
def test_7_1_4_a_letter_unit_registers_only_once_in_its_province(manager, typed):
    register(manager, letter_data())
    before, files = rows(), stored_files()
    with pytest.raises(Conflict) as excinfo:
        register(manager, letter_data(name=typed, unit_kind="military"))
    assert (excinfo.value.code, excinfo.value.field) == ("already_registered", "name")
    assert "returning-customer" in str(excinfo.value.message)
    assert rows() == before and stored_files() == files


def test_7_1_4_the_same_name_may_be_a_letter_unit_in_another_province(manager, manager_gd):
    register(manager, letter_data())
    other = register(manager_gd, letter_data())
    assert other.province_id == manager_gd.province_id


def test_7_1_4_the_database_holds_one_letter_unit_per_name_and_province(manager):
    first = register(manager, letter_data())
    with pytest.raises(IntegrityError), transaction.atomic():
        Enterprise.objects.create(
            name=first.name,
            unit_kind=first.unit_kind,
            credential_type="official_letter",
            credential_number="",
            credential_address="x",
            province=first.province,
            account_manager=manager,
            created_by=manager,
            name_index=first.name_index,
        )


def test_7_1_4_two_letter_registrations_racing_get_the_same_answer(manager, monkeypatch):
    register(manager, letter_data())
    # The second one slips past the pre-check, as a concurrent request would: the constraint answers.
    monkeypatch.setattr("enterprises.registry.letter_unit_holder", lambda province_id, index, **kwargs: None)
    with pytest.raises(Conflict) as excinfo:
        register(manager, letter_data())
    assert excinfo.value.code == "already_registered"


def test_7_1_4_the_page_and_api_answer_already_registered_for_a_letter_unit(client, manager):
    register(manager, letter_data())
    client.force_login(manager)
    page = client.post(reverse("enterprises:create"), page_register_payload(name=" 北京市水务局 "))
    assert page.status_code == 200
    assert [e.code for e in page.context["form"].errors.as_data()["name"]] == ["already_registered"]
    response = api_for(manager).post(f"{API}/enterprises/", api_register_form(), format="multipart")
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["field"]) == ("already_registered", "name")
    assert Enterprise.objects.filter(name=WATER).count() == 1


def test_7_1_4_a_letter_unit_is_found_again_by_its_name(manager, manager_gd):
    record = register(manager, letter_data())
    assert selectors.enterprise_by_unit_name(manager, " 北京市　水务局。") == record
    # Within the province: another province's account manager does not find it by name.
    from core.errors import NotFound

    with pytest.raises(NotFound):
        selectors.enterprise_by_unit_name(manager_gd, WATER)
    # A unit with a credential is found by its number, not by its name.
    with pytest.raises(NotFound):
        selectors.enterprise_by_unit_name(manager, "北京物联科技有限公司")


def test_7_1_4_the_returning_customer_page_finds_a_letter_unit_by_name(client, manager):
    record = register(manager, letter_data())
    client.force_login(manager)
    page = client.get(reverse("enterprises:returning"))
    assert 'name="unit_name"' in page.content.decode()
    response = client.post(reverse("enterprises:returning"), {"unit_name": "北京市 水务局"})
    assert response.status_code == 302
    assert response["Location"] == reverse("enterprises:upload", args=[record.public_id])


def test_7_1_4_the_api_lookup_finds_a_letter_unit_by_name(manager):
    record = register(manager, letter_data())
    api = api_for(manager)
    response = api.post(f"{API}/enterprises/lookup/", {"unit_name": "北京市水务局。"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["public_id"] == str(record.public_id)
    both = api.post(
        f"{API}/enterprises/lookup/", {"unit_name": WATER, "credential_number": idgen.uscc()}, format="json"
    )
    assert both.status_code == 400
    neither = api.post(f"{API}/enterprises/lookup/", {}, format="json")
    assert neither.status_code == 400


def test_7_1_4_a_renamed_letter_unit_is_found_by_its_new_name(world):
    from approvals.services import change_request_decide

    manager = world["users"]["account_manager"]
    record = register(manager, letter_data())
    change = services.change_request_submit(
        actor=manager,
        enterprise=record,
        target="enterprise",
        values=change_values(name="北京市水务局（新）", unit_kind="party_government"),
        files=[pdf_upload()],
    )
    change_request_decide(change_request=change, actor=world["users"]["provincial_approver"], approve=True)
    assert selectors.enterprise_by_unit_name(manager, "北京市水务局新") == record
    # The old name is free again.
    assert register(manager, letter_data()).pk != record.pk


def test_7_1_4_a_change_request_to_a_name_another_letter_unit_holds_is_refused_for_the_manager(world):
    manager = world["users"]["account_manager"]
    register(manager, letter_data())
    other = register(manager, letter_data(name="北京市园林绿化局"))
    with pytest.raises(Conflict) as excinfo:
        services.change_request_submit(
            actor=manager,
            enterprise=other,
            target="enterprise",
            values=change_values(name=" 北京市水务局", unit_kind="party_government"),
            files=[pdf_upload()],
        )
    assert (excinfo.value.code, excinfo.value.field) == ("already_registered", "name")


# --- ops keep the list in Django admin --------------------------------------------------------


def test_7_1_4_ops_manage_the_kinds_in_admin(client, world):
    ops = world["users"]["ops"]
    client.force_login(ops)
    listing = client.get(reverse("admin:enterprises_unitkind_changelist"))
    assert listing.status_code == 200 and "党政机关" in listing.content.decode()
    added = client.post(
        reverse("admin:enterprises_unitkind_add"),
        {
            "code": "foreign_mission",
            "name": "驻华机构",
            "name_en": "Foreign mission",
            "cannot_hold_credential": "on",
            "is_active": "on",
            "sort_order": "80",
        },
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    kind = UnitKind.objects.get(code="foreign_mission")
    assert kind.cannot_hold_credential
    from accounts.models import AuditEvent

    assert AuditEvent.objects.filter(action="unit_kind.created", actor=ops).exists()


def test_7_1_4_a_kind_that_letter_units_hold_stays_marked(client, world):
    register(world["users"]["account_manager"], letter_data())
    kind = UnitKind.objects.get(code="party_government")
    client.force_login(world["users"]["ops"])
    url = reverse("admin:enterprises_unitkind_change", args=[kind.pk])
    client.post(
        url,
        {
            "code": kind.code,
            "name": kind.name,
            "name_en": kind.name_en,
            "is_active": "on",
            "sort_order": kind.sort_order,
        },
    )
    kind.refresh_from_db()
    assert kind.cannot_hold_credential
    kind.cannot_hold_credential = False
    with pytest.raises(ValidationFailed) as excinfo:
        services.unit_kind_save(actor=world["users"]["ops"], unit_kind=kind)
    assert excinfo.value.code == "kind_in_use"
