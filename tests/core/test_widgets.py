"""core.widgets must write exactly what Django's widget templates write, for whatever a form gives them."""

from __future__ import annotations

import pytest
from django import forms

from core.widgets import DirectSelect, DirectTextInput

TEXT_CASES = [
    ({}, None),
    ({}, ""),
    ({"inputmode": "numeric", "autocomplete": "off", "maxlength": 24}, "8986<01>&\"'"),
    ({"type": "search", "required": True, "disabled": False, "data-x": 0}, 12345),
]


@pytest.mark.parametrize(("attrs", "value"), TEXT_CASES)
def test_a_text_box_is_what_djangos_template_writes(attrs, value):
    expected = forms.TextInput(attrs=attrs).render("q", value, attrs={"id": "id_q"})
    assert DirectTextInput(attrs=attrs).render("q", value, attrs={"id": "id_q"}) == expected


CHOICES = [
    ("", "All statuses"),
    ("active", "Active"),
    ("odd", 'A <b>"quoted"</b> & label'),
    ("Group <1>", [("g1", "In a group"), ("g2", "Also")]),
    (3, 1000),
]


@pytest.mark.parametrize("value", [None, "", "active", "g2", "3", "not a choice"])
@pytest.mark.parametrize("attrs", [{}, {"required": True, "aria-describedby": "id_s_helptext", "hidden": False}])
def test_a_drop_down_is_what_djangos_template_writes(value, attrs):
    expected = forms.Select(attrs=attrs, choices=CHOICES).render("status", value, attrs={"id": "id_status"})
    got = DirectSelect(attrs=attrs, choices=CHOICES).render("status", value, attrs={"id": "id_status"})
    assert got == expected


def test_a_bound_field_renders_the_same_through_either_widget():
    class Either(forms.Form):
        django_text = forms.CharField(max_length=5)
        direct_text = forms.CharField(max_length=5, widget=DirectTextInput)
        django_pick = forms.ChoiceField(choices=CHOICES[:3])
        direct_pick = forms.ChoiceField(choices=CHOICES[:3], widget=DirectSelect)

    form = Either({"django_text": "<x>", "direct_text": "<x>", "django_pick": "odd", "direct_pick": "odd"})
    form.is_valid()
    for kind in ("text", "pick"):
        assert str(form[f"direct_{kind}"]).replace("direct_", "") == str(form[f"django_{kind}"]).replace("django_", "")
