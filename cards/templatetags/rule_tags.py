"""Rule ids as people read them: the words first, the id (U1, U3…) as a small tag after (issue 11 §5).

`{{ card.realname_rules|rule_tags }}` takes a list of ids or the comma-separated form kept on cards;
`{{ "U1"|rule_title }}` gives the words alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

register = template.Library()

# Short names of the real-name rules (cards.rules holds their full text, in both languages).
RULE_TITLES = {
    "U0": _("Enterprise records only"),
    "U1": _("Non-directed data"),
    "U2": _("149 number, non-directed voice or SMS"),
    "U3": _("149 number, directed voice or SMS"),
    "U4": _("Test-card package"),
    "U5": _("User real-name"),
    "H3": _("Handler's face comparison"),
}


def rule_ids(rules: str | Iterable[str] | None) -> list[str]:
    items = rules.split(",") if isinstance(rules, str) else list(rules or [])
    return [str(item).strip() for item in items if str(item).strip()]


@register.filter
def rule_title(rule: str) -> str:
    return str(RULE_TITLES.get(str(rule).strip(), str(rule).strip()))


def rule_tag(rule: str) -> SafeString:
    title = RULE_TITLES.get(rule)
    if title is None:
        return format_html('<span class="rule-tag">{}</span>', rule)
    return format_html('{} <span class="rule-tag">{}</span>', title, rule)


@register.filter
def rule_tags(rules: str | Iterable[str] | None) -> SafeString:
    ids = rule_ids(rules)
    if not ids:
        return format_html("{}", "—")
    return format_html_join(pgettext("list separator", ", "), "{}", ((rule_tag(rule),) for rule in ids))
