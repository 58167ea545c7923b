"""REST API of callback endpoints and the events feed (issue 10 §3): keep paths, fields and codes exactly.

/api/v1/platform/webhooks/ manages an enterprise's endpoints; create and rotate-secret are the answers that
carry `secret`. /api/v1/platform/webhooks/{id}/deliveries/ lists every attempt, newest first, and
/api/v1/platform/events/ is the feed of the caller's enterprises, cursor-paginated, to catch up after
downtime. All of it needs WEBHOOKS_MANAGE: an enterprise admin's or account manager's session or token, or
a key with the webhooks:manage scope. Others get 403; another enterprise's or province's records are 404.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from core.api import E401, error_response, is_schema_view, validated
from core.errors import ValidationFailed
from core.http import no_store
from core.idempotency import Idempotent
from integrations.webhooks import selectors, services
from integrations.webhooks.models import DeliveryAttempt, Event, EventType, WebhookEndpoint

MSG_SINCE = _("Give `since` as an ISO 8601 time, e.g. 2026-01-31T08:00:00Z.")
MSG_TYPE = _("Unknown event type; the types are: %(types)s.")

# --- serializers --------------------------------------------------------------------


class WebhookEndpointSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id", read_only=True, help_text="The endpoint's id (ep_…).")
    enterprise = serializers.UUIDField(source="enterprise.public_id", read_only=True)
    url = serializers.CharField(read_only=True)
    events = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="The event types it receives; empty: all of them.",
    )
    description = serializers.CharField(read_only=True)
    enabled = serializers.BooleanField(read_only=True)
    disabled_at = serializers.DateTimeField(read_only=True, allow_null=True)
    disabled_reason = serializers.CharField(
        read_only=True, help_text="manual, gone (the receiver answered 410) or failing (5 days of failures)."
    )
    previous_secret_until = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="During a rotation the old secret signs too, until then."
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class WebhookEndpointIssuedSerializer(WebhookEndpointSerializer):
    secret = serializers.SerializerMethodField(
        help_text="The signing secret (whsec_…): verify each callback's webhook-signature with it."
    )

    def get_secret(self, record: WebhookEndpoint) -> str:
        return str(self.context["secret"])


_TYPES_TEXT = ", ".join(services.SUBSCRIBABLE)


class WebhookEndpointCreateSerializer(serializers.Serializer):
    enterprise = serializers.CharField(help_text="The enterprise's public_id.")
    url = serializers.CharField(
        help_text="https:// only; it may not resolve to a loopback, private, link-local or metadata address."
    )
    events = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        default=list,
        help_text=f"Event types among {_TYPES_TEXT}; empty or absent: all of them.",
    )
    description = serializers.CharField(required=False, allow_blank=True, default="", help_text="At most 200.")


class WebhookEndpointUpdateSerializer(serializers.Serializer):
    url = serializers.CharField(required=False, help_text="Checked again like a new one.")
    events = serializers.ListField(child=serializers.CharField(), required=False, help_text="Empty: all types.")
    description = serializers.CharField(required=False, allow_blank=True)


class RotateSecretSerializer(serializers.Serializer):
    grace_hours = serializers.IntegerField(
        required=False,
        default=services.DEFAULT_GRACE_HOURS,
        help_text=f"Hours the old secret signs too: 0 to {services.MAX_GRACE_HOURS}, 24 by default.",
    )


class RecoverSerializer(serializers.Serializer):
    since = serializers.CharField(help_text="ISO 8601 time: resend the failed deliveries of events since then.")


class DeliveryAttemptSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id", read_only=True, help_text="The attempt's id (att_…).")
    event_id = serializers.CharField(
        source="delivery.event.public_id", read_only=True, help_text="The event's id: the webhook-id header."
    )
    event_type = serializers.CharField(source="delivery.event.type", read_only=True)
    attempt = serializers.IntegerField(read_only=True, help_text="1 for the first attempt of this delivery.")
    status_code = serializers.IntegerField(read_only=True, allow_null=True, help_text="Null when no answer came.")
    succeeded = serializers.BooleanField(read_only=True, help_text="Only a 2xx counts.")
    latency_ms = serializers.IntegerField(read_only=True, allow_null=True)
    response_excerpt = serializers.CharField(read_only=True, help_text="The first 1 KB of the answer's body.")
    error = serializers.CharField(read_only=True, help_text="Why no answer counted, e.g. timeout, url_not_allowed.")
    attempted_at = serializers.DateTimeField(read_only=True)
    next_attempt_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="When it is retried; null when no retry follows."
    )


class DeliveryQueuedSerializer(serializers.Serializer):
    event_id = serializers.CharField(source="event.public_id", read_only=True)
    event_type = serializers.CharField(source="event.type", read_only=True)
    status = serializers.CharField(read_only=True, help_text="pending: it goes out now.")
    next_attempt_at = serializers.DateTimeField(read_only=True, allow_null=True)


class EventSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id", read_only=True, help_text="The webhook-id of its callbacks.")
    type = serializers.CharField(read_only=True, help_text=f"One of {_TYPES_TEXT} (webhook.test: a test).")
    timestamp = serializers.DateTimeField(read_only=True)
    # DRF's metaclass pops declared fields off the class, so this does not hide Serializer.data.
    data = serializers.DictField(  # type: ignore[assignment]
        read_only=True, help_text="Ids, statuses and reason codes; never personal data."
    )


RecoveredSerializer = inline_serializer(
    "WebhookRecovered", {"resent": serializers.IntegerField(help_text="How many deliveries go out again now.")}
)

# --- schema pieces ------------------------------------------------------------------

E400 = error_response(
    "Refused, nothing changed: `code` is required, invalid_url, url_not_https, url_not_allowed, "
    "url_not_resolvable, invalid_events, invalid_description, too_many_endpoints, invalid_grace_hours, "
    "invalid_since or invalid_type."
)
E403 = error_response(
    "The role (or an API key without the webhooks:manage scope) may not manage callbacks, or not here."
)
E404 = error_response("No such endpoint, attempt or enterprise, or one outside the caller's scope.")
E409 = error_response(
    "The endpoint is disabled (endpoint_disabled), or already so (already_disabled, already_enabled)."
)
ENDPOINT_ID = OpenApiParameter("public_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="The endpoint's id.")
ATTEMPT_ID = OpenApiParameter("attempt_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="The attempt's id.")
ENTERPRISE_FILTER = OpenApiParameter(
    "enterprise", OpenApiTypes.UUID, OpenApiParameter.QUERY, required=False, description="Only this enterprise's."
)
TAGS = ["platform webhooks"]


def _endpoint(record: WebhookEndpoint, code: int = status.HTTP_200_OK) -> Response:
    return no_store(Response(WebhookEndpointSerializer(record).data, status=code))


def _issued(record: WebhookEndpoint, secret: str) -> Response:
    body = WebhookEndpointIssuedSerializer(record, context={"secret": secret}).data
    return no_store(Response(body, status=status.HTTP_201_CREATED))


def parse_since(value: object) -> datetime:
    """An ISO 8601 time (naive: UTC). A `+` left unencoded in a query string arrives as a space: accepted."""
    text = str(value or "").strip()
    candidates = [text]
    if " " in text:
        head, _sep, tail = text.rpartition(" ")
        candidates.append(f"{head}+{tail}")
    for candidate in candidates:
        try:
            parsed = parse_datetime(candidate) if len(candidate) <= 64 else None
        except ValueError:
            parsed = None
        if parsed is not None:
            return timezone.make_aware(parsed, UTC) if timezone.is_naive(parsed) else parsed
    raise ValidationFailed(MSG_SINCE, code="invalid_since", field="since")


def _filter_enterprise(request: Any, found: Any) -> Any:
    enterprise_id = request.query_params.get("enterprise")
    if enterprise_id:
        found = found.filter(enterprise=selectors.enterprise_for_webhooks(request.user, enterprise_id))
    return found


# --- endpoints ------------------------------------------------------------------------


class WebhookEndpointListCreateView(Idempotent, generics.ListAPIView):
    queryset = WebhookEndpoint.objects.none()
    serializer_class = WebhookEndpointSerializer
    renderer_classes = [JSONRenderer]

    def get_queryset(self):
        if is_schema_view(self):
            return WebhookEndpoint.objects.none()
        selectors.require_manager(self.request.user)
        return _filter_enterprise(self.request, selectors.endpoints_visible_to(self.request.user))

    @extend_schema(
        tags=TAGS,
        summary="List the callback endpoints the caller manages",
        description="Newest first, paginated; never the secret.",
        parameters=[ENTERPRISE_FILTER],
        responses={200: WebhookEndpointSerializer(many=True), 401: E401, 403: E403, 404: E404},
    )
    def get(self, request, *args, **kwargs):
        return no_store(super().get(request, *args, **kwargs))

    @extend_schema(
        tags=TAGS,
        summary="Register a callback endpoint for an enterprise",
        description=(
            "The URL is checked now and again at every delivery. The answer carries the signing secret "
            "(`secret`, whsec_…); callbacks follow the Standard Webhooks specification."
        ),
        request=WebhookEndpointCreateSerializer,
        responses={201: WebhookEndpointIssuedSerializer, 400: E400, 401: E401, 403: E403, 404: E404},
    )
    def post(self, request, *args, **kwargs):
        selectors.require_manager(request.user)
        data = validated(WebhookEndpointCreateSerializer(data=request.data))
        enterprise = selectors.enterprise_for_webhooks(request.user, data["enterprise"])
        record, secret = services.endpoint_create(
            actor=request.user,
            enterprise=enterprise,
            url=data["url"],
            events=data["events"],
            description=data["description"],
        )
        return _issued(record, secret)


class WebhookEndpointDetailView(generics.GenericAPIView):
    queryset = WebhookEndpoint.objects.none()
    serializer_class = WebhookEndpointSerializer
    renderer_classes = [JSONRenderer]

    @extend_schema(
        tags=TAGS,
        summary="One callback endpoint",
        parameters=[ENDPOINT_ID],
        responses={200: WebhookEndpointSerializer, 401: E401, 403: E403, 404: E404},
    )
    def get(self, request, public_id):
        return _endpoint(selectors.endpoint_for_user(request.user, public_id))

    @extend_schema(
        tags=TAGS,
        summary="Change an endpoint's URL, event types or description",
        parameters=[ENDPOINT_ID],
        request=WebhookEndpointUpdateSerializer,
        responses={200: WebhookEndpointSerializer, 400: E400, 401: E401, 403: E403, 404: E404},
    )
    def patch(self, request, public_id):
        record = selectors.endpoint_for_user(request.user, public_id)
        data = validated(WebhookEndpointUpdateSerializer(data=request.data, partial=True))
        record = services.endpoint_update(actor=request.user, endpoint=record, **data)
        return _endpoint(record)

    @extend_schema(
        tags=TAGS,
        summary="Delete an endpoint with its deliveries (the events stay in the feed)",
        parameters=[ENDPOINT_ID],
        request=None,
        responses={204: None, 401: E401, 403: E403, 404: E404},
    )
    def delete(self, request, public_id):
        services.endpoint_delete(actor=request.user, endpoint=selectors.endpoint_for_user(request.user, public_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookEndpointDisableView(generics.GenericAPIView):
    queryset = WebhookEndpoint.objects.none()
    serializer_class = WebhookEndpointSerializer
    renderer_classes = [JSONRenderer]

    @extend_schema(
        tags=TAGS,
        summary="Disable an endpoint: nothing is sent to it until it is enabled again",
        parameters=[ENDPOINT_ID],
        request=None,
        responses={200: WebhookEndpointSerializer, 401: E401, 403: E403, 404: E404, 409: E409},
    )
    def post(self, request, public_id):
        record = selectors.endpoint_for_user(request.user, public_id)
        return _endpoint(services.endpoint_disable(actor=request.user, endpoint=record))


class WebhookEndpointEnableView(generics.GenericAPIView):
    queryset = WebhookEndpoint.objects.none()
    serializer_class = WebhookEndpointSerializer
    renderer_classes = [JSONRenderer]

    @extend_schema(
        tags=TAGS,
        summary="Enable a disabled endpoint; recover its failed deliveries with …/recover/",
        parameters=[ENDPOINT_ID],
        request=None,
        responses={200: WebhookEndpointSerializer, 401: E401, 403: E403, 404: E404, 409: E409},
    )
    def post(self, request, public_id):
        record = selectors.endpoint_for_user(request.user, public_id)
        return _endpoint(services.endpoint_enable(actor=request.user, endpoint=record))


class WebhookEndpointRotateSecretView(Idempotent, generics.GenericAPIView):
    queryset = WebhookEndpoint.objects.none()
    serializer_class = WebhookEndpointIssuedSerializer
    renderer_classes = [JSONRenderer]

    @extend_schema(
        tags=TAGS,
        summary="Rotate the signing secret: callbacks carry both signatures for the grace period",
        parameters=[ENDPOINT_ID],
        request=RotateSecretSerializer,
        responses={201: WebhookEndpointIssuedSerializer, 400: E400, 401: E401, 403: E403, 404: E404},
    )
    def post(self, request, public_id):
        record = selectors.endpoint_for_user(request.user, public_id)
        data = validated(RotateSecretSerializer(data=request.data))
        record, secret = services.endpoint_rotate_secret(
            actor=request.user, endpoint=record, grace_hours=data["grace_hours"]
        )
        return _issued(record, secret)


# --- deliveries -------------------------------------------------------------------------


class DeliveryAttemptListView(generics.ListAPIView):
    queryset = DeliveryAttempt.objects.none()
    serializer_class = DeliveryAttemptSerializer
    renderer_classes = [JSONRenderer]

    def get_queryset(self):
        if is_schema_view(self):
            return DeliveryAttempt.objects.none()
        endpoint = selectors.endpoint_for_user(self.request.user, self.kwargs["public_id"])
        return selectors.attempts_of(endpoint)

    @extend_schema(
        tags=TAGS,
        summary="Every delivery attempt to the endpoint, newest first",
        parameters=[ENDPOINT_ID],
        responses={200: DeliveryAttemptSerializer(many=True), 401: E401, 403: E403, 404: E404},
    )
    def get(self, request, *args, **kwargs):
        return no_store(super().get(request, *args, **kwargs))


class DeliveryResendView(generics.GenericAPIView):
    queryset = DeliveryAttempt.objects.none()
    serializer_class = DeliveryQueuedSerializer
    renderer_classes = [JSONRenderer]

    @extend_schema(
        tags=TAGS,
        summary="Send the attempt's event to the endpoint once more, now (the same webhook-id)",
        parameters=[ENDPOINT_ID, ATTEMPT_ID],
        request=None,
        responses={202: DeliveryQueuedSerializer, 401: E401, 403: E403, 404: E404, 409: E409},
    )
    def post(self, request, public_id, attempt_id):
        endpoint = selectors.endpoint_for_user(request.user, public_id)
        attempt = selectors.attempt_for_user(request.user, endpoint, attempt_id)
        delivery = services.delivery_resend(actor=request.user, attempt=attempt)
        return no_store(Response(DeliveryQueuedSerializer(delivery).data, status=status.HTTP_202_ACCEPTED))


class WebhookRecoverView(generics.GenericAPIView):
    queryset = WebhookEndpoint.objects.none()
    serializer_class = RecoverSerializer
    renderer_classes = [JSONRenderer]

    @extend_schema(
        tags=TAGS,
        summary="Resend every failed or given-up delivery of events since a time",
        description=(
            "Also sends the events the endpoint wants that were emitted while it was disabled (since it was "
            "created). Each goes out with its own webhook-id, as it would have the first time; `resent` counts them."
        ),
        parameters=[ENDPOINT_ID],
        request=RecoverSerializer,
        responses={202: RecoveredSerializer, 400: E400, 401: E401, 403: E403, 404: E404, 409: E409},
    )
    def post(self, request, public_id):
        endpoint = selectors.endpoint_for_user(request.user, public_id)
        data = validated(RecoverSerializer(data=request.data))
        since = parse_since(data["since"])
        resent = services.endpoint_recover(actor=request.user, endpoint=endpoint, since=since)
        return no_store(Response({"resent": resent}, status=status.HTTP_202_ACCEPTED))


class WebhookTestView(generics.GenericAPIView):
    queryset = WebhookEndpoint.objects.none()
    serializer_class = EventSerializer
    renderer_classes = [JSONRenderer]

    @extend_schema(
        tags=TAGS,
        summary="Send a webhook.test event to this endpoint alone",
        parameters=[ENDPOINT_ID],
        request=None,
        responses={202: EventSerializer, 401: E401, 403: E403, 404: E404, 409: E409},
    )
    def post(self, request, public_id):
        endpoint = selectors.endpoint_for_user(request.user, public_id)
        event = services.send_test_event(actor=request.user, endpoint=endpoint)
        return no_store(Response(EventSerializer(event).data, status=status.HTTP_202_ACCEPTED))


# --- the events feed ------------------------------------------------------------------------


class EventCursorPagination(CursorPagination):
    """On (timestamp, pk), oldest first: a cursor stays valid while new events arrive behind it."""

    ordering = ("timestamp", "pk")
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_paginated_response(self, data):
        return Response({"results": data, "next": self.get_next_link()})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {
                "results": schema,
                "next": {"type": "string", "format": "uri", "nullable": True, "description": "The next page."},
            },
        }


def _types(request: Any) -> list[str]:
    wanted = [part.strip() for value in request.query_params.getlist("type") for part in value.split(",")]
    wanted = [value for value in wanted if value]
    known = {t.value for t in EventType}
    if any(value not in known for value in wanted):
        raise ValidationFailed(MSG_TYPE % {"types": _TYPES_TEXT}, code="invalid_type", field="type")
    return wanted


class EventFeedView(generics.ListAPIView):
    queryset = Event.objects.none()
    serializer_class = EventSerializer
    pagination_class = EventCursorPagination
    renderer_classes = [JSONRenderer]

    def get_queryset(self):
        if is_schema_view(self):
            return Event.objects.none()
        request = self.request
        found = _filter_enterprise(request, selectors.events_visible_to(request.user))
        if request.query_params.get("since"):
            found = found.filter(timestamp__gte=parse_since(request.query_params["since"]))
        wanted = _types(request)
        if wanted:
            found = found.filter(type__in=wanted)
        return found

    @extend_schema(
        tags=TAGS,
        summary="The events of the caller's enterprises, oldest first, to catch up after downtime",
        description=(
            "Cursor-paginated: follow `next` until it is null. To catch up later, ask again with `since` set to "
            "the last event's timestamp (it comes again: skip the ids you have). An event's `id` is the "
            "webhook-id of its callbacks."
        ),
        parameters=[
            OpenApiParameter(
                "since", OpenApiTypes.DATETIME, OpenApiParameter.QUERY, required=False, description="ISO 8601."
            ),
            OpenApiParameter(
                "type",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                required=False,
                description="Only these types: repeat it or separate them with commas.",
            ),
            ENTERPRISE_FILTER,
        ],
        responses={200: EventSerializer(many=True), 400: E400, 401: E401, 403: E403, 404: E404},
    )
    def get(self, request, *args, **kwargs):
        return no_store(super().get(request, *args, **kwargs))
