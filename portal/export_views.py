"""The export pages (issue 11 §3): a list's export link, a large export's progress page and its JSON,
and the download, for the requester only and until it expires. The rows and columns are
portal.exports'; a refusal is a core.errors error, rendered by core.middleware."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from cards.card_users.views import card_user_search
from core.errors import Conflict, NotFound, ValidationFailed
from core.http import no_store
from core.keyset import POSITION_PARAMS
from core.search import looks_like_id_number
from portal import exports
from portal.models import ExportFormat, ExportStatus


def _params(request, name: str) -> dict[str, str]:
    """The list's filters and search from its GET parameters, as the list page reads them."""
    # Where the page stood in its list (cursor, jump) is no filter: the export is the whole filtered list.
    params = {key: value for key, value in request.GET.items() if key not in POSITION_PARAMS and key != "format"}
    if name == "card_users":
        params.pop("s", None)
        if looks_like_id_number(params.get("q", "")):
            raise ValidationFailed(
                _("Search an ID number with the search box: it is never put in the address."),
                code="id_number_in_url",
                field="q",
            )
        value, expired = card_user_search(request)
        params.update(q=value, expired="1" if expired else "")
    return params


def _filename(name: str, file_format: str) -> str:
    return f"{name}-{timezone.localtime():%Y%m%d-%H%M}.{file_format}"


@login_required
@never_cache
@require_safe
def export_list(request, name: str):
    spec = exports.spec_for(name)
    file_format = exports.clean_format(request.GET.get("format"))
    params = _params(request, name)
    queryset = spec.rows(request.user, params)
    limit = exports.sync_max_rows()
    rows = exports.count_up_to(queryset, limit)
    if rows > limit:
        job = exports.export_queue(actor=request.user, name=name, file_format=file_format, params=params, rows=rows)
        return redirect("exports:detail", public_id=job.public_id)
    body = exports.export_now(
        actor=request.user, name=name, file_format=file_format, params=params, queryset=queryset, rows=rows
    )
    response: HttpResponse | StreamingHttpResponse
    if file_format == ExportFormat.CSV:
        response = StreamingHttpResponse(body, content_type=exports.CONTENT_TYPES[ExportFormat.CSV])
    else:
        response = HttpResponse(body, content_type=exports.XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{_filename(name, file_format)}"'
    return no_store(response)


def _progress(job) -> dict:
    ready = job.status == ExportStatus.DONE and not exports.is_expired(job)
    return {
        "status": job.status,
        "status_label": str(job.get_status_display()),
        "done_rows": job.done_rows,
        "total_rows": job.total_rows,
        "expired": exports.is_expired(job),
        "download_url": reverse("exports:download", args=[job.public_id]) if ready else None,
        "expires_at": job.expires_at.isoformat() if job.expires_at else None,
    }


@login_required
@never_cache
@require_safe
def export_detail(request, public_id):
    job = exports.export_for_requester(request.user, public_id)
    return render(
        request,
        "exports/detail.html",
        {"job": job, "progress": _progress(job), "title": exports.spec_for(job.list_name).title},
    )


@login_required
@never_cache
@require_safe
def export_progress(request, public_id):
    job = exports.export_for_requester(request.user, public_id)
    return no_store(JsonResponse(_progress(job)))


@login_required
@never_cache
@require_safe
def export_download(request, public_id):
    job = exports.export_for_requester(request.user, public_id)
    if exports.is_expired(job):
        raise NotFound(_("This export has expired. Export the list again."))
    if job.status != ExportStatus.DONE or not job.file:
        raise Conflict(_("The export is not ready yet."), code="export_not_ready")
    response = FileResponse(
        job.file.open("rb"),
        as_attachment=True,
        filename=_filename(job.list_name, job.file_format),
        content_type=exports.CONTENT_TYPES[job.file_format],
    )
    return no_store(response)
