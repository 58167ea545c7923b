"""The enterprise picker (issue 12 §1.2): suggestions scoped and capped, a page that does not grow with the
enterprises in scope, and a form that works without script (the server resolves what was typed)."""

from __future__ import annotations

import re
import uuid

import pytest
from django import forms
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.permissions import Capability
from enterprises.autocomplete import SUGGESTION_LIMIT, EnterpriseField
from enterprises.models import Enterprise
from enterprises.selectors import enterprises_to_pick
from tests import factories

pytestmark = pytest.mark.django_db

SUGGEST = "enterprises:suggest"


def many_enterprises(like: Enterprise, count: int, *, prefix: str = "批量物联") -> list[Enterprise]:
    """`count` more enterprises in `like`'s province, written in one INSERT (the service would take minutes)."""
    rows = [
        Enterprise(
            name=f"{prefix}{i:04d}有限公司",
            unit_kind_id=like.unit_kind_id,
            credential_type=like.credential_type,
            credential_address=like.credential_address,
            province_id=like.province_id,
            account_manager_id=like.account_manager_id,
            created_by_id=like.created_by_id,
        )
        for i in range(count)
    ]
    return Enterprise.objects.bulk_create(rows)


@pytest.fixture
def am(client, world):
    client.force_login(world["users"]["account_manager"])
    return client


def suggested(client, **params) -> list[dict]:
    response = client.get(reverse(SUGGEST), params)
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("no-store") or "no-store" in response["Cache-Control"]
    return response.json()["results"]


# --- the suggestion endpoint ----------------------------------------------------------------


def test_suggestions_are_the_users_scope_only(am, world):
    names = {item["name"] for item in suggested(am, q="物联")}
    assert world["enterprise"].name in names and world["enterprise_same_province"].name in names
    assert world["enterprise_other"].name not in names  # another province's


def test_suggestions_are_capped_and_put_the_name_prefix_first(am, world):
    many_enterprises(world["enterprise"], SUGGESTION_LIMIT + 5, prefix="中联物联")
    results = suggested(am, q="物联")
    assert len(results) == SUGGESTION_LIMIT
    # "北京物联…" and "北京第二物联…" hold the text; "中联物联…" hold it too: all contain, none start with it.
    prefixed = suggested(am, q="中联")
    assert len(prefixed) == SUGGESTION_LIMIT and all(item["name"].startswith("中联") for item in prefixed)
    mixed = suggested(am, q="北京")
    both = sorted([world["enterprise"].name, world["enterprise_same_province"].name])
    assert [item["name"] for item in mixed][:2] == both


def test_a_capability_narrows_the_suggestions_to_where_the_user_holds_it(client, world):
    client.force_login(world["users"]["enterprise_admin"])
    assert [item["id"] for item in suggested(client, q="")] == [str(world["enterprise"].public_id)]
    client.force_login(world["users"]["provincial_approver"])
    assert suggested(client, q="物联", capability=Capability.VIEW.value)
    assert suggested(client, q="物联", capability=Capability.CARDS_IMPORT.value) == []


def test_an_unknown_capability_is_400_and_anonymous_is_sent_to_log_in(client, am):
    assert am.get(reverse(SUGGEST), {"capability": "nope"}).status_code == 400
    client.logout()
    response = client.get(reverse(SUGGEST), {"q": "物联"})
    assert response.status_code == 302 and "login" in response["Location"]


def test_a_long_or_odd_query_is_no_500(am):
    assert suggested(am, q="%_\\" * 300) == []


# --- the card list does not grow with the enterprises in scope --------------------------------


def _card_list(client) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("cards:list"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    # The CSRF token differs from one request to the next, not its length; nothing else in the page is random.
    return len(response.content), len(queries)


def test_the_card_list_is_the_same_size_and_query_count_with_5_or_500_enterprises(am, world):
    ent = world["enterprise"]
    for _ in range(3):
        factories.card(enterprise=ent)
    many_enterprises(ent, 5 - 2)  # the province holds 2 already
    _card_list(am)  # warm the session and the caches the first request fills
    small = _card_list(am)
    many_enterprises(ent, 495, prefix="更多物联")
    assert enterprises_to_pick(world["users"]["account_manager"]).count() == 500
    large = _card_list(am)
    assert small == large


# --- without script: the server resolves what was typed ---------------------------------------


def _listed(response) -> list[str]:
    return re.findall(r'href="/cards/(\d{19,20})/"', response.content.decode())


def test_a_typed_whole_or_unique_name_filters_the_card_list(am, world):
    mine = factories.card(enterprise=world["enterprise"])
    theirs = factories.card(enterprise=world["enterprise_same_province"])
    for text in (world["enterprise"].name, "北京物联科技"):
        response = am.get(reverse("cards:list"), {"enterprise_q": text})
        assert response.status_code == 200
        assert mine.iccid in _listed(response) and theirs.iccid not in _listed(response), text
        # The page shows the enterprise chosen, its id ready for the next filter.
        assert f'value="{world["enterprise"].public_id}"' in response.content.decode()


def test_an_ambiguous_name_offers_at_most_20_matches_and_picking_one_filters(am, world):
    extra = many_enterprises(world["enterprise"], 30, prefix="同名物联")
    card = factories.card(enterprise=extra[3])
    response = am.get(reverse("cards:list"), {"enterprise_q": "同名物联"}, HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert response.status_code == 200 and "Several enterprises match" in page
    offered = re.findall(r'<option value="([0-9a-f-]{36})"', page)
    assert len(offered) == SUGGESTION_LIMIT and str(extra[3].public_id) in offered
    assert _listed(response) == []  # nothing is listed while the choice is open
    picked = am.get(reverse("cards:list"), {"enterprise_q": "同名物联", "enterprise": str(extra[3].public_id)})
    assert _listed(picked) == [card.iccid]


def test_a_name_outside_the_scope_is_no_match_and_an_empty_box_is_every_enterprise(am, world):
    mine = factories.card(enterprise=world["enterprise"])
    outside = {"enterprise_q": world["enterprise_other"].name}
    response = am.get(reverse("cards:list"), outside, HTTP_ACCEPT_LANGUAGE="en")
    assert "No enterprise you may choose matches" in response.content.decode() and _listed(response) == []
    # The text box cleared: the stale id it carried no longer filters.
    other = factories.card(enterprise=world["enterprise_same_province"])
    cleared = am.get(reverse("cards:list"), {"enterprise_q": "", "enterprise": str(world["enterprise"].public_id)})
    assert {mine.iccid, other.iccid} <= set(_listed(cleared))


class _PostedForm(forms.Form):
    enterprise = EnterpriseField(by_credential=True)


class _FilterForm(forms.Form):
    enterprise = EnterpriseField(required=False)


def _form(cls, user, data):
    form = cls(data)
    form.fields["enterprise"].queryset = enterprises_to_pick(user)
    return form


def test_a_posted_form_takes_a_credential_number_a_filter_does_not_and_neither_echoes_it(world):
    user = world["users"]["account_manager"]
    number = world["enterprise"].credential_number
    posted = _form(_PostedForm, user, {"enterprise_q": number})
    assert posted.is_valid() and posted.cleaned_data["enterprise"] == world["enterprise"]
    filtered = _form(_FilterForm, user, {"enterprise_q": number})
    assert not filtered.is_valid()
    # Another enterprise's number: no match, and the number is not written back into the page.
    other = _form(_PostedForm, user, {"enterprise_q": world["enterprise_other"].credential_number})
    assert not other.is_valid()
    assert world["enterprise_other"].credential_number not in str(other["enterprise"])


def test_an_id_carried_alone_is_taken_and_a_foreign_or_malformed_one_refused(world):
    user = world["users"]["account_manager"]
    carried = _form(_PostedForm, user, {"enterprise": str(world["enterprise"].public_id)})
    assert carried.is_valid() and carried.cleaned_data["enterprise"] == world["enterprise"]
    for bad in (str(world["enterprise_other"].public_id), "not-a-uuid", str(uuid.uuid4())):
        form = _form(_PostedForm, user, {"enterprise": bad})
        assert not form.is_valid() and form.errors["enterprise"], bad


def test_the_widget_is_an_accessible_combobox(am):
    page = am.get(reverse("cards:list")).content.decode()
    box = re.search(r'<input type="text" name="enterprise_q"[^>]*>', page)
    assert box is not None
    for attr in ('role="combobox"', 'aria-autocomplete="list"', 'aria-expanded="false"', "aria-controls="):
        assert attr in box.group(0)
    assert 'role="listbox"' in page and "enterprise_autocomplete.js" in page
    assert "<script>" not in page  # CSP: no inline script


def test_the_order_list_filters_by_a_picked_or_typed_enterprise(am, world):
    ent, other = world["enterprise"], world["enterprise_same_province"]
    mine = factories.suspend([factories.active_card(enterprise=ent)])
    theirs = factories.suspend([factories.active_card(enterprise=other)])

    def numbers(**params) -> set[str]:
        response = am.get(reverse("orders:list"), params)
        assert response.status_code == 200
        page = response.content.decode()
        return {number for number in (mine.number, theirs.number) if number in page}

    assert numbers() == {mine.number, theirs.number}
    assert numbers(enterprise=str(other.public_id), enterprise_q=other.name) == {theirs.number}
    assert numbers(enterprise_q="北京物联科技") == {mine.number}
    assert numbers(enterprise_q=world["enterprise_other"].name) == set()  # another province's: no match
