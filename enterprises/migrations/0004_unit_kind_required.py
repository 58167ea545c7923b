import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Issue 7 §1.4 (E1): every record has a kind; a letter unit is one record per province and name."""

    dependencies = [
        ("enterprises", "0003_unit_kind_data"),
    ]

    operations = [
        migrations.AlterField(
            model_name="enterprise",
            name="unit_kind",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="enterprises",
                to="enterprises.unitkind",
                verbose_name="unit kind",
            ),
        ),
        migrations.AddConstraint(
            model_name="enterprise",
            constraint=models.UniqueConstraint(
                condition=models.Q(("credential_type", "official_letter"), models.Q(("name_index", ""), _negated=True)),
                fields=("province", "name_index"),
                name="enterprise_letter_unit_once_per_province",
            ),
        ),
    ]
