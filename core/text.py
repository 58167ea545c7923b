"""Text put together from translated words."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import pgettext


def join_words(items: Iterable[object]) -> str:
    """Words of a list with the active language's separator: "Provincial company, Group" in English,
    "省公司、集团" in Chinese (an ASCII comma between Chinese words reads wrong, issue 11 §5)."""
    return pgettext("list separator", ", ").join(str(item) for item in items)


def label_colon() -> str:
    """The colon after a label, in the active language: "Status: " in English, "状态：" in Chinese (an ASCII colon
    after a Chinese word reads wrong, issue 11 §5). Templates write it as {% colon %} (accounts.templatetags)."""
    return pgettext("label colon", ": ")
