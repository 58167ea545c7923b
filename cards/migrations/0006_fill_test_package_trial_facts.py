"""U4 (issue 7 §1.3): fill the trial facts for the packages and cards that exist.

* A test package gets the longest test period the rule allows (180 days, so no trial is cut
  shorter than the rule permits; ops can shorten it) and, as its fixed services, the combination
  most of its cards have (none, none, none when it has no card).
* A card was active if its history says so (an event into "active"); an active or suspended card
  without such an event counts as active since it was created.
* A card has been commercial if it is on a commercial package now, or its history shows one.
* A card on a test package started its trial when it went onto the package (its last
  services_changed event onto it, else its creation). A card that got there through the hole this
  migration closes (after being commercial or active) has its trial end now: the beat task then
  suspends it unless it moves to a commercial package, where its real-name rules apply.
"""

from collections import Counter
from datetime import timedelta

from django.db import migrations
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

CEILING_DAYS = 180


def fill_package_facts(apps, schema_editor):
    Package = apps.get_model("cards", "Package")
    Card = apps.get_model("cards", "Card")
    for package in Package.objects.filter(is_test_package=True):
        combos = Counter(
            Card.objects.filter(package=package).values_list("data_service", "voice_service", "sms_service")
        )
        data, voice, sms = combos.most_common(1)[0][0] if combos else ("none", "none", "none")
        Package.objects.filter(pk=package.pk).update(
            test_period_days=package.test_period_days or CEILING_DAYS,
            data_service=data,
            voice_service=voice,
            sms_service=sms,
        )
    Package.objects.filter(is_test_package=False).update(
        test_period_days=None, data_service="", voice_service="", sms_service=""
    )


def _package_codes(event) -> tuple[str | None, str | None]:
    data = event.data if isinstance(event.data, dict) else {}
    before = data.get("before") if isinstance(data.get("before"), dict) else {}
    after = data.get("after") if isinstance(data.get("after"), dict) else {}
    return before.get("package"), after.get("package")


def fill_card_facts(apps, schema_editor):
    Card = apps.get_model("cards", "Card")
    CardEvent = apps.get_model("cards", "CardEvent")
    Package = apps.get_model("cards", "Package")
    now = timezone.now()

    first_active = CardEvent.objects.filter(card=OuterRef("pk"), to_status="active").order_by("at").values("at")[:1]
    Card.objects.filter(first_activated_at__isnull=True).update(first_activated_at=Subquery(first_active))
    Card.objects.filter(first_activated_at__isnull=True, status__in=["active", "suspended"]).update(
        first_activated_at=F("created_at")
    )

    Card.objects.filter(package__is_test_package=False).update(
        has_been_commercial=True, test_period_started_at=None, test_period_ends_at=None
    )

    commercial = set(Package.objects.filter(is_test_package=False).values_list("code", flat=True))
    cards = Card.objects.filter(package__is_test_package=True).select_related("package")
    for card in cards.iterator(chunk_size=2000):
        been_commercial = card.has_been_commercial
        started = card.created_at
        events = CardEvent.objects.filter(card_id=card.pk, action="services_changed").order_by("at", "pk")
        for event in events:
            before, after = _package_codes(event)
            if before in commercial or after in commercial:
                been_commercial = True
            if after == card.package.code and before != card.package.code:
                started = event.at
        ends = started + timedelta(days=card.package.test_period_days or CEILING_DAYS)
        entered_through_the_hole = been_commercial or (
            card.first_activated_at is not None and card.first_activated_at < started
        )
        if entered_through_the_hole:
            ends = min(ends, now)
        Card.objects.filter(pk=card.pk).update(
            has_been_commercial=been_commercial, test_period_started_at=started, test_period_ends_at=ends
        )


class Migration(migrations.Migration):
    dependencies = [
        ("cards", "0005_test_package_trial_fields"),
    ]

    operations = [
        migrations.RunPython(fill_package_facts, migrations.RunPython.noop),
        migrations.RunPython(fill_card_facts, migrations.RunPython.noop),
    ]
