"""Callback endpoints, the events outbox and the delivery attempts (issue 10 §3, C3).

An Event is written in the transaction of the business change it reports (the outbox): it commits with
that change or not at all. Its public id is the `webhook-id` header, the same on every attempt. A
Delivery row is one endpoint's copy of one event: it is created pending with the event, and each attempt
updates it and records a DeliveryAttempt (what the deliveries list shows).
"""

from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.pii import EncryptedTextField


def new_event_id() -> str:
    return f"msg_{secrets.token_urlsafe(18)}"


def new_endpoint_id() -> str:
    return f"ep_{secrets.token_urlsafe(12)}"


def new_attempt_id() -> str:
    return f"att_{secrets.token_urlsafe(12)}"


class EventType(models.TextChoices):
    CARD_USER_REGISTERED = "card_user.registered", "card_user.registered"
    CARD_USER_IN_REVIEW = "card_user.in_review", "card_user.in_review"
    CARD_USER_REFUSED = "card_user.refused", "card_user.refused"
    CARD_ACTIVATED = "card.activated", "card.activated"
    CARD_STATUS_CHANGED = "card.status_changed", "card.status_changed"
    ORDER_COMPLETED = "order.completed", "order.completed"
    ORDER_REFUSED = "order.refused", "order.refused"
    EXEMPTION_DECIDED = "exemption.decided", "exemption.decided"
    CARD_IMPORT_FINISHED = "card_import.finished", "card_import.finished"
    SELF_SERVICE_LINK_EXHAUSTED = "self_service_link.exhausted", "self_service_link.exhausted"
    # Sent only by "send a test event"; never emitted by a business change.
    TEST = "webhook.test", "webhook.test"


class WebhookEndpoint(models.Model):
    public_id = models.CharField(
        max_length=32, unique=True, default=new_endpoint_id, editable=False, verbose_name=_("reference")
    )
    enterprise = models.ForeignKey(
        "enterprises.Enterprise",
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        verbose_name=_("enterprise"),
    )
    url = models.URLField(_("URL"), max_length=2000)
    events = models.JSONField(_("event types"), default=list)
    description = models.CharField(_("description"), max_length=200, blank=True)
    enabled = models.BooleanField(default=True, verbose_name=_("enabled"))
    disabled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("time disabled"))
    disabled_reason = models.CharField(max_length=32, blank=True, verbose_name=_("why disabled"))
    # `whsec_...`: it must be recoverable to sign, so it is encrypted (FIELD_ENCRYPTION_KEYS), not hashed.
    secret = EncryptedTextField(verbose_name=_("signing secret"))
    previous_secret = EncryptedTextField(blank=True, default="", verbose_name=_("previous signing secret"))
    previous_secret_until = models.DateTimeField(null=True, blank=True, verbose_name=_("previous secret valid until"))
    # When the current run of failures began; cleared by a success (5 days of failures disable).
    failing_since = models.DateTimeField(null=True, blank=True, verbose_name=_("failing since"))
    created_by = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("time created"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("time updated"))

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.public_id

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


class Event(models.Model):
    public_id = models.CharField(
        max_length=40, unique=True, default=new_event_id, editable=False, verbose_name=_("reference")
    )
    enterprise = models.ForeignKey(
        "enterprises.Enterprise", on_delete=models.CASCADE, related_name="webhook_events", verbose_name=_("enterprise")
    )
    type = models.CharField(max_length=64, choices=EventType.choices, verbose_name=_("event type"))
    timestamp = models.DateTimeField(db_index=True, verbose_name=_("time of the event"))
    # Thin: ids, statuses and reason codes only, never names, ID numbers or photos.
    data = models.JSONField(default=dict, verbose_name=_("event data"))

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["timestamp", "pk"]
        indexes = [models.Index(fields=["enterprise", "timestamp", "id"], name="integ_event_ent_ts")]

    def __str__(self) -> str:
        return self.public_id


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    SUCCEEDED = "succeeded", _("succeeded")
    FAILED = "failed", _("failed (retries left)")
    GAVE_UP = "gave_up", _("given up")


class Delivery(models.Model):
    """One endpoint's copy of one event: its schedule and its latest outcome."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("webhook endpoint")
    )
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("event"))
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING, verbose_name=_("state")
    )
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("number of attempts"))
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True, verbose_name=_("next attempt"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("time created"))
    queued_at = models.DateTimeField(null=True, blank=True, verbose_name=_("time queued"))

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [models.UniqueConstraint(fields=["endpoint", "event"], name="integ_delivery_once")]

    def __str__(self) -> str:
        return f"{self.event_id}->{self.endpoint_id}"


class DeliveryAttempt(models.Model):
    """One HTTP attempt: what GET .../deliveries/ lists, newest first."""

    public_id = models.CharField(
        max_length=32, unique=True, default=new_attempt_id, editable=False, verbose_name=_("reference")
    )
    delivery = models.ForeignKey(
        Delivery, on_delete=models.CASCADE, related_name="attempt_rows", verbose_name=_("delivery")
    )
    attempt = models.PositiveIntegerField(verbose_name=_("attempt number"))
    status_code = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("HTTP status"))
    succeeded = models.BooleanField(default=False, verbose_name=_("delivered"))
    latency_ms = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("latency (ms)"))
    response_excerpt = models.TextField(blank=True, verbose_name=_("start of the response"))
    error = models.CharField(max_length=200, blank=True, verbose_name=_("error"))
    attempted_at = models.DateTimeField(verbose_name=_("time attempted"))
    next_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next attempt"))

    class Meta:
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        ordering = ["-attempted_at", "-pk"]

    def __str__(self) -> str:
        return self.public_id
