"""What a model's concrete field declares, typed: `_meta.get_field` answers any field or relation; and a
field's choice label, cheaply.

The stubs type `get_field` as a field, a reverse relation or a generic foreign key, and a field's
`max_length` and `column` as optional; the callers here name concrete columns that have both.
"""

from __future__ import annotations

import functools

from django.db import models
from django.utils.hashable import make_hashable
from django.utils.translation import get_language


def _concrete(model: type[models.Model], name: str) -> models.Field:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field), f"{model.__name__}.{name} is not a concrete field"
    return field


def max_length(model: type[models.Model], name: str) -> int:
    """The declared max_length of a CharField (or another field that has one)."""
    length = _concrete(model, name).max_length
    assert length is not None, f"{model.__name__}.{name} declares no max_length"
    return length


def db_column(model: type[models.Model], name: str) -> str:
    """The database column of a concrete field."""
    column = _concrete(model, name).column
    assert column is not None, f"{model.__name__}.{name} has no column"
    return column


@functools.cache
def _choice_labels(field: models.Field, language: str | None) -> dict:
    return {make_hashable(value): str(label) for value, label in field.flatchoices}


def choice_label(instance: models.Model, name: str):
    """What `instance.get_<name>_display()` answers, from the field's labels translated once per language.

    Django's own rebuilds the field's whole choice table and translates every label on each call: four of
    them on each of a list's 25 rows were a seventh of the card list's rendering (issue 12 §2).
    """
    field = _concrete(type(instance), name)
    value = getattr(instance, field.attname)
    return _choice_labels(field, get_language()).get(make_hashable(value), value)
