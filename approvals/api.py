"""REST API of the approvals app (/api/v1/): exemption requests, change-request decisions, manual reviews.

Thin views: reads go through approvals.selectors (scoped: invisible means
404), writes through approvals.services or verification.services; refusals
are DomainErrors, turned into `{code, detail, field}` JSON by
core.api.exception_handler. Ids are public_ids, matched as plain strings so a
malformed id is a JSON 404 like an id the user may not see.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from django.db.models import Prefetch
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from accounts.permissions import Capability, can
from approvals import selectors, services
from approvals.models import ApprovalLevel, ExemptionRequest, RequestStatus
from cards.inventory.selectors import enterprise_cards_for_user
from cards.models import Card
from core.api import E401, MaskedTextField, NewestFirstPagination, error_response, validated
from core.errors import PermissionDenied, ValidationFailed
from core.http import no_store
from core.idempotency import Idempotent
from enterprises.api import change_request_response
from enterprises.models import ChangeRequest
from enterprises.selectors import enterprise_for_user
from verification.models import Verification
from verification.services import verification_review

# --- helpers ----------------------------------------------------------------


class JsonOnly:
    renderer_classes: Sequence[type[BaseRenderer]] = [JSONRenderer]


E400 = error_response("Invalid input or a business rule refused it (see `code`).")
E403 = error_response("Your role may not do this (e.g. `self_decision`, another province).")
E404 = error_response("Does not exist, or you have no access to it.")
E409 = error_response("Not in a state that allows it (`invalid_transition`, `already_decided`, `exemption_pending`).")
READ_ERRORS = {401: E401, 403: E403, 404: E404}
WRITE_ERRORS = {400: E400, 401: E401, 403: E403, 404: E404, 409: E409}

EXEMPTION_ID = OpenApiParameter(
    "public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The request's public_id."
)
CHANGE_REQUEST_ID = OpenApiParameter(
    "public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The change request's public_id."
)
VERIFICATION_ID = OpenApiParameter(
    "public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The face comparison's public_id."
)


# --- serializers --------------------------------------------------------------


class ExemptionCardSerializer(serializers.Serializer):
    iccid = serializers.CharField()
    status = serializers.CharField()
    rules = serializers.ListField(child=serializers.CharField())
    exemption = serializers.CharField(allow_null=True)


class AttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    level = serializers.CharField(help_text="province or group")
    content_type = serializers.CharField()
    url = serializers.CharField(
        allow_null=True, help_text="Permission-checking download; null when your role may not open it."
    )


class DecisionSerializer(serializers.Serializer):
    level = serializers.CharField(help_text="province or group")
    approved = serializers.BooleanField()
    comment = MaskedTextField()
    decided_by = serializers.CharField()
    decided_at = serializers.DateTimeField()


class ExemptionSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    enterprise = serializers.UUIDField(source="enterprise.public_id")
    enterprise_name = serializers.CharField(source="enterprise.name")
    status = serializers.CharField(help_text="draft, submitted, approved, rejected or withdrawn")
    required_levels = serializers.ListField(child=serializers.CharField(), help_text="province and/or group")
    rules = serializers.ListField(child=serializers.CharField())
    reason = MaskedTextField()
    submitted_by = serializers.CharField(source="submitted_by.username")
    submitted_at = serializers.DateTimeField()
    cards = serializers.SerializerMethodField()
    attachments = serializers.SerializerMethodField()
    decisions = serializers.SerializerMethodField()
    levels_you_may_decide = serializers.SerializerMethodField()
    you_may_withdraw = serializers.SerializerMethodField()

    def _user(self):
        return self.context["request"].user

    def get_cards(self, obj) -> list[dict]:
        # The list prefetches every row's cards (EXEMPTION_LIST_PREFETCH): no query per row there.
        if "cards" in getattr(obj, "_prefetched_objects_cache", {}):
            cards = obj.cards.all()
        else:
            cards = obj.cards.select_related("package").order_by("iccid")
        out = []
        for card in cards:
            decision = card.realname_decision
            out.append(
                {
                    "iccid": card.iccid,
                    "status": card.status,
                    "rules": list(decision.rules),
                    "exemption": decision.exemption.value if decision.exemption else None,
                }
            )
        # many=True builds a ListSerializer, whose .data is a list; the stubs give the child's ReturnDict.
        return cast(list[dict], ExemptionCardSerializer(out, many=True).data)

    def get_attachments(self, obj) -> list[dict]:
        may_open = can(self._user(), Capability.ENTERPRISE_FILES_OPEN, obj.enterprise)
        listed = AttachmentSerializer(
            [
                {
                    "id": a.pk,
                    "level": a.level,
                    "content_type": a.content_type,
                    "url": reverse("approvals:attachment", args=[obj.public_id, a.pk]) if may_open else None,
                }
                for a in obj.attachments.all()
            ],
            many=True,
        ).data
        return cast(list[dict], listed)  # a ListSerializer's .data, as in get_cards

    def get_decisions(self, obj) -> list[dict]:
        listed = DecisionSerializer(
            [
                {
                    "level": d.level,
                    "approved": d.approved,
                    "comment": d.comment,
                    "decided_by": d.decided_by.username,
                    "decided_at": d.decided_at,
                }
                for d in obj.decisions.all()
            ],
            many=True,
        ).data
        return cast(list[dict], listed)  # a ListSerializer's .data, as in get_cards

    def get_levels_you_may_decide(self, obj) -> list[str]:
        return selectors.levels_to_decide(self._user(), obj)

    def get_you_may_withdraw(self, obj) -> bool:
        return obj.status == RequestStatus.SUBMITTED and obj.submitted_by_id == self._user().pk


class ExemptionFileSerializer(serializers.Serializer):
    enterprise = serializers.UUIDField(help_text="The enterprise's public_id.")
    cards = serializers.ListField(
        child=serializers.CharField(max_length=24),
        allow_empty=False,
        max_length=1000,
        help_text="ICCIDs of the enterprise's cards.",
    )
    reason = serializers.CharField(max_length=services.MAX_REASON_LENGTH, allow_blank=True)
    attachment_province = serializers.ListField(
        child=serializers.FileField(),
        required=False,
        default=list,
        help_text="省内审批单: required when a card falls under U1.",
    )
    attachment_group = serializers.ListField(
        child=serializers.FileField(),
        required=False,
        default=list,
        help_text="集团审批单: required when a card falls under U3.",
    )


class ExemptionDecideSerializer(serializers.Serializer):
    level = serializers.ChoiceField(
        choices=ApprovalLevel.choices,
        required=False,
        help_text="Defaults to your own level (provincial or group approver).",
    )
    approve = serializers.BooleanField()
    comment = serializers.CharField(
        max_length=services.MAX_COMMENT_LENGTH, allow_blank=True, required=False, default=""
    )


class DecideSerializer(serializers.Serializer):
    approve = serializers.BooleanField()
    comment = serializers.CharField(
        max_length=services.MAX_COMMENT_LENGTH, allow_blank=True, required=False, default=""
    )


class ReviewSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    purpose = serializers.CharField()
    enterprise = serializers.UUIDField(source="enterprise.public_id")
    enterprise_name = serializers.CharField(source="enterprise.name")
    status = serializers.CharField()
    outcome = serializers.CharField()
    distance = serializers.FloatField(allow_null=True)
    threshold_pass = serializers.FloatField(allow_null=True)
    threshold_fail = serializers.FloatField(allow_null=True)
    reasons = serializers.ListField(child=serializers.DictField())
    replay_suspected = serializers.SerializerMethodField()
    id_photo_url = serializers.SerializerMethodField()
    live_photo_url = serializers.SerializerMethodField()
    liveness = serializers.CharField(
        help_text='How the live photo came: "pass", "fail" (locked after failed captures), "inconclusive", '
        '"fallback" (one photo from the file input), or "" (a staff photo without a capture check).'
    )
    liveness_frames_url = serializers.SerializerMethodField(
        help_text="The capture's frames side by side (one JPEG), kept when they did not prove presence; else null."
    )
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    reviewed_by = serializers.CharField(source="reviewed_by.username", allow_null=True, default=None)
    reviewed_at = serializers.DateTimeField(allow_null=True)
    review_comment = MaskedTextField()

    def get_replay_suspected(self, obj) -> bool:
        return obj.replay_of_id is not None

    def get_id_photo_url(self, obj) -> str:
        return reverse("approvals:verification_photo", args=[obj.public_id, "id"])

    def get_live_photo_url(self, obj) -> str:
        return reverse("approvals:verification_photo", args=[obj.public_id, "live"])

    def get_liveness_frames_url(self, obj) -> str | None:
        if not obj.liveness_frames:
            return None
        return reverse("approvals:verification_photo", args=[obj.public_id, "frames"])


def exemption_response(request, exemption: ExemptionRequest, *, status_code=status.HTTP_200_OK):
    exemption = selectors.exemptions_visible_to(request.user).get(pk=exemption.pk)
    return no_store(Response(ExemptionSerializer(exemption, context={"request": request}).data, status=status_code))


# --- exemption requests ------------------------------------------------------


# What ExemptionSerializer reads of each row, fetched for the whole page at once (issue 12: a page's queries do
# not grow with its rows).
EXEMPTION_LIST_PREFETCH = (
    Prefetch("cards", queryset=Card.objects.select_related("package").order_by("iccid")),
    "attachments",
)


class ExemptionListCreateView(Idempotent, JsonOnly, generics.GenericAPIView):
    queryset = ExemptionRequest.objects.none()
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    # Page-number pages counted every request in scope on each page (issue 12 §1.4).
    pagination_class = NewestFirstPagination

    def get_serializer_class(self):
        return ExemptionFileSerializer if self.request.method == "POST" else ExemptionSerializer

    @extend_schema(
        tags=["exemptions"],
        summary="Exemption requests you can see",
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=RequestStatus.values, required=False),
            OpenApiParameter(
                "queue",
                OpenApiTypes.BOOL,
                required=False,
                description="Only the requests awaiting your decision (approvers).",
            ),
            OpenApiParameter("mine", OpenApiTypes.BOOL, required=False, description="Only the requests you filed."),
            OpenApiParameter(
                "search",
                OpenApiTypes.STR,
                required=False,
                description="The request's public_id (whole), or a part of its enterprise's name.",
            ),
        ],
        responses={200: ExemptionSerializer(many=True), 401: E401},
    )
    def get(self, request):
        user = request.user
        params = request.query_params
        if params.get("queue") in ("1", "true"):
            queryset = selectors.exemptions_pending_for(user)
        elif params.get("mine") in ("1", "true"):
            queryset = selectors.exemptions_filed_by(user)
        else:
            queryset = selectors.exemptions_visible_to(user)
        if params.get("status"):
            if params["status"] not in RequestStatus.values:
                raise ValidationFailed(_("Unknown status."), code="invalid_choice", field="status")
            queryset = queryset.filter(status=params["status"])
        queryset = selectors.search_requests(queryset, params.get("search"))
        queryset = (
            selectors.exemptions_visible_to(user)
            .filter(pk__in=queryset.values("pk"))
            .order_by("-created_at", "-pk")
            .prefetch_related(*EXEMPTION_LIST_PREFETCH)
        )
        page = self.paginate_queryset(queryset)
        data = ExemptionSerializer(page, many=True, context={"request": request}).data
        return no_store(self.get_paginated_response(data))

    @extend_schema(
        tags=["exemptions"],
        summary="File an exemption request (U1: provincial form, U3: group form; U2 is refused)",
        request={"multipart/form-data": ExemptionFileSerializer, "application/json": ExemptionFileSerializer},
        responses={201: ExemptionSerializer, **WRITE_ERRORS},
    )
    def post(self, request):
        user = request.user
        data = validated(ExemptionFileSerializer(data=request.data))
        enterprise = enterprise_for_user(user, data["enterprise"])
        if not can(user, Capability.EXEMPTIONS_FILE, enterprise):
            # Checked before the cards are looked up; the service checks again.
            raise PermissionDenied(services.MSG_FILE_DENIED)
        cards = enterprise_cards_for_user(user, enterprise, data["cards"])
        exemption = services.exemption_file(
            actor=user,
            enterprise=enterprise,
            cards=cards,
            reason=data["reason"],
            attachments={
                ApprovalLevel.PROVINCE: data.get("attachment_province") or [],
                ApprovalLevel.GROUP: data.get("attachment_group") or [],
            },
        )
        response = exemption_response(request, exemption, status_code=status.HTTP_201_CREATED)
        response["Location"] = reverse("api:exemption-detail", args=[exemption.public_id])
        return response


class ExemptionDetailView(JsonOnly, generics.GenericAPIView):
    queryset = ExemptionRequest.objects.none()
    serializer_class = ExemptionSerializer

    @extend_schema(
        tags=["exemptions"],
        summary="One exemption request with its decisions",
        parameters=[EXEMPTION_ID],
        responses={200: ExemptionSerializer, **READ_ERRORS},
    )
    def get(self, request, public_id):
        return exemption_response(request, selectors.exemption_for_user(request.user, public_id))


class ExemptionDecideView(JsonOnly, generics.GenericAPIView):
    queryset = ExemptionRequest.objects.none()
    serializer_class = ExemptionDecideSerializer
    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        tags=["exemptions"],
        summary="Approve or reject at one level (a rejection needs a comment)",
        parameters=[EXEMPTION_ID],
        request=ExemptionDecideSerializer,
        responses={200: ExemptionSerializer, **WRITE_ERRORS},
    )
    def post(self, request, public_id):
        exemption = selectors.exemption_for_user(request.user, public_id)
        data = validated(ExemptionDecideSerializer(data=request.data))
        level = data.get("level") or selectors.approver_level(request.user) or ApprovalLevel.PROVINCE
        exemption = services.exemption_decide(
            request=exemption, actor=request.user, level=level, approve=data["approve"], comment=data["comment"]
        )
        return exemption_response(request, exemption)


class ExemptionWithdrawView(JsonOnly, generics.GenericAPIView):
    queryset = ExemptionRequest.objects.none()
    serializer_class = ExemptionSerializer

    @extend_schema(
        tags=["exemptions"],
        summary="Withdraw your own request while it awaits a decision",
        parameters=[EXEMPTION_ID],
        request=None,
        responses={200: ExemptionSerializer, **WRITE_ERRORS},
    )
    def post(self, request, public_id):
        exemption = selectors.exemption_for_user(request.user, public_id)
        exemption = services.exemption_withdraw(request=exemption, actor=request.user)
        return exemption_response(request, exemption)


# --- change requests (E3, P4) -----------------------------------------------


def _change_request_response(request, change_request):
    return no_store(change_request_response(request, change_request))


class ChangeRequestDecideView(JsonOnly, generics.GenericAPIView):
    queryset = ChangeRequest.objects.none()
    serializer_class = DecideSerializer
    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        tags=["change requests"],
        summary="Approve (applies the change, keeps the history) or reject",
        parameters=[CHANGE_REQUEST_ID],
        request=DecideSerializer,
        responses={200: OpenApiTypes.OBJECT, **WRITE_ERRORS},
    )
    def post(self, request, public_id):
        change_request = selectors.change_request_for_user(request.user, public_id)
        data = validated(DecideSerializer(data=request.data))
        change_request = services.change_request_decide(
            change_request=change_request, actor=request.user, approve=data["approve"], comment=data["comment"]
        )
        return _change_request_response(request, change_request)


class ChangeRequestWithdrawView(JsonOnly, generics.GenericAPIView):
    queryset = ChangeRequest.objects.none()
    serializer_class = DecideSerializer

    @extend_schema(
        tags=["change requests"],
        summary="Withdraw your own change request while it awaits a decision",
        parameters=[CHANGE_REQUEST_ID],
        request=None,
        responses={200: OpenApiTypes.OBJECT, **WRITE_ERRORS},
    )
    def post(self, request, public_id):
        change_request = selectors.change_request_for_user(request.user, public_id)
        change_request = services.change_request_withdraw(change_request=change_request, actor=request.user)
        return _change_request_response(request, change_request)


# --- manual face review ------------------------------------------------------


class ReviewQueueView(JsonOnly, generics.GenericAPIView):
    queryset = Verification.objects.none()
    serializer_class = ReviewSerializer

    @extend_schema(
        tags=["reviews"],
        summary="Face comparisons awaiting your manual review (your province)",
        responses={200: ReviewSerializer(many=True), 401: E401},
    )
    def get(self, request):
        page = self.paginate_queryset(selectors.review_queue(request.user))
        return no_store(self.get_paginated_response(ReviewSerializer(page, many=True).data))


class ReviewDetailView(JsonOnly, generics.GenericAPIView):
    queryset = Verification.objects.none()
    serializer_class = ReviewSerializer

    @extend_schema(
        tags=["reviews"],
        summary="One face comparison you may review",
        parameters=[VERIFICATION_ID],
        responses={200: ReviewSerializer, **READ_ERRORS},
    )
    def get(self, request, public_id):
        verification = selectors.verification_for_reviewer(request.user, public_id)
        return no_store(Response(ReviewSerializer(verification).data))


class ReviewDecideView(JsonOnly, generics.GenericAPIView):
    queryset = Verification.objects.none()
    serializer_class = DecideSerializer
    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        tags=["reviews"],
        summary="Approve (opens the gate) or reject (needs a comment)",
        parameters=[VERIFICATION_ID],
        request=DecideSerializer,
        responses={200: ReviewSerializer, **WRITE_ERRORS},
    )
    def post(self, request, public_id):
        verification = selectors.verification_for_reviewer(request.user, public_id)
        data = validated(DecideSerializer(data=request.data))
        verification = verification_review(
            verification=verification, actor=request.user, approve=data["approve"], comment=data["comment"]
        )
        verification = Verification.objects.select_related("enterprise", "reviewed_by").get(pk=verification.pk)
        return no_store(Response(ReviewSerializer(verification).data))
