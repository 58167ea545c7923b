"""Issue 7 §1.4 / E1: the migrations give existing records a kind and a name index, on a database with data.

Letter units registered twice in one province (possible before the fix) must not stop the migration:
the oldest keeps the index, the later ones say so in their notes for ops to resolve.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.pii import credential_index, unit_name_index

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("enterprises", "0001_initial")]


def _migrate(targets):
    """Migrate to `targets`; the models as they are then.

    Going back to BEFORE also unapplies every app whose migrations stand on a later enterprises migration
    (cards, integrations), so the way forward migrates everything again, or the next test on this worker
    would find their tables gone.
    """
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    graph = executor.loader.graph
    reached = {node for target in targets for node in graph.forwards_plan(target)}
    # Every other app at its newest migration that still stands on the enterprises migrations reached.
    others = [
        leaf
        for leaf in graph.leaf_nodes()
        if all(node in reached for node in graph.forwards_plan(leaf) if node[0] == "enterprises")
    ]
    return executor.loader.project_state([*others, *targets]).apps


def _migrate_all():
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    return _migrate(executor.loader.graph.leaf_nodes())


def test_7_1_4_existing_records_get_a_kind_and_duplicate_letter_units_are_kept_apart(provinces):
    old = _migrate(BEFORE)
    try:
        Province = old.get_model("accounts", "Province")
        User = old.get_model("accounts", "User")
        Enterprise = old.get_model("enterprises", "Enterprise")
        beijing = Province.objects.get(code="11")
        guangdong = Province.objects.get(code="44")
        manager = User.objects.create(username="am_migration", role="account_manager", province=beijing)

        def make(name, credential_type, province=beijing, number=""):
            return Enterprise.objects.create(
                name=name,
                credential_type=credential_type,
                credential_number=number,
                credential_number_index=credential_index(number) if number else None,
                credential_address="北京市",
                province=province,
                account_manager=manager,
                created_by=manager,
            ).pk

        licence = make("北京物联科技有限公司", "business_licence", number="91110105MA01ABCD5F")
        legacy = make("北京老单位", "organisation_code", number="MA01X3K7X")
        water = make("北京市水务局", "official_letter")
        water_again = make(" 北京市水务局 ", "official_letter")
        water_gd = make("北京市水务局", "official_letter", province=guangdong)
    finally:
        new = _migrate_all()

    Enterprise = new.get_model("enterprises", "Enterprise")
    records = {e.pk: e for e in Enterprise.objects.select_related("unit_kind")}
    assert records[licence].unit_kind.code == "enterprise"
    assert records[legacy].unit_kind.code == "other"
    assert records[water].unit_kind.code == "party_government"
    assert records[water].unit_kind.cannot_hold_credential
    assert records[water].name_index == unit_name_index("北京市水务局")
    assert records[water_gd].name_index == unit_name_index("北京市水务局")  # another province
    assert records[licence].name_index == unit_name_index("北京物联科技有限公司")
    # The duplicate keeps its row and data; it is marked for ops and no longer takes the index.
    assert records[water_again].name_index == ""
    assert "重名" in records[water_again].notes
    UnitKind = new.get_model("enterprises", "UnitKind")
    assert set(UnitKind.objects.filter(cannot_hold_credential=True).values_list("code", flat=True)) == {
        "party_government",
        "military",
        "armed_police",
    }
