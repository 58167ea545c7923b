"""The request body of an event: the same bytes on every attempt, {"type", "timestamp", "data"}."""

from __future__ import annotations

import json

from integrations.webhooks.models import Event


def body_of(event: Event) -> str:
    payload = {"type": event.type, "timestamp": event.timestamp.isoformat(), "data": event.data}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
