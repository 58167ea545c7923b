"""Bulk import of card lists (issue 3 §2): CSV or XLSX files, imported whole or not at all.

Two steps, two entry points:

* :func:`card_import_create` (the page and the API call it) checks the role,
  the size, the file type, the text encoding and the header row, stores the
  file in private storage and queues :func:`cards.imports.tasks.run_card_import` once
  the row is committed. A file that fails these checks is refused at once
  with a ValidationFailed on ``file``; no row and no file are kept.
* :func:`card_import_run` (the Celery task calls it; safe to repeat) reads
  the stored file, validates every row (ICCID, MSISDN, IMSI, package, service
  levels, which on an IoT test-card package must be the package's (U4),
  duplicates within the file and against the database) while saving
  its progress, and then either writes every card in one transaction
  (``COPY`` on PostgreSQL, ``bulk_create`` elsewhere) or records the errors
  and writes no card at all.

Cards created here are in stock, carry the cached rule decision
(:func:`cards.inventory.services.decision_cache_fields`) and the U4 facts (a card on a
test package starts its trial, one on a commercial package has been commercial),
and point at their import
through ``Card.import_job``. No CardEvent is written per card: a card's
history shows that it came from an import through ``card.import_job``.

Error rows are stored as dicts ``{"row", "column", "code", "value",
"params", "message"}``: ``row`` is the row number Excel shows (the header is
row 1), ``message`` is the English text; :func:`error_message` renders it in
the reader's language from the code.
"""

from __future__ import annotations

import logging
import operator
from typing import TYPE_CHECKING, Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from accounts.models import NoticeKind, User
from accounts.notifications import notify, path_for
from accounts.permissions import Capability, actor_user, require
from accounts.services import audit_record
from cards.imports.copy_writer import _write_cards, analyze_cards
from cards.imports.parsing import inspect_file, parse_file, read_upload
from cards.imports.report import _error_dicts, _max_stored_errors
from cards.imports.rows import RowError
from cards.imports.validation import database_duplicates, number_range_errors, validate_rows
from cards.models import CardImport, ImportStatus, Package
from core.errors import ValidationFailed
from core.files import atomic_with_files
from core.queueing import enqueue
from enterprises.models import Enterprise
from integrations.webhooks.models import EventType
from integrations.webhooks.payloads import emit_event

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

logger = logging.getLogger(__name__)
MSG_NOT_ALLOWED = _("Your role may not import cards for this enterprise.")

# Run-level outcomes, stored in CardImport.failure_message.
MSG_ROWS_REFUSED = _(
    "%(count)s errors were found in the file. Nothing was imported: correct the rows and upload the file again."
)
MSG_INTERNAL = _("The import failed because of an internal error. Nothing was imported. Try again later.")
MSG_TIMEOUT = _("The import took too long and was stopped. Nothing was imported. Split the file and try again.")


# --- the services ------------------------------------------------------------------


def card_import_create(*, actor: User, enterprise: Enterprise, upload: UploadedFile | None) -> CardImport:
    """Accept a card file for an enterprise and queue its import. Bad files are refused here, whole."""
    require(actor, Capability.CARDS_IMPORT, enterprise, message=MSG_NOT_ALLOWED)
    if upload is None:
        raise ValidationFailed(_("Choose a card file (CSV or XLSX)."), code="required", field="file")
    content = read_upload(upload)
    file_format = inspect_file(content)
    job = CardImport(
        enterprise=enterprise,
        file_format=file_format,
        created_by=actor_user(actor),
        actor_data=dict(getattr(actor, "audit_data", None) or {}),
    )
    with atomic_with_files() as stored:
        storage = job.file.storage
        job.file.name = stored.add(
            storage, storage.save(f"card-imports/{job.public_id}.{file_format}", ContentFile(content))
        )
        job.save()
        audit_record(
            actor=actor,
            action="card_import.created",
            obj=job,
            data={"enterprise": str(enterprise.public_id), "format": file_format, "size": len(content)},
        )
        transaction.on_commit(lambda: _queue(job.pk), robust=True)
    return job


def _queue(import_id: int) -> bool:
    """Queue the import. With the broker down it stays pending and the upload is still answered 202;
    cards.imports.tasks.requeue_pending_imports sends it again later."""
    # Here, not at the top: cards.imports.tasks imports this module to run the import.
    from cards.imports.tasks import run_card_import

    return enqueue(run_card_import, import_id, model=CardImport, what="card import")


def _save_progress(import_id: int, processed: int) -> None:
    # Outside the write transaction, so other sessions see it while the import runs.
    CardImport.objects.filter(pk=import_id, status=ImportStatus.RUNNING).update(processed_rows=processed)


def _packages() -> dict[str, tuple[Any, ...]]:
    """code -> (pk, test package, available, its fixed services or None, code, test period days or None)."""
    rows = Package.objects.values_list(
        "pk", "code", "is_test_package", "is_active", "data_service", "voice_service", "sms_service", "test_period_days"
    )
    return {
        code: (pk, test, active, (data, voice, sms) if test else None, code, days if test else None)
        for pk, code, test, active, data, voice, sms, days in rows
    }


def _finish_failed(
    job: CardImport,
    *,
    message: StrOrPromise,
    code: str,
    errors: list[RowError] | None = None,
    processed: int | None = None,
) -> str:
    errors = errors or []
    stored = _error_dicts(errors, _max_stored_errors())
    with translation.override(settings.LANGUAGE_CODE):
        text = str(message)
    fields = {
        "status": ImportStatus.FAILED,
        "error_count": len(errors),
        "errors": stored,
        "failure_message": text,
        "imported_rows": 0,
        "finished_at": timezone.now(),
    }
    if processed is not None:
        fields["processed_rows"] = processed
    with transaction.atomic():
        updated = CardImport.objects.filter(pk=job.pk).exclude(status=ImportStatus.SUCCEEDED).update(**fields)
        if updated:
            job.refresh_from_db()
            audit_record(
                actor=None,
                action="card_import.failed",
                obj=job,
                data={**job.actor_data, "error_count": len(errors), "total_rows": job.total_rows},
            )
            _emit_finished(job, reason=code)
    return ImportStatus.FAILED


def _emit_finished(job: CardImport, *, reason: str | None) -> None:
    """In the transaction that ends the import, succeeded or failed: each import is reported once."""
    emit_event(
        job.enterprise,
        EventType.CARD_IMPORT_FINISHED,
        card_import=job.public_id,
        status=job.status,
        total_rows=job.total_rows,
        imported_rows=job.imported_rows,
        error_count=job.error_count,
        reason=reason,
    )
    _tell_uploader(job)


def _tell_uploader(job: CardImport) -> None:
    """Its uploader hears that the import finished (issue 11 §3), in the same transaction; an import
    by a platform API key has no user to tell (its webhook event above tells the platform)."""
    if job.created_by_id is None:
        return
    with translation.override(settings.LANGUAGE_CODE):
        ref = str(job.public_id)[:8].upper()
        if job.status == ImportStatus.SUCCEEDED:
            title = _("Card import %(ref)s finished: %(count)d cards imported") % {
                "ref": ref,
                "count": job.imported_rows,
            }
        else:
            title = _("Card import %(ref)s failed: no card was imported") % {"ref": ref}
        body = str(job.failure_message) if job.status != ImportStatus.SUCCEEDED else ""
        notify(
            job.created_by,
            NoticeKind.IMPORT_FINISHED,
            job,
            title=str(title),
            body=body,
            link=path_for("card_imports:detail", job.public_id),
        )


def card_import_run(*, import_id: int, task_id: str | None = None) -> str:
    """Import a stored card file: every row or none. Safe to repeat: a finished import does nothing.

    `task_id` is the Celery task's id. A pending import is taken by the first task that runs; a
    redelivery of that same task (worker lost mid-way) finds it running under its own id and runs
    it again, which is safe because nothing is written until the final transaction, which checks
    the state under a row lock. Another message for the same import (the beat task sends one when
    the first seemed lost) finds it taken and does nothing. Without a task id (a direct call) a
    running import is taken over.
    """
    claimable = Q(status=ImportStatus.PENDING)
    claimable |= Q(status=ImportStatus.RUNNING) if task_id is None else Q(status=ImportStatus.RUNNING, task_id=task_id)
    claimed = CardImport.objects.filter(claimable, pk=import_id).update(
        status=ImportStatus.RUNNING, processed_rows=0, task_id=task_id or ""
    )
    if not claimed:
        return "nothing_to_do"
    job = CardImport.objects.select_related("enterprise").get(pk=import_id)
    try:
        return _run(job)
    except ValidationFailed as exc:
        return _finish_failed(job, message=exc.message, code=exc.code)
    except Exception as exc:  # never leave an import running; the task must not crash the request in eager mode
        if isinstance(exc, SoftTimeLimitExceeded):
            return _finish_failed(job, message=MSG_TIMEOUT, code="timeout")
        logger.exception("card import %s failed", job.public_id)
        return _finish_failed(job, message=MSG_INTERNAL, code="internal_error")


_by_iccid = operator.attrgetter("iccid")
_by_row = operator.attrgetter("row")
_by_first = operator.itemgetter(0)


def _run(job: CardImport) -> str:
    with job.file.open("rb") as handle:
        content = handle.read()
    parsed = parse_file(content, job.file_format or None)
    total = len(parsed.rows)
    CardImport.objects.filter(pk=job.pk).update(total_rows=total)
    job.total_rows = total

    valid, errors = validate_rows(parsed, _packages(), progress=lambda done: _save_progress(job.pk, done))
    del parsed
    valid, range_errors = number_range_errors(valid, job.enterprise)
    if range_errors:
        errors = sorted(errors + range_errors, key=_by_first)
    if errors:
        # The report lists every problem, the clashes with registered cards too.
        errors.extend(database_duplicates(valid))
        return _finish_failed(
            job,
            message=MSG_ROWS_REFUSED % {"count": len(errors)},
            code="rows_refused",
            errors=errors,
            processed=total,
        )

    # A clean file is written at once: the unique indexes on ICCID and MSISDN refuse a card that is
    # already registered (or registered meanwhile by another import), the transaction rolls back,
    # and the rows that clash are then looked up for the report. That spares the look-up of
    # 100,000 keys for every good file. In ICCID order, the index insertions are mostly appends.
    valid.sort(key=_by_iccid)
    try:
        with transaction.atomic():
            locked = CardImport.objects.select_for_update(of=("self",)).get(pk=job.pk)
            if locked.status != ImportStatus.RUNNING:
                return "nothing_to_do"  # another delivery finished it meanwhile
            _write_cards(valid, enterprise=job.enterprise, import_id=job.pk)
            locked.status = ImportStatus.SUCCEEDED
            locked.processed_rows = total
            locked.imported_rows = len(valid)
            locked.error_count = 0
            locked.errors = []
            locked.failure_message = ""
            locked.finished_at = timezone.now()
            locked.save(
                update_fields=[
                    "status",
                    "processed_rows",
                    "imported_rows",
                    "error_count",
                    "errors",
                    "failure_message",
                    "finished_at",
                ]
            )
            audit_record(
                actor=None,
                action="card_import.succeeded",
                obj=locked,
                data={
                    **job.actor_data,
                    "imported_rows": len(valid),
                    "enterprise": str(job.enterprise.public_id),
                },
            )
            locked.enterprise = job.enterprise
            _emit_finished(locked, reason=None)
    except IntegrityError:
        # Nothing was written; report which rows clash with registered cards.
        valid.sort(key=_by_row)
        duplicates = database_duplicates(valid)
        if not duplicates:
            raise
        return _finish_failed(
            job,
            message=MSG_ROWS_REFUSED % {"count": len(duplicates)},
            code="rows_refused",
            errors=duplicates,
            processed=total,
        )
    analyze_cards()
    return ImportStatus.SUCCEEDED


__all__ = [
    "card_import_create",
    "card_import_run",
]
