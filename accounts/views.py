from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from drf_spectacular.utils import extend_schema
from rest_framework.authtoken.views import ObtainAuthToken

from accounts.roles import Role
from enterprises.models import ChangeRequestStatus
from enterprises.selectors import change_requests_visible_to, enterprises_visible_to


@login_required
def home(request):
    user = request.user
    context = {
        "role": Role(user.role) if not user.is_superuser else Role.OPS,
        "enterprise_count": enterprises_visible_to(user).count(),
        "pending_changes": change_requests_visible_to(user).filter(status=ChangeRequestStatus.SUBMITTED).count(),
        "own_enterprise": user.enterprise if user.role == Role.ENTERPRISE_ADMIN else None,
        "recent_enterprises": enterprises_visible_to(user)[:5],
    }
    return render(request, "home.html", context)


@extend_schema(tags=["auth"], summary="Exchange a username and password for an API token")
class TokenObtainView(ObtainAuthToken):
    """Token auth for API clients; throttled like the login page through django-axes."""
