"""What a model's concrete field declares, typed: `_meta.get_field` answers any field or relation.

The stubs type `get_field` as a field, a reverse relation or a generic foreign key, and a field's
`max_length` and `column` as optional; the callers here name concrete columns that have both.
"""

from __future__ import annotations

from django.db import models


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
