"""REST API for orders (/api/v1/orders/): business on cards, with the handler (H1-H3).

Thin views. Reads go through cards.inventory.selectors.orders_visible_to (invisible means
404), writes through cards.orders. Filing an order needs the enterprise to be
visible (else 404) and the role to be allowed for it (account managers of the
province and the enterprise's own admin; else 403), checked before the body is
validated. Approvers and ops read only.

Anonymous requests get 403: SessionAuthentication comes first and sends no
WWW-Authenticate challenge (as for the enterprise API).
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from accounts.permissions import Capability, can
from cards.inventory.api_base import require_reads
from cards.models import Order, OrderStatus
from cards.orders import policy, selectors, services
from cards.orders.handlers import HandlerData
from cards.orders.selectors import orders_visible_to, search_orders
from cards.orders.serializers import (
    LivePhotoSerializer,
    OrderCreateSerializer,
    OrderDetailSerializer,
    OrderFilterSerializer,
    OrderListSerializer,
)
from core.api import E401, NewestFirstPagination, error_response, is_schema_view, validated
from core.errors import PermissionDenied, ValidationFailed
from core.http import no_store
from core.idempotency import Idempotent
from enterprises.selectors import enterprise_for_user

ORDER_ID = OpenApiParameter("public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The order's public_id.")


E400 = error_response(
    "Invalid input: `field` names the request field, `code` the reason (e.g. live_photo_required, "
    "fresh_photo_required)."
)
E403 = error_response("The role may not file orders for this enterprise (approvers, ops).")
E404 = error_response("No such order or enterprise, a malformed id, or one outside the user's scope.")
E409 = error_response(
    "Conflicts with the cards' state: realname_required (with the rule `decision`), card_in_pending_order."
)


def _detail(request, order: Order, *, status_code=status.HTTP_200_OK) -> Response:
    response = Response(OrderDetailSerializer(order, context={"request": request}).data, status=status_code)
    no_store(response)
    return response


class OrderListCreateView(Idempotent, generics.ListAPIView):
    queryset = Order.objects.none()
    serializer_class = OrderListSerializer
    # On the index order_created; only the page's orders have their cards counted (paginate_queryset).
    pagination_class = NewestFirstPagination
    parser_classes = [MultiPartParser]
    renderer_classes = [JSONRenderer]

    def get_queryset(self):
        if is_schema_view(self):
            return Order.objects.none()
        require_reads(self.request.user)
        filters = validated(OrderFilterSerializer(data=self.request.query_params))
        queryset = orders_visible_to(self.request.user).select_related("created_by")
        for name in ("status", "business_type"):
            if filters.get(name):
                queryset = queryset.filter(**{name: filters[name]})
        if filters.get("enterprise"):
            queryset = queryset.filter(enterprise__public_id=filters["enterprise"])
        queryset = search_orders(queryset, filters.get("search"))
        return queryset.order_by("-created_at", "-pk")

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if page is not None:
            selectors.set_card_counts(page)
        return page

    @extend_schema(
        tags=["orders"],
        summary="List the orders the user can see",
        parameters=[
            # Order.status takes its choices from OrderStatus.
            OpenApiParameter("status", OpenApiTypes.STR, enum=OrderStatus.values),
            OpenApiParameter("business_type", OpenApiTypes.STR),
            OpenApiParameter("enterprise", OpenApiTypes.UUID, description="public_id of the enterprise."),
            OpenApiParameter(
                "search",
                OpenApiTypes.STR,
                description="Order number or a card's ICCID: whole, or its start.",
            ),
        ],
        responses={200: OrderListSerializer(many=True), 400: E400, 401: E401, 403: E403},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["orders"],
        summary="File an order (H1-H3)",
        description=(
            "multipart/form-data. Every order records its handler (H1, H2). For new_installation, "
            "ownership_transfer, supplementary_registration and card_replacement the handler's live photo is "
            "required and the order answers with status awaiting_verification until the face comparison passes "
            "or a reviewer approves it (H3); poll the order's URL. Other businesses complete at once. "
            "Every order after the enterprise's first is later business (E2, P3) and needs credential_photo and "
            "responsible_id_photo, fresh photos of the originals (400 fresh_photo_required otherwise). This is the "
            "only way to change a card (H2): activation is a new_installation, suspension and resumption a "
            'suspend_resume with parameters {"action": ...}, cancellation a cancellation, services and package a '
            "service_change."
        ),
        request=OrderCreateSerializer,
        responses={201: OrderDetailSerializer, 400: E400, 401: E401, 403: E403, 404: E404, 409: E409},
    )
    def post(self, request, *args, **kwargs):
        user = request.user
        raw_enterprise = request.data.get("enterprise")
        if not raw_enterprise:
            raise ValidationFailed("This field is required.", code="required", field="enterprise")
        enterprise = enterprise_for_user(user, raw_enterprise)
        if not can(user, Capability.ORDERS_FILE, enterprise):
            raise PermissionDenied(policy.PermissionText.CREATE)
        data = validated(OrderCreateSerializer(data=request.data))
        order = services.order_create(
            actor=user,
            enterprise=enterprise,
            business_type=data["business_type"],
            cards=data["cards"],
            handler=HandlerData(
                id_type=data["handler_id_type"],
                id_number=data["handler_id_number"],
                name=data.get("handler_name", ""),
                id_address=data.get("handler_id_address", ""),
            ),
            handler_id_photo=data["handler_id_photo"],
            handler_live_photo=data.get("handler_live_photo"),
            parameters=data.get("parameters") or {},
            credential_photo=data.get("credential_photo"),
            responsible_id_photo=data.get("responsible_id_photo"),
        )
        return _detail(request, order, status_code=status.HTTP_201_CREATED)


class OrderDetailView(generics.GenericAPIView):
    queryset = Order.objects.none()
    renderer_classes = [JSONRenderer]

    @extend_schema(
        tags=["orders"],
        summary="One order: status, handler (masked), cards, the handler's face comparison",
        parameters=[ORDER_ID],
        responses={200: OrderDetailSerializer, 401: E401, 403: E403, 404: E404},
    )
    def get(self, request, public_id):
        return _detail(request, selectors.order_for_user(request.user, public_id))


class OrderLivePhotoView(Idempotent, generics.GenericAPIView):
    queryset = Order.objects.none()
    parser_classes = [MultiPartParser]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        tags=["orders"],
        summary="Take the handler's live photo again",
        description="Only while the order waits and its last comparison refused the photo as unusable "
        "(verification status rejected: no face, several faces...). Starts a new comparison.",
        parameters=[ORDER_ID],
        request=LivePhotoSerializer,
        responses={201: OrderDetailSerializer, 400: E400, 401: E401, 403: E403, 404: E404, 409: E409},
    )
    def post(self, request, public_id):
        order = selectors.order_for_user(request.user, public_id)
        if not can(request.user, Capability.ORDERS_FILE, order.enterprise):
            raise PermissionDenied(policy.PermissionText.CHANGE)
        data = validated(LivePhotoSerializer(data=request.data))
        services.order_retake_live_photo(actor=request.user, order=order, handler_live_photo=data["handler_live_photo"])
        return _detail(request, selectors.order_for_user(request.user, public_id), status_code=status.HTTP_201_CREATED)
