"""The package catalogue: ops' reference data. Only these functions write packages.

U4: an IoT test-card package is a trial, not a way out of U1-U3. Only ops define one: the
capability PACKAGES_MANAGE (accounts.permissions) belongs to the ops role alone (and superusers),
here and in the Django admin that calls these functions. A test package has a test
period of 1 to 180 days and fixes the services of its cards (model validation and the database
check constraints in cards.models say so too). A package that holds cards keeps its kind and, when
it is a test package, its services: the cards on it took them, and their rule decision follows.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.permissions import Capability, require
from accounts.services import audit_record
from cards.models import Package
from core.errors import ValidationFailed

PACKAGE_FIELDS = (
    "code",
    "name",
    "is_test_package",
    "is_active",
    "test_period_days",
    "data_service",
    "voice_service",
    "sms_service",
)
# What the cards on a package took from it, so it is fixed once the package holds cards.
FIXED_ONCE_USED = ("code", "is_test_package", "data_service", "voice_service", "sms_service")

MSG_NOT_ALLOWED = _("Only ops define the packages of the catalogue.")
MSG_KIND_FIXED = _(
    "This package holds cards: it cannot be switched into or out of being an IoT test-card package (rule U4). "
    "Create a new package instead."
)
MSG_SERVICES_FIXED = _(
    "This IoT test-card package holds cards, which took its services: they cannot change. Create a new package instead."
)
MSG_CODE_FIXED = _("This package holds cards: its code cannot change.")


def _require_definer(actor: User | None) -> None:
    # None is the system (seed_demo, commands run on the server), which acts for no role.
    if actor is not None:
        require(actor, Capability.PACKAGES_MANAGE, message=MSG_NOT_ALLOWED)


def package_check_in_use(*, package: Package | None, values: dict) -> None:
    """Refuse a change of what the cards on `package` took from it."""
    if package is None or package.pk is None or not package.cards.exists():
        return
    for field in FIXED_ONCE_USED:
        if field not in values or values[field] == getattr(package, field):
            continue
        if field == "is_test_package":
            raise ValidationFailed(MSG_KIND_FIXED, code="package_in_use", field=field)
        if field == "code":
            raise ValidationFailed(MSG_CODE_FIXED, code="package_in_use", field=field)
        if package.is_test_package:
            raise ValidationFailed(MSG_SERVICES_FIXED, code="package_in_use", field=field)


def _validated(package: Package) -> None:
    """Model validation (fields, clean(), uniqueness, the check constraints) as a domain error."""
    try:
        package.full_clean()
    except DjangoValidationError as exc:
        errors = exc.message_dict
        field = next((name for name in errors if name != "__all__"), "__all__")
        raise ValidationFailed(errors[field][0], code="invalid", field=None if field == "__all__" else field) from exc


def _values(values: dict) -> dict:
    unknown = set(values) - set(PACKAGE_FIELDS)
    if unknown:
        raise TypeError(f"not package fields: {sorted(unknown)}")
    cleaned = dict(values)
    for field in ("data_service", "voice_service", "sms_service"):
        if field in cleaned and cleaned[field] is None:
            cleaned[field] = ""
    return cleaned


def package_create(*, actor: User | None, **values) -> Package:
    _require_definer(actor)
    package = Package(**_values(values))
    _validated(package)
    with transaction.atomic():
        package.save()
        audit_record(
            actor=actor,
            action="package.created",
            obj=package,
            data={
                "fields": sorted(values),
                "is_test_package": package.is_test_package,
                "test_period_days": package.test_period_days,
            },
        )
    return package


def package_update(*, actor: User | None, package: Package, **values) -> Package:
    _require_definer(actor)
    values = _values(values)
    with transaction.atomic():
        locked = Package.objects.select_for_update().get(pk=package.pk)
        package_check_in_use(package=locked, values=values)
        changed = sorted(field for field, value in values.items() if getattr(locked, field) != value)
        for field, value in values.items():
            setattr(locked, field, value)
        _validated(locked)
        locked.save()
        audit_record(
            actor=actor,
            action="package.changed",
            obj=locked,
            data={
                "fields": changed,
                "is_test_package": locked.is_test_package,
                "test_period_days": locked.test_period_days,
            },
        )
    return locked


__all__ = [
    "PACKAGE_FIELDS",
    "package_check_in_use",
    "package_create",
    "package_update",
]
