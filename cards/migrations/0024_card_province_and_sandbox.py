"""Cards carry their enterprise's province and sandbox flag (issue 12 §1.4), so that a province's card list is
scoped on the card's own row (with the index of its keyset order) instead of a join through the enterprise.

The fill walks the cards by primary-key ranges, one UPDATE ... FROM enterprises_enterprise a batch, outside one
big transaction on PostgreSQL (the migration is not atomic there): ten million cards are not one lock held for
minutes nor one bloat of the whole table at once. Only then does the province become NOT NULL.
"""

import django.db.models.deletion
from django.db import migrations, models

BATCH = 50_000


def fill_scope_columns(apps, schema_editor):
    connection = schema_editor.connection
    quote = schema_editor.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min(id), max(id) FROM {quote('cards_card')}")
        low, high = cursor.fetchone()
        if low is None:
            return
        for start in range(low, high + 1, BATCH):
            # UPDATE ... FROM: PostgreSQL, and SQLite since 3.33.
            cursor.execute(
                f"UPDATE {quote('cards_card')} SET province_id = e.province_id, "
                "in_sandbox = (e.sandbox_of_id IS NOT NULL) "
                f"FROM {quote('enterprises_enterprise')} e "
                f"WHERE e.id = {quote('cards_card')}.enterprise_id AND {quote('cards_card')}.id >= %s "
                f"AND {quote('cards_card')}.id < %s",
                [start, start + BATCH],
            )


class Migration(migrations.Migration):
    # Each batch of the fill commits on its own (see the docstring); the schema steps are single statements.
    atomic = False

    dependencies = [
        ("accounts", "0008_keyset_list_indexes"),
        ("cards", "0023_keyset_list_indexes"),
        ("enterprises", "0009_enterprise_name_prefix_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="card",
            name="in_sandbox",
            field=models.BooleanField(db_default=False, default=False, editable=False, verbose_name="sandbox card"),
        ),
        migrations.AddField(
            model_name="card",
            name="province",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.province",
                verbose_name="province",
            ),
        ),
        migrations.RunPython(fill_scope_columns, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="card",
            name="province",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.province",
                verbose_name="province",
            ),
        ),
        migrations.AddIndex(
            model_name="card",
            index=models.Index(fields=["province", "iccid"], name="card_province_iccid"),
        ),
    ]
