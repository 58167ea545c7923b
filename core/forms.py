from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.utils.datastructures import MultiValueDict

from core import pending_uploads
from core.errors import PAGE_ERRORS, DomainError


def add_domain_error(form: forms.Form, exc: DomainError) -> None:
    """Show a service's refusal on the form: on its field when the form has it.

    A refusal about the page itself (not found, not allowed) is no form error: it is raised again, for
    core.middleware.DomainErrorMiddleware to answer with the 404 or 403 page.
    """
    if isinstance(exc, PAGE_ERRORS):
        raise exc
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, forms.ValidationError(exc.message, code=exc.code))
    if isinstance(form, KeepsUploadsMixin):
        # The form was valid, so nothing was kept yet: the refusal must not cost the files either.
        form.keep_uploads()


# --- files kept across a submit with errors (issue 11 §2, core.pending_uploads) ---------------

PENDING_SUFFIX = "__pending"


@dataclass(frozen=True)
class KeptUpload:
    """A file the re-rendered form refers to: its token (a hidden field) and what it is, for the page."""

    token: str
    kind: str

    @property
    def is_image(self) -> bool:
        return self.kind == pending_uploads.KIND_IMAGE


def _never(initial) -> bool:
    return False


class KeepsUploadsMixin:
    """A form that keeps its files when it comes back with errors, so that nobody chooses them twice.

    The view passes `uploads_owner=upload_owner(request)`. When the bound form has errors (its own, or a
    service's refusal shown through add_domain_error), every file it received on a field without an error
    of its own is kept as a pending upload, and the form's `kept` says which: the field's template
    (templates/includes/field.html) sends their tokens back in hidden `<name>__pending` inputs. On the next
    submit a field with no new file takes its kept files again; a new file replaces them. After the
    service succeeds, the view calls `uploads_used()` to delete them.
    """

    files: MultiValueDict
    data: Any
    fields: dict[str, forms.Field]
    is_bound: bool

    def __init__(self, *args, uploads_owner: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.uploads_owner = uploads_owner
        self.kept: dict[str, list[KeptUpload]] = {}
        self._pending_refused: dict[str, pending_uploads.PendingUploadRefused] = {}
        self._restored = False

    def _file_fields(self) -> list[str]:
        # A hidden file input is a script's (the live capture's frames, verification.capture): its frames
        # answer the page's one-time head-move challenge, so a page shown again takes a fresh capture.
        return [
            name
            for name, field in self.fields.items()
            if isinstance(field, forms.FileField) and not field.widget.attrs.get("hidden")
        ]

    def _html_name(self, name: str) -> str:
        return self[name].html_name  # type: ignore[index]  # a Form

    def _restore_pending(self) -> None:
        """Put the kept files of the fields that got no new one back among the form's files."""
        self._restored = True
        files = (
            self.files.copy()
            if isinstance(self.files, MultiValueDict)
            else MultiValueDict(
                {key: value if isinstance(value, list) else [value] for key, value in (self.files or {}).items()}
            )
        )
        for name in self._file_fields():
            html_name = self._html_name(name)
            getlist = getattr(self.data, "getlist", None)
            tokens = getlist(html_name + PENDING_SUFFIX) if getlist else [self.data.get(html_name + PENDING_SUFFIX)]
            tokens = [token for token in tokens if token][: self._max_files(name)]
            if [upload for upload in files.getlist(html_name) if upload]:
                # A new choice replaces what was kept.
                for token in tokens:
                    pending_uploads.pending_upload_discard(owner=self.uploads_owner, token=token)
                continue
            restored = []
            for token in tokens:
                try:
                    restored.append(pending_uploads.pending_upload_get(owner=self.uploads_owner, token=token))
                except pending_uploads.PendingUploadRefused as exc:
                    self._pending_refused.setdefault(name, exc)
            if restored:
                files.setlist(html_name, [kept.as_upload() for kept in restored])
        self.files = files

    def _max_files(self, name: str) -> int:
        return int(getattr(self.fields[name], "max_files", 1))

    def full_clean(self) -> None:
        if self.is_bound and self.uploads_owner and not self._restored:
            self._restore_pending()
        super().full_clean()  # type: ignore[misc]  # a Form
        if not self.is_bound or not self.uploads_owner:
            return
        for name, exc in self._pending_refused.items():
            self.add_error(name, forms.ValidationError(exc.message, code=exc.code))  # type: ignore[attr-defined]
        if self.errors:  # type: ignore[attr-defined]
            self.keep_uploads()

    def keep_uploads(self) -> None:
        """Keep the received files of the fields without errors (again: a kept file keeps its token)."""
        if not self.uploads_owner:
            return
        errors = self.errors  # type: ignore[attr-defined]
        for name in self._file_fields():
            if name in errors:
                self.kept.pop(name, None)
                continue
            kept = []
            for upload in [upload for upload in self.files.getlist(self._html_name(name)) if upload]:
                token = getattr(upload, "pending_token", None) or pending_uploads.pending_upload_keep(
                    owner=self.uploads_owner, field=name, upload=upload
                )
                if token:
                    upload.pending_token = token
                    kept.append(KeptUpload(token=token, kind=pending_uploads.kind_of(upload)))
            if kept:
                self.kept[name] = kept
                # The browser must not insist on a new file where a kept one is sent by token.
                self.fields[name].widget.use_required_attribute = _never
            else:
                self.kept.pop(name, None)

    def uploads_used(self) -> None:
        """The service stored the files: delete the pending copies the form was given."""
        for name in self._file_fields():
            for upload in self.files.getlist(self._html_name(name)):
                token = getattr(upload, "pending_token", None)
                if token:
                    pending_uploads.pending_upload_discard(owner=self.uploads_owner, token=token)
