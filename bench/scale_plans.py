"""The query plans that docs/scaling.md quotes (issue 12 §3 "Distribution key"), from the scale benchmark's
large database: EXPLAIN (ANALYZE, BUFFERS) of each query the document makes a claim about.

The SQL is the views' own: the selectors and list functions the pages call, sliced as their keyset's first
page (core.keyset), or, where the code runs the statement itself (a count, an aggregate, a service's locks),
the statements captured while it runs. What writes (card_user_bind and its identity slot row of U6; the ops
admin's login) runs inside a transaction that is rolled back.

Run by bench.scale.run at the end (var/bench/scale-plans.txt); on a database bench.scale.prepare loaded
earlier, `write(bench.scale._alias(name), cards)`. Imported only after django.setup() (it imports the apps).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import connections, transaction
from django.db.models import QuerySet
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from bench.scale import BASE_DIR, CARD_PREFIX, ROLES, using
from cards.card_users.services import card_user_bind
from cards.card_users.views import CARD_USER_KEYSET, card_users_listed, set_live_cards
from cards.inventory.selectors import card_events
from cards.inventory.tallies import (
    lacking_realname_count,
    lacking_tallies_by_enterprise,
    lacking_tallies_by_province,
    tallies_by_status,
    tallies_visible_to,
)
from cards.inventory.views import CARD_KEYSET, HISTORY_LIMIT, cards_listed
from cards.models import Card, CardBinding
from core.errors import DomainError
from core.keyset import Keyset, list_count

PLANS_FILE = BASE_DIR / "var" / "bench" / "scale-plans.txt"
EXPLAIN = "EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) "


def _explain(sql: str, params: Any = None) -> str:
    with connections["default"].cursor() as cursor:
        # No params: a captured statement is already the text the driver sent (its literals inlined), and
        # a % in it (LIKE 'prefix%') must reach PostgreSQL as it is.
        if params is None:
            cursor.execute(EXPLAIN + sql)
        else:
            cursor.execute(EXPLAIN + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def _shown(sql: str, plan: str) -> str:
    """The statement, its outer column list folded (the plan is the point), then its plan."""
    head, sep, rest = sql.partition(" FROM ")
    if sep and head.startswith("SELECT ") and head.count(", ") > 3:
        sql = f"SELECT <{head.count(', ') + 1} columns> FROM {rest}"
    return f"{sql}\n\n{plan}"


def _planned(queryset: QuerySet) -> str:
    """The SQL Django makes of `queryset` (as the driver sends it) and its plan."""
    sql, params = queryset.query.sql_with_params()
    with connections["default"].cursor() as cursor:
        sent = cursor.mogrify(sql, params).decode()
    return _shown(sent, _explain(sql, params))


def _first_page(keyset: Keyset, queryset: QuerySet) -> str:
    """The plan of a list's first page as keyset.page() reads it: its order, one row more than the page."""
    return _planned(queryset.order_by(*keyset.ordering)[: keyset.per_page + 1])


def _captured(run: Callable[[], Any], *, table: str = "") -> list[str]:
    """The plans of the SELECTs that `run` sends (those that read `table`, if named), in their order."""
    with CaptureQueriesContext(connections["default"]) as captured:
        run()
    statements = [
        query["sql"]
        for query in captured.captured_queries
        if query["sql"].lstrip().upper().startswith("SELECT") and (not table or f'"{table}"' in query["sql"])
    ]
    return [_shown(sql, _explain(sql)) for sql in statements]


def _add(found: dict[str, str], name: str, plans: list[str]) -> None:
    if len(plans) == 1:
        found[name] = plans[0]
    for number, plan in enumerate(plans if len(plans) > 1 else [], start=1):
        found[f"{name} #{number}"] = plan


def _slot_lock(found: dict[str, str], enterprise_id: int) -> None:
    """U6 as card_user_bind runs it: the identity slot row locked, the ID's live cards counted, the cards
    locked. A card already bound ends it with already_bound (after the locks): nothing is bound, and the
    transaction (and the slot row get_or_create may have inserted) is rolled back."""
    binding = (
        CardBinding.objects.filter(ended_at__isnull=True, card__enterprise_id=enterprise_id)
        .select_related("card_user", "card")
        .order_by("pk")
        .first()
    )
    if binding is None:
        return

    def bind_again() -> None:
        try:
            card_user_bind(actor=None, card_user=binding.card_user, cards=[binding.card])
        except DomainError as refused:
            if refused.code != "already_bound":
                raise

    with transaction.atomic():
        _add(found, "U6 bind: slot lock, live count, card locks (card_user_bind)", _captured(bind_again))
        transaction.set_rollback(True)


def plans(alias: str) -> dict[str, str]:
    """{what: SQL and its plan} of the queries docs/scaling.md quotes, on database `alias`."""
    found: dict[str, str] = {}
    with using(alias):
        users = {role: User.objects.get(username=username) for role, username in ROLES.items()}
        big = users["admin_big"].enterprise
        assert big is not None
        card = Card.objects.filter(enterprise=big, iccid__startswith=CARD_PREFIX).order_by("iccid").first()
        far_card = Card.objects.exclude(enterprise=big).filter(iccid__startswith=CARD_PREFIX).order_by("-iccid").first()
        assert card is not None and far_card is not None

        for role, what in (
            ("prov_approver", "card list page 1, a province (provincial approver)"),
            ("admin_big", "card list page 1, one enterprise (the big enterprise's admin)"),
            ("group_approver", "card list page 1, nationwide (group approver)"),
        ):
            queryset, _form = cards_listed(users[role], {})
            found[what] = _first_page(CARD_KEYSET, queryset)
        province_cards, _form = cards_listed(users["prov_approver"], {})
        _add(
            found,
            "card list count, a province (list_count: capped, then estimated)",
            _captured(lambda: list_count(province_cards)),
        )

        for role, query, what in (
            ("admin_big", card.iccid, "ICCID exact, within one enterprise"),
            ("group_approver", far_card.iccid, "ICCID exact, nationwide (no enterprise in the query)"),
            ("admin_big", card.iccid[:12], "ICCID prefix, within one enterprise"),
            ("group_approver", far_card.iccid[:12], "ICCID prefix, nationwide"),
            ("group_approver", far_card.msisdn, "MSISDN exact, nationwide"),
        ):
            queryset, _form = cards_listed(users[role], {"q": query})
            found[what] = _first_page(CARD_KEYSET, queryset)

        for role, what in (
            ("admin_big", "card users page 1, one enterprise"),
            ("prov_approver", "card users page 1, a province"),
        ):
            queryset = card_users_listed(users[role], "")
            found[what] = _first_page(CARD_USER_KEYSET, queryset)
            rows = list(queryset.order_by(*CARD_USER_KEYSET.ordering)[: CARD_USER_KEYSET.per_page])
            _add(
                found,
                f"{what}: live cards of the rows shown (set_live_cards)",
                _captured(functools.partial(set_live_cards, rows)),
            )
        someone = CardBinding.objects.filter(ended_at__isnull=True, card__enterprise=big).order_by("pk").first()
        if someone is not None:
            # The document number stays in this process: the SQL holds only its blind indexes.
            number = someone.card_user.id_number
            found["card users by ID number, nationwide (blind index)"] = _first_page(
                CARD_USER_KEYSET, card_users_listed(users["group_approver"], number)
            )

        for role, what in (
            ("admin_big", "home counters, one enterprise (CardTally)"),
            ("prov_approver", "home counters, a province (CardTally)"),
            ("group_approver", "home counters, nationwide dashboard (CardTally)"),
        ):
            found[what] = _planned(tallies_visible_to(users[role]))
        # The nationwide dashboard's card figures, grouped in the database (portal.dashboard): per status and
        # state, the ten enterprises with the most cards lacking real-name, and per province.
        group = users["group_approver"]
        found["dashboard: counters per status and state, nationwide (CardTally)"] = _planned(tallies_by_status(group))
        _add(
            found,
            "dashboard: enterprises lacking real-name, the ten shown (CardTally)",
            _captured(lambda: lacking_tallies_by_enterprise(group, top=10)),
        )
        found["dashboard: lacking real-name per province (CardTally)"] = _planned(lacking_tallies_by_province(group))
        _add(
            found,
            "home: cards lacking real-name, a province (CardTally)",
            _captured(lambda: lacking_realname_count(users["prov_approver"])),
        )

        _slot_lock(found, big.pk)

        found["a card's event history (card detail)"] = _planned(card_events(card)[:HISTORY_LIMIT])

        # The login writes (its session, last_login, the login audit): rolled back with the page's reads.
        with transaction.atomic():
            client = Client()
            client.force_login(users["superuser"])
            _add(
                found,
                "ops admin: card event changelist (/admin/cards/cardevent/)",
                _captured(lambda: client.get(reverse("admin:cards_cardevent_changelist")), table="cards_cardevent"),
            )
            transaction.set_rollback(True)
    return found


def write(alias: str, cards: int, path: Path = PLANS_FILE) -> Path:
    """The plans of `plans(alias)` in a text file, each under its heading; returns its path."""
    found = plans(alias)
    with using(alias), connections["default"].cursor() as cursor:
        cursor.execute("SHOW server_version")
        (version,) = cursor.fetchone()
    parts = [f"Query plans at {cards:,} cards, PostgreSQL {version} (bench/scale_plans.py)\n"]
    parts += [f"=== {name}\n{text}\n" for name, text in found.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
