"""Keyset pagination and cheap counts for the portal's lists (issue 12 §1.1, §1.4).

A list is ordered by a tuple of its own columns that ends in a unique one (the primary key, or a
unique key such as the ICCID), and an index serves that order. A page is the rows strictly after (or,
going back, before) the last row seen, so page 1 and page 40,000 cost the same: no OFFSET, no sort.

The cursor is the ordering tuple of the row at the page's edge, signed with the list's own salt
(django.core.signing), so it cannot be edited or carried to another list: a broken or foreign one is a
clear 400 (core.errors.ValidationFailed), never a 500. The ordering columns are dates, keys and ICCIDs,
never a name or an ID number, so a cursor carries no personal data.

The API's lists use DRF's CursorPagination, which keeps only the first ordering column and an offset
among its ties; here every column is in the position, so ties on a date cost nothing and rows that
arrive between two pages are neither skipped nor shown twice.

Counting: at most COUNT_CAP + 1 rows are counted, without ORDER BY or joins; past the cap, PostgreSQL's
planner estimate (EXPLAIN, in the same statement) is shown and the page says it is an estimate.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from django.core import signing
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import connections
from django.db.models import Field, Model, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext_lazy as _

from core.errors import ValidationFailed

PAGE_SIZE = 25
COUNT_CAP = 10_000
CURSOR_PARAM = "cursor"
JUMP_PARAM = "jump"
# The numbered pages' parameter, gone: a stale link gets the first page and a note (never a wrong page).
STALE_PAGE_PARAM = "page"
# Parameters that say where in a list, not what is listed (an export or a filter form drops them).
POSITION_PARAMS = frozenset({CURSOR_PARAM, JUMP_PARAM, STALE_PAGE_PARAM})
CURSOR_MAX_LENGTH = 1000

MSG_BAD_CURSOR = _("This page link is broken or belongs to another list. Go back to the list's first page.")
MSG_BAD_DATE = _("Enter the date to go to as YYYY-MM-DD.")
MSG_BAD_JUMP = _("Enter the beginning of an ICCID (letters and digits, at most 20).")


# --- jumps -------------------------------------------------------------------------


@dataclass(frozen=True)
class DateJump:
    """Go to the first row of a date in the list's order: on a newest-first list, the newest row at or
    before the end of that day; on an oldest-first one, the oldest at or after its start (local time)."""

    kind = "date"

    def condition(self, value: str, name: str, descending: bool) -> Q:
        try:
            day = parse_date(value) if len(value) <= 10 else None
        except ValueError:  # well formed, but no such day (2026-13-01)
            day = None
        if day is None:
            raise ValidationFailed(MSG_BAD_DATE, code="invalid_jump", field=JUMP_PARAM)
        start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
        if descending:
            return Q(**{f"{name}__lt": start + dt.timedelta(days=1)})
        return Q(**{f"{name}__gte": start})


@dataclass(frozen=True)
class TextJump:
    """Go to the first row whose key is at or after the text typed (on an ascending list): an ICCID's
    beginning finds the first card at or after it, within the list's filters."""

    kind = "iccid"
    pattern: re.Pattern = field(default=re.compile(r"[0-9A-Za-z]{1,20}"))

    def condition(self, value: str, name: str, descending: bool) -> Q:
        if not self.pattern.fullmatch(value):
            raise ValidationFailed(MSG_BAD_JUMP, code="invalid_jump", field=JUMP_PARAM)
        return Q(**{f"{name}__lte" if descending else f"{name}__gte": value.upper()})


# --- pages ---------------------------------------------------------------------------


@dataclass
class KeysetPage:
    """One page of a keyset list, as the template includes/pagination.html shows it."""

    object_list: list
    has_next: bool
    has_previous: bool
    next_cursor: str | None
    previous_cursor: str | None
    jump_kind: str | None
    jump_value: str
    stale_page: bool

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)


@dataclass(frozen=True)
class _Key:
    name: str
    attname: str
    descending: bool
    model_field: Any


@dataclass(frozen=True)
class Keyset:
    """A list's keyset: its name (the cursor's salt), its ordering (Django's "-field" notation; direct
    columns only, the last one unique) and the jump it offers, if any."""

    name: str
    ordering: tuple[str, ...]
    per_page: int = PAGE_SIZE
    jump: DateJump | TextJump | None = None

    @property
    def salt(self) -> str:
        return f"core.keyset:{self.name}"

    def _keys(self, model: type[Model]) -> list[_Key]:
        keys = []
        for item in self.ordering:
            name = item.lstrip("-")
            model_field = model._meta.pk if name == "pk" else model._meta.get_field(name)
            # A relation orders by the related model's ordering (a join), not by the key the cursor would hold
            # (Django orders "pk" by its column, even where the primary key is a relation).
            relation = model_field.remote_field is not None and name != "pk"
            if not isinstance(model_field, Field) or model_field.null or relation:
                raise FieldDoesNotExist(f"{name}: a keyset column must be a non-null column of {model.__name__}")
            keys.append(_Key(name, model_field.attname, item.startswith("-"), model_field))
        if not (keys[-1].model_field.primary_key or keys[-1].model_field.unique):
            raise FieldDoesNotExist(f"{self.name}: the last keyset column must be unique")
        return keys

    def fits(self, model: type[Model]) -> bool:
        """Whether this ordering can be a keyset of the model: direct non-null columns, the last unique."""
        try:
            self._keys(model)
        except FieldDoesNotExist:
            return False
        return True

    # cursors

    def _encode(self, keys: list[_Key], obj: Model, direction: str) -> str:
        values = [keys_value_to_text(getattr(obj, key.attname)) for key in keys]
        return signing.dumps({"d": direction, "k": values}, salt=self.salt, compress=True)

    def _decode(self, keys: list[_Key], token: str) -> tuple[str, list[Any]]:
        try:
            if len(token) > CURSOR_MAX_LENGTH:
                raise signing.BadSignature
            payload = signing.loads(token, salt=self.salt)
            direction, raw = payload["d"], payload["k"]
            if direction not in ("n", "p") or not isinstance(raw, list) or len(raw) != len(keys):
                raise ValueError
            values = [key.model_field.to_python(value) for key, value in zip(keys, raw, strict=True)]
        except (signing.BadSignature, ValidationError, ValueError, TypeError, KeyError, json.JSONDecodeError):
            raise ValidationFailed(MSG_BAD_CURSOR, code="invalid_cursor", field=CURSOR_PARAM) from None
        return direction, values

    # the page

    def page(self, queryset: QuerySet, params: Mapping[str, Any]) -> KeysetPage:
        """The page these GET parameters ask for: after or before a cursor, at a jump, or the first."""
        keys = self._keys(queryset.model)
        forward = queryset.order_by(*(f"-{k.name}" if k.descending else k.name for k in keys))
        size = self.per_page
        token = str(params.get(CURSOR_PARAM) or "")
        jump_value = str(params.get(JUMP_PARAM) or "").strip() if self.jump else ""

        # Each branch fetches one row more than the page, to know whether there is more that way; the
        # other way costs one index probe (_exists_beyond) unless the page is known to be the first.
        rows: list
        first: bool = False
        if token:
            direction, values = self._decode(keys, token)
            if direction == "n":
                rows = list(forward.filter(_beyond(keys, values, after=True))[: size + 1])
            else:
                backward = queryset.order_by(*(k.name if k.descending else f"-{k.name}" for k in keys))
                rows = list(backward.filter(_beyond(keys, values, after=False))[: size + 1])
                if len(rows) > size:
                    rows = rows[:size][::-1]
                    return self._made(
                        keys, rows, has_previous=True, has_next=True, jump_value=jump_value, params=params
                    )
                # Back at the start: a full first page rather than a short one.
                rows, first = list(forward[: size + 1]), True
        elif jump_value and self.jump is not None:
            condition = self.jump.condition(jump_value, keys[0].name, keys[0].descending)
            rows = list(forward.filter(condition)[: size + 1])
        else:
            rows, first = list(forward[: size + 1]), True
        has_next = len(rows) > size
        rows = rows[:size]
        has_previous = not first and _exists_beyond(queryset, keys, rows, after=False)
        return self._made(
            keys, rows, has_previous=has_previous, has_next=has_next, jump_value=jump_value, params=params
        )

    def _made(self, keys, rows, *, has_previous: bool, has_next: bool, jump_value: str, params) -> KeysetPage:
        return KeysetPage(
            object_list=rows,
            has_next=has_next and bool(rows),
            has_previous=has_previous and bool(rows),
            next_cursor=self._encode(keys, rows[-1], "n") if has_next and rows else None,
            previous_cursor=self._encode(keys, rows[0], "p") if has_previous and rows else None,
            jump_kind=self.jump.kind if self.jump else None,
            jump_value=jump_value,
            stale_page=STALE_PAGE_PARAM in params,
        )


def keys_value_to_text(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, int | str):
        return value
    return str(value)


def _beyond(keys: Sequence[_Key], values: Sequence[Any], *, after: bool) -> Q:
    """Rows strictly after (or before) the position in the list's order.

    (a, b, pk) > (x, y, z) spelt for mixed directions as a AND-bounded OR: the bound on the first column
    alone (a >= x) is what lets the index start at the position; the OR then drops the ties already seen.
    """

    def op(key: _Key, strict: bool) -> str:
        greater = key.descending != after  # after, on an ascending column: greater
        return ("gt" if strict else "gte") if greater else ("lt" if strict else "lte")

    either = Q()
    for i, key in enumerate(keys):
        term = Q(**{f"{key.name}__{op(key, True)}": values[i]})
        for prior, value in zip(keys[:i], values[:i], strict=False):
            term &= Q(**{prior.name: value})
        either |= term
    first = keys[0]
    return Q(**{f"{first.name}__{op(first, False)}": values[0]}) & either


def _exists_beyond(queryset: QuerySet, keys: Sequence[_Key], rows: list, *, after: bool) -> bool:
    if not rows:
        return False
    edge = rows[-1] if after else rows[0]
    values = [getattr(edge, key.attname) for key in keys]
    # order_by() and values("pk"): an index probe of one row, not the page's joins.
    return queryset.order_by().filter(_beyond(keys, values, after=after)).values("pk")[:1].exists()


# --- counts --------------------------------------------------------------------------


@dataclass(frozen=True)
class ListCount:
    """How many rows a list has: exact up to the cap; past it the planner's estimate where the database
    gives one (`estimated`), else only "more than the cap"."""

    value: int
    exact: bool
    estimated: bool
    cap: int

    @property
    def capped(self) -> bool:
        return not self.exact


def list_count(queryset: QuerySet, *, cap: int | None = None) -> ListCount:
    cap = COUNT_CAP if cap is None else cap
    # Without ORDER BY and joins the LIMIT stops the scan at cap + 1 rows; with them PostgreSQL sorted
    # every visible row first (49 ms against 1.8 ms for a province's cards, issue 12 §1.4).
    plain = queryset.order_by().select_related(None)
    counted, estimate = counted_and_estimated(plain, cap)
    if counted is None:
        return ListCount(value=cast(int, estimate), exact=False, estimated=True, cap=cap)
    if counted <= cap:
        return ListCount(value=counted, exact=True, estimated=False, cap=cap)
    if estimate is None or estimate <= cap:
        return ListCount(value=cap, exact=False, estimated=False, cap=cap)
    return ListCount(value=estimate, exact=False, estimated=True, cap=cap)


# Counting cap + 1 rows is itself a scan that grows with the list up to the cap (the bindings admin joined
# 10,001 bindings to their cards: 24 ms at 200k cards, against 1 ms for the EXPLAIN). After ANALYZE the
# planner is off by a few per cent, not by half: an estimate past twice the cap is taken as it is.
TRUSTED_ESTIMATE_FACTOR = 2


def counted_and_estimated(queryset: QuerySet, cap: int) -> tuple[int | None, int | None]:
    """The rows counted up to cap + 1, and PostgreSQL's estimate of them all (None on other databases),
    in one statement either way; the count is None, not run, where the estimate is past
    TRUSTED_ESTIMATE_FACTOR times the cap.

    One statement, so that a list past the cap costs the same queries as one below it: the scale
    benchmark fails a page whose query count differs between 1,000 and a million cards (issue 12 §2).
    The estimate is the planner's (EXPLAIN in realname_count_estimate, accounts migration 0010: nothing is
    run), pg_class.reltuples scaled to the table's pages when unfiltered, the planner's selectivity when
    filtered; good to a few per cent after ANALYZE, which is all a list's "about" needs."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return queryset[: cap + 1].count(), None
    if queryset.query.is_empty():
        # queryset.none() (a filter that cannot match) compiles to no SQL at all.
        return 0, 0
    # The primary keys alone, as Django's own count of a slice selects (an index-only scan where one fits);
    # a DISTINCT list keeps its columns, which are what it is distinct on.
    counted_rows = queryset if queryset.query.distinct else queryset.values("pk")
    capped_sql, capped_params = counted_rows[: cap + 1].query.sql_with_params()
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        # The function EXPLAINs a statement given as text, so the whole query goes with its values bound
        # by the driver's own quoting (mogrify), never by string formatting.
        whole = cursor.mogrify(sql, params)
        # The count is a subquery of the CASE: PostgreSQL runs it only where the CASE reaches it.
        cursor.execute(
            "SELECT CASE WHEN estimated.rows > %s THEN NULL "
            f"ELSE (SELECT COUNT(*) FROM ({capped_sql}) AS capped) END, estimated.rows "
            "FROM (SELECT realname_count_estimate(%s) AS rows) AS estimated",
            [cap * TRUSTED_ESTIMATE_FACTOR, *capped_params, whole.decode() if isinstance(whole, bytes) else whole],
        )
        counted, estimate = cursor.fetchone()
    return (None if counted is None else int(counted)), int(estimate)
