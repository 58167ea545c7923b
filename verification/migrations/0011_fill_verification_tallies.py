"""Fill the face comparisons' counters for the comparisons there are (issue 12 §1.3).

The count is verification.tallies.completed_counts, the daily recount's own, given the model of this
point in history; afterwards the services keep the counters right and the recount rebuilds them."""

from django.db import migrations

from core.ledger import ledger_record
from verification.tallies import TALLY_KEY_FIELDS, completed_counts


def fill(apps, schema_editor):
    Verification = apps.get_model("verification", "Verification")
    VerificationTally = apps.get_model("verification", "VerificationTally")
    VerificationTally.objects.all().delete()
    ledger_record(VerificationTally, TALLY_KEY_FIELDS, completed_counts(Verification.objects.all()))


def empty(apps, schema_editor):
    apps.get_model("verification", "VerificationTally").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("verification", "0010_verification_tallies")]

    operations = [migrations.RunPython(fill, empty)]
