"""Shapes of the API's answers, as TypedDicts: the JSON as the server sends it, typed for your editor.

Keys are those of the portal's OpenAPI schema (/api/schema/). They are `total=False`: a newer server may
add keys (ignore what you do not know), and some appear only on a detail answer. Times are ISO 8601
strings, ids are UUID strings, ICCIDs are digit strings.
"""

from __future__ import annotations

from typing import Any, TypedDict


class Card(TypedDict, total=False):
    iccid: str
    msisdn: str
    imsi: str
    enterprise: str
    enterprise_name: str
    package: Any  # its code in a list, {"code", "name", "is_test_package"} in a detail answer
    package_name: str
    data: str
    voice: str
    sms: str
    status: str
    realname_required: bool
    rules: list[str]
    exemption_needed: bool
    test_period_ends_at: str | None
    url: str
    created_at: str
    realname: dict[str, Any]
    card_user: dict[str, Any] | None
    history: list[dict[str, Any]]


class OrderCard(TypedDict, total=False):
    iccid: str
    msisdn: str
    status: str
    outcome: str
    outcome_detail: Any


class Order(TypedDict, total=False):
    public_id: str
    number: str
    enterprise: dict[str, Any]
    business_type: str
    business_type_label: str
    status: str
    status_label: str
    face_gated: bool
    handler: dict[str, Any]
    card_count: int
    rejection_reason: str
    created_by: str | None
    created_at: str
    completed_at: str | None
    url: str
    page_url: str
    parameters: dict[str, Any]
    has_live_photo: bool
    cards: list[OrderCard]
    verification: dict[str, Any] | None


class RegistrationStatus(TypedDict, total=False):
    code: str  # submitted, in_review, registered, needs_new_photo, declined, not_bound_card_limit, not_bound
    label: str
    final: bool
    detail: str
    cards_requested: int | None
    slots_free: int | None


class Verification(TypedDict, total=False):
    public_id: str
    status: str
    status_label: str
    final: bool
    passed: bool
    reasons: list[str]
    reason_codes: list[str]
    registration_status: RegistrationStatus | None
    created_at: str
    completed_at: str | None


class CardUser(TypedDict, total=False):
    public_id: str
    name: str
    id_type: str
    id_number_masked: str  # the full number never leaves the API but through a logged reveal
    enterprise: str
    channel: str
    biometric_consent_at: str | None
    created_at: str
    url: str
    registration_status: RegistrationStatus
    bindings: list[dict[str, Any]]
    verifications: list[Verification]


class Registration(TypedDict, total=False):
    """What registering a card user answers: poll `verification_url` (Client.verifications.get) for the outcome."""

    card_user: CardUser
    verification: Verification
    verification_url: str


class ImportError_(TypedDict, total=False):
    row: int
    column: str
    code: str
    value: str
    message: str


class CardImport(TypedDict, total=False):
    id: str
    enterprise: str
    enterprise_name: str
    status: str
    status_display: str
    file_format: str
    total_rows: int
    processed_rows: int
    progress_percent: int
    imported_rows: int
    error_count: int
    errors: list[ImportError_]
    failure_message: str
    created_at: str
    finished_at: str | None
    status_url: str
    errors_csv_url: str
    page_url: str


class Event(TypedDict, total=False):
    """One event of the feed; `id` is the `webhook-id` its callbacks carried."""

    id: str
    type: str
    timestamp: str
    data: dict[str, Any]


class WebhookEndpoint(TypedDict, total=False):
    id: str
    secret: str  # only in the answers that create an endpoint or rotate its secret
    enterprise: str
    url: str
    events: list[str]
    description: str
    enabled: bool


class DeliveryAttempt(TypedDict, total=False):
    id: Any
    event_id: str
    event_type: str
    attempt: int
    status_code: int | None
    succeeded: bool
    latency_ms: int | None
    response_excerpt: str
    error: str
    attempted_at: str
    next_attempt_at: str | None


__all__ = [
    "Card",
    "CardImport",
    "CardUser",
    "DeliveryAttempt",
    "Event",
    "ImportError_",
    "Order",
    "OrderCard",
    "Registration",
    "RegistrationStatus",
    "Verification",
    "WebhookEndpoint",
]
