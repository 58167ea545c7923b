"""The `data` of every platform event, declared once (issue 10 §3, "thin payloads").

Each event type has one Payload here: its fields, their JSON schema and what they mean. The business
services call `emit_event(enterprise, type, **fields)`, which builds `data` from this table and refuses a
missing or an unknown field; the OpenAPI schema's webhooks (integrations.webhooks.openapi) are generated
from the same table. So the code and the docs cannot drift apart.

A payload is thin: public ids (UUIDs, ICCIDs, order numbers), statuses and reason codes. It never carries
a name, an ID number, a phone number (MSISDN) or a photo; emit() checks the keys again. A platform that
needs more fetches the object with its key, under the key's scopes.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from integrations.webhooks.events import emit
from integrations.webhooks.models import Event, EventType

_UUID = {"type": "string", "format": "uuid"}
_UUID_OR_NULL = {"type": "string", "format": "uuid", "nullable": True}
_STR = {"type": "string"}
_STR_OR_NULL = {"type": "string", "nullable": True}
_ICCID = {"type": "string", "minLength": 19, "maxLength": 20}
_CODES = {"type": "array", "items": {"type": "string"}}
_INT = {"type": "integer", "minimum": 0}


@dataclass(frozen=True)
class Field:
    name: str
    schema: Mapping[str, Any]
    description: str


@dataclass(frozen=True)
class Payload:
    type: EventType
    summary: str
    description: str
    fields: tuple[Field, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def build(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The event's data, its fields in the declared order. A field missing or not declared is a bug
        of the caller (TypeError), never silently dropped or filled in."""
        missing = [name for name in self.names if name not in values]
        extra = sorted(set(values) - set(self.names))
        if missing or extra:
            raise TypeError(f"{self.type} payload: missing {missing}, not declared {extra}")
        return {name: _plain(values[name]) for name in self.names}

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "description": self.description,
            "properties": {f.name: {**f.schema, "description": f.description} for f in self.fields},
            "required": list(self.names),
            "additionalProperties": False,
        }


def _plain(value: Any) -> Any:
    """JSON values: a UUID or a choice (TextChoices) as its string, lists and dicts element by element."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


ENTERPRISE = Field("enterprise", _UUID, "Public id of the enterprise the event belongs to.")

_CARD_USER_FIELDS = (
    ENTERPRISE,
    Field("card_user", _UUID, "Public id of the card-user registration."),
    Field("verification", _UUID, "Public id of the face comparison that decided this status."),
    Field(
        "status",
        {
            "type": "string",
            "enum": [
                "registered",
                "in_review",
                "needs_new_photo",
                "declined",
                "not_bound_card_limit",
                "not_bound",
            ],
        },
        "The registration's status now.",
    ),
    Field(
        "channel",
        {"type": "string", "enum": ["counter", "self_service", "platform"]},
        "How the registration reached the portal: internal (staff at the counter), self_service (a "
        "self-service link on the card user's phone) or api (a platform key).",
    ),
    Field("cards", {"type": "array", "items": _ICCID}, "ICCIDs of the cards registered to this user."),
    Field(
        "reasons",
        _CODES,
        "Reason codes (empty unless refused): the face comparison's (e.g. no_face, multiple_faces), or the "
        "binding's refusal (one_id_five_cards; already_bound, invalid_transition...); review_declined when a "
        "reviewer declined the comparison.",
    ),
)

_CARD_FIELDS = (
    ENTERPRISE,
    Field("card", _ICCID, "The card's ICCID (its id in the API)."),
    Field("from_status", _STR, "The card's status before."),
    Field(
        "status",
        {"type": "string", "enum": ["in_stock", "awaiting_realname", "active", "suspended", "cancelled"]},
        "The card's status now.",
    ),
    Field(
        "action",
        _STR,
        "What changed it: activated, awaiting_realname, suspended, resumed, cancelled, transferred, "
        "realname_completed or test_period_ended.",
    ),
    Field("order", _UUID_OR_NULL, "Public id of the order it was part of; null for a system change."),
    Field(
        "reason",
        _STR_OR_NULL,
        "A reason code where the change has one: for card.activated the basis (not_required, "
        "user_realname_complete, exemption_approved); test_period_ended for the end of a trial; else null.",
    ),
)

_ORDER_FIELDS = (
    ENTERPRISE,
    Field("order", _UUID, "Public id of the order."),
    Field("number", _STR, "The order number."),
    Field("business_type", _STR, "The business: new_installation, ownership_transfer, card_replacement, ..."),
    Field("status", {"type": "string", "enum": ["completed", "rejected"]}, "The order's status now."),
)

PAYLOADS: dict[str, Payload] = {
    payload.type: payload
    for payload in (
        Payload(
            EventType.CARD_USER_REGISTERED,
            "A card user is registered",
            "The face comparison passed (or a reviewer approved it) and the cards are bound to the user: "
            "their real-name is complete. Sent for every channel.",
            _CARD_USER_FIELDS,
        ),
        Payload(
            EventType.CARD_USER_IN_REVIEW,
            "A card-user registration awaits a reviewer",
            "The face comparison was inconclusive, or presence was not proven by a live capture: a "
            "reviewer decides. card_user.registered or card_user.refused follows.",
            _CARD_USER_FIELDS,
        ),
        Payload(
            EventType.CARD_USER_REFUSED,
            "A card-user registration is refused",
            "The registration ended without binding the cards: the photos were unusable "
            "(needs_new_photo), a reviewer declined the comparison (declined), or the person was verified "
            "but the cards could not be bound (not_bound_card_limit: one ID, five cards; not_bound). "
            "`reasons` says why; register again to retry.",
            _CARD_USER_FIELDS,
        ),
        Payload(
            EventType.CARD_ACTIVATED,
            "A card is activated",
            "The card became active from in_stock or awaiting_realname (a new installation, or the user's "
            "real-name completed later). A suspended card resumed is a card.status_changed.",
            _CARD_FIELDS,
        ),
        Payload(
            EventType.CARD_STATUS_CHANGED,
            "A card's status changed",
            "Every status change that is not an activation: awaiting real-name, suspended, resumed, "
            "cancelled, transferred, the end of a test period.",
            _CARD_FIELDS,
        ),
        Payload(
            EventType.ORDER_COMPLETED,
            "An order is completed",
            "The order's business was applied to its cards. Each card's own change comes as its "
            "card.activated or card.status_changed event.",
            (
                *_ORDER_FIELDS,
                Field(
                    "outcomes",
                    {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"outcome": _STR, "count": _INT},
                            "required": ["outcome", "count"],
                        },
                    },
                    "How many cards had each outcome (activated, awaiting_realname, transferred, replaced, "
                    "services_changed, suspended, resumed, cancelled or registered), by outcome. A list, not "
                    "an object keyed by outcome: keys are field names, and emit() checks those for personal data.",
                ),
            ),
        ),
        Payload(
            EventType.ORDER_REFUSED,
            "An order is refused",
            "The order was rejected: the handler's face comparison was declined, or the cards could no "
            "longer take the business.",
            (
                *_ORDER_FIELDS,
                Field(
                    "reason",
                    _STR,
                    "The reason code: handler_declined, or the error code that stopped the business "
                    "(e.g. realname_required, invalid_transition).",
                ),
            ),
        ),
        Payload(
            EventType.EXEMPTION_DECIDED,
            "An exemption request is decided",
            "The request to open cards without user real-name was approved (every required level "
            "approved) or rejected (at any level).",
            (
                ENTERPRISE,
                Field("exemption", _UUID, "Public id of the exemption request."),
                Field("status", {"type": "string", "enum": ["approved", "rejected"]}, "The decision."),
                Field("level", {"type": "string", "enum": ["province", "group"]}, "The level that decided it."),
                Field(
                    "required_levels",
                    {"type": "array", "items": {"type": "string", "enum": ["province", "group"]}},
                    "The levels the request needed.",
                ),
                Field("cards", {"type": "array", "items": _ICCID}, "ICCIDs of the cards it covers."),
            ),
        ),
        Payload(
            EventType.CARD_IMPORT_FINISHED,
            "A card import finished",
            "A card file was imported whole (succeeded) or not at all (failed).",
            (
                ENTERPRISE,
                Field("card_import", _UUID, "Public id of the import."),
                Field("status", {"type": "string", "enum": ["succeeded", "failed"]}, "How it ended."),
                Field("total_rows", _INT, "Rows in the file."),
                Field("imported_rows", _INT, "Cards imported (0 when failed)."),
                Field("error_count", _INT, "Rows refused; the error report lists them."),
                Field(
                    "reason",
                    _STR_OR_NULL,
                    "Null when succeeded; else rows_refused, timeout, internal_error or the file's error "
                    "code (e.g. invalid_file).",
                ),
            ),
        ),
        Payload(
            EventType.SELF_SERVICE_LINK_EXHAUSTED,
            "A self-service link has no uses left",
            "The last use a self-service link allows was taken: renew it with more uses for more card "
            "users to register through it. (Counter handovers, single use, send no event.)",
            (
                ENTERPRISE,
                Field("self_service_link", _UUID, "Public id of the link."),
                Field("max_uses", _INT, "The uses it allows."),
                Field("uses", _INT, "The uses taken (equal to max_uses)."),
            ),
        ),
    )
}


def payload_data(enterprise: Any, event_type: str, **fields: Any) -> dict[str, Any]:
    """The `data` of an event of this type; the enterprise's public id is filled in."""
    return PAYLOADS[event_type].build({"enterprise": enterprise.public_id, **fields})


def emit_event(enterprise: Any, event_type: str, **fields: Any) -> Event:
    """Emit a platform event in the caller's transaction (the outbox), its data built from PAYLOADS."""
    return emit(enterprise, event_type, payload_data(enterprise, event_type, **fields))


def codes(reasons: Iterable[Any]) -> list[str]:
    """The codes of stored reasons ([{"code", ...}]), never their messages (which may quote a person)."""
    found = []
    for reason in reasons or []:
        code = reason.get("code") if isinstance(reason, Mapping) else None
        if code and str(code) not in found:
            found.append(str(code))
    return found
