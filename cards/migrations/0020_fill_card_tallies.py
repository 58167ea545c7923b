"""Fill each card's real-name state and the card counters for the cards there are (issue 12 §1.3).

The same decision as cards.inventory.tallies.realname_state_expression, written with the models of this
point in history (a migration cannot ask the approvals app through cards.hooks). Afterwards the services
keep both right, and `manage.py recount_cards` rebuilds them."""

from django.db import migrations
from django.db.models import Case, Count, Exists, OuterRef, Q, Value, When


def fill(apps, schema_editor):
    Card = apps.get_model("cards", "Card")
    CardBinding = apps.get_model("cards", "CardBinding")
    CardTally = apps.get_model("cards", "CardTally")
    ExemptionRequest = apps.get_model("approvals", "ExemptionRequest")
    covered = Exists(CardBinding.objects.filter(card=OuterRef("pk"), ended_at__isnull=True)) | Q(
        Exists(
            ExemptionRequest.objects.filter(
                cards=OuterRef("pk"), enterprise_id=OuterRef("enterprise_id"), status="approved"
            )
        )
    )
    Card.objects.filter(realname_required=True).update(
        realname_state=Case(When(covered, then=Value("covered")), default=Value("lacking"))
    )
    Card.objects.filter(realname_required=False).exclude(realname_state="not_required").update(
        realname_state="not_required"
    )
    CardTally.objects.all().delete()
    rows = (
        Card.objects.order_by()
        .values("enterprise_id", "status", "realname_state")
        .annotate(n=Count("pk"))
        .order_by("enterprise_id", "status", "realname_state")
    )
    CardTally.objects.bulk_create(
        (
            CardTally(
                enterprise_id=row["enterprise_id"], status=row["status"], realname=row["realname_state"], count=row["n"]
            )
            for row in rows.iterator()
        ),
        batch_size=2000,
    )


def empty(apps, schema_editor):
    apps.get_model("cards", "CardTally").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cards", "0019_card_tallies"),
        ("approvals", "0005_verbose_names"),
    ]

    operations = [migrations.RunPython(fill, empty)]
