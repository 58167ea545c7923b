# The idempotency key is stored only as a keyed hash (integrations.idempotency); the table was unused before.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("integrations", "0002_webhooks")]

    operations = [
        migrations.RemoveConstraint(model_name="idempotencyrecord", name="idempotency_owner_key_unique"),
        migrations.RenameField(model_name="idempotencyrecord", old_name="key", new_name="key_hash"),
        migrations.AlterField(model_name="idempotencyrecord", name="key_hash", field=models.CharField(max_length=64)),
        migrations.AddConstraint(
            model_name="idempotencyrecord",
            constraint=models.UniqueConstraint(fields=("owner", "key_hash"), name="idempotency_owner_key_unique"),
        ),
    ]
