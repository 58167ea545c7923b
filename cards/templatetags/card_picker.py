"""`{% card_picker purpose field ... %}`: the card picker's controls next to a form's card field (issue 11 §2).

Without script the controls stay hidden and the field works as typed; static/js/card_picker.js shows them
and keeps the field (a textarea of ICCIDs, or the form's card checkboxes) in step with what is picked.
"""

from __future__ import annotations

from django import template
from django.urls import reverse

from cards.inventory import picker
from cards.models import LIVE_CARD_STATUSES, CardStatus
from cards.templatetags.rule_tags import RULE_TITLES

register = template.Library()


@register.inclusion_tag("includes/card_picker.html")
def card_picker(
    purpose: str,
    field: str,
    *,
    enterprise: object = "",
    enterprise_field: str = "",
    business_field: str = "",
    multiple: bool = False,
) -> dict:
    """`enterprise` fixes the enterprise (its public id); `enterprise_field` names the form's select to
    read it from. `business_field` names the order's business select (it narrows the card states)."""
    limit = picker.purpose_for(purpose).limit
    return {
        "url": reverse("cards:picker"),
        "purpose": purpose,
        "field": field,
        "enterprise": str(enterprise or ""),
        "enterprise_field": enterprise_field,
        "business_field": business_field,
        "multiple": multiple,
        "limit": limit,
        "statuses": [(status.value, status.label) for status in CardStatus if status in LIVE_CARD_STATUSES],
        "rules": [(rule, RULE_TITLES[rule]) for rule in picker.RULE_IDS],
        "all_field": picker.ALL_FIELD,
        "filter_fields": picker.FILTER_FIELDS,
    }
