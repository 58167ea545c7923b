"""cards/templatetags/card_rows.py writes the card list's row in Python: it must write what the template wrote."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.utils import translation

from cards.templatetags.card_rows import card_list_row
from tests import factories

pytestmark = pytest.mark.django_db

# The row as templates/cards/card_list.html drew it before the tag, for comparison.
TEMPLATE_ROW = Template(
    "{% load i18n rule_tags %}<tr>\n"
    '            <td data-label="{% translate \'ICCID\' %}" class="mono">'
    '<a href="{{ card.page_url }}">{{ card.iccid }}</a></td>\n'
    '            <td data-label="{% translate \'Number\' %}" class="mono">{{ card.msisdn }}</td>\n'
    "            <td data-label=\"{% translate 'Enterprise' %}\">{{ card.enterprise.name }}</td>\n"
    "            <td data-label=\"{% translate 'Package' %}\">{{ card.package.name }}</td>\n"
    "            <td data-label=\"{% translate 'Data / voice / SMS' %}\">{{ card.get_data_service_display }}"
    " / {{ card.get_voice_service_display }} / {{ card.get_sms_service_display }}</td>\n"
    "            <td data-label=\"{% translate 'Status' %}\">"
    '<span class="badge badge--{{ card.status }}">{{ card.get_status_display }}</span></td>\n'
    "            <td data-label=\"{% translate 'User real-name' %}\">{% if card.realname_required %}"
    '<span class="badge badge--required">{% translate "Required" %}</span>'
    ' <span class="muted">{{ card.realname_rules|rule_tags }}</span>'
    '{% else %}<span class="muted">{% translate "Not required" %}</span>{% endif %}</td>\n'
    "          </tr>"
)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_row_is_what_the_template_drew(world, language):
    enterprise = world["enterprise"]
    required = factories.card(enterprise=enterprise, segment_149=True, voice="non_directed")
    not_required = factories.card(enterprise=enterprise, test=True, data="directed")
    enterprise.name = 'A <b>"quoted"</b> & name'
    for card in (required, not_required):
        card.enterprise = enterprise
        card.page_url = f"/cards/{card.iccid}/"
    assert required.realname_required and not not_required.realname_required
    with translation.override(language):
        for card in (required, not_required):
            assert card_list_row(card) == TEMPLATE_ROW.render(Context({"card": card}))
