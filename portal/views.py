"""Each role's start page (the home tiles), and its compliance dashboard (issue 11 §3)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from accounts.roles import Role
from approvals import selectors as approval_selectors
from approvals.models import RequestStatus
from cards.inventory.tallies import lacking_realname_count
from cards.models import OrderStatus
from cards.orders.selectors import orders_visible_to
from cards.templatetags.rule_tags import rule_title
from enterprises.selectors import enterprises_visible_to
from portal import charts, dashboard
from verification.models import VerificationOutcome


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


# --- the compliance dashboard (issue 11 §3) ---------------------------------------------------------------


def _bars(figures) -> list[charts.Bar]:
    return [charts.Bar(label=f.label, value=f.count, href=f.href, tone=f.tone) for f in figures]


def _stack(label: str, href: str | None, figures) -> charts.Stack:
    return charts.Stack(
        label=label,
        href=href,
        segments=tuple(charts.Bar(label=f.label, value=f.count, href=f.href, tone=f.tone) for f in figures),
    )


def _legend(figures) -> list[tuple[str, str]]:
    return [(f.label, f.tone) for f in figures]


def dashboard_context(user, now) -> dict:
    """The dashboard's figures and charts for this user (portal.dashboard counts, portal.charts draws)."""
    sections = dashboard.sections_for(user)
    context: dict = {"sections": sections, "now": now}
    if sections.cards:
        states = dashboard.cards_by_state(dashboard.card_state_counts(user))
        context["states"] = states
        context["statuses"] = states[0].by_status if states else ()
        context["card_total"] = sum(state.total for state in states)
        context["lacking_total"] = next((s.total for s in states if s.state == "lacking"), 0)
        context["states_chart"] = charts.stacked_bar_chart(
            chart_id="chart-states",
            title=_("Cards by real-name state"),
            desc=_("For each real-name state, the cards in it by status; each part links to those cards."),
            stacks=[_stack(state.label, state.href, state.by_status) for state in states],
            legend=_legend(states[0].by_status) if states else [],
            empty=_("No cards in your scope yet."),
        )
        if sections.by_enterprise:
            by_enterprise = dashboard.lacking_by_enterprise(user, lacking_total=context["lacking_total"])
            context["by_enterprise"] = by_enterprise
            context["by_enterprise_chart"] = charts.bar_chart(
                chart_id="chart-enterprises",
                title=_("Cards lacking real-name, by enterprise"),
                desc=_("The enterprises with the most cards that need their user's real-name and lack it."),
                bars=_bars(by_enterprise),
                empty=_("No card lacks its user's real-name."),
            )
        if sections.by_province:
            by_province = dashboard.lacking_by_province(user, linked=sections.province_links)
            context["by_province"] = by_province
            context["by_province_chart"] = charts.bar_chart(
                chart_id="chart-provinces",
                title=_("Cards lacking real-name, by province"),
                desc=_("Cards that need their user's real-name and lack it, per province."),
                bars=_bars(by_province),
                empty=_("No card lacks its user's real-name."),
            )
    if sections.exemptions:
        by_rule = dashboard.exemptions_by_rule(user)
        context["exemptions_by_rule"] = by_rule
        context["exemption_statuses"] = by_rule[0][1] if by_rule else ()
        context["exemptions_rule_chart"] = charts.stacked_bar_chart(
            chart_id="chart-exemption-rules",
            title=_("Exemption requests by rule"),
            desc=_("Requests naming each rule, by status; a request for both U1 and U3 counts under each."),
            stacks=[
                _stack(f"{rule_title(rule)} · {rule}", dashboard.exemptions_url(rule=rule), figures)
                for rule, figures in by_rule
            ],
            legend=_legend(by_rule[0][1]) if by_rule else [],
            empty=_("No exemption request yet."),
        )
        by_age = dashboard.exemptions_by_age(user, now)
        context["exemptions_by_age"] = by_age
        context["exemptions_age_chart"] = charts.bar_chart(
            chart_id="chart-exemption-ages",
            title=_("Open exemption requests by time waiting"),
            desc=_("Submitted requests still waiting for a decision, by how long ago they were filed."),
            bars=_bars(by_age),
        )
    if sections.reviews:
        reviews = dashboard.reviews_by_age(user, now)
        target = approval_selectors.review_target_hours()
        context["reviews"] = reviews
        context["review_target_hours"] = target
        context["reviews_waiting"] = sum(f.count for f in reviews)
        context["reviews_late"] = sum(f.count for f in reviews if f.tone == "bad")
        context["reviews_chart"] = charts.bar_chart(
            chart_id="chart-reviews",
            title=_("Face comparisons waiting for review"),
            desc=_("Comparisons in your review queue by how long they have waited; the target is %(hours)s h.")
            % {"hours": target},
            bars=_bars(reviews),
        )
    if sections.face_rates:
        weeks = dashboard.face_rates_by_week(user, now)
        context["weeks"] = [
            {
                "week": week.week,
                "total": week.total,
                "rates": [week.rate(outcome) for outcome in dashboard.RATE_OUTCOMES],
            }
            for week in weeks
        ]
        context["rate_labels"] = [str(label) for label in RATE_LABELS.values()]
        context["rates_chart"] = charts.line_chart(
            chart_id="chart-face-rates",
            title=_("Face comparison outcomes by week"),
            desc=_("The share of comparisons each week that matched, went to manual review, or did not match."),
            x_labels=[week.week.strftime("%m-%d") for week in weeks],
            series=[
                charts.Series(
                    label=str(label), values=tuple(week.rate(outcome) for week in weeks), tone=RATE_TONES[outcome]
                )
                for outcome, label in RATE_LABELS.items()
            ],
            x_label=_("Week starting"),
            y_label=_("Share (%)"),
            y_max=100,
            unit="%",
            label_every=3,
        )
    if sections.imports:
        days = dashboard.imports_by_day(user, now)
        context["imports"] = days
        context["imports_total"] = sum(f.count for f in days)
        context["imports_chart"] = charts.column_chart(
            chart_id="chart-imports",
            title=_("Card imports per day"),
            desc=_("Card files uploaded on each of the last 30 days; each column links to that day's imports."),
            bars=_bars(days),
            tick_labels=[f.label[5:] for f in days],
            x_label=_("Day"),
            y_label=_("Imports"),
            label_every=7,
        )
    return context


RATE_LABELS = {
    VerificationOutcome.PASS: gettext_lazy("Match"),
    VerificationOutcome.REVIEW: gettext_lazy("Manual review"),
    VerificationOutcome.FAIL: gettext_lazy("No match"),
}
RATE_TONES = {VerificationOutcome.PASS: "good", VerificationOutcome.REVIEW: "warn", VerificationOutcome.FAIL: "bad"}


@login_required
@never_cache
@require_safe
def dashboard_page(request):
    """The compliance dashboard: each figure in the user's scope, each bar a link to the list behind it."""
    return render(request, "portal/dashboard.html", dashboard_context(request.user, timezone.now()))
