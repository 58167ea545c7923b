"""Pages of the approvals app: exemption requests, the approvers' queue, manual face review,
change-request decisions, and the permission-checking views that serve approval forms and
verification photos (never from a public URL; `Cache-Control: no-store`).

Views translate HTTP into service calls: objects are loaded through
approvals.selectors (scoped by role), writes go through approvals.services or
verification.services, and domain errors become form errors, 403 or 404.
"""

from __future__ import annotations

import mimetypes

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import (
    require_POST,
    require_safe,
)

from accounts.permissions import Capability, can, may_somewhere
from accounts.reveals import personal_file_response
from accounts.roles import Role
from accounts.services import history_for
from accounts.throttling import page_reveal_wait, reveal_wait_message
from approvals import selectors, services
from approvals.forms import DecisionForm, ExemptionEnterpriseForm, ExemptionFileForm, exemption_candidates
from approvals.models import ApprovalLevel, RequestStatus
from approvals.selectors import change_request_for_user
from cards.card_users.presentation import registration_status_body
from cards.inventory.picker import with_picked_all
from cards.inventory.selectors import cards_visible_to
from cards.models import CardBinding
from core import errors
from core.forms import add_domain_error
from core.http import camera_allowed, no_store, require_form_methods
from core.identity import CredentialType, PersonalIdType, mask_identifier
from core.keyset import DateJump, Keyset, list_count
from core.pending_uploads import upload_owner
from core.search import clean_search
from enterprises import services as enterprise_services
from enterprises.models import ChangeRequestStatus, ChangeTarget, UnitKind
from enterprises.selectors import documents_visible_to, enterprise_for_user, enterprises_to_pick
from verification.models import LIVENESS_FOR_REVIEW, Verification
from verification.services import verification_review

# The cards assessed on the page: each is a rule decision with its reasons, so 300 made the page grow to
# 62 ms where its enterprise had them (20 ms with 57; issue 12 §2). The card picker above the list finds
# and selects any of the enterprise's cards (search, "all that match"), so the list is a first page.
MAX_CARDS_ON_FILING_PAGE = 50
# Newest first; the filer's own requests, or an enterprise's (exemption_ent_created).
EXEMPTION_KEYSET = Keyset("exemptions", ("-created_at", "-pk"), jump=DateJump())
# Oldest first. Keyed on when the comparison was created, not completed: completed_at may be empty, and a
# cursor needs a column that never is; a comparison goes to review as it completes, so the order is the same.
# The API pages in it too (selectors.review_queue), on the partial index verification_review_queue.
REVIEW_KEYSET = Keyset("face_reviews", ("created_at", "pk"), jump=DateJump())


# --- helpers ------------------------------------------------------------------


def _private_file(request, obj, field: str, *, content_type: str | None, filename: str, inline: bool) -> FileResponse:
    """A stored file that shows personal data: a budgeted, logged full view (accounts.reveals)."""
    return personal_file_response(
        request,
        obj=obj,
        field=field,
        field_file=getattr(obj, field),
        content_type=content_type,
        filename=filename,
        as_attachment=not inline,
    )


def _show_domain_error(request, exc: errors.DomainError) -> None:
    if isinstance(exc, errors.PAGE_ERRORS):
        raise exc
    messages.error(request, exc.message)


# --- the approver's queue -------------------------------------------------------


MSG_NOT_APPROVER = _("Only approvers have an approval queue.")
MSG_NOT_REVIEWER = _("Manual face reviews are done by the provincial approvers.")


def queue_exemptions_listed(user, params):
    """The exemptions awaiting the approver, for the search (q): the queue page's and its export's."""
    if not selectors.is_approver(user):
        raise errors.PermissionDenied(MSG_NOT_APPROVER)
    pending = selectors.exemptions_pending_for(user).select_related("enterprise")
    return selectors.search_requests(pending, clean_search(params.get("q")))


def queue_change_requests_listed(user, params):
    """The change requests awaiting the approver, for the search (q): the queue page's and its export's."""
    if not selectors.is_approver(user):
        raise errors.PermissionDenied(MSG_NOT_APPROVER)
    pending = selectors.change_requests_pending_for(user).select_related("enterprise")
    return selectors.search_requests(pending, clean_search(params.get("q")))


def review_queue_listed(user, params):
    """The face comparisons awaiting the reviewer: the review queue's and its export's."""
    if not may_somewhere(user, Capability.FACE_REVIEW):
        raise errors.PermissionDenied(MSG_NOT_REVIEWER)
    return selectors.reviews_of_age(selectors.review_queue(user), params.get("age", ""), timezone.now())


# The queue's two lists, one paged at a time (?list=): each keyset pages its own list, in the selectors'
# QUEUE_ORDER (oldest waiting first), and a cursor of one is refused by the other.
QUEUE_KEYSETS = {
    "exemptions": Keyset("queue_exemptions", selectors.QUEUE_ORDER, jump=DateJump()),
    "change_requests": Keyset("queue_change_requests", selectors.QUEUE_ORDER, jump=DateJump()),
}


@login_required
@never_cache
@require_safe
def queue(request):
    """What awaits the approver: exemptions at their level, change requests and face reviews."""
    user = request.user
    if not selectors.is_approver(user):
        raise PermissionDenied(str(MSG_NOT_APPROVER))
    level = selectors.approver_level(user)
    is_provincial = level == ApprovalLevel.PROVINCE
    search = clean_search(request.GET.get("q"))
    listed = {"exemptions": queue_exemptions_listed(user, request.GET)}
    if is_provincial:  # only they decide change requests (selectors.change_requests_decidable_by)
        listed["change_requests"] = queue_change_requests_listed(user, request.GET)
    shown = request.GET.get("list") if request.GET.get("list") in listed else "exemptions"
    page = QUEUE_KEYSETS[shown].page(listed[shown], request.GET)
    context = {
        "level": level,
        "shown": shown,
        "page_obj": page,
        "rows": page.object_list,
        "counts": {name: list_count(queryset) for name, queryset in listed.items()},
        "search": search,
        "search_shown": search,
        "review_count": list_count(selectors.review_queue(user)) if is_provincial else None,
        "is_provincial": is_provincial,
    }
    return render(request, "approvals/queue.html", context)


# --- exemption requests -------------------------------------------------------


def exemption_decisions_text(exemption) -> str:
    """The decisions column of the exemption list, as text (the list export's)."""
    parts = [
        f"{decision.get_level_display()}: {_('approved') if decision.approved else _('rejected')}"
        for decision in exemption.decisions.all()
    ]
    return "; ".join(parts) or "—"


def exemptions_listed(user, params, *, now=None):
    """The user's exemption requests for these GET parameters (status, rule, age, q): the page's, the
    export's and the dashboard's (selectors.exemptions_listed_for says whose requests a role lists)."""
    queryset = selectors.exemptions_listed_for(user).order_by("-created_at", "-pk")
    status = params.get("status", "")
    if status in RequestStatus.values:
        queryset = queryset.filter(status=status)
    queryset = selectors.exemptions_with_rule(queryset, params.get("rule", ""))
    queryset = selectors.exemptions_of_age(queryset, params.get("age", ""), now or timezone.now())
    search = clean_search(params.get("q"))
    return selectors.search_requests(queryset, search), status, search


@login_required
@never_cache
@require_safe
def my_requests(request):
    user = request.user
    queryset, status, search = exemptions_listed(user, request.GET)
    page = EXEMPTION_KEYSET.page(queryset, request.GET)
    return render(
        request,
        "approvals/my_requests.html",
        {
            "page_obj": page,
            "count": list_count(queryset),
            "exemptions": page.object_list,
            "status": status,
            "statuses": RequestStatus.choices,
            "rule": request.GET.get("rule", "") if request.GET.get("rule") in selectors.RULES_IN_REQUESTS else "",
            "rules": selectors.RULES_IN_REQUESTS,
            "age": request.GET.get("age", ""),
            "ages": selectors.EXEMPTION_AGE_BUCKETS,
            "search": search,
            "search_shown": search,
            "can_file": may_somewhere(user, Capability.EXEMPTIONS_FILE),
        },
    )


EXEMPTION_LABELS = {
    "province": _("Exemption by the provincial company"),
    "group": _("Exemption by the group"),
    "province_and_group": _("Exemption by the provincial company and the group"),
    "none_possible": _("No exemption possible"),
}


def exemption_label(decision) -> str:
    if not decision.user_realname_required or decision.exemption is None:
        return str(_("Card-user real-name not required"))
    return str(EXEMPTION_LABELS[decision.exemption.value])


def _reasons(decision, request) -> list[str]:
    language = getattr(request, "LANGUAGE_CODE", "zh-hans")
    return [reason.text(language) for reason in decision.reasons]


def _filing_candidates(user, enterprise, q: str):
    cards = (
        exemption_candidates(cards_visible_to(user).filter(enterprise=enterprise))
        # What assess_card reads of each card, fetched with the cards: else two queries a card.
        .select_related("package")
        .order_by("iccid")
    )
    if q:
        cards = cards.filter(iccid__startswith=q)
    shown = list(cards[:MAX_CARDS_ON_FILING_PAGE])
    # The live bindings of the cards shown, in one query over their ids: an EXISTS on each card was planned
    # as a hash of every live binding there is (32,000 at 200k cards), which grew with the data.
    bound = set(
        CardBinding.objects.filter(card_id__in=[card.pk for card in shown], ended_at__isnull=True).values_list(
            "card_id", flat=True
        )
    )
    return [services.assess_card(card, bound=card.pk in bound) for card in shown]


def _assessment_rows(assessments, request) -> list[dict]:
    return [
        {
            "card": a.card,
            "rules": ", ".join(a.decision.rules),
            "label": exemption_label(a.decision),
            "reasons": _reasons(a.decision, request),
            "exemptable": a.exemptable,
            "problem": a.problem,
            "message": a.message,
            "levels": sorted(a.decision.approvers),
        }
        for a in assessments
    ]


@login_required
@never_cache
@require_form_methods
@camera_allowed  # the card picker's barcode scan
def exemption_new(request):
    """File an exemption request for selected cards of one enterprise, seeing each card's decision."""
    user = request.user
    if not may_somewhere(user, Capability.EXEMPTIONS_FILE):
        raise PermissionDenied(str(services.MSG_FILE_DENIED))
    enterprise_id = request.GET.get("enterprise") or request.POST.get("enterprise")
    if not enterprise_id and user.role == Role.ENTERPRISE_ADMIN:
        enterprise_id = str(user.enterprise.public_id)
    if not enterprise_id or "enterprise_q" in request.GET:
        # The text box of the first step (or a link with an id and no text box: the id alone).
        picker = ExemptionEnterpriseForm(request.GET or None, user=user)
        if not picker.is_bound or not picker.is_valid():
            none = not enterprises_to_pick(user, Capability.EXEMPTIONS_FILE).exists()
            return render(request, "approvals/choose_enterprise.html", {"form": picker, "none": none})
        enterprise_id = str(picker.cleaned_data["enterprise"].public_id)

    enterprise = enterprise_for_user(user, enterprise_id)
    if not can(user, Capability.EXEMPTIONS_FILE, enterprise):
        raise PermissionDenied(str(services.MSG_FILE_DENIED))

    q = (request.GET.get("q") or "").strip()[:20]
    assessments = _filing_candidates(user, enterprise, q)
    preselected = [i for i in request.GET.get("cards", "").split(",") if i]
    choices = [(a.card.iccid, a.card.iccid) for a in assessments]
    known = {a.card.iccid for a in assessments}
    if request.method == "POST":
        data = with_picked_all(
            user,
            request.POST,
            field="cards",
            purpose_name="exemption",
            enterprise_id=enterprise.public_id,
            multiple=True,
        )
        posted = data.getlist("cards")
        # Cards chosen elsewhere (e.g. from the card list) are choices too, when they are the enterprise's.
        extra = cards_visible_to(user).filter(
            enterprise=enterprise, iccid__in=[i for i in posted if i not in known][:1000]
        )
        choices += [(c.iccid, c.iccid) for c in extra]
        form = ExemptionFileForm(data, request.FILES, card_choices=choices, uploads_owner=upload_owner(request))
        if form.is_valid():
            cards = list(cards_visible_to(user).filter(enterprise=enterprise, iccid__in=form.cleaned_data["cards"]))
            try:
                exemption = services.exemption_file(
                    actor=user,
                    enterprise=enterprise,
                    cards=cards,
                    reason=form.cleaned_data["reason"],
                    attachments=form.attachments(),
                )
            except errors.DomainError as exc:
                add_domain_error(form, exc)
            else:
                form.uploads_used()
                messages.success(request, _("The exemption request was filed and awaits approval."))
                return redirect("approvals:exemption_detail", public_id=exemption.public_id)
    else:
        form = ExemptionFileForm(card_choices=choices, initial={"cards": preselected})
    selected = set(form["cards"].value() or [])
    return render(
        request,
        "approvals/file.html",
        {
            "form": form,
            "enterprise": enterprise,
            "rows": _assessment_rows(assessments, request),
            "selected": selected,
            "q": q,
            "limit": MAX_CARDS_ON_FILING_PAGE,
        },
    )


def card_rows(exemption, request, *, limit: int = 500) -> list[dict]:
    rows = []
    for card in exemption.cards.select_related("package").order_by("iccid")[:limit]:
        decision = card.realname_decision
        rows.append(
            {
                "card": card,
                "rules": ", ".join(decision.rules),
                "label": exemption_label(decision),
                "reasons": _reasons(decision, request),
            }
        )
    return rows


@login_required
@never_cache
@require_safe
def exemption_detail(request, public_id):
    user = request.user
    exemption = selectors.exemption_for_user(user, public_id)
    levels = selectors.levels_to_decide(user, exemption)
    context = {
        "exemption": exemption,
        "card_rows": card_rows(exemption, request),
        "card_total": exemption.cards.count(),
        "attachments": list(exemption.attachments.all()),
        "decisions": list(exemption.decisions.all()),
        "can_open_files": can(user, Capability.ENTERPRISE_FILES_OPEN, exemption.enterprise),
        "levels_to_decide": [(level, ApprovalLevel(level).label) for level in levels],
        "may_withdraw": exemption.status == RequestStatus.SUBMITTED and exemption.submitted_by_id == user.pk,
        "form": DecisionForm(),
        "history": history_for(exemption)[:50],
    }
    return render(request, "approvals/exemption_detail.html", context)


@login_required
@never_cache
@require_POST
def exemption_decide(request, public_id):
    user = request.user
    exemption = selectors.exemption_for_user(user, public_id)
    form = DecisionForm(request.POST)
    level = request.POST.get("level") or selectors.approver_level(user) or ""
    if not form.is_valid():
        for field_errors in form.errors.values():
            for error in field_errors:
                messages.error(request, error)
        return redirect("approvals:exemption_detail", public_id=exemption.public_id)
    try:
        services.exemption_decide(
            request=exemption, actor=user, level=level, approve=form.approve, comment=form.cleaned_data["comment"]
        )
    except errors.DomainError as exc:
        _show_domain_error(request, exc)
    else:
        messages.success(request, _("Your decision was recorded."))
    return redirect("approvals:exemption_detail", public_id=exemption.public_id)


@login_required
@never_cache
@require_POST
def exemption_withdraw(request, public_id):
    user = request.user
    exemption = selectors.exemption_for_user(user, public_id)
    try:
        services.exemption_withdraw(request=exemption, actor=user)
    except errors.DomainError as exc:
        _show_domain_error(request, exc)
    else:
        messages.success(request, _("The request was withdrawn."))
    return redirect("approvals:exemption_detail", public_id=exemption.public_id)


@login_required
@require_safe
def attachment_download(request, public_id, pk):
    user = request.user
    exemption = selectors.exemption_for_user(user, public_id)
    if not can(user, Capability.ENTERPRISE_FILES_OPEN, exemption.enterprise):
        raise PermissionDenied(str(_("Your role may not open approval forms.")))
    attachment = exemption.attachments.filter(pk=pk).first()
    if attachment is None:
        raise Http404(str(_("The file is not available.")))
    extension = mimetypes.guess_extension(attachment.content_type) or ""
    inline = request.GET.get("inline") == "1" and attachment.is_image
    # An approval form names the enterprise and its cards, and may carry its credential or a person's ID.
    return _private_file(
        request,
        attachment,
        "file",
        content_type=attachment.content_type,
        filename=f"approval-form-{attachment.level}-{attachment.pk}{extension}",
        inline=inline,
    )


# --- manual face review -------------------------------------------------------


@login_required
@never_cache
@require_safe
def review_queue(request):
    user = request.user
    if not may_somewhere(user, Capability.FACE_REVIEW):
        raise PermissionDenied(str(MSG_NOT_REVIEWER))
    queryset = review_queue_listed(user, request.GET)
    page = REVIEW_KEYSET.page(queryset, request.GET)
    return render(
        request,
        "approvals/review_queue.html",
        {
            "page_obj": page,
            "count": list_count(queryset),
            "verifications": page.object_list,
            "age": request.GET.get("age", ""),
            "ages": selectors.review_age_buckets(),
            "target_hours": selectors.review_target_hours(),
        },
    )


@login_required
@never_cache
@require_form_methods
def review_detail(request, public_id):
    """Both photos side by side, the distance, the thresholds and the reasons; approve or reject."""
    user = request.user
    verification = selectors.verification_for_reviewer(user, public_id)
    form = DecisionForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            verification_review(
                verification=verification, actor=user, approve=form.approve, comment=form.cleaned_data["comment"]
            )
        except errors.DomainError as exc:
            add_domain_error(form, exc)
        else:
            verification.refresh_from_db()
            outcome = _registration_outcome(verification)
            if form.approve and outcome is not None and outcome["not_bound"]:
                # Issue 11 §1.4: approved, yet no card was bound; the approver hears what the counter hears.
                messages.warning(request, outcome["detail"])
            else:
                messages.success(
                    request,
                    _("The comparison was approved: the real-name gate is open.")
                    if form.approve
                    else _("The comparison was declined."),
                )
            return redirect("approvals:review_queue")
    verification.refresh_from_db()
    registration = _registration_outcome(verification)
    response = render(
        request,
        "approvals/review_detail.html",
        {
            "verification": verification,
            "form": form,
            "awaiting": verification.status == "in_review",
            "self_submitted": verification.created_by_id == user.pk,
            "reason_texts": reason_texts(verification, getattr(request, "LANGUAGE_CODE", "zh-hans")),
            "cards": list(verification.cards.order_by("iccid")[:50]) if verification.purpose == "card_user" else [],
            "registration": registration,
            # Presence not proven (inconclusive, locked, or the file-input fallback): the reviewer is told
            # how the live photo came and sees the capture's frames, when there were any.
            "liveness_review": verification.liveness in LIVENESS_FOR_REVIEW,
        },
        status=400 if request.method == "POST" else 200,
    )
    no_store(response)
    return response


def _registration_outcome(verification: Verification) -> dict | None:
    """What came of a card user's registration once its comparison is decided (cards.card_users.presentation),
    the same sentence as on the card user's page; None while it waits, and for an order's comparison."""
    if verification.card_user_id is None or verification.status == "in_review":
        return None
    card_user = verification.card_user
    assert card_user is not None
    card_user.refresh_from_db(fields=["registration_status"])
    return registration_status_body(card_user, verification)


# "frames": a live capture's frames side by side (verification.frames), kept when they proved no presence.
PHOTO_FIELDS = {"id": "id_photo", "live": "live_photo", "frames": "liveness_frames"}


@login_required
@require_safe
def verification_photo(request: HttpRequest, public_id: str, which: str) -> HttpResponseBase:
    """A verification's ID or live photo (or its capture's frames), for its reviewers and whoever may open
    the photos it copies (approvals.selectors.verification_for_photos); every view is budgeted and logged."""
    user = request.user
    field = PHOTO_FIELDS.get(which)
    if field is None:
        raise Http404(str(_("The file is not available.")))
    verification: Verification = selectors.verification_for_photos(user, public_id)
    field_file = getattr(verification, field)
    if not field_file:
        raise Http404(str(_("The file is not available.")))
    return _private_file(
        request,
        verification,
        field,
        content_type=None,
        filename=f"{which}-photo{_extension(field_file.name)}",
        inline=True,
    )


def reason_texts(verification, language: str) -> list[str]:
    """The engine's reasons in the reader's language (zh or en), whatever keys a reason has."""
    key = "en" if (language or "").startswith("en") else "zh"
    texts = []
    for reason in verification.reasons or []:
        if isinstance(reason, dict):
            texts.append(str(reason.get(key) or reason.get("message") or reason.get("en") or reason.get("code") or ""))
        else:
            texts.append(str(reason))
    return [t for t in texts if t]


def _extension(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:] if dot != -1 and len(name) - dot <= 6 else ""


# --- change requests (E3, P4) ---------------------------------------------------


@login_required
@never_cache
@require_form_methods
def change_request_detail(request, public_id):
    """The proposed change (numbers masked), its documents, and the approver's decision."""
    user = request.user
    change_request = change_request_for_user(user, public_id)
    if request.method == "POST" and request.POST.get("action") == "reveal":
        return _change_request_reveal(request, change_request)
    form = DecisionForm(request.POST if request.method == "POST" and "decision" in request.POST else None)
    if request.method == "POST":
        try:
            if request.POST.get("action") == "withdraw":
                services.change_request_withdraw(change_request=change_request, actor=user)
                messages.success(request, _("The change request was withdrawn."))
                return redirect("approvals:change_request_detail", public_id=change_request.public_id)
            if form.is_valid():
                services.change_request_decide(
                    change_request=change_request,
                    actor=user,
                    approve=form.approve,
                    comment=form.cleaned_data["comment"],
                )
                messages.success(request, _("Your decision was recorded."))
                return redirect("approvals:change_request_detail", public_id=change_request.public_id)
        except errors.DomainError as exc:
            if isinstance(exc, errors.PAGE_ERRORS):
                raise
            if form.is_bound:
                add_domain_error(form, exc)
            else:
                messages.error(request, exc.message)
        change_request.refresh_from_db()
    return _change_request_page(request, change_request, form)


def _change_request_page(request, change_request, form, *, revealed=None, reveal_error=None, status=200):
    user = request.user
    context = {
        "change_request": change_request,
        "changes": change_rows(change_request, revealed),
        "full_pii": can(user, Capability.VIEW_FULL_PII, change_request.enterprise),
        "revealed": revealed or {},
        "reveal_error": reveal_error,
        "documents": documents_visible_to(user).filter(change_request=change_request),
        "may_decide": selectors.change_request_open_to(user, change_request)
        and can(user, Capability.DECIDE_PROVINCE, change_request.enterprise),
        "may_withdraw": change_request.status == ChangeRequestStatus.SUBMITTED
        and change_request.submitted_by_id == user.pk,
        "can_open_files": can(user, Capability.ENTERPRISE_FILES_OPEN, change_request.enterprise),
        "form": form,
        "decisions": list(change_request.decisions.select_related("decided_by")),
    }
    return render(request, "approvals/change_request_detail.html", context, status=status)


def _change_request_reveal(request, change_request):
    """One number of the change in full, on this render only, spent from the reveal budget and logged."""
    field = request.POST.get("field", "")
    # Only reveals that would succeed spend the budget; the service refuses the rest.
    allowed = can(request.user, Capability.VIEW_FULL_PII, change_request.enterprise)
    wait = page_reveal_wait(request) if allowed else None
    if wait is not None:
        response = _change_request_page(
            request, change_request, DecisionForm(), reveal_error=reveal_wait_message(wait), status=429
        )
        response["Retry-After"] = str(wait)
        return no_store(response)
    try:
        value = enterprise_services.change_request_reveal_field(
            actor=request.user, change_request=change_request, field=field, request=request
        )
    except errors.DomainError as exc:
        if isinstance(exc, errors.PAGE_ERRORS):
            raise
        response = _change_request_page(request, change_request, DecisionForm(), reveal_error=exc.message, status=400)
    else:
        response = _change_request_page(request, change_request, DecisionForm(), revealed={field: value})
    return no_store(response)


MASKED_KEYS = {"credential_number", "id_number"}
VALUE_LABELS = {
    "name": _("Name"),
    "unit_kind": _("Kind of unit"),
    "credential_type": _("Credential type"),
    "credential_number": _("Credential number"),
    "credential_address": _("Credential address"),
    "id_type": _("ID type"),
    "id_number": _("ID number"),
    "id_address": _("ID address"),
    "is_legal_representative": _("Legal representative"),
}
# An enterprise's name is the unit's name, not a person's (姓名).
ENTERPRISE_VALUE_LABELS = {**VALUE_LABELS, "name": _("Unit name")}
# The order the comparison lists the fields in, as the record pages show them.
VALUE_ORDER = list(VALUE_LABELS)


def _display_value(key: str, value) -> str:
    """A stored value as the pages show it: numbers masked, codes as their translated labels."""
    if key in MASKED_KEYS:
        return mask_identifier(str(value or "")) or "—"
    if key == "unit_kind":
        kind = UnitKind.objects.filter(code=value).first() if value else None
        return str(kind.label) if kind is not None else (value or "—")
    if key == "credential_type" and value in CredentialType.values:
        return str(CredentialType(value).label)
    if key == "id_type" and value in PersonalIdType.values:
        return str(PersonalIdType(value).label)
    if isinstance(value, bool):
        return str(_("Yes") if value else _("No"))
    return str(value) if value not in (None, "") else "—"


def masked_values(values: dict, target: str = "") -> list[tuple[str, str]]:
    labels = ENTERPRISE_VALUE_LABELS if target == ChangeTarget.ENTERPRISE else VALUE_LABELS
    return [(labels.get(key, key), _display_value(key, value)) for key, value in values.items()]


def change_rows(change_request, revealed: dict | None = None) -> list[dict]:
    """Old -> new for exactly the fields the request changes, masked as elsewhere.

    A request filed before units had kinds proposes no kind: that is no change. A masked number
    names its reveal field (old_/new_ + key), for the approvers who may see it in full.
    """
    labels = ENTERPRISE_VALUE_LABELS if change_request.target == ChangeTarget.ENTERPRISE else VALUE_LABELS
    revealed = revealed or {}
    new = change_request.proposed_values
    old = change_request.previous_values()
    rows = []
    for key in sorted(new, key=lambda k: VALUE_ORDER.index(k) if k in VALUE_ORDER else len(VALUE_ORDER)):
        if (key == "unit_kind" and not new[key]) or old.get(key) == new[key]:
            continue
        masked = key in MASKED_KEYS
        sides = []
        for side, value in (("old", old.get(key)), ("new", new[key])):
            field = f"{side}_{key}"
            sides.append(
                {
                    "side": side,
                    "field": field,
                    "shown": _display_value(key, value),
                    "revealable": masked and bool(value),
                    "revealed": revealed.get(field),
                }
            )
        rows.append({"key": key, "label": labels.get(key, key), "masked": masked, "sides": sides})
    return rows


__all__ = [
    "attachment_download",
    "change_request_detail",
    "exemption_decide",
    "exemption_detail",
    "exemption_new",
    "exemption_withdraw",
    "my_requests",
    "queue",
    "review_detail",
    "review_queue",
    "verification_photo",
]
