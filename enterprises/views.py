"""Server-rendered pages for enterprise records (E1-E3, P1-P4).

Views translate HTTP into service calls and nothing more: every object is
loaded through enterprises.selectors (scoped by role), every write goes
through enterprises.services, and domain errors become form errors, 403 or
404 here. No personal number is ever put in a URL or a redirect.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import (
    require_POST,
    require_safe,
)

from accounts.permissions import Capability, can
from accounts.reveals import personal_file_response
from accounts.roles import Role
from accounts.services import history_for
from accounts.throttling import page_reveal_wait, reveal_wait_message
from core import errors
from core.forms import add_domain_error
from core.http import no_store, require_form_methods
from core.keyset import DateJump, Keyset
from core.pending_uploads import upload_owner
from enterprises import autocomplete, forms, selectors, services
from enterprises.models import ChangeRequestStatus, ChangeTarget, DocumentKind

# Newest first, on enterprise_province_created (province, created_at DESC, id DESC).
ENTERPRISE_KEYSET = Keyset("enterprises", ("-created_at", "-pk"), jump=DateJump())


HISTORY_LABELS = {
    "enterprise.registered": _("Registered"),
    "enterprise.documents_uploaded": _("Documents uploaded for later business"),
    "enterprise.updated": _("Notes or account manager edited"),
    "enterprise.real_name_changed": _("Real-name data changed by an approved change request"),
}

OPEN_CHANGE_STATUSES = [ChangeRequestStatus.DRAFT, ChangeRequestStatus.SUBMITTED]


# --- the enterprise picker's suggestions (issue 12 §1.2) ----------------------


@login_required
@never_cache
@require_safe
def enterprise_suggest(request):
    """At most SUGGESTION_LIMIT enterprises the user may pick whose name holds ?q= (enterprise_autocomplete.js).

    ?capability= narrows them to where the user holds it, as the form it serves does. Names only: a credential
    number is never taken in a URL (the form resolves one when it is posted)."""
    raw = request.GET.get("capability") or ""
    try:
        capability = Capability(raw) if raw else None
    except ValueError:
        return JsonResponse({"detail": str(_("Unknown capability."))}, status=400)
    queryset = selectors.enterprises_to_pick(request.user, capability)
    found = autocomplete.enterprise_suggestions(queryset, request.GET.get("q") or "")
    response = JsonResponse(
        {
            "results": [{"id": str(e.public_id), "name": e.name, "label": autocomplete.option_label(e)} for e in found],
            "limit": autocomplete.SUGGESTION_LIMIT,
        }
    )
    no_store(response)
    return response


# --- helpers ------------------------------------------------------------------


def _upload_limit_mb() -> str:
    megabytes = settings.UPLOAD_MAX_BYTES / (1024 * 1024)
    return f"{megabytes:g}"


def _field_error(form, field: str, exc: errors.DomainError) -> None:
    form.add_error(field, ValidationError(exc.message, code=exc.code))


def _load(user, public_id, capability=None):
    """A visible enterprise (else NotFound: 404) on which the user holds `capability` (else PermissionDenied: 403)."""
    if capability is None:
        return selectors.enterprise_for_user(user, public_id)
    return selectors.enterprise_for_action(user, public_id, capability=capability)


def _is_enterprise_admin(user) -> bool:
    return user.role == Role.ENTERPRISE_ADMIN and not user.is_superuser


def _own_enterprise(user):
    enterprise = selectors.enterprises_visible_to(user).first() if _is_enterprise_admin(user) else None
    if enterprise is None:
        raise Http404(str(selectors.ENTERPRISE_NOT_FOUND))
    return enterprise


# --- list and search ----------------------------------------------------------


def enterprises_listed(user, params):
    """The enterprises the list shows for these GET parameters, and its search form: the page's and the
    export's."""
    search = forms.EnterpriseSearchForm(params)
    queryset = selectors.enterprises_visible_to(user).order_by("-created_at", "-pk")
    if search.is_valid():
        if search.cleaned_data["q"]:
            queryset = queryset.filter(name__icontains=search.cleaned_data["q"])
        if search.cleaned_data["status"]:
            queryset = queryset.filter(status=search.cleaned_data["status"])
    return queryset, search


@login_required
@never_cache
@require_form_methods
def enterprise_list(request):
    user = request.user
    if _is_enterprise_admin(user):
        return redirect("enterprises:detail", public_id=_own_enterprise(user).public_id)

    queryset, search = enterprises_listed(user, request.GET)
    number_form = forms.CredentialNumberForm(request.POST if request.method == "POST" else None)
    number_search = request.method == "POST"

    if number_search:
        queryset = queryset.none()
        if number_form.is_valid():
            try:
                found = selectors.enterprise_by_credential_number(user, number_form.cleaned_data["credential_number"])
            except (errors.NotFound, errors.Conflict) as exc:
                # Conflict: another province keeps the record (enterprises.registry).
                _field_error(number_form, "credential_number", exc)
            else:
                queryset = selectors.enterprises_visible_to(user).filter(pk=found.pk)
                # The number is not echoed back into the page.
                number_form = forms.CredentialNumberForm()

    page = ENTERPRISE_KEYSET.page(queryset, request.GET)
    return render(
        request,
        "enterprises/list.html",
        {
            "search": search,
            "number_form": number_form,
            "number_search": number_search,
            "page_obj": page,
            "enterprises": page.object_list,
            "can_register": can(user, Capability.ENTERPRISE_REGISTER),
        },
    )


@login_required
@require_safe
def enterprise_mine(request):
    return redirect("enterprises:detail", public_id=_own_enterprise(request.user).public_id)


# --- E1, P1, P2: first registration ------------------------------------------


@login_required
@never_cache
@require_form_methods
def enterprise_create(request):
    user = request.user
    if not can(user, Capability.ENTERPRISE_REGISTER):
        raise PermissionDenied(str(_("Only account managers register enterprises.")))
    if request.method == "POST":
        form = forms.EnterpriseRegisterForm(request.POST, request.FILES, uploads_owner=upload_owner(request))
        if form.is_valid():
            data = form.cleaned_data
            try:
                enterprise = services.enterprise_register(
                    actor=user,
                    enterprise=form.enterprise_data(),
                    responsible=form.responsible_data(),
                    credential_files=data["credential_files"],
                    responsible_id_files=data["responsible_id_files"],
                    authorisation_letter_files=data["authorisation_letter_files"],
                    business_reference=data["business_reference"],
                )
            except errors.DomainError as exc:
                add_domain_error(form, exc)
            else:
                form.uploads_used()
                messages.success(request, _("The enterprise %(name)s is registered.") % {"name": enterprise.name})
                return redirect("enterprises:detail", public_id=enterprise.public_id)
    else:
        form = forms.EnterpriseRegisterForm()
    return render(request, "enterprises/create.html", {"form": form, "upload_limit_mb": _upload_limit_mb()})


# --- E2, P3: returning customer and later business ----------------------------


@login_required
@never_cache
@require_form_methods
def enterprise_returning(request):
    user = request.user
    if not can(user, Capability.ENTERPRISE_REGISTER):
        raise PermissionDenied(str(_("Only account managers look up returning customers.")))
    form = forms.ReturningCustomerForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        number, name = form.cleaned_data["credential_number"], form.cleaned_data["unit_name"]
        try:
            if number:
                enterprise = selectors.enterprise_by_credential_number(user, number)
            else:
                enterprise = selectors.enterprise_by_unit_name(user, name)
        except (errors.NotFound, errors.Conflict, errors.ValidationFailed) as exc:
            # Conflict: another province keeps the record, as the registration says too (enterprises.registry).
            _field_error(form, "credential_number" if number else "unit_name", exc)
        else:
            messages.info(
                request,
                _("%(name)s is already registered: upload fresh photos for this business.") % {"name": enterprise.name},
            )
            return redirect("enterprises:upload", public_id=enterprise.public_id)
    return render(request, "enterprises/returning.html", {"form": form})


@login_required
@never_cache
@require_form_methods
def enterprise_upload(request, public_id):
    user = request.user
    enterprise = _load(user, public_id, capability=Capability.ENTERPRISE_UPLOAD_DOCUMENTS)
    if request.method == "POST":
        form = forms.DocumentUploadForm(
            request.POST, request.FILES, enterprise=enterprise, uploads_owner=upload_owner(request)
        )
        if form.is_valid():
            data = form.cleaned_data
            try:
                created = services.enterprise_upload_documents(
                    actor=user,
                    enterprise=enterprise,
                    credential_files=data["credential_files"],
                    responsible_id_files=data["responsible_id_files"],
                    authorisation_letter_files=data["authorisation_letter_files"],
                    business_reference=data["business_reference"],
                )
            except errors.DomainError as exc:
                add_domain_error(form, exc)
            else:
                form.uploads_used()
                messages.success(
                    request,
                    ngettext(
                        "%(count)d new document version was added.",
                        "%(count)d new document versions were added.",
                        len(created),
                    )
                    % {"count": len(created)},
                )
                return redirect("enterprises:detail", public_id=enterprise.public_id)
    else:
        form = forms.DocumentUploadForm(enterprise=enterprise)
    return render(
        request,
        "enterprises/upload.html",
        {"form": form, "enterprise": enterprise, "upload_limit_mb": _upload_limit_mb()},
    )


# --- detail and full views of personal data -----------------------------------


def _document_groups(user, enterprise) -> list[dict]:
    documents = list(
        selectors.record_documents(selectors.documents_visible_to(user).filter(enterprise=enterprise)).order_by(
            "kind", "-version", "-pk"
        )
    )
    groups = []
    for kind, label in DocumentKind.choices:
        items = [document for document in documents if document.kind == kind]
        if items:
            groups.append({"kind": kind, "label": label, "documents": items})
    return groups


def _history(enterprise) -> list[dict]:
    return [
        {"event": event, "label": HISTORY_LABELS.get(event.action, event.action)}
        for event in history_for(enterprise)[:100]
    ]


def _render_detail(request, enterprise, *, revealed: dict | None = None, reveal_error=None, status: int = 200):
    user = request.user
    person = getattr(enterprise, "responsible_person", None)
    context = {
        "enterprise": enterprise,
        "person": person,
        "revealed": revealed or {},
        "reveal_error": reveal_error,
        "full_pii": can(user, Capability.VIEW_FULL_PII),
        "can_edit": can(user, Capability.ENTERPRISE_EDIT, enterprise),
        "can_upload": can(user, Capability.ENTERPRISE_UPLOAD_DOCUMENTS, enterprise),
        "can_request_change": can(user, Capability.CHANGE_REQUEST_FILE, enterprise),
        "can_download": can(user, Capability.ENTERPRISE_FILES_OPEN, enterprise),
        "can_manage_links": can(user, Capability.SELF_SERVICE_LINKS_MANAGE, enterprise),
        "can_manage_webhooks": can(user, Capability.WEBHOOKS_MANAGE, enterprise),
        "can_manage_keys": can(user, Capability.PLATFORM_KEYS_MANAGE, enterprise),
        "document_groups": _document_groups(user, enterprise),
        "change_requests": selectors.change_requests_visible_to(user)
        .filter(enterprise=enterprise)
        .prefetch_related("documents"),
        "history": _history(enterprise),
        "change_targets": ChangeTarget,
    }
    return render(request, "enterprises/detail.html", context, status=status)


@login_required
@never_cache
@require_safe
def enterprise_detail(request, public_id):
    return _render_detail(request, _load(request.user, public_id))


@login_required
@never_cache
@require_POST
def enterprise_reveal(request, public_id):
    """One field in full, shown on this render only and logged by the service."""
    enterprise = _load(request.user, public_id)
    field = request.POST.get("field", "")
    # Only reveals that would succeed spend the budget; the service refuses the rest.
    wait = page_reveal_wait(request) if can(request.user, Capability.VIEW_FULL_PII) else None
    if wait is not None:
        response = _render_detail(request, enterprise, reveal_error=reveal_wait_message(wait), status=429)
        response["Retry-After"] = str(wait)
        no_store(response)
        return response
    try:
        value = services.enterprise_reveal_field(
            actor=request.user, enterprise=enterprise, field=field, request=request
        )
    except errors.DomainError as exc:
        if isinstance(exc, errors.PAGE_ERRORS):
            raise
        response = _render_detail(request, enterprise, reveal_error=exc.message, status=400)
    else:
        response = _render_detail(request, enterprise, revealed={field: value})
    no_store(response)
    return response


# --- editing what is not real-name data ---------------------------------------


@login_required
@never_cache
@require_form_methods
def enterprise_edit(request, public_id):
    user = request.user
    enterprise = _load(user, public_id, capability=Capability.ENTERPRISE_EDIT)
    if request.method == "POST":
        form = forms.EnterpriseEditForm(request.POST, enterprise=enterprise)
        if form.is_valid():
            try:
                services.enterprise_update(
                    actor=user,
                    enterprise=enterprise,
                    notes=form.cleaned_data["notes"],
                    account_manager=form.cleaned_data["account_manager"],
                )
            except errors.DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, _("The changes were saved."))
                return redirect("enterprises:detail", public_id=enterprise.public_id)
    else:
        form = forms.EnterpriseEditForm(enterprise=enterprise)
    return render(request, "enterprises/edit.html", {"form": form, "enterprise": enterprise})


# --- E3, P4: change requests --------------------------------------------------


@login_required
@never_cache
@require_form_methods
def change_request_create(request, public_id):
    user = request.user
    enterprise = _load(user, public_id, capability=Capability.CHANGE_REQUEST_FILE)
    target = request.GET.get("target") or ChangeTarget.ENTERPRISE
    if target not in ChangeTarget.values:
        raise Http404(str(_("Choose what to change.")))
    form_class = forms.CHANGE_REQUEST_FORMS[target]
    if request.method == "POST":
        form = form_class(request.POST, request.FILES, enterprise=enterprise, uploads_owner=upload_owner(request))
        if form.is_valid():
            try:
                services.change_request_submit(
                    actor=user,
                    enterprise=enterprise,
                    target=target,
                    values=form.values(),
                    files=form.cleaned_data["files"],
                    authorisation_letter_files=form.authorisation_letters(),
                    reason=form.cleaned_data["reason"],
                )
            except errors.DomainError as exc:
                add_domain_error(form, exc)
            else:
                form.uploads_used()
                messages.success(
                    request,
                    _(
                        "The change request was submitted and is pending approval. "
                        "The record changes once it is approved."
                    ),
                )
                return redirect("enterprises:detail", public_id=enterprise.public_id)
    else:
        form = form_class(initial=forms.change_request_initial(enterprise, target), enterprise=enterprise)
    pending = (
        selectors.change_requests_visible_to(user)
        .filter(enterprise=enterprise, target=target, status__in=OPEN_CHANGE_STATUSES)
        .exists()
    )
    return render(
        request,
        "enterprises/change_request.html",
        {
            "form": form,
            "enterprise": enterprise,
            "target": target,
            "target_label": ChangeTarget(target).label,
            "pending": pending,
            "upload_limit_mb": _upload_limit_mb(),
        },
    )


# --- documents ----------------------------------------------------------------


@login_required
@require_safe
def document_download(request, public_id):
    user = request.user
    document = selectors.document_for_user(user, public_id)
    if not can(user, Capability.ENTERPRISE_FILES_OPEN, document.enterprise):
        raise PermissionDenied(str(_("Your role may not open documents that show personal data.")))
    inline = request.GET.get("inline") == "1" and document.is_image
    # A document image shows the ID or credential in full: a budgeted, logged full view.
    return personal_file_response(
        request,
        obj=document,
        field="file",
        field_file=document.file,
        content_type=document.content_type,
        as_attachment=not inline,
        # Neutral: no names or numbers in the file name.
        filename=f"document-{document.kind}-v{document.version}{document.extension}",
    )


__all__ = [
    "change_request_create",
    "document_download",
    "enterprise_create",
    "enterprise_detail",
    "enterprise_edit",
    "enterprise_list",
    "enterprise_mine",
    "enterprise_returning",
    "enterprise_reveal",
    "enterprise_upload",
]
