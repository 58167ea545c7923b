"""Export of the lists as CSV and XLSX (issue 11 §3), with the list's current filters and search.

Each list names its rows (the same function its page uses, so the scope, filters and search are the
page's) and its columns (what the page shows, masked as the page masks it). A small export is
answered at once; one of more than EXPORT_SYNC_MAX_ROWS rows becomes a ListExport built by
portal.tasks.build_list_export into private storage, which only its requester may download, until it
expires. Every export writes an audit event with the list, the format, the filters, whether a search
was used (never the search itself: it may be a name or an ID number) and the rows counted.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.services import audit_record
from approvals.models import ApprovalLevel
from approvals.views import (
    exemption_decisions_text,
    exemptions_listed,
    queue_change_requests_listed,
    queue_exemptions_listed,
    review_queue_listed,
)
from cards.card_users.views import card_users_listed, with_live_cards
from cards.imports.views import imports_listed
from cards.inventory.views import cards_listed
from cards.orders.views import orders_listed, with_card_counts
from core.errors import NotFound, ValidationFailed
from core.keyset import POSITION_PARAMS
from core.queueing import enqueue, requeue_stale
from core.text import join_words
from enterprises.views import enterprises_listed
from portal.models import ExportFormat, ExportStatus, ListExport

# Parameters of a list page that are no filter (where in the list is core.keyset's: the export takes all of it).
NOT_FILTERS = frozenset({"format", "s", "q"}) | POSITION_PARAMS
PROGRESS_EVERY = 500
CHUNK = 1000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CONTENT_TYPES = {ExportFormat.CSV: "text/csv; charset=utf-8", ExportFormat.XLSX: XLSX_TYPE}


def sync_max_rows() -> int:
    return int(getattr(settings, "EXPORT_SYNC_MAX_ROWS", 5000))


def file_hours() -> int:
    return int(getattr(settings, "EXPORT_FILE_HOURS", 24))


def _when(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


@dataclass(frozen=True)
class ListSpec:
    title: Promise
    rows: Callable[[Any, dict[str, str]], QuerySet]
    columns: tuple[tuple[Promise, Callable[[Any], object]], ...]


def _levels(request) -> str:
    labels = dict(ApprovalLevel.choices)
    return join_words(labels.get(level, level) for level in request.required_levels or [])


def _distance(verification) -> object:
    return round(verification.distance, 3) if verification.distance is not None else "—"


def _card_realname(card) -> str:
    if card.realname_required:
        return f"{_('Required')} {card.realname_rules}".strip()
    return str(_("Not required"))


LISTS: dict[str, ListSpec] = {
    "cards": ListSpec(
        title=_("Cards"),
        rows=lambda user, params: cards_listed(user, params)[0],
        columns=(
            (_("ICCID"), lambda card: card.iccid),
            (_("Number"), lambda card: card.msisdn),
            (_("Enterprise"), lambda card: card.enterprise.name),
            (_("Package"), lambda card: card.package.name),
            (
                _("Data / voice / SMS"),
                lambda card: " / ".join(
                    str(x)
                    for x in (
                        card.get_data_service_display(),
                        card.get_voice_service_display(),
                        card.get_sms_service_display(),
                    )
                ),
            ),
            (_("Status"), lambda card: card.get_status_display()),
            (_("User real-name"), _card_realname),
        ),
    ),
    "card_users": ListSpec(
        title=_("Card users"),
        rows=lambda user, params: with_live_cards(
            card_users_listed(user, params.get("q", ""), expired=params.get("expired") == "1")
        ),
        columns=(
            (_("Name"), lambda card_user: card_user.name),
            (_("ID number"), lambda card_user: card_user.id_number_masked),
            (_("Enterprise"), lambda card_user: card_user.enterprise.name),
            (_("Live cards"), lambda card_user: card_user.live_cards),
            (_("Registration status"), lambda card_user: card_user.get_registration_status_display()),
            (_("Registered"), lambda card_user: _when(card_user.created_at)),
        ),
    ),
    "orders": ListSpec(
        title=_("Orders"),
        rows=lambda user, params: with_card_counts(orders_listed(user, params)[0]),
        columns=(
            (_("Order number"), lambda order: order.number),
            (_("Enterprise"), lambda order: order.enterprise.name),
            (_("Business type"), lambda order: order.get_business_type_display()),
            (_("Cards"), lambda order: order.card_count),
            (_("Handler"), lambda order: order.handler.name),
            (_("Status"), lambda order: order.get_status_display()),
            (_("Filed at"), lambda order: _when(order.created_at)),
        ),
    ),
    "exemptions": ListSpec(
        title=_("Exemption requests"),
        rows=lambda user, params: exemptions_listed(user, params)[0],
        columns=(
            (_("Request number"), lambda request: str(request.public_id)),
            (_("Enterprise"), lambda request: request.enterprise.name),
            (_("Rules"), lambda request: ", ".join(request.rules or [])),
            (_("Status"), lambda request: request.get_status_display()),
            (_("Decisions"), exemption_decisions_text),
            (_("Filed at"), lambda request: _when(request.submitted_at)),
        ),
    ),
    "enterprises": ListSpec(
        title=_("Enterprises"),
        rows=lambda user, params: enterprises_listed(user, params)[0].select_related("province", "account_manager"),
        columns=(
            (_("Unit name"), lambda enterprise: enterprise.name),
            (_("Credential type"), lambda enterprise: enterprise.get_credential_type_display()),
            (_("Credential number"), lambda enterprise: enterprise.credential_number_masked or "—"),
            (_("Province"), lambda enterprise: enterprise.province.name),
            (_("Account manager"), lambda enterprise: str(enterprise.account_manager)),
            (_("Status"), lambda enterprise: enterprise.get_status_display()),
            (_("Registered"), lambda enterprise: _when(enterprise.created_at)),
        ),
    ),
    "imports": ListSpec(
        title=_("Card imports"),
        rows=lambda user, params: imports_listed(user, params)[0].select_related("enterprise"),
        columns=(
            (_("Uploaded"), lambda job: _when(job.created_at)),
            (_("Enterprise"), lambda job: job.enterprise.name),
            (_("Status"), lambda job: job.get_status_display()),
            (_("Cards imported"), lambda job: job.imported_rows),
            (_("Rows in the file"), lambda job: job.total_rows),
            (_("Errors"), lambda job: job.error_count),
        ),
    ),
    # The approver's queues (issue 11 §3): what the queue pages show, with their search.
    "queue_exemptions": ListSpec(
        title=_("Exemption requests awaiting your decision"),
        rows=queue_exemptions_listed,
        columns=(
            (_("Request number"), lambda request: str(request.public_id)),
            (_("Enterprise"), lambda request: request.enterprise.name),
            (_("Rules"), lambda request: ", ".join(request.rules or [])),
            (_("Approvals needed"), _levels),
            (_("Filed at"), lambda request: _when(request.submitted_at)),
        ),
    ),
    "queue_change_requests": ListSpec(
        title=_("Change requests awaiting your decision"),
        rows=queue_change_requests_listed,
        columns=(
            (_("Request number"), lambda request: str(request.public_id)),
            (_("Enterprise"), lambda request: request.enterprise.name),
            (_("What changes"), lambda request: request.get_target_display()),
            (_("Filed at"), lambda request: _when(request.submitted_at)),
        ),
    ),
    "face_reviews": ListSpec(
        title=_("Face comparisons awaiting manual review"),
        rows=review_queue_listed,
        columns=(
            (_("Comparison"), lambda verification: str(verification.public_id)),
            (_("Enterprise"), lambda verification: verification.enterprise.name),
            (_("Purpose"), lambda verification: verification.get_purpose_display()),
            (_("Outcome"), lambda verification: verification.get_outcome_display()),
            (_("Distance"), _distance),
            (_("Compared at"), lambda verification: _when(verification.completed_at)),
        ),
    ),
}


def spec_for(name: str) -> ListSpec:
    if name not in LISTS:
        raise NotFound(_("There is no such list to export."))
    return LISTS[name]


def clean_format(value: object) -> str:
    if value not in ExportFormat.values:
        raise ValidationFailed(_("Choose CSV or XLSX."), code="invalid_format", field="format")
    return str(value)


def _safe_cell(value: object) -> object:
    """A cell as written: numbers stay numbers; text that a spreadsheet would run as a formula is quoted."""
    if isinstance(value, int | float):
        return value
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def headers(spec: ListSpec) -> list[str]:
    return [str(title) for title, _cell in spec.columns]


def table(spec: ListSpec, queryset: QuerySet, *, progress: Callable[[int], None] | None = None) -> Iterator[list]:
    """The export's rows after its header row, read in chunks (a large list never sits in memory)."""
    yield headers(spec)
    written = 0
    for obj in queryset.iterator(chunk_size=CHUNK):
        yield [_safe_cell(cell(obj)) for _title, cell in spec.columns]
        written += 1
        if progress and written % PROGRESS_EVERY == 0:
            progress(written)


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_chunks(rows: Iterable[list]) -> Iterator[str]:
    """CSV text as it is streamed; the BOM makes Excel read the UTF-8 (Chinese) right."""
    writer = csv.writer(_Echo())
    yield "\ufeff"
    for row in rows:
        yield writer.writerow(row)


def write_xlsx(rows: Iterable[list], out, *, title: str) -> None:
    from openpyxl import Workbook  # only the exports need it

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31] or "export")
    for row in rows:
        sheet.append(row)
    workbook.save(out)


def xlsx_bytes(rows: Iterable[list], *, title: str) -> bytes:
    buffer = io.BytesIO()
    write_xlsx(rows, buffer, title=title)
    return buffer.getvalue()


def filters_for_audit(params: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in sorted(params.items()) if key not in NOT_FILTERS and key != "expired"}


def _audit(*, actor, obj, name: str, file_format: str, params: dict[str, str], rows: int, mode: str) -> None:
    audit_record(
        actor=actor,
        action="list.exported",
        obj=obj,
        data={
            "list": name,
            "format": file_format,
            "filters": filters_for_audit(params),
            "searched": bool(params.get("q")),
            "rows": rows,
            "mode": mode,
        },
    )


def count_up_to(queryset: QuerySet, limit: int) -> int:
    """How many rows, counted no further than limit + 1 (COUNT over a LIMIT: cheap at a million rows)."""
    return queryset[: limit + 1].count()


def export_now(*, actor, name: str, file_format: str, params: dict[str, str], queryset: QuerySet, rows: int):
    """The rows of a small export (an iterator of CSV text, or the XLSX bytes), audited."""
    spec = spec_for(name)
    _audit(actor=actor, obj=actor, name=name, file_format=file_format, params=params, rows=rows, mode="direct")
    if file_format == ExportFormat.CSV:
        return csv_chunks(table(spec, queryset))
    return xlsx_bytes(table(spec, queryset), title=str(spec.title))


def export_queue(*, actor, name: str, file_format: str, params: dict[str, str], rows: int) -> ListExport:
    """Record a large export and queue its build after commit; the audit event names the export row."""
    spec_for(name)
    with transaction.atomic():
        job = ListExport.objects.create(
            requested_by=actor,
            list_name=name,
            file_format=file_format,
            parameters=json.dumps(params, ensure_ascii=False),
            total_rows=rows,
        )
        _audit(actor=actor, obj=job, name=name, file_format=file_format, params=params, rows=rows, mode="background")
        transaction.on_commit(lambda: _queue(job.pk), robust=True)
    return job


def _queue(job_id: int) -> bool:
    from portal.tasks import build_list_export  # the task module imports this one

    return enqueue(build_list_export, job_id, model=ListExport, what="list export")


def export_build(*, job_id: int) -> str:
    """Build a queued export (the task's body). Safe to repeat: a finished or failed one is left alone;
    the rows are those the requester may see now (their scope is read again)."""
    with transaction.atomic():
        job = ListExport.objects.select_for_update().filter(pk=job_id).select_related("requested_by").first()
        if job is None or job.status in (ExportStatus.DONE, ExportStatus.FAILED):
            return "nothing to do"
        job.status = ExportStatus.RUNNING
        job.save(update_fields=["status"])
    spec = spec_for(job.list_name)
    params = json.loads(job.parameters or "{}")
    user = job.requested_by
    queryset = spec.rows(user, params) if user.is_active else spec.rows(user, params).none()

    def progress(done: int) -> None:
        ListExport.objects.filter(pk=job.pk).update(done_rows=done)

    written = 0

    def counted(rows: Iterable[list]) -> Iterator[list]:
        nonlocal written
        for row in rows:
            written += 1
            yield row

    try:
        with tempfile.TemporaryFile() as out:
            rows = counted(table(spec, queryset, progress=progress))
            if job.file_format == ExportFormat.CSV:
                text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
                for chunk in csv_chunks(rows):
                    text.write(chunk)
                text.flush()
                text.detach()
            else:
                write_xlsx(rows, out, title=str(spec.title))
            out.seek(0)
            job.file.save(f"{job.public_id}.{job.file_format}", File(out), save=False)
    except Exception:
        ListExport.objects.filter(pk=job.pk).update(status=ExportStatus.FAILED, finished_at=timezone.now())
        raise
    now = timezone.now()
    job.status = ExportStatus.DONE
    job.done_rows = job.total_rows = max(written - 1, 0)
    job.finished_at = now
    job.expires_at = now + timedelta(hours=file_hours())
    job.save(update_fields=["status", "done_rows", "total_rows", "file", "finished_at", "expires_at"])
    return "built"


def export_for_requester(user, public_id: object) -> ListExport:
    """The user's own export (anyone else's does not exist for them)."""
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        key = None
    job = ListExport.objects.filter(public_id=key, requested_by=user).first() if key else None
    if job is None:
        raise NotFound(_("The export does not exist or is not yours."))
    return job


def is_expired(job: ListExport) -> bool:
    return job.expires_at is not None and job.expires_at <= timezone.now()


def exports_sweep(*, now: datetime | None = None) -> int:
    """Delete the files of expired exports (the row stays, for the page to say so) and queue again the
    pending ones whose task was lost. Returns how many files it deleted."""
    now = now or timezone.now()
    deleted = 0
    for job in ListExport.objects.filter(expires_at__lte=now).exclude(file="").order_by("pk")[:500]:
        job.file.delete(save=False)
        ListExport.objects.filter(pk=job.pk).update(file="")
        deleted += 1
    from portal.tasks import build_list_export  # the task module imports this one

    requeue_stale(ListExport.objects.filter(status=ExportStatus.PENDING), build_list_export, what="list export")
    return deleted
