"""Table-driven tests for cards.rules (pure Python, no Django needed).

Run: .venv/bin/python -m pytest -p no:django tests/cards/test_rules.py -q

The TABLE below was written out literally from the rule text; it is not
derived from cards.rules. Columns:
    segment data voice sms test_package -> required exemption rules
"""

import itertools

import pytest

from cards.rules import (
    CardFacts,
    Decision,
    Exemption,
    MsisdnError,
    RuleReason,
    ServiceLevel,
    evaluate,
    facts_for,
    is_149_segment,
    normalize_msisdn,
    validate_msisdn,
)

TABLE = """
149   none         none         none         no  -> required=no exemption=- rules=U0
149   none         none         none         yes -> required=no exemption=- rules=U4
149   none         none         directed     no  -> required=yes exemption=group rules=U3
149   none         none         directed     yes -> required=no exemption=- rules=U4
149   none         none         non_directed no  -> required=yes exemption=none_possible rules=U2
149   none         none         non_directed yes -> required=no exemption=- rules=U4
149   none         directed     none         no  -> required=yes exemption=group rules=U3
149   none         directed     none         yes -> required=no exemption=- rules=U4
149   none         directed     directed     no  -> required=yes exemption=group rules=U3
149   none         directed     directed     yes -> required=no exemption=- rules=U4
149   none         directed     non_directed no  -> required=yes exemption=none_possible rules=U2,U3
149   none         directed     non_directed yes -> required=no exemption=- rules=U4
149   none         non_directed none         no  -> required=yes exemption=none_possible rules=U2
149   none         non_directed none         yes -> required=no exemption=- rules=U4
149   none         non_directed directed     no  -> required=yes exemption=none_possible rules=U2,U3
149   none         non_directed directed     yes -> required=no exemption=- rules=U4
149   none         non_directed non_directed no  -> required=yes exemption=none_possible rules=U2
149   none         non_directed non_directed yes -> required=no exemption=- rules=U4
149   directed     none         none         no  -> required=no exemption=- rules=U0
149   directed     none         none         yes -> required=no exemption=- rules=U4
149   directed     none         directed     no  -> required=yes exemption=group rules=U3
149   directed     none         directed     yes -> required=no exemption=- rules=U4
149   directed     none         non_directed no  -> required=yes exemption=none_possible rules=U2
149   directed     none         non_directed yes -> required=no exemption=- rules=U4
149   directed     directed     none         no  -> required=yes exemption=group rules=U3
149   directed     directed     none         yes -> required=no exemption=- rules=U4
149   directed     directed     directed     no  -> required=yes exemption=group rules=U3
149   directed     directed     directed     yes -> required=no exemption=- rules=U4
149   directed     directed     non_directed no  -> required=yes exemption=none_possible rules=U2,U3
149   directed     directed     non_directed yes -> required=no exemption=- rules=U4
149   directed     non_directed none         no  -> required=yes exemption=none_possible rules=U2
149   directed     non_directed none         yes -> required=no exemption=- rules=U4
149   directed     non_directed directed     no  -> required=yes exemption=none_possible rules=U2,U3
149   directed     non_directed directed     yes -> required=no exemption=- rules=U4
149   directed     non_directed non_directed no  -> required=yes exemption=none_possible rules=U2
149   directed     non_directed non_directed yes -> required=no exemption=- rules=U4
149   non_directed none         none         no  -> required=yes exemption=province rules=U1
149   non_directed none         none         yes -> required=no exemption=- rules=U4
149   non_directed none         directed     no  -> required=yes exemption=province_and_group rules=U1,U3
149   non_directed none         directed     yes -> required=no exemption=- rules=U4
149   non_directed none         non_directed no  -> required=yes exemption=none_possible rules=U1,U2
149   non_directed none         non_directed yes -> required=no exemption=- rules=U4
149   non_directed directed     none         no  -> required=yes exemption=province_and_group rules=U1,U3
149   non_directed directed     none         yes -> required=no exemption=- rules=U4
149   non_directed directed     directed     no  -> required=yes exemption=province_and_group rules=U1,U3
149   non_directed directed     directed     yes -> required=no exemption=- rules=U4
149   non_directed directed     non_directed no  -> required=yes exemption=none_possible rules=U1,U2,U3
149   non_directed directed     non_directed yes -> required=no exemption=- rules=U4
149   non_directed non_directed none         no  -> required=yes exemption=none_possible rules=U1,U2
149   non_directed non_directed none         yes -> required=no exemption=- rules=U4
149   non_directed non_directed directed     no  -> required=yes exemption=none_possible rules=U1,U2,U3
149   non_directed non_directed directed     yes -> required=no exemption=- rules=U4
149   non_directed non_directed non_directed no  -> required=yes exemption=none_possible rules=U1,U2
149   non_directed non_directed non_directed yes -> required=no exemption=- rules=U4
other none         none         none         no  -> required=no exemption=- rules=U0
other none         none         none         yes -> required=no exemption=- rules=U4
other none         none         directed     no  -> required=no exemption=- rules=U0
other none         none         directed     yes -> required=no exemption=- rules=U4
other none         none         non_directed no  -> required=no exemption=- rules=U0
other none         none         non_directed yes -> required=no exemption=- rules=U4
other none         directed     none         no  -> required=no exemption=- rules=U0
other none         directed     none         yes -> required=no exemption=- rules=U4
other none         directed     directed     no  -> required=no exemption=- rules=U0
other none         directed     directed     yes -> required=no exemption=- rules=U4
other none         directed     non_directed no  -> required=no exemption=- rules=U0
other none         directed     non_directed yes -> required=no exemption=- rules=U4
other none         non_directed none         no  -> required=no exemption=- rules=U0
other none         non_directed none         yes -> required=no exemption=- rules=U4
other none         non_directed directed     no  -> required=no exemption=- rules=U0
other none         non_directed directed     yes -> required=no exemption=- rules=U4
other none         non_directed non_directed no  -> required=no exemption=- rules=U0
other none         non_directed non_directed yes -> required=no exemption=- rules=U4
other directed     none         none         no  -> required=no exemption=- rules=U0
other directed     none         none         yes -> required=no exemption=- rules=U4
other directed     none         directed     no  -> required=no exemption=- rules=U0
other directed     none         directed     yes -> required=no exemption=- rules=U4
other directed     none         non_directed no  -> required=no exemption=- rules=U0
other directed     none         non_directed yes -> required=no exemption=- rules=U4
other directed     directed     none         no  -> required=no exemption=- rules=U0
other directed     directed     none         yes -> required=no exemption=- rules=U4
other directed     directed     directed     no  -> required=no exemption=- rules=U0
other directed     directed     directed     yes -> required=no exemption=- rules=U4
other directed     directed     non_directed no  -> required=no exemption=- rules=U0
other directed     directed     non_directed yes -> required=no exemption=- rules=U4
other directed     non_directed none         no  -> required=no exemption=- rules=U0
other directed     non_directed none         yes -> required=no exemption=- rules=U4
other directed     non_directed directed     no  -> required=no exemption=- rules=U0
other directed     non_directed directed     yes -> required=no exemption=- rules=U4
other directed     non_directed non_directed no  -> required=no exemption=- rules=U0
other directed     non_directed non_directed yes -> required=no exemption=- rules=U4
other non_directed none         none         no  -> required=yes exemption=province rules=U1
other non_directed none         none         yes -> required=no exemption=- rules=U4
other non_directed none         directed     no  -> required=yes exemption=province rules=U1
other non_directed none         directed     yes -> required=no exemption=- rules=U4
other non_directed none         non_directed no  -> required=yes exemption=province rules=U1
other non_directed none         non_directed yes -> required=no exemption=- rules=U4
other non_directed directed     none         no  -> required=yes exemption=province rules=U1
other non_directed directed     none         yes -> required=no exemption=- rules=U4
other non_directed directed     directed     no  -> required=yes exemption=province rules=U1
other non_directed directed     directed     yes -> required=no exemption=- rules=U4
other non_directed directed     non_directed no  -> required=yes exemption=province rules=U1
other non_directed directed     non_directed yes -> required=no exemption=- rules=U4
other non_directed non_directed none         no  -> required=yes exemption=province rules=U1
other non_directed non_directed none         yes -> required=no exemption=- rules=U4
other non_directed non_directed directed     no  -> required=yes exemption=province rules=U1
other non_directed non_directed directed     yes -> required=no exemption=- rules=U4
other non_directed non_directed non_directed no  -> required=yes exemption=province rules=U1
other non_directed non_directed non_directed yes -> required=no exemption=- rules=U4
"""

LEVELS = ("none", "directed", "non_directed")
SHORT = {"none": "none", "directed": "dir", "non_directed": "nd"}
ALL_RULES = {"U0", "U1", "U2", "U3", "U4"}


def _parse_table(text):
    rows = []
    for line in text.strip().splitlines():
        left, right = line.split("->")
        seg, data, voice, sms, test = left.split()
        out = dict(part.split("=", 1) for part in right.split())
        rows.append(
            {
                "key": (seg, data, voice, sms, test),
                "required": {"yes": True, "no": False}[out["required"]],
                "exemption": None if out["exemption"] == "-" else out["exemption"],
                "rules": frozenset(out["rules"].split(",")),
            }
        )
    return rows


ROWS = _parse_table(TABLE)


def _row_id(row):
    seg, data, voice, sms, test = row["key"]
    return "-".join([seg, SHORT[data], SHORT[voice], SHORT[sms], test])


def _facts(seg, data, voice, sms, test):
    return CardFacts(
        segment_149=seg == "149",
        data=ServiceLevel(data),
        voice=ServiceLevel(voice),
        sms=ServiceLevel(sms),
        test_package=test == "yes",
    )


def F(data="none", voice="none", sms="none", *, seg149=True, test=False):
    return CardFacts(
        segment_149=seg149,
        data=ServiceLevel(data),
        voice=ServiceLevel(voice),
        sms=ServiceLevel(sms),
        test_package=test,
    )


# --- 1. the 108-row table ---------------------------------------------------


def test_table_has_exactly_108_distinct_rows_covering_every_combination():
    keys = [row["key"] for row in ROWS]
    assert len(keys) == 108
    assert len(set(keys)) == 108
    expected = set(itertools.product(("149", "other"), LEVELS, LEVELS, LEVELS, ("no", "yes")))
    assert set(keys) == expected
    assert len({_row_id(row) for row in ROWS}) == 108


@pytest.mark.parametrize("row", ROWS, ids=[_row_id(r) for r in ROWS])
def test_table_row(row):
    decision = evaluate(_facts(*row["key"]))
    assert decision.user_realname_required is row["required"]
    if row["exemption"] is None:
        assert decision.exemption is None
    else:
        assert decision.exemption == Exemption(row["exemption"])
    assert set(decision.rules) == row["rules"]
    assert decision.rules == tuple(sorted(decision.rules))
    assert [r.rule for r in decision.reasons] == list(decision.rules)


# --- 2. named rule tests ----------------------------------------------------


def test_U0_no_services_needs_enterprise_records_only():
    d = evaluate(F(seg149=False))
    assert d.user_realname_required is False
    assert d.exemption is None
    assert d.rules == ("U0",)
    assert not d.exemptable
    assert d.approvers == frozenset()
    assert "企业" in d.reasons[0].zh and "责任人" in d.reasons[0].zh and "经办人" in d.reasons[0].zh
    assert "enterprise" in d.reasons[0].en.lower()


def test_U0_directed_data_only_is_not_required():
    d = evaluate(F(data="directed"))
    assert d.rules == ("U0",)
    assert d.user_realname_required is False


def test_U0_non_149_voice_and_sms_do_not_trigger_U2_or_U3():
    d = evaluate(F(voice="non_directed", sms="directed", seg149=False))
    assert d.rules == ("U0",)
    assert d.user_realname_required is False


def test_U1_non_directed_data_needs_province_approval():
    for seg149 in (True, False):
        d = evaluate(F(data="non_directed", seg149=seg149))
        assert d.rules == ("U1",)
        assert d.user_realname_required is True
        assert d.exemption is Exemption.PROVINCE
        assert d.exemptable
        assert d.approvers == frozenset({"province"})
        assert "一证五卡" in d.reasons[0].zh and "省" in d.reasons[0].zh


def test_U2_non_directed_voice_on_149_has_no_exemption():
    d = evaluate(F(voice="non_directed"))
    assert d.rules == ("U2",)
    assert d.user_realname_required is True
    assert d.exemption is Exemption.NONE_POSSIBLE
    assert not d.exemptable
    assert d.approvers == frozenset()
    assert "不得审批" in d.reasons[0].zh
    assert "no exemption" in d.reasons[0].en.lower()


def test_U2_non_directed_sms_on_149_has_no_exemption():
    d = evaluate(F(sms="non_directed"))
    assert d.rules == ("U2",)
    assert d.exemption is Exemption.NONE_POSSIBLE


def test_U2_no_exemption_even_with_U1():
    d = evaluate(F(data="non_directed", voice="non_directed"))
    assert d.rules == ("U1", "U2")
    assert d.user_realname_required is True
    assert d.exemption is Exemption.NONE_POSSIBLE
    assert not d.exemptable
    assert d.approvers == frozenset()


def test_U2_no_exemption_even_with_U1_and_U3():
    d = evaluate(F(data="non_directed", voice="directed", sms="non_directed"))
    assert d.rules == ("U1", "U2", "U3")
    assert d.exemption is Exemption.NONE_POSSIBLE
    assert not d.exemptable


def test_U3_directed_voice_or_sms_on_149_needs_group_approval():
    for voice, sms in (("directed", "none"), ("none", "directed"), ("directed", "directed")):
        d = evaluate(F(voice=voice, sms=sms))
        assert d.rules == ("U3",)
        assert d.user_realname_required is True
        assert d.exemption is Exemption.GROUP
        assert d.exemptable
        assert d.approvers == frozenset({"group"})
        assert "集团审批单" in d.reasons[0].zh
        assert "group" in d.reasons[0].en.lower()


def test_U1_and_U3_need_both_approvals():
    d = evaluate(F(data="non_directed", sms="directed"))
    assert d.rules == ("U1", "U3")
    assert d.user_realname_required is True
    assert d.exemption is Exemption.PROVINCE_AND_GROUP
    assert d.exemptable
    assert d.approvers == frozenset({"province", "group"})


def test_U4_test_package_overrides_everything():
    for seg149 in (True, False):
        d = evaluate(F("non_directed", "non_directed", "directed", seg149=seg149, test=True))
        assert d.rules == ("U4",)
        assert d.user_realname_required is False
        assert d.exemption is None
        assert not d.exemptable
        assert d.approvers == frozenset()
        assert "测试卡" in d.reasons[0].zh


def test_precedence_U4_beats_U2():
    assert evaluate(F(voice="non_directed", test=True)).rules == ("U4",)


def test_precedence_U4_fires_instead_of_U0():
    d = evaluate(F(seg149=False, test=True))
    assert d.rules == ("U4",)
    assert "U0" not in d.rules


def test_precedence_U0_only_when_nothing_else_fires():
    for row in ROWS:
        d = evaluate(_facts(*row["key"]))
        if "U0" in d.rules:
            assert d.rules == ("U0",)
        if "U4" in d.rules:
            assert d.rules == ("U4",)


def test_precedence_U2_dominates_U3():
    d = evaluate(F(voice="directed", sms="non_directed"))
    assert d.rules == ("U2", "U3")
    assert d.exemption is Exemption.NONE_POSSIBLE


def test_required_iff_exemption_not_none():
    for row in ROWS:
        d = evaluate(_facts(*row["key"]))
        assert (d.exemption is not None) == d.user_realname_required


@pytest.mark.parametrize(
    "facts",
    [
        F(seg149=False),
        F(data="non_directed"),
        F(voice="non_directed"),
        F(sms="directed"),
        F(test=True),
        F("non_directed", "directed", "non_directed"),
    ],
    ids=["U0", "U1", "U2", "U3", "U4", "U1U2U3"],
)
def test_reasons_present_in_both_languages_for_each_fired_rule(facts):
    d = evaluate(facts)
    assert len(d.reasons) == len(d.rules) >= 1
    for rule, reason in zip(d.rules, d.reasons, strict=True):
        assert isinstance(reason, RuleReason)
        assert reason.rule == rule
        assert isinstance(reason.zh, str) and reason.zh.strip()
        assert isinstance(reason.en, str) and reason.en.strip()
        assert any("\u4e00" <= ch <= "\u9fff" for ch in reason.zh)
        assert reason.en.isascii()
    zh = d.as_dict("zh-hans")["reasons"]
    en = d.as_dict("en")["reasons"]
    assert zh == [r.zh for r in d.reasons]
    assert en == [r.en for r in d.reasons]


def test_reason_texts_differ_per_rule():
    from cards.rules import REASONS

    assert set(REASONS) == ALL_RULES
    assert len({r.zh for r in REASONS.values()}) == 5
    assert len({r.en for r in REASONS.values()}) == 5


def test_as_dict_shape_exactly():
    d = evaluate(F(data="non_directed", sms="directed"))
    out = d.as_dict()
    assert set(out) == {"user_realname_required", "exemption", "rules", "reasons"}
    assert out["user_realname_required"] is True
    assert out["exemption"] == "province_and_group"
    assert type(out["exemption"]) is str
    assert out["rules"] == ["U1", "U3"]
    assert isinstance(out["rules"], list)
    assert isinstance(out["reasons"], list) and len(out["reasons"]) == 2
    assert all(type(r) is str for r in out["reasons"])


def test_as_dict_not_required_has_null_exemption():
    out = evaluate(F(test=True)).as_dict("en")
    assert out == {
        "user_realname_required": False,
        "exemption": None,
        "rules": ["U4"],
        "reasons": [evaluate(F(test=True)).reasons[0].en],
    }


@pytest.mark.parametrize(
    "facts,value",
    [
        (F(voice="non_directed"), "none_possible"),
        (F(data="non_directed"), "province"),
        (F(sms="directed"), "group"),
        (F(data="non_directed", voice="directed"), "province_and_group"),
        (F(seg149=False), None),
    ],
)
def test_as_dict_exemption_values(facts, value):
    assert evaluate(facts).as_dict()["exemption"] == value


@pytest.mark.parametrize(
    "language,use_zh",
    [("zh-hans", True), ("zh", True), ("zh-Hant", True), ("en", False), ("en-us", False), ("fr", False)],
)
def test_as_dict_language_selection(language, use_zh):
    d = evaluate(F(data="non_directed"))
    expected = d.reasons[0].zh if use_zh else d.reasons[0].en
    assert d.as_dict(language)["reasons"] == [expected]


def test_as_dict_default_language_is_chinese():
    d = evaluate(F(data="non_directed"))
    assert d.as_dict()["reasons"] == [d.reasons[0].zh]


def test_decision_and_facts_are_frozen():
    d = evaluate(F())
    assert isinstance(d, Decision)
    with pytest.raises(AttributeError):
        d.user_realname_required = True  # type: ignore[misc]
    with pytest.raises(AttributeError):
        F().test_package = True  # type: ignore[misc]


def test_evaluate_is_deterministic():
    facts = F(data="non_directed", voice="directed")
    assert evaluate(facts) == evaluate(facts)


# --- 3. MSISDN ----------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["14912345678", "+8614912345678", "8614912345678", "149 1234 5678", "+86 149 1234 5678", "149-1234-5678"],
)
def test_149_detection(raw):
    assert is_149_segment(raw) is True
    assert validate_msisdn(raw) == "14912345678"


@pytest.mark.parametrize("raw", ["13912345678", "+8618912345678", "14812345678", "19912345678"])
def test_not_149(raw):
    assert is_149_segment(raw) is False
    validate_msisdn(raw)


@pytest.mark.parametrize("raw", ["1064123456789", "1440123456789", "1410123456789", "1490123456789"])
def test_13_digit_iot_numbers_valid_and_not_149(raw):
    assert validate_msisdn(raw) == raw
    assert is_149_segment(raw) is False


def test_13_digit_iot_number_with_spaces():
    assert validate_msisdn(" 1064 1234 56789 ") == "1064123456789"


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("+86 139 1234 5678", "13912345678"),
        ("8613912345678", "13912345678"),
        ("139-1234-5678", "13912345678"),
        ("1064123456789", "1064123456789"),
        ("  14912345678  ", "14912345678"),
        ("+8612345", "+8612345"),  # prefix only stripped when 11 digits remain
    ],
)
def test_normalize_msisdn(raw, expected):
    assert normalize_msisdn(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "1391234567a",  # letters
        "abcdefghijk",
        "1391234567",  # 10 digits
        "139123456789",  # 12 digits
        "23912345678",  # starts with 2
        "2064123456789",  # 13 digits starting with 2
        "",
        "   ",
        "+86",
        "13912345678901",  # 14 digits
        "+8623912345678",
        "１３９１２３４５６７８",  # full-width digits
    ],
)
def test_malformed_msisdn_raises_invalid_msisdn(raw):
    with pytest.raises(MsisdnError) as exc:
        validate_msisdn(raw)
    assert exc.value.code == "invalid_msisdn"
    assert isinstance(exc.value, ValueError)
    assert is_149_segment(raw) is False


# --- 4. facts_for ---------------------------------------------------------------


def test_facts_for_accepts_enum_and_string_values():
    facts = facts_for(
        msisdn="+86 149 1234 5678",
        data=ServiceLevel.NON_DIRECTED,
        voice="directed",
        sms="none",
        test_package=False,
    )
    assert facts == CardFacts(
        segment_149=True,
        data=ServiceLevel.NON_DIRECTED,
        voice=ServiceLevel.DIRECTED,
        sms=ServiceLevel.NONE,
        test_package=False,
    )
    assert evaluate(facts).exemption is Exemption.PROVINCE_AND_GROUP


def test_facts_for_iot_number_is_not_149():
    facts = facts_for(msisdn="1440123456789", data="none", voice="non_directed", sms="none", test_package=False)
    assert facts.segment_149 is False
    assert evaluate(facts).rules == ("U0",)


@pytest.mark.parametrize("field", ["data", "voice", "sms"])
@pytest.mark.parametrize("bad", ["bogus", "NON_DIRECTED", "", None, 1])
def test_facts_for_bad_level_names_the_field(field, bad):
    kwargs = {"msisdn": "13912345678", "data": "none", "voice": "none", "sms": "none", "test_package": False}
    kwargs[field] = bad
    with pytest.raises(ValueError) as exc:
        facts_for(**kwargs)
    assert field in str(exc.value)
    assert not isinstance(exc.value, MsisdnError)


def test_facts_for_bad_msisdn_raises_msisdn_error():
    with pytest.raises(MsisdnError) as exc:
        facts_for(msisdn="123", data="none", voice="none", sms="none", test_package=False)
    assert exc.value.code == "invalid_msisdn"
