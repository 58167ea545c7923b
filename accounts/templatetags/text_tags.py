"""Punctuation that follows the active language in templates (issue 11 §5)."""

from __future__ import annotations

from django import template

from core.text import label_colon

register = template.Library()


@register.simple_tag
def colon() -> str:
    """`{% translate "Status" %}{% colon %}`: a full-width colon in Chinese, ": " in English."""
    return label_colon()
