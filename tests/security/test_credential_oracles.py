"""Issue 7 §1.6 (E2 across provinces) and §2.7 (existence oracles), designed together.

The policy (enterprises.registry):
* account managers, who register enterprises, get one answer from the returning-customer lookup
  and from the registration for a number another province holds: 409 `registered_in_other_province`,
  naming the province that keeps the record and how the business continues;
* everyone else, enterprise admins first, gets answers that are the same whether or not another
  tenant holds the number.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from approvals.services import change_request_decide, change_request_withdraw
from core.errors import Conflict, NotFound
from enterprises import selectors, services
from enterprises.models import ChangeRequest, ChangeRequestStatus, Enterprise
from tests import factories, idgen
from tests.images import jpeg_upload, pdf_upload

pytestmark = pytest.mark.django_db

API = "/api/v1"


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def register_form(number: str, **overrides) -> dict:
    form = {
        "name": "北京智联物联网科技有限公司",
        "credential_type": "business_licence",
        "credential_number": number,
        "credential_address": "广州市天河区天河路1号",
        "responsible_name": "李四",
        "responsible_id_type": "resident_id",
        "responsible_id_number": idgen.resident_id(),
        "responsible_id_address": "广州市天河区天河路2号",
        "responsible_is_legal_representative": "true",
        "credential_files": [jpeg_upload()],
        "responsible_id_files": [jpeg_upload("id.jpg")],
    }
    form.update(overrides)
    return form


def shape(value):
    """The structure of a JSON body: keys and value types, not the values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value[:1]]
    return type(value).__name__


@pytest.fixture
def beijing_number(world) -> str:
    return world["enterprise"].credential_number


# --- §1.6: the account manager's lookup and registration agree ------------------------------


def test_7_1_6_lookup_and_registration_agree_for_another_provinces_number(world, beijing_number):
    manager_gd = world["users"]["account_manager_other_province"]
    with pytest.raises(Conflict) as looked_up:
        selectors.enterprise_by_credential_number(manager_gd, beijing_number)
    with pytest.raises(Conflict) as registered:
        services.enterprise_register(
            actor=manager_gd,
            enterprise=factories.enterprise_data(credential_number=beijing_number),
            responsible=factories.responsible_data(),
            credential_files=[jpeg_upload()],
            responsible_id_files=[jpeg_upload("id.jpg")],
        )
    for exc in (looked_up.value, registered.value):
        assert (exc.code, exc.field) == ("registered_in_other_province", "credential_number")
    assert str(looked_up.value.message) == str(registered.value.message)
    message = str(looked_up.value.message)
    # The way forward: who keeps the record, and how the business continues.
    assert world["enterprise"].province.name in message
    assert "account manager" in message
    assert beijing_number not in message
    assert Enterprise.objects.filter(credential_number_index=world["enterprise"].credential_number_index).count() == 1


def test_7_1_6_the_pages_agree(client, world, beijing_number):
    client.force_login(world["users"]["account_manager_other_province"])
    returning = client.post(reverse("enterprises:returning"), {"credential_number": beijing_number})
    payload = {**register_form(beijing_number), "responsible_is_legal_representative": "on"}
    created = client.post(reverse("enterprises:create"), payload)
    listed = client.post(reverse("enterprises:list"), {"credential_number": beijing_number})
    answers = []
    for response in (returning, created, listed):
        assert response.status_code == 200
        errors = response.context["number_form" if response is listed else "form"].errors.as_data()["credential_number"]
        answers.append([(e.code, str(e.message)) for e in errors])
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0][0] == "registered_in_other_province"
    assert world["enterprise"].province.name in returning.content.decode()


def test_7_1_6_the_api_agrees(world, beijing_number):
    api = api_for(world["users"]["account_manager_other_province"])
    looked_up = api.post(f"{API}/enterprises/lookup/", {"credential_number": beijing_number}, format="json")
    registered = api.post(f"{API}/enterprises/", register_form(beijing_number), format="multipart")
    assert looked_up.status_code == registered.status_code == 409
    assert looked_up.json() == registered.json()
    assert looked_up.json()["code"] == "registered_in_other_province"
    assert looked_up.json()["field"] == "credential_number"


def test_7_1_6_in_the_own_province_lookup_finds_it_and_registration_points_to_it(world, beijing_number):
    manager = world["users"]["account_manager"]
    api = api_for(manager)
    looked_up = api.post(f"{API}/enterprises/lookup/", {"credential_number": beijing_number}, format="json")
    assert looked_up.status_code == 200 and looked_up.json()["public_id"] == str(world["enterprise"].public_id)
    registered = api.post(f"{API}/enterprises/", register_form(beijing_number), format="multipart")
    assert registered.status_code == 409 and registered.json()["code"] == "already_registered"


def test_7_1_6_a_managers_change_request_to_another_provinces_number_gets_the_same_answer(world, beijing_number):
    manager_gd = world["users"]["account_manager_other_province"]
    with pytest.raises(Conflict) as excinfo:
        services.change_request_submit(
            actor=manager_gd,
            enterprise=world["enterprise_other"],
            target="enterprise",
            values={
                "name": "广东物联网络有限公司",
                "credential_type": "business_licence",
                "credential_number": beijing_number,
                "credential_address": "广州市",
            },
            files=[jpeg_upload()],
        )
    assert excinfo.value.code == "registered_in_other_province"
    assert not ChangeRequest.objects.exists()


# --- §2.7: enterprise admins learn nothing about other tenants -------------------------------


@pytest.fixture
def numbers(world) -> dict[str, str]:
    return {
        "other_province": world["enterprise_other"].credential_number,
        "same_province_other_enterprise": world["enterprise_same_province"].credential_number,
        "unregistered": idgen.uscc(),
    }


def test_7_2_7_an_admins_lookup_answers_alike_for_other_tenants_and_unregistered_numbers(world, numbers):
    api = api_for(world["users"]["enterprise_admin"])
    responses = [
        api.post(f"{API}/enterprises/lookup/", {"credential_number": number}, format="json")
        for number in numbers.values()
    ]
    assert {r.status_code for r in responses} == {404}
    assert len({r.content for r in responses}) == 1


def _submit_by_api(api, enterprise, number):
    return api.post(
        f"{API}/enterprises/{enterprise.public_id}/change-requests/",
        {
            "target": "enterprise",
            "name": enterprise.name,
            "credential_type": "business_licence",
            "credential_number": number,
            "credential_address": "北京市朝阳区建国路1号",
            "files": [jpeg_upload()],
            "reason": "换证",
        },
        format="multipart",
    )


def test_7_2_7_an_admins_change_request_answers_alike_for_other_tenants_and_unregistered_numbers(world, numbers):
    admin = world["users"]["enterprise_admin"]
    enterprise = world["enterprise"]
    api = api_for(admin)
    answers = {}
    for label, number in numbers.items():
        response = _submit_by_api(api, enterprise, number)
        body = response.json()
        answers[label] = (response.status_code, body.get("code"), shape(body))
        # Withdrawn, so the next one is not refused as "a change is already pending".
        if response.status_code == 201:
            change_request_withdraw(change_request=ChangeRequest.objects.get(public_id=body["public_id"]), actor=admin)
    assert answers["other_province"] == answers["unregistered"] == answers["same_province_other_enterprise"]
    assert answers["unregistered"][0] == 201


def test_7_2_7_an_admins_change_request_page_answers_alike(client, world, numbers):
    admin = world["users"]["enterprise_admin"]
    enterprise = world["enterprise"]
    client.force_login(admin)
    url = reverse("enterprises:change_request", args=[enterprise.public_id]) + "?target=enterprise"
    answers = {}
    for label, number in numbers.items():
        response = client.post(
            url,
            {
                "name": enterprise.name,
                "unit_kind": "enterprise",
                "credential_type": "business_licence",
                "credential_number": number,
                "credential_address": "北京市朝阳区建国路1号",
                "files": [jpeg_upload()],
                "reason": "换证",
            },
        )
        answers[label] = (response.status_code, response.get("Location"))
        pending = ChangeRequest.objects.filter(enterprise=enterprise, status=ChangeRequestStatus.SUBMITTED).first()
        if pending is not None:
            change_request_withdraw(change_request=pending, actor=admin)
    assert answers["other_province"] == answers["unregistered"] == answers["same_province_other_enterprise"]
    assert answers["unregistered"] == (302, reverse("enterprises:detail", args=[enterprise.public_id]))


def test_7_2_7_the_clash_is_the_approvers_to_see_when_deciding(world, numbers):
    admin = world["users"]["enterprise_admin"]
    enterprise = world["enterprise"]
    change = services.change_request_submit(
        actor=admin,
        enterprise=enterprise,
        target="enterprise",
        values={
            "name": enterprise.name,
            "credential_type": "business_licence",
            "credential_number": numbers["other_province"],
            "credential_address": "北京市",
        },
        files=[jpeg_upload()],
    )
    approver = world["users"]["provincial_approver"]
    with pytest.raises(Conflict) as excinfo:
        change_request_decide(change_request=change, actor=approver, approve=True)
    assert excinfo.value.code == "already_registered"
    change.refresh_from_db()
    enterprise.refresh_from_db()
    assert change.status == ChangeRequestStatus.SUBMITTED and not change.decisions.exists()
    assert enterprise.credential_number != numbers["other_province"]
    rejected = change_request_decide(
        change_request=change, actor=approver, approve=False, comment="证件号码有误，请核实"
    )
    assert rejected.status == ChangeRequestStatus.REJECTED


def test_7_2_7_an_admins_rename_of_a_letter_unit_answers_alike(world):
    manager = world["users"]["account_manager"]

    def letter_unit(name):
        return factories.enterprise(
            actor=manager,
            name=name,
            credential_type="official_letter",
            credential_number="",
            unit_kind="party_government",
        )

    letter_unit("北京市水务局")
    own = letter_unit("北京市园林绿化局")
    admin = factories.user(role="enterprise_admin", enterprise=own, username="ea_letter")
    api = api_for(admin)
    answers = []
    for name in ("北京市水务局", "北京市从未登记局"):
        response = api.post(
            f"{API}/enterprises/{own.public_id}/change-requests/",
            {
                "target": "enterprise",
                "name": name,
                "unit_kind": "party_government",
                "credential_type": "official_letter",
                "credential_number": "",
                "credential_address": "北京市",
                "files": [pdf_upload()],
            },
            format="multipart",
        )
        answers.append((response.status_code, response.json().get("code"), shape(response.json())))
        if response.status_code == 201:
            change_request_withdraw(
                change_request=ChangeRequest.objects.get(public_id=response.json()["public_id"]), actor=admin
            )
    assert answers[0] == answers[1] and answers[0][0] == 201


def test_7_2_7_an_approver_of_another_province_cannot_tell_registered_elsewhere_from_unregistered(
    world, beijing_number
):
    """Anyone but account managers: the answer for another province's number is the 'not found' one."""
    approver_gd = world["users"]["provincial_approver_other_province"]
    api = api_for(approver_gd)
    responses = [
        api.post(f"{API}/enterprises/lookup/", {"credential_number": number}, format="json")
        for number in (beijing_number, idgen.uscc())
    ]
    assert {r.status_code for r in responses} == {404}
    assert responses[0].content == responses[1].content
    with pytest.raises(NotFound):
        selectors.enterprise_by_credential_number(approver_gd, beijing_number)


@pytest.mark.zh
def test_7_1_6_the_answer_reads_in_chinese(client, world, beijing_number):
    client.force_login(world["users"]["account_manager_other_province"])
    html = client.post(reverse("enterprises:returning"), {"credential_number": beijing_number}).content.decode()
    assert "该证件号码已在北京市登记" in html and "客户经理" in html
