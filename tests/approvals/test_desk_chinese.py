"""The approval desk and the ops admin speak Chinese, with no Django boilerplate (issue 11 §4).

Approvers saw "选择 豁免申请 来修改", "修改" links where they decide, English column heads (SUBMITTED AT,
Public id), "CardBinding object (3)" and their login name in the header.
"""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.urls import NoReverseMatch, reverse

from enterprises.services import change_request_submit
from tests import factories, idgen
from tests.approvals import card_for, file_for_combo, put_in_review
from tests.images import jpeg_upload

pytestmark = [pytest.mark.django_db, pytest.mark.zh]

DESK = "approvals_admin"
BOILERPLATE = ("选择", "来修改", "来查看", "Select ", " object (", "Model name", "Add link", "By ")
# Latin words that may stand in a Chinese column head: the card's own identifiers and the rule ids.
LATIN_ALLOWED = {"ICCID", "MSISDN", "IP", "HTTP", "SHA", "Webhook", "ID", "PDF", "API"}


def visible_text(response) -> str:
    html = response.content.decode()
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def column_heads(response) -> list[str]:
    html = response.content.decode()
    heads = re.findall(r'<th scope="col"[^>]*>(.*?)</th>', html, flags=re.S)
    texts = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", head)).strip() for head in heads]
    return [text for text in texts if text]


def english_words(text: str) -> list[str]:
    return [word for word in re.findall(r"[A-Za-z][A-Za-z_]+", text) if word not in LATIN_ALLOWED]


def assert_no_boilerplate(text: str, where: str) -> None:
    for phrase in BOILERPLATE:
        assert phrase not in text, (where, phrase)
    # 修改 is what Django calls every edit; on these pages the only edit is one's own password.
    assert "修改" not in text.replace("修改密码", ""), where


@pytest.fixture
def desk_objects(world, no_engine):
    for role, name in (("provincial_approver", "李审批"), ("account_manager", "王经理"), ("ops", "赵运维")):
        world["users"][role].full_name = name
        world["users"][role].save(update_fields=["full_name"])
    exemption, _ = file_for_combo(world, "U1")
    change = change_request_submit(
        actor=world["users"]["account_manager"],
        enterprise=world["enterprise"],
        target="enterprise",
        values={
            "name": "新名称",
            "credential_type": "business_licence",
            "credential_number": idgen.uscc(),
            "credential_address": "北京市",
        },
        files=[jpeg_upload()],
        reason="更名",
    )
    verification = put_in_review(
        factories.card_user_registration(
            actor=world["users"]["account_manager"],
            enterprise=world["enterprise"],
            cards=[card_for(world["enterprise"], "U1")],
        )
    )
    return {
        "approvals_exemptionrequest": exemption,
        "enterprises_changerequest": change,
        "verification_verification": verification,
    }


def test_the_desk_shows_no_django_boilerplate(client, world, desk_objects):
    approver = world["users"]["provincial_approver"]
    client.force_login(approver)
    for url in (reverse(f"{DESK}:index"), reverse(f"{DESK}:app_list", args=["approvals"])):
        page = client.get(url)
        assert page.status_code == 200
        text = visible_text(page)
        assert_no_boilerplate(text, url)
        assert "李审批" in text and approver.username not in text  # the person, not the account
    for name, obj in desk_objects.items():
        listing = client.get(reverse(f"{DESK}:{name}_changelist"))
        assert listing.status_code == 200
        text = visible_text(listing)
        assert_no_boilerplate(text, name)
        heads = column_heads(listing)
        assert len(heads) >= 5, heads
        assert not [head for head in heads if english_words(head)], heads
        assert re.search(r"<h1>[^<]*[\u4e00-\u9fff]", listing.content.decode())

        decision = client.get(reverse(f"{DESK}:{name}_change", args=[obj.pk]))
        assert decision.status_code == 200
        text = visible_text(decision)
        assert_no_boilerplate(text, f"{name} decision page")
        assert re.search(r"<h1>审批 ", decision.content.decode())  # it is decided, not changed
        assert "批准" in text and "驳回" in text


def test_the_desk_takes_the_portal_look(client, world, desk_objects):
    client.force_login(world["users"]["provincial_approver"])
    html = client.get(reverse(f"{DESK}:index")).content.decode()
    assert "css/admin_portal.css" in html
    assert "物联卡实名制门户" in html
    assert "color_theme_toggle" not in html and "theme-toggle" not in html  # the portal has one light theme


def _ops_changelists():
    for model in admin.site._registry:
        if model._meta.app_label not in ("accounts", "enterprises", "cards", "verification", "approvals"):
            continue
        try:
            yield reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        except NoReverseMatch:
            continue


def test_the_ops_admin_shows_no_english_heads_or_object_numbers(client, world, desk_objects):
    ops = world["users"]["ops"]
    client.force_login(ops)
    index = visible_text(client.get(reverse("admin:index")))
    assert "赵运维" in index and "Model name" not in index
    checked = 0
    for url in _ops_changelists():
        page = client.get(url)
        if page.status_code != 200:
            continue
        checked += 1
        text = visible_text(page)
        for phrase in ("选择", "来修改", "来查看", " object ("):
            assert phrase not in text, (url, phrase)
        assert not [head for head in column_heads(page) if english_words(head)], (url, column_heads(page))
        first = model_admin_first_change(page)
        if first:
            detail = visible_text(client.get(first))
            assert " object (" not in detail, first
    assert checked >= 10


def model_admin_first_change(page) -> str | None:
    match = re.search(r'<th class="field-[^"]*"><a href="([^"]+/change/)"', page.content.decode())
    return match.group(1) if match else None


def test_the_pii_access_log_filter_lists_only_types_that_appear(client, world):
    from django.contrib.contenttypes.models import ContentType

    from accounts.models import PiiAccessLog
    from cards.models import CardUser, Handler

    ops = world["users"]["ops"]
    for model in (CardUser, Handler):
        PiiAccessLog.objects.create(
            actor=ops, content_type=ContentType.objects.get_for_model(model), object_id="1", field="id_number"
        )
    client.force_login(ops)
    page = client.get(reverse("admin:accounts_piiaccesslog_changelist"))
    assert page.status_code == 200
    html = page.content.decode()
    filter_html = html[html.index('id="changelist-filter"') :]
    for model in (CardUser, Handler):
        assert f"content_type__id__exact={ContentType.objects.get_for_model(model).pk}" in filter_html
    assert filter_html.count("content_type__id__exact=") == 2  # not every model of the project
    # The field by its label (证件号码), not the logged code.
    assert "?field=id_number" in filter_html and "证件号码" in filter_html
    assert ">id_number<" not in html
