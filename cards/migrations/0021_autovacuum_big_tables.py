"""Autovacuum and autoanalyze for the big card tables by a share of rows that stays small as they grow
(issue 12 §1.3): with PostgreSQL's defaults (20 % and 10 % of the table) a table of ten million cards is
re-analysed only after a million changes, and a planner working from old statistics chose a parallel full
scan for a count. The counters' table is small and churns (every fold deletes rows): vacuum it early too.
A no-op on SQLite."""

from django.db import migrations

# table -> (autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor)
SETTINGS = {
    "cards_card": (0.02, 0.01),
    "cards_cardevent": (0.02, 0.01),
    "cards_cardbinding": (0.02, 0.01),
    "cards_cardtally": (0.05, 0.02),
}


def _alter(schema_editor, sql):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, (vacuum, analyze) in SETTINGS.items():
        schema_editor.execute(sql(schema_editor.quote_name(table), vacuum, analyze))


def set_thresholds(apps, schema_editor):
    _alter(
        schema_editor,
        lambda table, vacuum, analyze: (
            f"ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = {vacuum}, "
            f"autovacuum_analyze_scale_factor = {analyze})"
        ),
    )


def reset_thresholds(apps, schema_editor):
    _alter(
        schema_editor,
        lambda table, vacuum, analyze: (
            f"ALTER TABLE {table} RESET (autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor)"
        ),
    )


class Migration(migrations.Migration):
    dependencies = [("cards", "0020_fill_card_tallies")]

    operations = [migrations.RunPython(set_thresholds, reset_thresholds, elidable=False)]
