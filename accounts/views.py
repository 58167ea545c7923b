from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts import users
from accounts.notifications import notices_for, notices_mark_read, unread_count
from core import pending_uploads
from core.errors import NotFound
from core.http import no_store
from core.keyset import DateJump, Keyset
from core.uploads import UploadRejected, sanitize_upload


class LogoutView(auth_views.LogoutView):
    """Logging out of the portal also revokes the user's API tokens (issue 7 §2.3)."""

    def post(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            users.api_tokens_revoke_all(user=request.user)
        return super().post(request, *args, **kwargs)


class PasswordChangeView(auth_views.PasswordChangeView):
    """Every role changes their own password here; the other sessions end and the API tokens are revoked."""

    template_name = "registration/password_change.html"
    success_url = reverse_lazy("home")

    def form_valid(self, form):
        users.user_password_change(
            user=self.request.user, password=form.cleaned_data["new_password1"], request=self.request
        )
        messages.success(self.request, _("Your password was changed. Your other sessions and API tokens have ended."))
        return redirect(self.get_success_url())


class PasswordSetConfirmView(auth_views.PasswordResetConfirmView):
    """The one-time set-password link (Django's token: expires after PASSWORD_RESET_TIMEOUT, works once)."""

    template_name = "registration/password_set.html"
    success_url = reverse_lazy("login")
    post_reset_login = False

    def form_valid(self, form):
        users.user_set_password_by_link(user=form.user, password=form.cleaned_data["new_password1"])
        del self.request.session[auth_views.INTERNAL_RESET_SESSION_TOKEN]
        messages.success(self.request, _("Your password is set. Log in with it."))
        return redirect(self.get_success_url())


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request):
    """The user's own API tokens: when each was made and expires; revoke any of them."""
    if request.method == "POST":
        key = request.POST.get("revoke", "")
        if key == "all":
            users.api_tokens_revoke_all(user=request.user)
            messages.success(request, _("All your API tokens were revoked."))
        else:
            try:
                users.api_token_revoke(user=request.user, key=key)
                messages.success(request, _("The API token was revoked."))
            except NotFound:
                messages.error(request, _("No such token."))
        return redirect("api_tokens")
    return render(request, "registration/api_tokens.html", {"tokens": users.api_tokens_of(request.user)})


# Newest first, on notice_recipient_created (recipient, created_at DESC, id DESC).
NOTICE_KEYSET = Keyset("notices", ("-created_at", "-pk"), jump=DateJump())


@login_required
@never_cache
@require_safe
def notices(request):
    """The user's own inbox, newest first; the unread ones stand out."""
    page = NOTICE_KEYSET.page(notices_for(request.user), request.GET)
    return render(request, "notices/list.html", {"page": page, "unread": unread_count(request.user)})


@login_required
@require_POST
def notices_read(request):
    """Mark one notice read (and follow its link), or all of them."""
    notice_id = request.POST.get("notice", "")
    if notice_id:
        notice = notices_for(request.user).filter(pk=int(notice_id) if notice_id.isdigit() else 0).first()
        if notice is None:
            raise Http404
        notices_mark_read(user=request.user, notice_ids=[notice.pk])
        # Links are written by the services (paths of this site); checked all the same, never an open redirect.
        if request.POST.get("open") and url_has_allowed_host_and_scheme(notice.link, allowed_hosts=None):
            return redirect(notice.link)
    else:
        notices_mark_read(user=request.user)
        messages.success(request, _("All notifications are marked read."))
    return redirect("notices")


@login_required
@never_cache
@require_safe
def pending_upload_preview(request, token: str):
    """The preview of a photo a form kept when it came back with errors (core.pending_uploads): its
    owner's only, re-encoded with no metadata, never cached."""
    try:
        kept = pending_uploads.pending_upload_get(owner=pending_uploads.upload_owner(request), token=token)
        if kept.kind != pending_uploads.KIND_IMAGE:
            raise Http404(str(_("The file is not available.")))
        clean = sanitize_upload(kept.content)
    except (pending_uploads.PendingUploadRefused, UploadRejected):
        raise Http404(str(_("The file is not available."))) from None
    response = HttpResponse(clean.content, content_type=clean.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    return no_store(response)
