"""The enterprise picker (issue 12 §1.2): a text box over the enterprise name index, never a <select> of the scope.

A <select> of every enterprise in scope made the card list grow with the number of enterprises (444 KB of HTML
for 5,077 of them in one province). The field below renders one text input and a hidden public id; the JSON
endpoint (enterprises.views.enterprise_suggest) offers at most SUGGESTION_LIMIT names while one types, and
static/js/enterprise_autocomplete.js turns the text box into a combobox. Without script the server resolves what
was typed: a whole name, a unique partial name, or (on forms that are posted, never in a URL) the credential
number by its blind index. When several enterprises match, the widget offers a <select> of at most
SUGGESTION_LIMIT of them with a message.

Every lookup runs on the queryset the form was given, which is already scoped to the user (enterprises_visible_to,
or a capability's scope_filter), so neither the endpoint nor a typed name can reach an enterprise outside it.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from accounts.permissions import Capability
from enterprises import registry
from enterprises.models import Enterprise

SUGGESTION_LIMIT = 20
MAX_QUERY = 200  # Enterprise.name's max_length: nothing longer can match
TEXT_SUFFIX = "_q"


def _narrow(queryset: QuerySet[Enterprise]) -> QuerySet[Enterprise]:
    return queryset.select_related(None).select_related("province").only("pk", "public_id", "name", "province__name")


def enterprise_suggestions(
    queryset: QuerySet[Enterprise], text: str, *, limit: int = SUGGESTION_LIMIT
) -> list[Enterprise]:
    """At most `limit` enterprises of `queryset` whose name holds `text`: those that start with it first (the
    name index serves a prefix), then those that hold it elsewhere."""
    text = (text or "").strip()[:MAX_QUERY]
    base = _narrow(queryset)
    if not text:
        return list(base.order_by("name", "pk")[:limit])
    found = list(base.filter(name__startswith=text).order_by("name", "pk")[:limit])
    if len(found) < limit:
        rest = base.filter(name__contains=text).exclude(name__startswith=text).order_by("name", "pk")
        found += list(rest[: limit - len(found)])
    return found


def enterprise_resolve(
    queryset: QuerySet[Enterprise], text: str, *, by_credential: bool = False
) -> tuple[Enterprise | None, list[Enterprise]]:
    """What a typed text names: (the one enterprise, []) or (None, the candidates, at most SUGGESTION_LIMIT)."""
    text = (text or "").strip()[:MAX_QUERY]
    if not text:
        return None, []
    exact = list(_narrow(queryset).filter(name=text).order_by("pk")[:2])
    if len(exact) == 1:
        return exact[0], []
    if by_credential and not exact and _may_be_number(text):
        indexes = registry.credential_indexes(text)
        if indexes:
            by_number = _narrow(queryset).filter(credential_number_index__in=indexes).first()
            if by_number is not None:
                return by_number, []
    candidates = exact + [e for e in enterprise_suggestions(queryset, text) if e.pk not in {x.pk for x in exact}]
    candidates = candidates[:SUGGESTION_LIMIT]
    if len(candidates) == 1:
        return candidates[0], []
    return None, candidates


def _may_be_number(text: str) -> bool:
    # Every credential number has digits (a unit's name rarely does): only such text is tried as one, and never
    # written back into the page.
    return any(ch.isdigit() for ch in text)


def suggest_url(capability: Capability | None) -> str:
    url = reverse("enterprises:suggest")
    return f"{url}?{urlencode({'capability': capability.value})}" if capability else url


def option_label(enterprise: Enterprise) -> str:
    # Names repeat across provinces (a letter unit is unique within its province only): the province tells them apart.
    province = getattr(enterprise, "province", None)
    return f"{enterprise.name}（{province.name}）" if province is not None else enterprise.name


class EnterpriseAutocomplete(forms.Widget):
    """A text box (`<name>_q`, what is shown and typed) and a hidden public id (`<name>`, what the script picks)."""

    input_type = "text"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.url = ""
        self.candidates: list[Enterprise] = []
        self.placeholder: str | Promise = ""

    def value_from_datadict(self, data, files, name):
        return {"id": data.get(name), "text": data.get(name + TEXT_SUFFIX)}

    def value_omitted_from_data(self, data, files, name):
        return name not in data and name + TEXT_SUFFIX not in data

    def render(self, name, value, attrs=None, renderer=None):
        enterprise, text = value if isinstance(value, tuple) else (None, "")
        final = self.build_attrs(self.attrs, attrs)
        box_id = final.get("id") or f"id_{name}"
        listbox = f"{box_id}_listbox"
        shown = enterprise.name if enterprise is not None else (text or "")
        described = " ".join(x for x in (final.get("aria-describedby"), f"{box_id}_hint") if x)
        invalid = SafeString(' aria-invalid="true"') if final.get("aria-invalid") else ""
        box = format_html(
            '<input type="text" name="{}" id="{}" value="{}" role="combobox" aria-autocomplete="list"'
            ' aria-expanded="false" aria-controls="{}" aria-describedby="{}" autocomplete="off" maxlength="{}"'
            ' placeholder="{}" data-autocomplete-input{}{}>',
            name + TEXT_SUFFIX,
            box_id,
            shown,
            listbox,
            described,
            MAX_QUERY,
            self.placeholder,
            SafeString(" required") if final.get("required") else "",
            invalid,
        )
        if self.candidates:
            options = format_html_join(
                "",
                '<option value="{}" data-name="{}">{}</option>',
                ((e.public_id, e.name, option_label(e)) for e in self.candidates),
            )
            choice = format_html(
                '<select name="{}" id="{}_choices" aria-label="{}" data-autocomplete-value>'
                '<option value="">{}</option>{}</select>',
                name,
                box_id,
                _("Matching enterprises"),
                _("Choose one of the matching enterprises"),
                options,
            )
        else:
            choice = format_html(
                '<input type="hidden" name="{}" value="{}" data-autocomplete-value>',
                name,
                enterprise.public_id if enterprise is not None else "",
            )
        return format_html(
            '<div class="autocomplete" data-autocomplete="{}" data-found="{}" data-none="{}">{}{}'
            '<ul class="autocomplete__list" id="{}" role="listbox" aria-label="{}" hidden></ul>'
            '<p class="visually-hidden" id="{}_hint" aria-live="polite" data-autocomplete-status></p></div>',
            self.url,
            _("%s enterprises match. Use the arrow keys to choose one."),
            _("No enterprise matches."),
            box,
            choice,
            listbox,
            _("Matching enterprises"),
            box_id,
        )


class EnterpriseField(forms.Field):
    """Picks one enterprise of `queryset` (scoped by the caller) by its public id or by what was typed.

    The bound value is {"id": ..., "text": ...}: the hidden id, and the text box (None when the data has no
    text box, as when an earlier step or a link carries the id alone)."""

    widget = EnterpriseAutocomplete
    default_error_messages = {
        "required": _("Choose an enterprise."),
        "not_found": _("No enterprise you may choose matches what was typed."),
        "invalid_choice": _("The enterprise does not exist or you may not choose it."),
        "ambiguous": _("Several enterprises match: choose one of them, or type more of the name."),
    }

    def __init__(
        self,
        *,
        queryset: QuerySet[Enterprise] | None = None,
        capability: Capability | None = None,
        by_credential: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.queryset = queryset
        self.capability = capability
        # A credential number may only be typed into a form that is posted: a GET filter would put it in a URL.
        self.by_credential = by_credential
        self._found: dict[str, Enterprise | None] = {}
        self._resolved: dict[str, Enterprise] = {}  # typed text -> what it resolved to, for showing it again

    def __deepcopy__(self, memo):
        result = super().__deepcopy__(memo)
        result._found = {}
        result._resolved = {}
        return result

    def configure_widget(self) -> None:
        """Called by the form's BoundField before rendering: the endpoint's URL and the hint depend on the field."""
        self.widget.url = suggest_url(self.capability)
        self.widget.placeholder = _("Name or credential number") if self.by_credential else _("Type a name")

    def by_id(self, raw: object) -> Enterprise | None:
        """The enterprise of the queryset with this public id, whole (the caller's select_related kept)."""
        key = str(raw or "")
        if key not in self._found:
            try:
                public_id = uuid.UUID(key)
            except ValueError:
                self._found[key] = None
            else:
                assert self.queryset is not None, "EnterpriseField needs its scoped queryset"
                self._found[key] = self.queryset.filter(public_id=public_id).first()
        return self._found[key]

    def single_choice(self) -> Enterprise | None:
        """The one enterprise of the queryset, if it holds exactly one (an enterprise's own admin): shown filled in."""
        assert self.queryset is not None, "EnterpriseField needs its scoped queryset"
        found = list(self.queryset.order_by("pk")[:2])
        return found[0] if len(found) == 1 else None

    def _is_credential(self, text: str) -> bool:
        return self.by_credential and _may_be_number(text)

    def to_python(self, value: Any) -> Enterprise | None:
        if isinstance(value, Enterprise) or value in (None, ""):
            return value or None
        assert self.queryset is not None, "EnterpriseField needs its scoped queryset"
        if not isinstance(value, dict):
            value = {"id": value, "text": None}
        raw_id, text = value.get("id"), value.get("text")
        chosen = self.by_id(raw_id) if raw_id else None
        if not isinstance(text, str):
            if raw_id and chosen is None:
                raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
            return chosen
        text = text.strip()[:MAX_QUERY]
        if not text:
            return None
        # The id the script (or the fallback list) picked stands while the text is part of its name.
        if chosen is not None and text in chosen.name:
            return chosen
        found, candidates = enterprise_resolve(self.queryset, text, by_credential=self.by_credential)
        if found is not None:
            whole = self.by_id(found.public_id)
            if whole is not None:
                self._resolved[text] = whole
            return whole
        self.widget.candidates = candidates
        code = "ambiguous" if candidates else "not_found"
        raise forms.ValidationError(self.error_messages[code], code=code)

    def prepare_value(self, value: Any) -> Any:
        """What the widget shows: the chosen enterprise, or the text as typed (never a credential number). A form
        that has nothing to choose (an enterprise's own admin) swaps in a HiddenInput: that gets the public id."""
        if not isinstance(self.widget, EnterpriseAutocomplete):
            chosen, _text = self._shown(value)
            return chosen.public_id if chosen is not None else (value if isinstance(value, str) else "")
        return self._shown(value)

    def _shown(self, value: Any) -> tuple[Enterprise | None, str]:
        if isinstance(value, Enterprise):
            return value, ""
        if not isinstance(value, dict):
            return (self.by_id(value) if value else None), ""
        text = value.get("text")
        chosen = self.by_id(value.get("id")) if value.get("id") else None
        if not isinstance(text, str):
            return chosen, ""
        text = text.strip()[:MAX_QUERY]
        if chosen is not None and text and text in chosen.name:
            return chosen, ""
        if text in self._resolved:
            return self._resolved[text], ""
        if self._is_credential(text):
            return None, ""
        return None, text

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            before = self.to_python(initial)
            after = self.to_python(data)
        except forms.ValidationError:
            return True
        return getattr(before, "pk", None) != getattr(after, "pk", None)

    def get_bound_field(self, form, field_name):
        if isinstance(self.widget, EnterpriseAutocomplete):
            self.configure_widget()
        return super().get_bound_field(form, field_name)


__all__ = [
    "SUGGESTION_LIMIT",
    "EnterpriseAutocomplete",
    "EnterpriseField",
    "enterprise_resolve",
    "enterprise_suggestions",
    "option_label",
    "suggest_url",
]
