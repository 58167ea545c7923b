"""CardUser.channel takes the values issue 9 names, which the platform's events now carry: internal becomes
counter and api becomes platform. Reversible, so a rollback finds the older values again."""

from django.db import migrations, models

RENAMES = {"internal": "counter", "api": "platform"}


def forwards(apps, schema_editor):
    card_user = apps.get_model("cards", "CardUser")
    for old, new in RENAMES.items():
        card_user.objects.filter(channel=old).update(channel=new)


def backwards(apps, schema_editor):
    card_user = apps.get_model("cards", "CardUser")
    for old, new in RENAMES.items():
        card_user.objects.filter(channel=new).update(channel=old)


class Migration(migrations.Migration):
    dependencies = [
        ("cards", "0014_self_service_link_handover_refusal"),
    ]

    operations = [
        migrations.AlterField(
            model_name="carduser",
            name="channel",
            field=models.CharField(
                choices=[
                    ("counter", "C1: staff pages (account manager at the counter or on site)"),
                    ("self_service", "C2: self-service link on the card user's phone"),
                    ("platform", "C3: REST API (customer platform)"),
                ],
                default="counter",
                max_length=16,
                verbose_name="channel",
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
