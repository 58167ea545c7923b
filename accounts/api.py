"""API tokens (issue 7 §2.3): obtain, list, revoke, log out. Tokens are django-rest-knox's.

`POST /api/v1/auth/token/` keeps its path, body and `Authorization: Token <token>` header for existing
clients; the answer gains `expires_at`. Only a SHA-512 digest of a token is stored; `key` (its first
characters) names it in the list without being usable to log in.
"""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from knox.auth import TokenAuthentication
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import users
from core.api import E401, error_response, validated
from core.errors import ValidationFailed
from core.http import no_store


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send it as `Authorization: Token <token>`. Shown only this once.")
    expires_at = serializers.DateTimeField(help_text="After this the token no longer works: obtain a new one.")


class TokenInfoSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The token's first characters: names it, cannot log in.")
    created = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    current = serializers.BooleanField(help_text="The token this request was made with.")


# A person's own credentials: a token or the browser session, never a platform API key (integrations.auth).
# The views about "you" (your tokens, your profile) have no meaning for a key, which is no user: with a key
# they answer 401 as for any credential they do not take, instead of failing on a user they do not have.
PERSONAL_AUTHENTICATION = [TokenAuthentication, SessionAuthentication]


class JsonView(APIView):
    renderer_classes = [JSONRenderer]


class PersonalView(JsonView):
    authentication_classes = PERSONAL_AUTHENTICATION


class TokenObtainView(JsonView):
    """Exchange a username and password for an expiring API token; throttled like the login page (django-axes)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["auth"],
        summary="Exchange a username and password for an expiring API token",
        request=TokenRequestSerializer,
        responses={
            200: TokenSerializer,
            400: error_response("Wrong username or password (`invalid_credentials`), or a field is missing."),
            429: error_response("Too many failed attempts from this address (`locked_out`); see Retry-After."),
        },
        auth=[],
    )
    def post(self, request):
        data = validated(TokenRequestSerializer(data=request.data))
        # The Django request, so that django-axes marks a lockout where its middleware looks for it.
        user = authenticate(request=request._request, username=data["username"], password=data["password"])
        if user is None or not user.is_active:
            raise ValidationFailed(
                _("Unable to log in with the username and password given."), code="invalid_credentials"
            )
        instance, token = users.api_token_issue(user=user)
        return no_store(Response({"token": token, "expires_at": instance.expiry}))


class LogoutView(JsonView):
    """Revoke the token this request was made with."""

    authentication_classes = [TokenAuthentication]

    @extend_schema(
        tags=["auth"],
        summary="Log out: revoke the token used for this request",
        request=None,
        responses={204: None, 401: E401},
    )
    def post(self, request):
        users.api_token_revoke(user=request.user, token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _token_rows(request) -> list[dict]:
    current = getattr(request.auth, "digest", None)
    return [
        {
            "key": token.token_key,
            "created": token.created,
            "expires_at": token.expiry,
            "current": token.digest == current,
        }
        for token in users.api_tokens_of(request.user)
    ]


class TokenListView(PersonalView):
    @extend_schema(
        tags=["auth"],
        summary="Your API tokens that have not expired",
        responses={200: TokenInfoSerializer(many=True), 401: E401},
    )
    def get(self, request):
        return no_store(Response(TokenInfoSerializer(_token_rows(request), many=True).data))


class TokenRevokeView(PersonalView):
    @extend_schema(
        tags=["auth"],
        summary="Revoke one of your API tokens",
        parameters=[OpenApiParameter("key", OpenApiTypes.STR, OpenApiParameter.PATH)],
        responses={204: None, 401: E401, 404: error_response("You have no token with this key.")},
    )
    def delete(self, request, key: str):
        users.api_token_revoke(user=request.user, key=key)
        return Response(status=status.HTTP_204_NO_CONTENT)
