"""`{{ card|choice_label:"status" }}`: what `{{ card.get_status_display }}` shows, without its cost per row
(core.columns.choice_label): for the lists' rows."""

from __future__ import annotations

from django import template

from core.columns import choice_label as _choice_label

register = template.Library()


@register.filter
def choice_label(instance, name: str):
    return _choice_label(instance, name)
