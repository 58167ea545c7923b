"""One delivery attempt: sign afresh, POST with a 15 s timeout and no redirects, record, schedule the next.

Attempts go out at once, then about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h later (±10 %
jitter). Only a 2xx counts; 410 disables the endpoint; 429 and 503 honour Retry-After. An endpoint that
has failed for 5 days is disabled and its enterprise admins get an email. A delivery is claimed by moving
its next_attempt_at forward in one conditional UPDATE, so two workers never send the same attempt.
"""

from __future__ import annotations

import http.client
import logging
import random
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import Role
from core.errors import ValidationFailed
from integrations.webhooks import signing, ssrf
from integrations.webhooks.events_body import body_of
from integrations.webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, WebhookEndpoint

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 15
EXCERPT_BYTES = 1024
# Delay before attempt n+1 (index n), in seconds.
SCHEDULE = (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 14 * 3600, 20 * 3600, 24 * 3600)
FAILING_DISABLES_AFTER = timedelta(days=5)
# How long a claimed attempt may take before the sweeper may send it again (a dead worker).
CLAIM_SECONDS = TIMEOUT_SECONDS * 4
MAX_RETRY_AFTER = 24 * 3600
USER_AGENT = "iot-realname-webhooks/1"


@dataclass
class Outcome:
    status_code: int | None = None
    excerpt: str = ""
    error: str = ""
    retry_after: float | None = None
    latency_ms: int | None = None


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: ssrf.Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: ssrf.Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return min(max((when - now).total_seconds(), 0.0), MAX_RETRY_AFTER)


def post(url: str, headers: dict[str, str], body: bytes) -> Outcome:
    """POST once, to the address the SSRF guard checked; never follows a redirect (a 3xx is a failure)."""
    try:
        target = ssrf.check_url(url)
    except ValidationFailed as exc:
        return Outcome(error=exc.code)
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target, TIMEOUT_SECONDS)
    started = time.monotonic()
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        excerpt = response.read(EXCERPT_BYTES)
        latency = int((time.monotonic() - started) * 1000)
        return Outcome(
            status_code=response.status,
            excerpt=excerpt.decode("utf-8", errors="replace"),
            retry_after=retry_after_seconds(response.getheader("Retry-After"), timezone.now())
            if response.status in (429, 503)
            else None,
            latency_ms=latency,
        )
    except TimeoutError:
        return Outcome(error="timeout", latency_ms=int((time.monotonic() - started) * 1000))
    except ssl.SSLError:
        return Outcome(error="tls_error", latency_ms=int((time.monotonic() - started) * 1000))
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(
            error=f"connection_error:{type(exc).__name__}", latency_ms=int((time.monotonic() - started) * 1000)
        )
    finally:
        connection.close()


def _claim(delivery_id: int, now: datetime) -> bool:
    due = Delivery.objects.filter(
        pk=delivery_id,
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED],
        next_attempt_at__lte=now,
        endpoint__enabled=True,
    )
    return due.update(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS)) == 1


SANDBOX_HEADER = "webhook-sandbox"


def headers_for(delivery: Delivery, body: str, timestamp: int) -> dict[str, str]:
    endpoint = delivery.endpoint
    secrets_ = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_until and endpoint.previous_secret_until > timezone.now():
        secrets_.append(endpoint.previous_secret)
    msg_id = delivery.event.public_id
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature_header(secrets_, msg_id, timestamp, body),
    }
    if endpoint.enterprise.sandbox_of_id is not None:
        # Issue 10 §5: a sandbox's callbacks say so, so that a receiver can keep test events off real records.
        headers[SANDBOX_HEADER] = "true"
    return headers


def _next_delay(attempt: int, outcome: Outcome) -> float | None:
    """Seconds to the next attempt after failed attempt number `attempt` (1-based); None when none is left."""
    if attempt >= len(SCHEDULE):
        return None
    delay = SCHEDULE[attempt] * random.uniform(0.9, 1.1)  # noqa: S311 - jitter, not a secret
    if outcome.retry_after is not None:
        delay = max(outcome.retry_after, 1.0)
    return delay


def _disable(endpoint: WebhookEndpoint, reason: str, now: datetime) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
        enabled=False, disabled_at=now, disabled_reason=reason
    )


def _notify_admins(endpoint: WebhookEndpoint) -> None:
    recipients = list(
        User.objects.filter(role=Role.ENTERPRISE_ADMIN, enterprise_id=endpoint.enterprise_id, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not recipients:
        return
    subject = _("A callback endpoint was disabled after 5 days of failed deliveries")
    message = _(
        "The callback endpoint %(id)s (%(url)s) has failed every delivery for 5 days and was disabled. "
        "Fix the receiver, enable the endpoint again and recover the failed deliveries."
    ) % {"id": endpoint.public_id, "url": endpoint.url}
    send_mail(subject, message, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=True)


def attempt_delivery(delivery_id: int) -> DeliveryAttempt | None:
    """Make the delivery's due attempt; None when it is not due, done, claimed elsewhere or its endpoint is off."""
    now = timezone.now()
    if not _claim(delivery_id, now):
        return None
    delivery = Delivery.objects.select_related("endpoint__enterprise", "event").get(pk=delivery_id)
    body = body_of(delivery.event)
    timestamp = int(time.time())
    outcome = post(delivery.endpoint.url, headers_for(delivery, body, timestamp), body.encode())
    succeeded = outcome.status_code is not None and 200 <= outcome.status_code < 300
    done_at = timezone.now()
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().select_related("endpoint").get(pk=delivery_id)
        endpoint = delivery.endpoint
        number = delivery.attempts + 1
        next_at: datetime | None = None
        if succeeded:
            delivery.status = DeliveryStatus.SUCCEEDED
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
        elif outcome.status_code == 410:
            delivery.status = DeliveryStatus.GAVE_UP
            _disable(endpoint, "gone", done_at)
        else:
            failing_since = endpoint.failing_since or done_at
            if endpoint.failing_since is None:
                WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=done_at)
            delay = _next_delay(number, outcome)
            if done_at - failing_since >= FAILING_DISABLES_AFTER:
                delivery.status = DeliveryStatus.GAVE_UP
                if endpoint.enabled:
                    _disable(endpoint, "failing", done_at)
                    transaction.on_commit(lambda: _notify_admins(endpoint))
            elif delay is None:
                delivery.status = DeliveryStatus.GAVE_UP
            else:
                delivery.status = DeliveryStatus.FAILED
                next_at = done_at + timedelta(seconds=delay)
        delivery.attempts = F("attempts") + 1
        delivery.next_attempt_at = next_at
        delivery.save(update_fields=["status", "attempts", "next_attempt_at"])
        row = DeliveryAttempt.objects.create(
            delivery=delivery,
            attempt=number,
            status_code=outcome.status_code,
            succeeded=succeeded,
            latency_ms=outcome.latency_ms,
            response_excerpt=outcome.excerpt[:EXCERPT_BYTES],
            error=outcome.error[:200],
            attempted_at=done_at,
            next_attempt_at=next_at,
        )
    logger.info(
        "webhook delivery %s attempt %d: %s", delivery_id, number, outcome.status_code or outcome.error or "no answer"
    )
    return row
