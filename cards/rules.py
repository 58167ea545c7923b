"""Real-name rules for China Telecom IoT SIM cards (物联卡使用人实名规则).

Pure decision logic: no I/O and no Django imports, so it can be used from
models, views, serializers, Celery tasks and tests alike.

Rules:

* U0 - by default only the enterprise records (enterprise, responsible
  person, handler) are needed; no card-user (使用人) real-name.
* U1 - non-directed data (非定向流量) requires user real-name and the
  one-ID-five-cards check (一证五卡); exemption approved by the provincial
  company.
* U2 - a 149-segment number with non-directed voice or non-directed SMS
  requires user real-name and the one-ID-five-cards check; no exemption.
* U3 - a 149-segment number with directed voice or directed SMS requires
  user real-name and the one-ID-five-cards check; exemption needs group
  (集团) approval.
* U4 - cards on an IoT test-card package never need user real-name.

Precedence: U4 overrides everything. Otherwise every applicable rule is in
force and the strictest wins: U2 means no exemption at all; U1 together with
U3 needs both approvals. If nothing fires, U0 applies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "ServiceLevel",
    "Exemption",
    "CardFacts",
    "RuleReason",
    "Decision",
    "MsisdnError",
    "REASONS",
    "evaluate",
    "is_149_segment",
    "normalize_msisdn",
    "validate_msisdn",
    "facts_for",
]


class ServiceLevel(StrEnum):
    NONE = "none"
    DIRECTED = "directed"
    NON_DIRECTED = "non_directed"


class Exemption(StrEnum):
    NONE_POSSIBLE = "none_possible"
    PROVINCE = "province"
    GROUP = "group"
    PROVINCE_AND_GROUP = "province_and_group"


@dataclass(frozen=True)
class CardFacts:
    segment_149: bool
    data: ServiceLevel
    voice: ServiceLevel
    sms: ServiceLevel
    test_package: bool


@dataclass(frozen=True)
class RuleReason:
    rule: str
    zh: str
    en: str

    def text(self, language: str = "zh-hans") -> str:
        return self.zh if _is_chinese(language) else self.en


REASONS: dict[str, RuleReason] = {
    "U0": RuleReason(
        "U0",
        zh="未开通非定向流量，且非149号段语音/短信业务：仅须登记企业信息、责任人和经办人信息，无须实名到实际使用人。",
        en=(
            "No non-directed data and no 149-segment voice/SMS: only the enterprise, "
            "responsible person and handler records are required; real-name registration "
            "of the actual card user is not required."
        ),
    ),
    "U1": RuleReason(
        "U1",
        zh=(
            "开通非定向流量，须实名到实际使用人并校验一证五卡；确无法实名到使用人的，"
            "须经省公司分管副总经理或省公司发文授权领导审批，以省内审批单为附件受理。"
        ),
        en=(
            "Non-directed data requires real-name registration of the actual card user and "
            "the one-ID-five-cards check; an exemption needs approval by the provincial "
            "company, with the provincial approval form attached."
        ),
    ),
    "U2": RuleReason(
        "U2",
        zh="149号段开通非定向语音或非定向短信，须实名到实际使用人并校验一证五卡，不得审批豁免。",
        en=(
            "A 149-segment number with non-directed voice or non-directed SMS requires "
            "real-name registration of the actual card user and the one-ID-five-cards check; "
            "no exemption is possible (it cannot be approved)."
        ),
    ),
    "U3": RuleReason(
        "U3",
        zh=(
            "149号段开通定向语音或定向短信，须实名到实际使用人并校验一证五卡；确无法实名到使用人的，"
            "须经集团审批，以集团审批单为附件受理。"
        ),
        en=(
            "A 149-segment number with directed voice or directed SMS requires real-name "
            "registration of the actual card user and the one-ID-five-cards check; an "
            "exemption needs group approval, with the group approval form attached."
        ),
    ),
    "U4": RuleReason(
        "U4",
        zh="物联网测试卡套餐，无须实名到实际使用人。",
        en="Cards on an IoT test-card package do not need real-name registration of the card user.",
    ),
}

_APPROVERS: dict[Exemption, frozenset[str]] = {
    Exemption.NONE_POSSIBLE: frozenset(),
    Exemption.PROVINCE: frozenset({"province"}),
    Exemption.GROUP: frozenset({"group"}),
    Exemption.PROVINCE_AND_GROUP: frozenset({"province", "group"}),
}


def _is_chinese(language: str | None) -> bool:
    return (language or "").lower().startswith("zh")


@dataclass(frozen=True)
class Decision:
    user_realname_required: bool
    exemption: Exemption | None  # None when not required
    rules: tuple[str, ...]  # rules that fired, sorted
    reasons: tuple[RuleReason, ...]

    @property
    def exemptable(self) -> bool:
        """Required, and an exemption can be approved by someone."""
        return (
            self.user_realname_required and self.exemption is not None and self.exemption is not Exemption.NONE_POSSIBLE
        )

    @property
    def approvers(self) -> frozenset[str]:
        """Who must approve an exemption: {"province"}, {"group"}, both, or empty."""
        if not self.user_realname_required or self.exemption is None:
            return frozenset()
        return _APPROVERS[self.exemption]

    def as_dict(self, language: str = "zh-hans") -> dict[str, Any]:
        return {
            "user_realname_required": self.user_realname_required,
            "exemption": self.exemption.value if self.exemption is not None else None,
            "rules": list(self.rules),
            "reasons": [r.text(language) for r in self.reasons],
        }


def _decision(rules: set[str], required: bool, exemption: Exemption | None) -> Decision:
    ordered = tuple(sorted(rules))
    return Decision(
        user_realname_required=required,
        exemption=exemption,
        rules=ordered,
        reasons=tuple(REASONS[r] for r in ordered),
    )


def evaluate(facts: CardFacts) -> Decision:
    """Decide whether the card user must be real-named, and who may exempt."""
    if facts.test_package:
        return _decision({"U4"}, False, None)

    data = ServiceLevel(facts.data)
    voice = ServiceLevel(facts.voice)
    sms = ServiceLevel(facts.sms)

    fired: set[str] = set()
    if data is ServiceLevel.NON_DIRECTED:
        fired.add("U1")
    if facts.segment_149:
        if ServiceLevel.NON_DIRECTED in (voice, sms):
            fired.add("U2")
        if ServiceLevel.DIRECTED in (voice, sms):
            fired.add("U3")

    if not fired:
        return _decision({"U0"}, False, None)

    if "U2" in fired:
        exemption = Exemption.NONE_POSSIBLE
    elif {"U1", "U3"} <= fired:
        exemption = Exemption.PROVINCE_AND_GROUP
    elif "U3" in fired:
        exemption = Exemption.GROUP
    else:
        exemption = Exemption.PROVINCE
    return _decision(fired, True, exemption)


# --- MSISDN helpers ---------------------------------------------------------


class MsisdnError(ValueError):
    code = "invalid_msisdn"

    def __init__(self, message: str = "Invalid MSISDN.", code: str = "invalid_msisdn"):
        super().__init__(message)
        self.code = code


_SEPARATORS = re.compile(r"[\s\-]+")
_VALID = re.compile(r"1\d{10}|1\d{12}")


def normalize_msisdn(raw: str) -> str:
    """Strip whitespace/hyphens, and a '+86' or '86' country prefix when what
    remains is an 11-digit number starting with 1. Does not validate."""
    s = _SEPARATORS.sub("", raw or "")
    for prefix in ("+86", "86"):
        if s.startswith(prefix):
            rest = s[len(prefix) :]
            if len(rest) == 11 and rest.isdigit() and rest.startswith("1"):
                return rest
    return s


def validate_msisdn(raw: str) -> str:
    """Return the normalized MSISDN, or raise MsisdnError (code 'invalid_msisdn').

    Valid: 11 digits starting with 1 (mobile), or 13 digits starting with 1
    (IoT numbers such as 1064..., 1440..., 1410...)."""
    if not isinstance(raw, str):
        raise MsisdnError("MSISDN must be a string.")
    s = normalize_msisdn(raw)
    if not (s.isascii() and _VALID.fullmatch(s)):
        raise MsisdnError(f"Invalid MSISDN {raw!r}: expected 11 digits or a 13-digit IoT number starting with 1.")
    return s


def is_149_segment(msisdn: str) -> bool:
    """True for an 11-digit number in the 149 segment (after normalization).
    13-digit IoT numbers are never the 149 segment; invalid input is False."""
    s = normalize_msisdn(msisdn if isinstance(msisdn, str) else "")
    return len(s) == 11 and s.isascii() and s.isdigit() and s.startswith("149")


def _level(field: str, value: ServiceLevel | str) -> ServiceLevel:
    if isinstance(value, ServiceLevel):
        return value
    try:
        return ServiceLevel(value)
    except (ValueError, TypeError):
        allowed = ", ".join(level.value for level in ServiceLevel)
        raise ValueError(f"{field}: invalid service level {value!r} (expected one of: {allowed})") from None


def facts_for(
    *, msisdn: str, data: ServiceLevel | str, voice: ServiceLevel | str, sms: ServiceLevel | str, test_package: bool
) -> CardFacts:
    """Build CardFacts from an MSISDN and service levels (enum or string value).

    Raises MsisdnError for a bad MSISDN and ValueError naming the field for a
    bad service level."""
    number = validate_msisdn(msisdn)
    return CardFacts(
        segment_149=is_149_segment(number),
        data=_level("data", data),
        voice=_level("voice", voice),
        sms=_level("sms", sms),
        test_package=bool(test_package),
    )
