"""Cards in stock or active, order counts and comparison results, for the order tests."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from cards.models import Card, CardEvent, Handler, Order, OrderCard
from core.pending_uploads import FOLDER as KEPT  # a form's files kept for its next submit (issue 11 §2)
from enterprises.models import Document
from tests import factories
from verification.models import Verification
from verification.services import verification_record_result


def stock(enterprise, n=1, **kwargs) -> list[Card]:
    return [factories.order_stock_card(enterprise=enterprise, **kwargs) for _ in range(n)]


def active(enterprise, n=1, **kwargs) -> list[Card]:
    cards = stock(enterprise, n, **kwargs)
    factories.activate(cards)  # a new-installation order (H2), its comparison fed in as passed
    return [Card.objects.get(pk=c.pk) for c in cards]


def private_files() -> set[Path]:
    root = Path(settings.PRIVATE_MEDIA_ROOT)
    return {p for p in root.rglob("*") if p.is_file() and KEPT not in p.parts} if root.exists() else set()


def counts() -> dict:
    return {
        "orders": Order.objects.count(),
        "order_cards": OrderCard.objects.count(),
        "handlers": Handler.objects.count(),
        "verifications": Verification.objects.count(),
        "documents": Document.objects.count(),
        "card_events": CardEvent.objects.count(),
        "files": len(private_files()),
    }


def verification_of(order) -> Verification:
    return Verification.objects.filter(order=order).latest("created_at")


def passed(order) -> Order:
    verification_record_result(verification=verification_of(order), outcome="pass", distance=0.3)
    return Order.objects.get(pk=order.pk)
