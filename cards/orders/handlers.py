"""The handler (经办人) of an order: H1 data, found again by the blind index of the ID.

A handler belongs to one enterprise. The first order records the name, ID
type, ID number and ID address (H1); a later order finds the handler by the
keyed blind index of the ID document within that enterprise and only takes a
fresh photo of the ID, nothing is typed again. The number itself is stored
encrypted (accounts.pii) and is only ever shown masked.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.pii import personal_id_index
from accounts.services import audit_record
from cards.models import Handler
from core.columns import max_length
from core.errors import ValidationFailed
from core.identity import IdentityError, PersonalIdType, validate_personal_id

NAME_MAX = max_length(Handler, "name")
ADDRESS_MAX = max_length(Handler, "id_address")


@dataclass(frozen=True)
class HandlerData:
    """What the order form gives about its handler. Name and address may stay empty
    for a returning handler, who is recognised by the ID document alone."""

    id_type: str
    id_number: str
    name: str = ""
    id_address: str = ""


@dataclass(frozen=True)
class HandlerIdentity:
    """A validated ID document: the normalised number and its blind index."""

    id_type: str
    id_number: str
    index: str


def handler_identity(*, id_type: str, id_number: str) -> HandlerIdentity:
    """Validate the handler's ID document (type and number); errors name the form field."""
    if id_type not in PersonalIdType.values:
        raise ValidationFailed(_("Choose the type of the handler's ID."), code="invalid_type", field="handler_id_type")
    try:
        number = validate_personal_id(id_type, id_number or "")
    except IdentityError as exc:
        raise ValidationFailed(exc.message, code=exc.code, field="handler_id_number") from exc
    return HandlerIdentity(id_type=id_type, id_number=number, index=personal_id_index(id_type, number))


def handler_find(*, enterprise, identity: HandlerIdentity) -> Handler | None:
    """The enterprise's handler with this ID document, if it has handled an order before."""
    return Handler.objects.filter(enterprise=enterprise, id_number_index=identity.index).first()


def _text(value: str, *, field: str, label, max_length: int) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationFailed(_("%(field)s is required.") % {"field": label}, code="required", field=field)
    if len(value) > max_length:
        raise ValidationFailed(
            _("%(field)s is too long (at most %(max)d characters).") % {"field": label, "max": max_length},
            code="max_length",
            field=field,
        )
    return value


@dataclass(frozen=True)
class CleanHandler:
    """The checked handler of an order: an existing record, or the H1 data of a new one."""

    identity: HandlerIdentity
    existing: Handler | None
    name: str
    id_address: str

    @property
    def returning(self) -> bool:
        return self.existing is not None


def handler_clean(*, enterprise, data: HandlerData) -> CleanHandler:
    """Check the handler without writing: a returning handler needs only the ID document (H1)."""
    identity = handler_identity(id_type=data.id_type, id_number=data.id_number)
    existing = handler_find(enterprise=enterprise, identity=identity)
    if existing is not None:
        return CleanHandler(identity=identity, existing=existing, name=existing.name, id_address=existing.id_address)
    name = _text(data.name, field="handler_name", label=_("The handler's name"), max_length=NAME_MAX)
    address = _text(
        data.id_address, field="handler_id_address", label=_("The handler's ID address"), max_length=ADDRESS_MAX
    )
    return CleanHandler(identity=identity, existing=None, name=name, id_address=address)


def handler_get_or_create(*, actor: User | None, enterprise, clean: CleanHandler) -> tuple[Handler, bool]:
    """The handler row for an order, created the first time (H1). Call inside the order's transaction."""
    if clean.existing is not None:
        return clean.existing, False
    try:
        with transaction.atomic():
            handler = Handler.objects.create(
                enterprise=enterprise,
                name=clean.name,
                id_type=clean.identity.id_type,
                id_number=clean.identity.id_number,
                id_number_index=clean.identity.index,
                id_address=clean.id_address,
            )
    except IntegrityError:
        # Another order recorded the same handler a moment ago: use that record.
        handler = Handler.objects.get(enterprise=enterprise, id_number_index=clean.identity.index)
        return handler, False
    audit_record(actor=actor, action="handler.recorded", obj=handler, data={"enterprise": str(enterprise.public_id)})
    return handler, True


__all__ = [
    "CleanHandler",
    "HandlerData",
    "HandlerIdentity",
    "handler_clean",
    "handler_find",
    "handler_get_or_create",
    "handler_identity",
]
