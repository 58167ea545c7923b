"""bench.scale_plans: the plans docs/scaling.md quotes are the views' own SQL as PostgreSQL ran it, and the
U6 bind it runs to capture its locks leaves nothing behind (issue 12 §3)."""

from __future__ import annotations

import pytest

from bench import scale_plans
from cards.models import Card, CardBinding, CardEvent, CardTally, IdentitySlotLock
from tests import factories

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_a_querysets_plan_is_its_sql_with_the_columns_folded_and_the_plan_it_ran(world):
    card = factories.card(enterprise=world["enterprise"])
    shown = scale_plans._planned(Card.objects.filter(iccid=card.iccid))
    sql, _, plan = shown.partition("\n\n")
    assert sql.startswith("SELECT <") and 'columns> FROM "cards_card"' in sql
    assert f"'{card.iccid}'" in sql  # the parameters as the driver sent them
    assert "actual time=" in plan and "Execution Time" in plan  # ANALYZE ran it


def test_the_bind_is_explained_through_its_locks_and_rolled_back(world):
    enterprise = world["enterprise"]
    card = factories.card(enterprise=enterprise)
    factories.verified_card_user(actor=world["users"]["account_manager"], enterprise=enterprise, cards=[card])

    def rows() -> tuple[int, ...]:
        return tuple(model.objects.count() for model in (CardBinding, CardEvent, CardTally, IdentitySlotLock))

    # No slot row yet, as at an ID's first bind: get_or_create inserts one, and only the SELECTs are explained.
    IdentitySlotLock.objects.all().delete()
    before = rows()
    found: dict[str, str] = {}
    scale_plans._slot_lock(found, enterprise.pk)
    plans = list(found.values())
    assert any('FOR UPDATE OF "cards_identityslotlock"' in plan and "LockRows" in plan for plan in plans)
    assert any('FOR NO KEY UPDATE OF "cards_card"' in plan for plan in plans)
    assert any('COUNT(*) AS "__count" FROM "cards_cardbinding"' in plan for plan in plans)
    assert all(not plan.lstrip().upper().startswith(("INSERT", "UPDATE", "SAVEPOINT")) for plan in plans)
    assert rows() == before
