"""Template filters for personal data.

`{{ text|masked_text }}`: free text people wrote (comments, reasons), with anything shaped like an ID or
credential number masked (core.identity.mask_numbers_in_text). Autoescaping still applies.
"""

from django import template

from core.identity import mask_numbers_in_text

register = template.Library()


@register.filter(is_safe=False)
def masked_text(value) -> str:
    return mask_numbers_in_text("" if value is None else str(value))
