"""The card picker (issue 11 §2): which of an enterprise's cards a form may offer, a page of them, and
"select all that match" resolved on the server.

Every form that names cards (an order, a card user's registration, an exemption, a self-service link)
registers a purpose here from its AppConfig.ready(): the capability it needs on the enterprise, which
cards it can take at all and how many at once. The picker only narrows what the form would take anyway:
it starts from cards_visible_to(user) on the one enterprise the user holds that capability for, and the
form's own validation and the services still check every card it submits.

Pages are keyset pages of at most PAGE_SIZE cards in ICCID order, read along the (enterprise, iccid) and
(enterprise, status, iccid) indexes; nothing here counts more than a form's own card limit plus one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.permissions import Capability
from cards.inventory.selectors import cards_visible_to, normalise_card_search, search_cards
from cards.models import LIVE_CARD_STATUSES, Card, CardBinding, CardStatus
from core.errors import NotFound, PermissionDenied, ValidationFailed
from enterprises.models import Enterprise
from enterprises.selectors import enterprise_for_action

PAGE_SIZE = 50
# The rule ids a card can carry in realname_rules (cards.rules.evaluate).
RULE_IDS = ("U0", "U1", "U2", "U3", "U4")
# The form fields a "select all that match" posts, next to the form's own (templates/includes/card_picker.html).
ALL_FIELD = "picker_all"
FILTER_FIELDS = {"q": "picker_q", "status": "picker_status", "rule": "picker_rule"}

MSG_NO_ENTERPRISE = _("The enterprise does not exist or you may not choose its cards here.")


@dataclass(frozen=True)
class PickerPurpose:
    """What one form may pick: `eligible` narrows the enterprise's cards (given the form's own choices,
    e.g. the business of an order); `limit` is the form's own maximum number of cards."""

    capability: Capability
    limit: int
    eligible: Callable[[QuerySet[Card], Mapping[str, str]], QuerySet[Card]]


_PURPOSES: dict[str, PickerPurpose] = {}


def register_purpose(name: str, purpose: PickerPurpose) -> None:
    _PURPOSES[name] = purpose


def purpose_for(name: object) -> PickerPurpose:
    purpose = _PURPOSES.get(str(name or ""))
    if purpose is None:
        raise NotFound(_("There is no card picker for this form."), code="unknown_picker")
    return purpose


@dataclass(frozen=True)
class PickerFilter:
    q: str = ""
    status: str = ""
    rule: str = ""

    @classmethod
    def from_params(cls, params: Mapping[str, Any], *, names: Mapping[str, str] | None = None) -> PickerFilter:
        """The filter from a query string (names q, status, rule) or a posted form (FILTER_FIELDS); a value
        that is not a search, a status or a rule id is refused (ValidationFailed), never ignored."""
        names = names or {key: key for key in FILTER_FIELDS}
        q = normalise_card_search(params.get(names["q"]))
        status = str(params.get(names["status"]) or "")
        rule = str(params.get(names["rule"]) or "").upper()
        if status and status not in CardStatus.values:
            raise ValidationFailed(_("Choose a status from the list."), code="invalid_status", field="status")
        if rule and rule not in RULE_IDS:
            raise ValidationFailed(_("Choose a rule from the list."), code="invalid_rule", field="rule")
        return cls(q=q, status=status, rule=rule)


def unbound_live(queryset: QuerySet[Card], context: Mapping[str, str]) -> QuerySet[Card]:
    """Live cards without a registered user: what a card user's registration can take (an eligibility)."""
    return queryset.filter(status__in=LIVE_CARD_STATUSES).exclude(
        Exists(CardBinding.objects.filter(card=OuterRef("pk"), ended_at__isnull=True))
    )


def with_rule(queryset: QuerySet[Card], rule: str) -> QuerySet[Card]:
    """Cards on which `rule` fired: realname_rules is the comma-separated list of the rules that fired."""
    return queryset.filter(
        Q(realname_rules=rule)
        | Q(realname_rules__startswith=f"{rule},")
        | Q(realname_rules__endswith=f",{rule}")
        | Q(realname_rules__contains=f",{rule},")
    )


def picker_enterprise(user: Any, public_id: object, purpose: PickerPurpose) -> Enterprise:
    """The enterprise whose cards the user may pick for `purpose`. An unknown enterprise and one the
    user may not act on get the same answer (NotFound), so the picker tells nobody which exist."""
    try:
        return enterprise_for_action(user, public_id, capability=purpose.capability)
    except (NotFound, PermissionDenied) as exc:
        raise NotFound(MSG_NO_ENTERPRISE, code="unknown_enterprise") from exc


def picker_cards(
    user: Any,
    *,
    enterprise: Enterprise,
    purpose: PickerPurpose,
    filters: PickerFilter,
    context: Mapping[str, str] | None = None,
) -> QuerySet[Card]:
    """The enterprise's cards that the user may see, that the form can take, and that match the filter,
    in ICCID order (the order of the (enterprise, ...) indexes)."""
    queryset = purpose.eligible(cards_visible_to(user).filter(enterprise=enterprise), context or {})
    if filters.q:
        queryset = search_cards(queryset, filters.q)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.rule:
        queryset = with_rule(queryset, filters.rule)
    return queryset.order_by("iccid")


def picker_page(queryset: QuerySet[Card], *, after: object = "", size: int | None = None) -> tuple[list[Card], str]:
    """One keyset page: the cards after the ICCID `after`, and the ICCID to ask for the next page
    ("" on the last one). One row beyond the page says whether there is more; nothing is counted."""
    size = size or PAGE_SIZE
    after = str(after or "")
    if after and not (after.isascii() and after.isdigit() and len(after) <= 20):
        raise ValidationFailed(_("The page asked for does not exist."), code="invalid_cursor", field="after")
    if after:
        queryset = queryset.filter(iccid__gt=after)
    rows = list(queryset.select_related("package")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return rows, (rows[-1].iccid if more else "")


def picker_matching_count(queryset: QuerySet[Card], purpose: PickerPurpose) -> int:
    """How many cards match, counted no further than the form's limit plus one (more is "too many")."""
    return queryset.order_by().select_related(None)[: purpose.limit + 1].count()


def picked_all(
    user: Any, *, data: Mapping[str, Any], purpose_name: str, enterprise_id: object, context: Mapping[str, str]
) -> list[str]:
    """The ICCIDs of a "select all that match" posted with a form (ALL_FIELD and FILTER_FIELDS), resolved
    under the same scope as the picker's pages; [] when none was posted. At most the form's limit plus
    one, so that the form's own check refuses too many cards with its own message."""
    if str(data.get(ALL_FIELD) or "") != "1":
        return []
    purpose = purpose_for(purpose_name)
    enterprise = picker_enterprise(user, enterprise_id, purpose)
    filters = PickerFilter.from_params(data, names=FILTER_FIELDS)
    queryset = picker_cards(user, enterprise=enterprise, purpose=purpose, filters=filters, context=context)
    return list(queryset.values_list("iccid", flat=True)[: purpose.limit + 1])


def with_picked_all(
    user: Any,
    data: Any,
    *,
    field: str,
    purpose_name: str,
    enterprise_id: object,
    context: Mapping[str, str] | None = None,
    multiple: bool = False,
) -> Any:
    """A copy of the posted form data (a QueryDict) whose card field also names every card a "select all
    that match" stands for: added as lines to a textarea, or as values of a `multiple` choice field. The
    data itself when none was posted. A filter or enterprise the picker refuses leaves the data as it was:
    the form then checks what was typed, as without the picker."""
    try:
        iccids = picked_all(
            user, data=data, purpose_name=purpose_name, enterprise_id=enterprise_id, context=context or {}
        )
    except (NotFound, ValidationFailed):
        return data
    if not iccids:
        return data
    data = data.copy()
    if multiple:
        data.setlist(field, list(dict.fromkeys([*data.getlist(field), *iccids])))
    else:
        data[field] = "\n".join(filter(None, [str(data.get(field) or "").strip(), *iccids]))
    return data


__all__ = [
    "ALL_FIELD",
    "FILTER_FIELDS",
    "PAGE_SIZE",
    "RULE_IDS",
    "PickerFilter",
    "PickerPurpose",
    "picked_all",
    "picker_cards",
    "picker_enterprise",
    "picker_matching_count",
    "picker_page",
    "purpose_for",
    "register_purpose",
    "unbound_live",
    "with_picked_all",
    "with_rule",
]
