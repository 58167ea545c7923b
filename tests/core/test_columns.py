"""core.columns.choice_label: the lists' cheap stand-in for get_<field>_display must answer what it does."""

from __future__ import annotations

import pytest
from django.utils import translation

from cards.models import Card, CardStatus, ServiceLevelChoices
from core.columns import choice_label


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("status", [*CardStatus.values, "no_such_status"])
def test_a_status_label_is_the_display_in_the_active_language(language, status):
    card = Card(status=status, data_service=ServiceLevelChoices.DIRECTED, sms_service="")
    with translation.override(language):
        assert choice_label(card, "status") == card.get_status_display()
        assert choice_label(card, "data_service") == card.get_data_service_display()
        assert choice_label(card, "sms_service") == card.get_sms_service_display()


def test_the_labels_follow_the_language_switched_to():
    card = Card(status=CardStatus.ACTIVE)
    with translation.override("en"):
        english = choice_label(card, "status")
    with translation.override("zh-hans"):
        chinese = choice_label(card, "status")
    assert english == "Active"
    assert chinese != english
