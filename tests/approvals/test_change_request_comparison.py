"""The change-request decision page (issue 11 §1.5): old -> new of exactly what changes, masked,
labelled, with a budgeted and logged reveal for those who may see numbers in full."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import PiiAccessLog
from accounts.throttling import PiiRevealThrottle
from approvals import services
from approvals.views import change_rows
from core.identity import mask_identifier
from tests.approvals.test_change_requests import submit_enterprise_change, submit_responsible_change

pytestmark = pytest.mark.django_db


def _url(change):
    return reverse("approvals:change_request_detail", args=[change.public_id])


def test_only_the_changed_fields_are_compared_old_to_new(world):
    enterprise = world["enterprise"]
    change, values = submit_enterprise_change(
        world, name=enterprise.name, credential_type=enterprise.credential_type, credential_address="新地址9号"
    )
    rows = {row["key"]: row for row in change_rows(change)}
    # The name and credential type stay as they are: no row for them.
    assert set(rows) == {"credential_number", "credential_address"}
    number = rows["credential_number"]
    assert [side["shown"] for side in number["sides"]] == [
        mask_identifier(enterprise.credential_number),
        mask_identifier(values["credential_number"]),
    ]
    assert [side["shown"] for side in rows["credential_address"]["sides"]] == [
        enterprise.credential_address,
        "新地址9号",
    ]


def test_the_page_labels_the_unit_name_and_translates_codes(client, world):
    change, values = submit_enterprise_change(world)
    client.force_login(world["users"]["provincial_approver"])
    html = client.get(_url(change), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Unit name" in html and world["enterprise"].name in html and values["name"] in html
    # The code is shown as its label, never raw.
    assert "business_licence" not in html
    assert values["credential_number"] not in html and world["enterprise"].credential_number not in html
    assert mask_identifier(values["credential_number"]) in html


def test_a_responsible_person_change_shows_the_person_fields(client, world):
    change, values = submit_responsible_change(world)
    client.force_login(world["users"]["provincial_approver"])
    html = client.get(_url(change), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "resident_id" not in html and values["id_number"] not in html
    assert mask_identifier(values["id_number"]) in html
    assert "Unit name" not in html


def test_an_approved_change_compares_against_the_replaced_version(world):
    old_number = world["enterprise"].credential_number
    change, values = submit_enterprise_change(world)
    services.change_request_decide(change_request=change, actor=world["users"]["provincial_approver"], approve=True)
    change.refresh_from_db()
    rows = {row["key"]: row for row in change_rows(change)}
    assert [side["shown"] for side in rows["credential_number"]["sides"]] == [
        mask_identifier(old_number),
        mask_identifier(values["credential_number"]),
    ]


def test_an_approver_reveals_a_number_counted_and_logged(client, world):
    change, values = submit_enterprise_change(world)
    client.force_login(world["users"]["provincial_approver"])
    html = client.get(_url(change)).content.decode()
    assert 'value="new_credential_number"' in html and 'value="old_credential_number"' in html

    response = client.post(_url(change), {"action": "reveal", "field": "new_credential_number"})

    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert values["credential_number"] in response.content.decode()
    log = PiiAccessLog.objects.get()
    assert (log.actor, log.object_id, log.field) == (
        world["users"]["provincial_approver"],
        str(change.pk),
        "new_credential_number",
    )
    old = client.post(_url(change), {"action": "reveal", "field": "old_credential_number"})
    assert world["enterprise"].credential_number in old.content.decode()


def test_the_reveal_spends_the_shared_budget(client, world, monkeypatch):
    monkeypatch.setattr(PiiRevealThrottle, "THROTTLE_RATES", {"pii_reveal": "1/hour"})
    change, values = submit_enterprise_change(world)
    client.force_login(world["users"]["provincial_approver"])
    assert client.post(_url(change), {"action": "reveal", "field": "new_credential_number"}).status_code == 200

    response = client.post(_url(change), {"action": "reveal", "field": "old_credential_number"})

    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert world["enterprise"].credential_number not in response.content.decode()
    assert PiiAccessLog.objects.count() == 1


def test_who_may_not_see_full_numbers_gets_no_reveal(client, world):
    change, values = submit_enterprise_change(world)
    client.force_login(world["users"]["enterprise_admin"])
    assert 'name="field"' not in client.get(_url(change)).content.decode()
    response = client.post(_url(change), {"action": "reveal", "field": "new_credential_number"})
    assert response.status_code in (403, 404)
    assert values["credential_number"] not in response.content.decode()
    assert not PiiAccessLog.objects.exists()


@pytest.mark.parametrize("field", ["name", "", "new_name", "old_id_number"])
def test_an_unknown_reveal_field_is_refused(client, world, field):
    change, _values = submit_enterprise_change(world)
    client.force_login(world["users"]["provincial_approver"])
    response = client.post(_url(change), {"action": "reveal", "field": field})
    assert response.status_code == 400
    assert not PiiAccessLog.objects.exists()


def test_the_desk_shows_the_comparison_and_links_to_the_reveal(client, world):
    change, values = submit_enterprise_change(world)
    client.force_login(world["users"]["provincial_approver"])
    html = client.get(
        reverse("approvals_admin:enterprises_changerequest_change", args=[change.pk]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "Unit name" in html and "business_licence" not in html
    assert values["credential_number"] not in html and mask_identifier(values["credential_number"]) in html
    assert _url(change) in html


def test_codes_are_shown_as_their_labels():
    from django.utils import translation

    from approvals.views import _display_value

    with translation.override("en"):
        assert _display_value("credential_type", "business_licence") == "Business licence (unified social credit code)"
        assert _display_value("id_type", "resident_id") == "Resident ID card"
        assert _display_value("is_legal_representative", True) == "Yes"
        assert _display_value("credential_address", "") == "—"
