"""Paging a list that may hold millions of rows in the operations admin (issue 12 §1.4, §1.5).

A changelist of a large table pages by keyset (core.keyset: "next" and "previous" carry a signed cursor,
so page 40,000 costs what page 1 does and every row is reachable) and counts at most COUNT_CAP + 1 rows,
showing "more than" or PostgreSQL's estimate past them, never a full count of the whole table.

A column head's sort the keyset cannot follow (a related model's field, a nullable column, an
annotation) falls back to the capped, numbered OFFSET pager (CappedPaginator): ops keep every sort they
had, and the cost of a deep OFFSET page is only paid on a sort they chose. A keyset over a column without
an index is no slower than OFFSET over the same sort (both sort the filtered rows; OFFSET then also skips
them), so a sortable direct column pages by keyset too; the default orderings are on indexes
(tests/cards/test_admin_keyset.py checks them).
"""

from __future__ import annotations

from typing import ClassVar, cast

from django.contrib import messages
from django.contrib.admin.views.main import PAGE_VAR, ChangeList
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from core.errors import ValidationFailed
from core.keyset import COUNT_CAP, CURSOR_PARAM, Keyset, KeysetPage, ListCount, counted_and_estimated, list_count

# The admin shows the first page under the note, rather than the portal's 400 page (core.keyset).
MSG_BAD_ADMIN_CURSOR = _("This page link is broken or belongs to another list: this is the list's first page.")
MSG_STALE_ADMIN_PAGE = _("Pages are no longer numbered: this is the list's first page. Use Next and Previous.")


class CappedPaginator(Paginator):
    """Counts at most `cap` + 1 rows (COUNT over a LIMIT subquery), so a page stays cheap with millions of
    rows; `capped` says the true count is larger."""

    cap = COUNT_CAP

    @cached_property
    def count(self) -> int:
        # The stubs allow any sequence; the lists page querysets. Without its ordering and joins the LIMIT
        # stops the scan at cap + 1 rows; with them PostgreSQL sorted every visible row first (0.44 s at a
        # million cards, against milliseconds).
        queryset = cast(QuerySet, self.object_list).order_by().select_related(None)
        counted, _estimate = counted_and_estimated(queryset, self.cap)
        # Not counted: far past the cap by the planner's estimate, "more than the cap" as a count would say,
        # without counting cap + 1 rows through the changelist's joins (core.keyset).
        return self.cap + 1 if counted is None else counted

    @property
    def capped(self) -> bool:
        return self.count > self.cap


class KeysetChangeList(ChangeList):
    """A changelist that pages by keyset where its ordering allows, else by the capped OFFSET pager.

    The template admin/pagination.html shows `keyset_page` (First, Previous, Next) and `list_count`; the
    action checkboxes and "select all" work on the page's rows and the filtered queryset as usual."""

    keyset_page: KeysetPage | None = None
    list_count: ListCount | None = None

    def __init__(self, request, *args, **kwargs):
        self.cursor = str(request.GET.get(CURSOR_PARAM) or "")
        self.stale_page = PAGE_VAR in request.GET
        super().__init__(request, *args, **kwargs)
        # The search form keeps `params` as hidden fields: a new search starts at its first page.
        self.params.pop(CURSOR_PARAM, None)

    def get_filters_params(self, params=None):
        # The cursor says where in the list, not what is listed: as a lookup it would be a field error.
        lookup_params = super().get_filters_params(params)
        lookup_params.pop(CURSOR_PARAM, None)
        return lookup_params

    def get_query_string(self, new_params=None, remove=None):
        # A link to another filter, search or sort starts at its first page, as Django's drop `p`.
        return super().get_query_string({CURSOR_PARAM: None, **(new_params or {})}, remove)

    def keyset(self) -> Keyset | None:
        """The keyset of the list's ordering (the admin's, or the column head's), None if it cannot be one."""
        ordering = self.queryset.query.order_by
        if self.list_editable or not ordering or not all(isinstance(item, str) for item in ordering):
            return None
        # The site and the ordering are in the cursor's salt: a cursor of another sort, or of the same
        # model on the approval desk, is refused rather than read as a position it is not.
        name = f"admin.{self.model_admin.admin_site.name}.{self.opts.label_lower}:{','.join(ordering)}"
        keyset = Keyset(name, tuple(ordering), per_page=self.list_per_page)
        return keyset if keyset.fits(self.model) else None

    def get_results(self, request):
        keyset = self.keyset()
        if keyset is None:
            super().get_results(request)
            return
        try:
            page = keyset.page(self.queryset, {CURSOR_PARAM: self.cursor})
        except ValidationFailed:
            messages.error(request, MSG_BAD_ADMIN_CURSOR)
            page = keyset.page(self.queryset, {})
        if self.stale_page:
            messages.info(request, MSG_STALE_ADMIN_PAGE)
        count = list_count(self.queryset)
        self.keyset_page = page
        self.list_count = count
        self.first_url = self.get_query_string()
        self.next_url = self.get_query_string({CURSOR_PARAM: page.next_cursor}) if page.has_next else ""
        self.previous_url = self.get_query_string({CURSOR_PARAM: page.previous_cursor}) if page.has_previous else ""
        self.result_list = page.object_list
        self.result_count = count.value
        self.full_result_count = None
        self.show_full_result_count = False
        # No full count to tell an empty table from an empty page: the actions stay, as Django does then.
        self.show_admin_actions = True
        # Django's numbered links and "Show all" need an OFFSET paginator and a true count: off.
        self.can_show_all = False
        self.multi_page = False
        self.paginator = None


class CappedListAdminMixin:
    """An admin changelist over a large table: keyset pages, the capped count, and no full count of the
    whole table next to it (Django's "N results (M total)")."""

    paginator: ClassVar[type] = CappedPaginator
    show_full_result_count = False

    def get_changelist(self, request, **kwargs):
        return KeysetChangeList
