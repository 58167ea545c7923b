"""Text boxes and drop-downs that write their HTML in Python: for the lists' filter forms, shown on every
request of the busiest pages.

Django renders a widget through the form renderer's templates, one template for the input, one for its
attributes and one more for each <option>; on the card list that was a tenth of the whole request (issue 12
§2). These answer exactly what Django's templates (django/forms/widgets/input.html, select.html,
select_option.html, attrs.html) answer, from the same get_context, so the page does not change.
"""

from __future__ import annotations

from django import forms
from django.utils.formats import localize
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe


def _attributes(attrs: dict) -> SafeString:
    # As attrs.html: False leaves the attribute out, True writes its name alone.
    return format_html_join(
        "",
        "{}",
        (
            (format_html(" {}", name) if value is True else format_html(' {}="{}"', name, value),)
            for name, value in attrs.items()
            if value is not False
        ),
    )


class DirectTextInput(forms.TextInput):
    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        shown = "" if widget["value"] is None else format_html(' value="{}"', widget["value"])
        return format_html(
            '<input type="{}" name="{}"{}{}>', widget["type"], widget["name"], shown, _attributes(widget["attrs"])
        )


class DirectSelect(forms.Select):
    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        parts: list[str] = [format_html('<select name="{}"{}>', widget["name"], _attributes(widget["attrs"]))]
        for group_name, options, _index in widget["optgroups"]:
            if group_name:
                parts.append(format_html('\n  <optgroup label="{}">', group_name))
            # Each option is followed by the newline that ends select_option.html.
            parts.extend(
                format_html(
                    '\n  <option value="{}"{}>{}</option>\n',
                    option["value"],
                    _attributes(option["attrs"]),
                    localize(option["label"]),
                )
                for option in options
            )
            if group_name:
                parts.append("\n  </optgroup>")
        parts.append("\n</select>")
        return mark_safe("".join(parts))
