"""The in-app inbox and its emails (issue 11 §3): one `notify` for every floor.

A service calls `notify(user, kind, target, ...)` inside its own transaction, so the notice exists
exactly when the change does; its email is sent after the commit, never for a rolled-back change.
The approvals app keeps its own retried email outbox (approvals.notifications) for filings and
decisions, and passes `email=False` here so nobody gets two emails. Texts carry no personal data:
callers pass masked names only, never ID numbers; a failed email is logged with ids only.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.mail import send_mail
from django.db import IntegrityError, models, transaction
from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from accounts.models import Notice, User
from accounts.permissions import ROLE_CAPABILITIES, Capability, can

logger = logging.getLogger(__name__)

SUBJECT_PREFIX = "[IoT real-name] "


def notify(
    user: User | None,
    kind: str,
    target: models.Model | None,
    *,
    title: str,
    body: str = "",
    link: str = "",
    once_key: str = "",
    email: bool = True,
) -> Notice | None:
    """Write one notice to `user`'s inbox in the caller's transaction; email it after the commit.

    With `once_key`, a second notice of the same key to the same user is not written (None):
    a repeated beat task tells of an object once.
    """
    if user is None or not user.is_active:
        return None
    if once_key and Notice.objects.filter(recipient=user, once_key=once_key).exists():
        return None
    fields = dict(recipient=user, kind=kind, title=str(title)[:200], body=str(body), link=link, once_key=once_key)
    if target is not None:
        fields.update(
            content_type=ContentType.objects.get_for_model(target, for_concrete_model=True), object_id=str(target.pk)
        )
    try:
        # A savepoint: a racing duplicate of a sent-once notice must not break the caller's transaction.
        with transaction.atomic():
            notice = Notice.objects.create(**fields)
    except IntegrityError:
        if once_key:
            return None
        raise
    if email and user.email:
        transaction.on_commit(functools.partial(notice_email_send, notice_id=notice.pk))
    return notice


def notify_all(users: Iterable[User], kind: str, target: models.Model | None, **kwargs) -> int:
    """`notify` each user once (a user in two roles' lists is told once)."""
    seen: set[int] = set()
    written = 0
    for user in users:
        if user is None or user.pk in seen:
            continue
        seen.add(user.pk)
        written += notify(user, kind, target, **kwargs) is not None
    return written


def notice_email_send(*, notice_id: int) -> bool:
    """Email one notice, once; a mail outage is logged (ids only) and never undoes anything."""
    notice = Notice.objects.select_related("recipient").filter(pk=notice_id, emailed_at__isnull=True).first()
    if notice is None or not notice.recipient.email:
        return False
    body = notice.body
    if notice.link:
        body = f"{body}\n\n{settings.PORTAL_BASE_URL.rstrip('/')}{notice.link}"
    try:
        send_mail(SUBJECT_PREFIX + notice.title, body, settings.DEFAULT_FROM_EMAIL, [notice.recipient.email])
    except Exception as exc:  # noqa: BLE001 - the change it tells of is committed already
        logger.warning("notice %s not emailed (%s)", notice.pk, type(exc).__name__)
        return False
    Notice.objects.filter(pk=notice.pk).update(emailed_at=timezone.now())
    return True


def notices_for(user: User) -> QuerySet[Notice]:
    """The user's own inbox: nobody reads another's notices."""
    return Notice.objects.filter(recipient=user)


def unread_count(user: User) -> int:
    return notices_for(user).filter(read_at__isnull=True).count()


def notices_mark_read(*, user: User, notice_ids: Iterable[int] | None = None) -> int:
    """Mark the user's own notices read (all of them without ids). Returns how many changed."""
    unread = notices_for(user).filter(read_at__isnull=True)
    if notice_ids is not None:
        unread = unread.filter(pk__in=list(notice_ids))
    return unread.update(read_at=timezone.now())


def users_who_may(capability: Capability, target: models.Model) -> list[User]:
    """The active users who hold `capability` over `target` (its province's approvers, say):
    the one capability table decides, so a notice reaches exactly those who may act on it."""
    roles = [role for role, row in ROLE_CAPABILITIES.items() if capability in row]
    candidates = User.objects.filter(is_active=True, role__in=roles).order_by("pk")
    return [user for user in candidates if can(user, capability, target)]


def path_for(url_name: str, *args) -> str:
    """A notice's link: a path of this site, or none where the page does not exist."""
    try:
        return reverse(url_name, args=args)
    except NoReverseMatch:
        return ""
