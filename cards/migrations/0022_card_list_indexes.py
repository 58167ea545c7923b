# The ops admin's card-event list gets the index of its ordering, and the MSISDN's unique index and its
# pattern index become one unique pattern index (issue 12 §1.5, §1.6).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cards", "0021_autovacuum_big_tables"),
        ("enterprises", "0007_verbose_names"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="cardevent",
            index=models.Index(fields=["-at", "-id"], name="cardevent_at_desc"),
        ),
        migrations.AlterField(
            model_name="card",
            name="msisdn",
            field=models.CharField(max_length=13, verbose_name="MSISDN"),
        ),
        migrations.AddConstraint(
            model_name="card",
            constraint=models.UniqueConstraint(
                fields=("msisdn",), name="card_msisdn_unique", opclasses=["varchar_pattern_ops"]
            ),
        ),
    ]
