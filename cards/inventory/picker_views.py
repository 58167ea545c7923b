"""The card picker's JSON endpoint (issue 11 §2), for the portal's own pages: session-authenticated, GET only.

GET /cards/picker/?purpose=order&enterprise=<public id>&q=8986&status=in_stock&rule=U5&after=<iccid>
answers a keyset page of the enterprise's cards that the form `purpose` can take (cards.inventory.picker),
and how many match, counted only up to the form's own limit plus one. Card numbers only: the cards'
users are not named here.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from cards.inventory import picker
from cards.templatetags.rule_tags import rule_ids, rule_title
from core.errors import DomainError

# The form's own choices that narrow what it can take (e.g. the business of an order), passed through.
CONTEXT_PARAMS = ("business_type",)


@login_required
@never_cache
@require_safe
def card_picker(request):
    params = request.GET
    try:
        purpose = picker.purpose_for(params.get("purpose"))
        enterprise = picker.picker_enterprise(request.user, params.get("enterprise"), purpose)
        filters = picker.PickerFilter.from_params(params)
        context = {name: str(params.get(name) or "") for name in CONTEXT_PARAMS}
        queryset = picker.picker_cards(
            request.user, enterprise=enterprise, purpose=purpose, filters=filters, context=context
        )
        cards, after = picker.picker_page(queryset, after=params.get("after"))
        # The count is asked for with the first page only: later pages of the same filter need it not again.
        matching = None if params.get("after") else picker.picker_matching_count(queryset, purpose)
    except DomainError as exc:
        return JsonResponse(exc.body(), status=exc.status_code)
    body = {
        "results": [
            {
                "iccid": card.iccid,
                "msisdn": card.msisdn,
                "status": card.status,
                "status_label": str(card.get_status_display()),
                "rules": [{"id": rule, "title": rule_title(rule)} for rule in rule_ids(card.realname_rules)],
            }
            for card in cards
        ],
        "next": after,
        "limit": purpose.limit,
    }
    if matching is not None:
        body["matching"] = min(matching, purpose.limit)
        body["more_than_limit"] = matching > purpose.limit
    return JsonResponse(body)
