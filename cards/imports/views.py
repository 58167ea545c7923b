"""Portal pages of the bulk card import, under /cards/imports/ (namespace "card_imports").

The upload form (account managers pick one of their province's enterprises;
enterprise admins import for their own), the status page with a progress bar
that polls the API (static/js/import_progress.js), the error report and the
templates. Reads are scoped by cards.imports (invisible: 404); approvers and
ops may look at imports but not upload (403).
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from accounts.permissions import Capability, can, may_somewhere
from accounts.roles import Role
from cards.imports import parsing, report, selectors, services
from cards.models import ImportStatus, Package
from core import errors
from core.forms import KeepsUploadsMixin, add_domain_error
from core.http import no_store
from core.keyset import DateJump, Keyset, list_count
from core.pending_uploads import upload_owner
from enterprises.autocomplete import EnterpriseField

RECENT_IMPORTS = 10
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class CardImportForm(KeepsUploadsMixin, forms.Form):
    enterprise = EnterpriseField(label=_("Enterprise"), capability=Capability.CARDS_IMPORT, by_credential=True)
    file = forms.FileField(
        label=_("Card file"),
        help_text=_("CSV (UTF-8 or GBK) or Excel workbook (.xlsx), at most %(limit)s MB."),
        widget=forms.ClearableFileInput(
            attrs={"accept": ".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
        ),
        error_messages={"empty": _("The file is empty."), "required": _("Choose a card file (CSV or XLSX).")},
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        queryset = selectors.enterprises_for_import(user)
        field = self.fields["enterprise"]
        assert isinstance(field, EnterpriseField)  # self.fields holds any Field
        field.queryset = queryset
        self.fields["file"].help_text = self.fields["file"].help_text % {"limit": parsing._mb(parsing.max_bytes())}
        if user.role == Role.ENTERPRISE_ADMIN:
            # Their own enterprise only: nothing to choose.
            own = queryset.first()
            self.fields["enterprise"].widget = forms.HiddenInput()
            self.fields["enterprise"].initial = own.public_id if own else None
        self.own_enterprise = queryset.first() if user.role == Role.ENTERPRISE_ADMIN else None


class ImportFilterForm(forms.Form):
    """The import list's filters: the day uploaded (what the dashboards' per-day bars link to) and the status."""

    day = forms.DateField(label=_("Uploaded on"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All statuses")), *ImportStatus.choices]
    )

    def apply(self, queryset):
        if self.cleaned_data.get("day"):
            queryset = selectors.card_imports_on_day(queryset, self.cleaned_data["day"])
        if self.cleaned_data.get("status"):
            queryset = queryset.filter(status=self.cleaned_data["status"])
        return queryset


def _load(user, public_id):
    try:
        return selectors.card_import_for_user(user, public_id)
    except errors.NotFound as exc:
        raise Http404(str(exc.message)) from exc


def cards_list_url() -> str:
    try:
        return reverse("cards:list")
    except NoReverseMatch:
        return "/cards/"


def _download(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    no_store(response)
    return response


@login_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def import_new(request):
    """The upload form and the latest imports; roles that may not upload see the list only."""
    user = request.user
    may_upload = may_somewhere(user, Capability.CARDS_IMPORT)
    if not may_upload and request.method == "POST":
        raise PermissionDenied(str(services.MSG_NOT_ALLOWED))
    recent = selectors.card_imports_visible_to(user).order_by("-created_at", "-pk")[:RECENT_IMPORTS]
    form = None
    if may_upload:
        initial = {}
        if request.method == "GET" and request.GET.get("enterprise"):
            initial["enterprise"] = request.GET["enterprise"]
        form = CardImportForm(
            request.POST or None,
            request.FILES or None,
            user=user,
            initial=initial,
            uploads_owner=upload_owner(request),
        )
        if request.method == "POST" and form.is_valid():
            try:
                job = services.card_import_create(
                    actor=user, enterprise=form.cleaned_data["enterprise"], upload=form.cleaned_data["file"]
                )
            except errors.PermissionDenied as exc:
                raise PermissionDenied(str(exc.message)) from exc
            except errors.NotFound as exc:
                raise Http404(str(exc.message)) from exc
            except errors.DomainError as exc:
                add_domain_error(form, exc)
            else:
                form.uploads_used()
                return redirect("card_imports:detail", public_id=job.public_id)
    # The example names a package of the live catalogue: one with free services (a test package
    # would fix them and refuse the example's), else the demo catalogue's.
    packages = list(Package.objects.filter(is_active=True).order_by("is_test_package", "code"))
    example_package = packages[0].code if packages and not packages[0].is_test_package else parsing.EXAMPLE_PACKAGE_CODE
    columns = [
        {
            "name": doc.name,
            "required": doc.required,
            "description_text": doc.description_text,
            "example": example_package if doc.name == "package_code" else doc.example,
        }
        for doc in parsing.COLUMN_DOCS
    ]
    return render(
        request,
        "cards/import_new.html",
        {
            "form": form,
            "columns": columns,
            "packages": sorted(packages, key=lambda package: package.code),
            "example_csv": report.example_csv(example_package),
            "recent": recent,
            "max_mb": parsing._mb(parsing.max_bytes()),
        },
    )


IMPORT_KEYSET = Keyset("imports", ("-created_at", "-pk"), jump=DateJump())


def imports_listed(user, params):
    """The imports the list shows for these GET parameters, and its filter form: the page's and the
    export's."""
    form = ImportFilterForm(params or None)
    queryset = selectors.card_imports_visible_to(user).order_by("-created_at", "-pk")
    if form.is_bound:
        queryset = form.apply(queryset) if form.is_valid() else queryset.none()
    return queryset, form


@login_required
@never_cache
@require_safe
def import_list(request):
    """Every import the user may see, newest first, by day uploaded and status."""
    queryset, form = imports_listed(request.user, request.GET)
    page = IMPORT_KEYSET.page(queryset, request.GET)
    return render(
        request,
        "cards/import_list.html",
        {"form": form, "page_obj": page, "imports": page.object_list, "count": list_count(queryset)},
    )


@login_required
@never_cache
@require_safe
def import_detail(request, public_id):
    job = _load(request.user, public_id)
    finished = job.status in (ImportStatus.SUCCEEDED, ImportStatus.FAILED)
    return render(
        request,
        "cards/import_detail.html",
        {
            "job": job,
            "finished": finished,
            "progress": selectors.progress_percent(job),
            "errors_shown": report.error_rows(job, limit=report.ERRORS_SHOWN),
            "errors_limit": report.ERRORS_SHOWN,
            "status_url": reverse("api:card-import-detail", kwargs={"public_id": job.public_id}),
            "cards_url": cards_list_url(),
            "may_upload": can(request.user, Capability.CARDS_IMPORT, job.enterprise),
        },
    )


@login_required
@require_safe
def import_errors_csv(request, public_id):
    job = _load(request.user, public_id)
    return _download(report.error_report_csv(job), CSV_TYPE, f"card-import-errors-{str(job.public_id)[:8]}.csv")


@login_required
@require_safe
def template_csv(request):
    return _download(report.template_csv(), CSV_TYPE, "card-import-template.csv")


@login_required
@require_safe
def template_xlsx(request):
    return _download(report.template_xlsx(), XLSX_TYPE, "card-import-template.xlsx")
