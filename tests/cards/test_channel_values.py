"""CardUser.channel carries the values issue 9 names (counter, self_service, platform); cards 0015 renames the
rows an older release wrote (internal, api), and back again on a rollback."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.utils import timezone

from cards.models import CardUser, Channel
from core.identity import PersonalIdType
from tests import idgen

pytestmark = pytest.mark.django_db

migration = importlib.import_module("cards.migrations.0015_channel_values_of_issue_9")


def test_the_channel_values_are_those_the_issue_names():
    assert set(Channel.values) == {"counter", "self_service", "platform"}


def test_the_migration_renames_older_rows_and_back(world):
    enterprise = world["enterprise"]
    older = [
        CardUser.objects.create(
            enterprise=enterprise,
            name="Test",
            id_type=PersonalIdType.RESIDENT_ID,
            id_number=idgen.resident_id(),
            biometric_consent_at=timezone.now(),
        )
        for _ in range(3)
    ]
    for card_user, old in zip(older, ["internal", "api", "self_service"], strict=True):
        CardUser.objects.filter(pk=card_user.pk).update(channel=old)

    migration.forwards(apps, None)
    assert [CardUser.objects.get(pk=c.pk).channel for c in older] == ["counter", "platform", "self_service"]

    migration.backwards(apps, None)
    assert [CardUser.objects.get(pk=c.pk).channel for c in older] == ["internal", "api", "self_service"]
