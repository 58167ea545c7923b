"""User management, passwords and API tokens (issue 7 §2.1, §2.3, §2.4). Only these write users.

Who may do what:
* A superuser creates and changes any account, and decides role grants (never one they filed).
* Ops create and change accounts of the roles that see nothing in full and decide nothing (ops,
  enterprise admin). Giving, taking or re-scoping a role that sees personal data in full or decides
  (accounts.roles.ELEVATED_ROLES) is a role grant they file for a superuser to approve.
* Nobody sets a password for someone else: a new user, or one who forgot theirs, gets a one-time
  set-password link by email (Django's PasswordResetTokenGenerator, PASSWORD_RESET_TIMEOUT). So ops
  may not change the email address of an account that already has a password (it would redirect the
  link), nor set is_staff, is_superuser, groups or single permissions: groups follow the role, staff
  follows the role ops.
* Every action writes an audit event; a password change or a new password ends the API tokens.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from knox.models import AuthToken

from accounts.models import Province, RoleGrant, RoleGrantStatus, User
from accounts.permissions import actor_user
from accounts.roles import ELEVATED_ROLES, ROLES_BOUND_TO_ENTERPRISE, ROLES_BOUND_TO_PROVINCE, Role
from accounts.services import audit_record, user_create, user_sync_role_group
from core.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationFailed

logger = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 2000
# Fields a user-management action may change; the rest (password, groups, permissions) never here.
CHANGEABLE = ("full_name", "email", "role", "province", "enterprise", "is_active", "is_superuser")
SCOPE_FIELDS = ("role", "province", "enterprise")

MSG_GRANT_REQUIRED = _(
    "Only a superuser gives, takes or re-scopes a role that sees personal data in full or decides "
    "(account manager, provincial or group approver). File a role grant instead."
)


# --- who may ---------------------------------------------------------------------------


def is_superuser(actor) -> bool:
    return bool(actor is not None and actor.is_authenticated and actor.is_active and actor.is_superuser)


def is_ops(actor) -> bool:
    return bool(
        actor is not None and actor.is_authenticated and actor.is_active and actor.is_staff and actor.role == Role.OPS
    )


def _require_manager(actor) -> None:
    if not (is_superuser(actor) or is_ops(actor)):
        raise PermissionDenied(_("Only ops staff and superusers manage users."), code="permission_denied")


def user_change_refusal(*, actor, user: User | None, changes: dict) -> PermissionDenied | None:
    """Why `actor` may not make `changes` to `user` (None: a new user), or None if they may.

    `changes` maps field names to new values (model instances for province and enterprise).
    """
    if is_superuser(actor):
        return None
    if not is_ops(actor):
        return PermissionDenied(_("Only ops staff and superusers manage users."), code="permission_denied")
    if "is_superuser" in changes and bool(changes["is_superuser"]) != bool(user and user.is_superuser):
        return PermissionDenied(
            _("Only a superuser makes a superuser."), code="role_grant_required", field="is_superuser"
        )
    if user is not None and user.is_superuser:
        return PermissionDenied(_("Only a superuser changes a superuser."), code="permission_denied")
    old_role = user.role if user is not None else None
    new_role = changes.get("role", old_role)
    touches_scope = user is None or any(
        field in changes and _value(changes[field]) != _value(getattr(user, field)) for field in SCOPE_FIELDS
    )
    if touches_scope and (new_role in ELEVATED_ROLES or old_role in ELEVATED_ROLES):
        return PermissionDenied(MSG_GRANT_REQUIRED, code="role_grant_required", field="role")
    if user is not None and user.pk == actor.pk:
        if touches_scope or ("is_active" in changes and not changes["is_active"]):
            return PermissionDenied(_("You cannot change your own role, scope or status."), code="own_account")
    if (
        user is not None
        and user.pk != actor.pk
        and "email" in changes
        and (changes["email"] or "") != (user.email or "")
        and user.has_usable_password()
    ):
        return PermissionDenied(
            _(
                "This account already has a password, so only a superuser changes its email address "
                "(the set-password link goes there)."
            ),
            code="email_locked",
            field="email",
        )
    return None


def _value(value):
    return getattr(value, "pk", value)


def _check(actor, user, changes) -> None:
    refusal = user_change_refusal(actor=actor, user=user, changes=changes)
    if refusal is not None:
        raise refusal


def _check_scope(role: str, province, enterprise) -> None:
    if role in ROLES_BOUND_TO_PROVINCE and province is None:
        raise ValidationFailed(_("This role works in one province: choose it."), code="required", field="province")
    if role in ROLES_BOUND_TO_ENTERPRISE and enterprise is None:
        raise ValidationFailed(_("This role works for one enterprise: choose it."), code="required", field="enterprise")


def _ref(value) -> str | None:
    """A province or enterprise as an audit event names it."""
    if value is None:
        return None
    return value.code if isinstance(value, Province) else str(value.public_id)


def _scope_data(role, province, enterprise) -> dict:
    return {"role": role, "province": _ref(province), "enterprise": _ref(enterprise)}


# --- creating and changing users --------------------------------------------------------


def user_invite(
    *,
    actor: User,
    username: str,
    role: str,
    email: str,
    province=None,
    enterprise=None,
    full_name: str = "",
    request=None,
) -> User:
    """A new account with no password; its owner sets one through the emailed one-time link."""
    _require_manager(actor)
    _check(actor, None, {"role": role, "province": province, "enterprise": enterprise})
    if not (email or "").strip():
        raise ValidationFailed(
            _("Enter the email address: the set-password link goes there."), code="required", field="email"
        )
    _check_scope(role, province, enterprise)
    with transaction.atomic():
        user = user_create(
            username=username,
            password=None,
            role=role,
            province=province if role in ROLES_BOUND_TO_PROVINCE else None,
            enterprise=enterprise if role in ROLES_BOUND_TO_ENTERPRISE else None,
            full_name=full_name,
            email=email.strip(),
            # Ops work in the Django admin; nobody else is staff (superusers make superusers).
            is_staff=role == Role.OPS,
        )
        audit_record(
            actor=actor, action="user.created", obj=user, data=_scope_data(user.role, user.province, user.enterprise)
        )
        _password_link(actor=actor, user=user, request=request)
    return user


def user_update(*, actor: User, user: User, changes: dict) -> User:
    """Change a user's name, email, role, scope, active flag (superusers also is_superuser)."""
    _require_manager(actor)
    unknown = set(changes) - set(CHANGEABLE)
    if unknown:
        raise ValidationFailed(_("These fields are not changed here."), code="not_changeable", field=sorted(unknown)[0])
    with transaction.atomic():
        locked = User.objects.select_for_update(of=("self",)).get(pk=user.pk)
        _check(actor, locked, changes)
        return _apply(actor=actor, user=locked, changes=changes)


def _apply(*, actor: User, user: User, changes: dict) -> User:
    """Set the changed fields, keep groups and staff in line with the role, audit the difference."""
    diff: dict = {}
    for field, new in changes.items():
        old = getattr(user, field)
        if _value(old) == _value(new) or (field == "email" and (old or "") == (new or "")):
            continue
        setattr(user, field, new)
        if field == "email":
            diff["email"] = "changed"  # an address is personal data: the event says only that it changed
        elif field in ("province", "enterprise"):
            diff[field] = [_ref(old), _ref(new)]
        else:
            diff[field] = [old, new]
    if not diff:
        return user
    if "role" in diff or "province" in diff or "enterprise" in diff:
        if user.role not in ROLES_BOUND_TO_PROVINCE:
            user.province = None
        if user.role not in ROLES_BOUND_TO_ENTERPRISE:
            user.enterprise = None
        _check_scope(user.role, user.province, user.enterprise)
    user.is_staff = user.role == Role.OPS or user.is_superuser
    user.full_clean(exclude=["password"])
    user.save()
    user_sync_role_group(user=user)
    if "is_active" in diff and not user.is_active:
        AuthToken.objects.filter(user=user).delete()
    audit_record(actor=actor, action="user.changed", obj=user, data=diff)
    return user


# --- one-time set-password links --------------------------------------------------------


def password_link(user: User, request=None) -> str:
    path = reverse(
        "password_set_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    base = settings.PORTAL_BASE_URL.rstrip("/")
    if base:
        return base + path
    if request is not None:
        return request.build_absolute_uri(path)
    return path


def _password_link(*, actor: User | None, user: User, request=None) -> None:
    if not user.email:
        raise ValidationFailed(
            _("This account has no email address to send the link to."), code="no_email", field="email"
        )
    url = password_link(user, request)
    audit_record(actor=actor, action="user.password_link_sent", obj=user, data={})
    hours = max(1, settings.PASSWORD_RESET_TIMEOUT // 3600)
    subject = gettext("[IoT real-name] Set your password")
    body = gettext(
        "An account on the IoT card real-name portal is waiting for you: %(username)s.\n\n"
        "Choose your password here (the link works once, for %(hours)d hours):\n%(url)s\n\n"
        "If you did not expect this message, ignore it."
    ) % {"username": user.username, "hours": hours, "url": url}
    address = user.email
    pk = user.pk

    def send() -> None:
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [address])
        except Exception:  # a failed send never undoes the action; the link can be sent again
            logger.exception("Set-password link for user %s could not be sent", pk)

    transaction.on_commit(send)


def user_send_password_link(*, actor: User, user: User, request=None) -> None:
    """Email the owner a link to set a new password; the current one keeps working until they do."""
    _require_manager(actor)
    if user.is_superuser and not is_superuser(actor):
        raise PermissionDenied(_("Only a superuser changes a superuser."), code="permission_denied")
    if not user.is_active:
        raise ValidationFailed(_("The account is deactivated."), code="inactive")
    with transaction.atomic():
        _password_link(actor=actor, user=user, request=request)


def user_set_password_by_link(*, user: User, password: str) -> User:
    """The owner chose a password through their link (its token was checked by the view)."""
    with transaction.atomic():
        locked = User.objects.select_for_update(of=("self",)).get(pk=user.pk)
        locked.set_password(password)
        locked.save(update_fields=["password"])
        AuthToken.objects.filter(user=locked).delete()
        audit_record(actor=locked, action="user.password_set", obj=locked, data={"via": "link"})
    return locked


def user_password_change(*, user: User, password: str, request=None) -> User:
    """A user changes their own password: their other sessions end (the session auth hash changes,
    this one is kept), and their API tokens are revoked."""
    with transaction.atomic():
        locked = User.objects.select_for_update(of=("self",)).get(pk=user.pk)
        locked.set_password(password)
        locked.save(update_fields=["password"])
        revoked = AuthToken.objects.filter(user=locked).delete()[0]
        audit_record(actor=locked, action="user.password_changed", obj=locked, data={"tokens_revoked": revoked})
    if request is not None:
        update_session_auth_hash(request, locked)
    user.password = locked.password
    return locked


# --- API tokens (django-rest-knox) ---------------------------------------------------------


def api_token_issue(*, user: User) -> tuple[AuthToken, str]:
    """A new token for `user`: only its digest is stored, it expires after API_TOKEN_TTL_HOURS."""
    with transaction.atomic():
        AuthToken.objects.filter(user=user, expiry__lt=timezone.now()).delete()
        return AuthToken.objects.create(user)


def _tokens(user: User):
    # An actor that is no user (a platform API key) holds no tokens: an empty list, and nothing to revoke.
    owner = actor_user(user)
    return AuthToken.objects.filter(user=owner) if owner is not None else AuthToken.objects.none()


def api_tokens_of(user: User):
    return _tokens(user).filter(expiry__gt=timezone.now()).order_by("-created")


def api_token_revoke(*, user: User, key: str | None = None, token: AuthToken | None = None) -> None:
    """Revoke one of the user's tokens, named by its key (the list's) or as the token itself."""
    tokens = _tokens(user)
    if token is not None:
        tokens = tokens.filter(digest=getattr(token, "digest", None) or "")
    else:
        tokens = tokens.filter(token_key=key or "")
    deleted = tokens.delete()[0]
    if not deleted:
        raise NotFound(_("No such token."), code="not_found")


def api_tokens_revoke_all(*, user: User) -> int:
    return AuthToken.objects.filter(user=user).delete()[0]


# --- role grants -----------------------------------------------------------------------


def role_grant_refusal(*, actor, user: User, role: str, province=None, enterprise=None, reason: str = ""):
    """Why `actor` may not file this grant (a DomainError), or None."""
    if not (is_superuser(actor) or is_ops(actor)):
        return PermissionDenied(_("Only ops staff and superusers manage users."), code="permission_denied")
    if user.pk == actor.pk:
        return PermissionDenied(_("Nobody files a role grant for themselves."), code="own_account", field="user")
    if user.is_superuser:
        return PermissionDenied(_("Only a superuser changes a superuser."), code="permission_denied", field="user")
    if role not in Role.values:
        return ValidationFailed(_("Choose a role."), code="invalid", field="role")
    reason = (reason or "").strip()
    if not reason:
        return ValidationFailed(_("Say why the user needs this role."), code="required", field="reason")
    if len(reason) > MAX_TEXT_LENGTH:
        return ValidationFailed(
            _("The reason may have at most %(max)d characters.") % {"max": MAX_TEXT_LENGTH},
            code="too_long",
            field="reason",
        )
    try:
        _check_scope(
            role,
            province if role in ROLES_BOUND_TO_PROVINCE else None,
            enterprise if role in ROLES_BOUND_TO_ENTERPRISE else None,
        )
    except ValidationFailed as exc:
        return exc
    if RoleGrant.objects.filter(user=user, status=RoleGrantStatus.PENDING).exists():
        return Conflict(
            _("This user already has a role grant waiting for a decision."), code="grant_pending", field="user"
        )
    return None


def role_grant_file(
    *, actor: User, user: User, role: str, province=None, enterprise=None, reason: str = ""
) -> RoleGrant:
    """Ops (or a superuser) ask for `user` to get `role` in a scope; nothing changes until it is approved."""
    refusal = role_grant_refusal(
        actor=actor, user=user, role=role, province=province, enterprise=enterprise, reason=reason
    )
    if refusal is not None:
        raise refusal
    province = province if role in ROLES_BOUND_TO_PROVINCE else None
    enterprise = enterprise if role in ROLES_BOUND_TO_ENTERPRISE else None
    try:
        with transaction.atomic():
            grant = RoleGrant.objects.create(
                user=user,
                role=role,
                province=province,
                enterprise=enterprise,
                reason=reason.strip(),
                requested_by=actor,
            )
            audit_record(
                actor=actor,
                action="role_grant.filed",
                obj=grant,
                data={"user": user.pk, **_scope_data(role, province, enterprise)},
            )
    except IntegrityError:  # a concurrent grant for the same user won the unique constraint
        raise Conflict(_("This user already has a role grant waiting for a decision."), code="grant_pending") from None
    return grant


def role_grant_decide(*, grant: RoleGrant, actor: User, approve: bool, comment: str = "") -> RoleGrant:
    """A superuser approves (the user gets the role and scope) or rejects (saying why) a pending grant."""
    if not is_superuser(actor):
        raise PermissionDenied(_("Only a superuser decides role grants."), code="permission_denied")
    comment = (comment or "").strip()
    if len(comment) > MAX_TEXT_LENGTH:
        raise ValidationFailed(
            _("The comment may have at most %(max)d characters.") % {"max": MAX_TEXT_LENGTH},
            code="too_long",
            field="comment",
        )
    with transaction.atomic():
        locked = RoleGrant.objects.select_for_update(of=("self",)).get(pk=grant.pk)
        if locked.requested_by_id == actor.pk or locked.user_id == actor.pk:
            raise PermissionDenied(_("Nobody decides their own request."), code="own_request")
        if locked.status != RoleGrantStatus.PENDING:
            raise InvalidTransition(_("This role grant has already been decided."), code="already_decided")
        if not approve and not comment:
            raise ValidationFailed(
                _("Say why the role grant is rejected: a rejection needs a comment."),
                code="comment_required",
                field="comment",
            )
        if approve:
            user = User.objects.select_for_update(of=("self",)).get(pk=locked.user_id)
            _apply(
                actor=actor,
                user=user,
                changes={"role": locked.role, "province": locked.province, "enterprise": locked.enterprise},
            )
        locked.status = RoleGrantStatus.APPROVED if approve else RoleGrantStatus.REJECTED
        locked.decided_by = actor
        locked.decided_at = timezone.now()
        locked.decision_comment = comment
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_comment"])
        audit_record(
            actor=actor,
            action="role_grant.approved" if approve else "role_grant.rejected",
            obj=locked,
            data={"user": locked.user_id, "comment": comment},
        )
    return locked
