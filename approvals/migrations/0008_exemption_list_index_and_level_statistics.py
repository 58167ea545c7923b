"""The exemption list's index (newest first over a province or the nation), and the planner's statistics
of the JSON lists the approvers' filters read.

An approver's desk and queue filter on `required_levels` holding their level, and lists by rule on `rules`
holding U1 or U3 (approvals.selectors.json_list_has: the list's first items, compared one by one, which
SQLite can do too). PostgreSQL keeps no statistics of `required_levels -> 0` and guessed each comparison at
half a per cent of the rows: 50 of 5,020 requests, where all but a few need the provincial level. On that
guess it planned nested loops for one row. Extended statistics on the expressions (PostgreSQL 14) give the
planner their common values, and the estimate is the true count; ANALYZE fills them at once. Other
databases have no such statistics."""

from django.conf import settings
from django.db import migrations, models

STATISTICS = {
    "exemption_required_levels": "(required_levels -> 0), (required_levels -> 1)",
    "exemption_rules": "(rules -> 0), (rules -> 1)",
}


def create_statistics(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, expressions in STATISTICS.items():
        schema_editor.execute(
            f"CREATE STATISTICS IF NOT EXISTS {name} ON {expressions} FROM approvals_exemptionrequest"
        )
    schema_editor.execute("ANALYZE approvals_exemptionrequest")


def drop_statistics(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in STATISTICS:
        schema_editor.execute(f"DROP STATISTICS IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0007_queue_open_index"),
        ("cards", "0025_partition_card_events"),
        ("enterprises", "0010_queue_open_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="exemptionrequest",
            index=models.Index(fields=["-created_at", "-id"], name="exemption_created"),
        ),
        migrations.RunPython(create_statistics, drop_statistics, elidable=False),
    ]
