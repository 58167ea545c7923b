import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Issue 7 §1.4 (E1): the unit's kind, and a blind index of its name. Nullable first, so that
    existing records can be given a kind (0003) before the column is required (0004)."""

    dependencies = [
        ("enterprises", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="UnitKind",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("code", models.SlugField(max_length=32, unique=True, verbose_name="code")),
                ("name", models.CharField(max_length=64, verbose_name="name")),
                ("name_en", models.CharField(blank=True, max_length=64, verbose_name="English name")),
                (
                    "cannot_hold_credential",
                    models.BooleanField(
                        default=False,
                        help_text="Units of this kind may register with an introduction letter or official letter with seal.",
                        verbose_name="cannot hold a unit credential",
                    ),
                ),
                ("is_active", models.BooleanField(default=True, verbose_name="offered")),
                ("sort_order", models.PositiveSmallIntegerField(default=0, verbose_name="order")),
            ],
            options={
                "verbose_name": "unit kind",
                "verbose_name_plural": "unit kinds",
                "ordering": ["sort_order", "code"],
            },
        ),
        migrations.AddField(
            model_name="enterprise",
            name="unit_kind",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="enterprises",
                to="enterprises.unitkind",
                verbose_name="unit kind",
            ),
        ),
        migrations.AddField(
            model_name="enterprise",
            name="name_index",
            field=models.CharField(blank=True, default="", editable=False, max_length=64),
        ),
    ]
