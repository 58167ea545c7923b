"""Each role's start page (the home dashboard)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from accounts.roles import Role
from approvals import selectors as approval_selectors
from approvals.models import RequestStatus
from cards.inventory.tallies import lacking_realname_count
from cards.models import OrderStatus
from cards.orders.selectors import orders_visible_to
from enterprises.selectors import enterprises_visible_to


@login_required
def home(request):
    """Each role's start page: its everyday tasks, and how much work waits in its scope."""
    user = request.user
    role = Role(user.role) if not user.is_superuser else Role.OPS
    context = {
        "role": role,
        "enterprise_count": enterprises_visible_to(user).count(),
        "own_enterprise": user.enterprise if user.role == Role.ENTERPRISE_ADMIN else None,
        "recent_enterprises": enterprises_visible_to(user)[:5],
    }
    if role in (Role.ACCOUNT_MANAGER, Role.ENTERPRISE_ADMIN):
        context.update(
            # What the tile says: cards that need real-name and lack it, in stock or at the U5 gate. From the
            # counters: counting the cards grows with them (issue 12 §1.3).
            lacking_realname=lacking_realname_count(user),
            orders_waiting=orders_visible_to(user).filter(status=OrderStatus.AWAITING_VERIFICATION).count(),
            open_exemptions=approval_selectors.exemptions_visible_to(user)
            .filter(status=RequestStatus.SUBMITTED)
            .count(),
        )
    elif role in (Role.PROVINCIAL_APPROVER, Role.GROUP_APPROVER):
        context.update(
            pending_exemptions=approval_selectors.exemptions_pending_for(user).count(),
            pending_changes=approval_selectors.change_requests_pending_for(user).count(),
            pending_reviews=approval_selectors.review_queue(user).count() if role == Role.PROVINCIAL_APPROVER else 0,
        )
    return render(request, "home.html", context)
