from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.pii import EncryptedTextField, mask_identifier
from cards.rules import CardFacts, Decision, ServiceLevel, evaluate, is_149_segment
from core.identity import PersonalIdType, mask_name
from core.storage import private_storage

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class ServiceLevelChoices(models.TextChoices):
    NONE = ServiceLevel.NONE.value, _("None")
    DIRECTED = ServiceLevel.DIRECTED.value, _("Directed")
    NON_DIRECTED = ServiceLevel.NON_DIRECTED.value, _("Non-directed")


# U4: a test package is a trial. The operator's ceiling on its test period.
TEST_PERIOD_MAX_DAYS = 180
_LEVELS = [level.value for level in ServiceLevel]


class Package(models.Model):
    """A package of the catalogue. An IoT test-card package (U4) also fixes the services of its
    cards and the length of their trial; ops define it (cards.inventory.packages)."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    is_test_package = models.BooleanField(_("IoT test-card package"), default=False)
    is_active = models.BooleanField(_("available"), default=True)
    test_period_days = models.PositiveSmallIntegerField(
        _("test period (days)"),
        null=True,
        blank=True,
        validators=[
            MinValueValidator(1, message=_("The test period is at least one day.")),
            MaxValueValidator(TEST_PERIOD_MAX_DAYS, message=_("The test period is at most 180 days (rule U4).")),
        ],
        help_text=_(
            "IoT test-card packages only: how long a card may stay on the package, at most 180 days, from the "
            "day it goes onto it. Then the card is suspended unless it moved to a commercial package. A change "
            "applies to cards that go onto the package afterwards."
        ),
    )
    data_service = models.CharField(
        _("data"),
        max_length=16,
        choices=ServiceLevelChoices.choices,
        blank=True,
        default="",
        help_text=_("IoT test-card packages only: the services every card on the package has."),
    )
    voice_service = models.CharField(
        _("voice"), max_length=16, choices=ServiceLevelChoices.choices, blank=True, default=""
    )
    sms_service = models.CharField(_("SMS"), max_length=16, choices=ServiceLevelChoices.choices, blank=True, default="")

    class Meta:
        ordering = ["code"]
        verbose_name = _("package")
        verbose_name_plural = _("packages")
        constraints = [
            models.CheckConstraint(
                name="package_test_period_bounded",
                condition=(
                    Q(is_test_package=False, test_period_days__isnull=True)
                    # isnull=False: a comparison with NULL is unknown, which a CHECK lets through.
                    | Q(
                        is_test_package=True,
                        test_period_days__isnull=False,
                        test_period_days__gte=1,
                        test_period_days__lte=TEST_PERIOD_MAX_DAYS,
                    )
                ),
                violation_error_message=_(
                    "An IoT test-card package has a test period of 1 to 180 days; other packages have none."
                ),
            ),
            models.CheckConstraint(
                name="package_test_services_fixed",
                condition=(
                    Q(is_test_package=False, data_service="", voice_service="", sms_service="")
                    | Q(
                        is_test_package=True,
                        data_service__in=_LEVELS,
                        voice_service__in=_LEVELS,
                        sms_service__in=_LEVELS,
                    )
                ),
                violation_error_message=_(
                    "An IoT test-card package defines its data, voice and SMS services; other packages do not."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def clean(self):
        # The same rules as the check constraints, but said on the field that is wrong.
        errors = {}
        if self.is_test_package:
            if self.test_period_days is None:
                errors["test_period_days"] = _("An IoT test-card package needs a test period, at most 180 days.")
            for field in ("data_service", "voice_service", "sms_service"):
                if not getattr(self, field):
                    errors[field] = _("An IoT test-card package defines this service for its cards.")
        else:
            if self.test_period_days is not None:
                errors["test_period_days"] = _("Only an IoT test-card package has a test period.")
            for field in ("data_service", "voice_service", "sms_service"):
                if getattr(self, field):
                    errors[field] = _("Only an IoT test-card package fixes the services of its cards.")
        if errors:
            raise ValidationError(errors)

    @property
    def test_levels(self) -> dict[str, str]:
        """The services a test package gives its cards, by Card field name."""
        return {"data_service": self.data_service, "voice_service": self.voice_service, "sms_service": self.sms_service}


class CardStatus(models.TextChoices):
    IN_STOCK = "in_stock", _("In stock")
    AWAITING_REALNAME = "awaiting_realname", _("Awaiting real-name")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    CANCELLED = "cancelled", _("Cancelled")


LIVE_CARD_STATUSES = [CardStatus.IN_STOCK, CardStatus.AWAITING_REALNAME, CardStatus.ACTIVE, CardStatus.SUSPENDED]


class RealnameState(models.TextChoices):
    """Where a card stands with its user's real-name (U5), whatever its status: the stored rule decision says
    none is needed, or it is needed and lacking (no live binding, no approved exemption of its owner naming
    it), or it is needed and covered. A card in stock or awaiting with "lacking" is exactly what
    cards.inventory.selectors.cards_lacking_realname finds; cards.inventory.tallies keeps it right."""

    NOT_REQUIRED = "not_required", _("Not required")
    LACKING = "lacking", _("Needed, lacking")
    COVERED = "covered", _("Needed, covered")


def card_scope_columns(enterprise: Any) -> dict[str, Any]:
    """What a new card copies from its enterprise for the scopes (Card.province, Card.in_sandbox): every
    writer of cards (card_create, the import, the bench loaders) sets these from here."""
    return {"province_id": enterprise.province_id, "in_sandbox": enterprise.sandbox_of_id is not None}


class Card(models.Model):
    iccid = models.CharField(_("ICCID"), max_length=20, unique=True)
    # Unique through the constraint card_msisdn_unique below, whose one index also serves the prefix search.
    msisdn = models.CharField(_("MSISDN"), max_length=13)
    imsi = models.CharField(_("IMSI"), max_length=15, blank=True)
    # No index of its own: the (enterprise, ...) indexes below serve every lookup by enterprise.
    enterprise = models.ForeignKey(
        "enterprises.Enterprise",
        verbose_name=_("enterprise"),
        on_delete=models.PROTECT,
        related_name="cards",
        db_index=False,
    )
    # Denormalised from the enterprise (issue 12 §1.4), so that a province's or the nation's card list is scoped
    # on the card's own row, with no join to enterprises (accounts.permissions.scope_filter, own_scope_columns).
    # Both are set when the card is made (cards.inventory.services.card_owner_columns) and never change: an
    # enterprise keeps its province (no service or form changes it) and its sandbox_of (set at creation).
    province = models.ForeignKey(
        "accounts.Province",
        verbose_name=_("province"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        editable=False,
    )
    in_sandbox = models.BooleanField(_("sandbox card"), default=False, db_default=False, editable=False)
    package = models.ForeignKey(Package, verbose_name=_("package"), on_delete=models.PROTECT, related_name="cards")
    data_service = models.CharField(
        _("data"), max_length=16, choices=ServiceLevelChoices.choices, default=ServiceLevel.NONE
    )
    voice_service = models.CharField(
        _("voice"), max_length=16, choices=ServiceLevelChoices.choices, default=ServiceLevel.NONE
    )
    sms_service = models.CharField(
        _("SMS"), max_length=16, choices=ServiceLevelChoices.choices, default=ServiceLevel.NONE
    )
    status = models.CharField(_("status"), max_length=20, choices=CardStatus.choices, default=CardStatus.IN_STOCK)
    # The rule decision as of the last change of package or services (kept for filtering lists).
    realname_required = models.BooleanField(_("needs user real-name"), default=False)
    realname_rules = models.CharField(_("rules that fired"), max_length=32, blank=True)
    exemption_needed = models.CharField(_("exemption approvable by"), max_length=24, blank=True)
    # Denormalised for the counters (CardTally); only cards.inventory.tallies sets it.
    realname_state = models.CharField(
        _("user real-name"),
        max_length=16,
        choices=RealnameState.choices,
        default=RealnameState.NOT_REQUIRED,
        db_default=RealnameState.NOT_REQUIRED,
        editable=False,
    )
    import_job = models.ForeignKey(
        "CardImport",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="cards",
        editable=False,
        verbose_name=_("import batch"),
    )
    # U4: what decides whether the card may go onto a test package (only in stock, never active,
    # never commercial), and its trial there. db_default: the import's COPY does not name every column.
    first_activated_at = models.DateTimeField(_("first activated at"), null=True, blank=True, editable=False)
    has_been_commercial = models.BooleanField(
        _("has been on a commercial package"), default=False, db_default=False, editable=False
    )
    test_period_started_at = models.DateTimeField(_("test period started at"), null=True, blank=True, editable=False)
    test_period_ends_at = models.DateTimeField(_("test period ends at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["iccid"]
        verbose_name = _("card")
        verbose_name_plural = _("cards")
        indexes = [
            models.Index(fields=["enterprise", "iccid"], name="card_enterprise_iccid"),
            models.Index(fields=["enterprise", "status", "iccid"], name="card_enterprise_status"),
            models.Index(fields=["enterprise", "package", "iccid"], name="card_enterprise_package"),
            # A province's card list in its keyset order (ICCID), on the card's own province: no join, no sort.
            # (No index on province alone: this one serves its foreign-key checks too.)
            models.Index(fields=["province", "iccid"], name="card_province_iccid"),
            # The beat task's look-up of trials that have ended; only test cards carry the date.
            models.Index(
                fields=["test_period_ends_at"],
                name="card_test_period_due",
                condition=Q(test_period_ends_at__isnull=False),
            ),
            # ICCID prefix search (LIKE 'prefix%') on PostgreSQL uses the varchar_pattern_ops index
            # Django creates for the unique `iccid` column itself (cards_card_iccid_..._like); the unique
            # index proper keeps serving ORDER BY iccid and the API's cursor, which a pattern index cannot.
        ]
        constraints = [
            # One index for the MSISDN, not two (unique=True made a unique index and a pattern index): nothing
            # orders by it, and varchar_pattern_ops serves both `=` and LIKE 'prefix%' in any collation
            # (issue 12 §1.6: 16 MB of 155 MB of the indexes at 300k cards). Other databases ignore opclasses.
            models.UniqueConstraint(fields=["msisdn"], name="card_msisdn_unique", opclasses=["varchar_pattern_ops"]),
        ]

    def __str__(self) -> str:
        return self.iccid

    @property
    def facts(self) -> CardFacts:
        return CardFacts(
            segment_149=is_149_segment(self.msisdn),
            data=ServiceLevel(self.data_service),
            voice=ServiceLevel(self.voice_service),
            sms=ServiceLevel(self.sms_service),
            test_package=self.package.is_test_package,
        )

    @property
    def realname_decision(self) -> Decision:
        return evaluate(self.facts)

    @property
    def is_149(self) -> bool:
        return is_149_segment(self.msisdn)

    def test_period_over(self, now=None) -> bool:
        """U4: the card is on a test package whose trial has ended."""
        return (
            self.package.is_test_package
            and self.test_period_ends_at is not None
            and self.test_period_ends_at <= (now or timezone.now())
        )


class CardTally(models.Model):
    """Counters of cards per (enterprise, status, real-name state), so that the home page and dashboards
    never count the cards themselves (issue 12 §1.3).

    A ledger, not one row per key: each change of a card's key inserts -1 for the old key and +1 for the
    new one, in the transaction that changes the card, and an import inserts its batch's counts. Nothing
    updates a row in place, so no transition waits on another's counter row (a big enterprise's "in
    stock, lacking" row would be hot), no two transactions lock counter rows in opposite orders, and a
    rolled-back savepoint takes its rows with it. The count of a key is the sum of its rows;
    cards.inventory.tallies.tallies_compact folds each key's rows into one (a beat task), and
    recount_cards rebuilds them from the cards.
    """

    enterprise = models.ForeignKey(
        "enterprises.Enterprise",
        verbose_name=_("enterprise"),
        on_delete=models.CASCADE,
        related_name="card_tallies",
        db_index=False,
    )
    status = models.CharField(_("status"), max_length=20, choices=CardStatus.choices)
    realname = models.CharField(_("user real-name"), max_length=16, choices=RealnameState.choices)
    count = models.BigIntegerField(_("count"))

    class Meta:
        verbose_name = _("card counter")
        verbose_name_plural = _("card counters")
        indexes = [models.Index(fields=["enterprise", "status", "realname"], name="card_tally_key")]

    def __str__(self) -> str:
        return f"{self.enterprise_id} {self.status} {self.realname}: {self.count:+d}"


class CardEvent(models.Model):
    """The history of a card: every state change and business action, and who did it."""

    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="events", verbose_name=_("card"))
    at = models.DateTimeField(_("time"), auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("acting user"),
    )
    action = models.CharField(_("action"), max_length=40)
    from_status = models.CharField(max_length=20, blank=True, verbose_name=_("previous status"))
    to_status = models.CharField(max_length=20, blank=True, verbose_name=_("new status"))
    order = models.ForeignKey(
        "Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("order")
    )
    data = models.JSONField(default=dict, blank=True, verbose_name=_("event data"))

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("card event")
        verbose_name_plural = _("card events")
        indexes = [
            models.Index(fields=["card", "-at"]),
            # The operations admin's list, newest first (the ordering above): without it a page sorted
            # every event (350 ms at 865k events, issue 12 §1.5).
            models.Index(fields=["-at", "-id"], name="cardevent_at_desc"),
        ]

    def __str__(self) -> str:
        return f"{self.action} → {self.to_status}" if self.to_status else self.action


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Importing")
    SUCCEEDED = "succeeded", _("Imported")
    FAILED = "failed", _("Refused: see the error report")


class CardImport(models.Model):
    """One uploaded card file. It is imported whole or not at all."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("reference"))
    enterprise = models.ForeignKey(
        "enterprises.Enterprise", verbose_name=_("enterprise"), on_delete=models.PROTECT, related_name="card_imports"
    )
    file = models.FileField(
        storage=private_storage, upload_to="card-imports/", max_length=200, verbose_name=_("stored file")
    )
    file_format = models.CharField(_("file format"), max_length=8)
    status = models.CharField(_("status"), max_length=16, choices=ImportStatus.choices, default=ImportStatus.PENDING)
    total_rows = models.PositiveIntegerField(_("rows in the file"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows checked"), default=0)
    imported_rows = models.PositiveIntegerField(_("cards imported"), default=0)
    error_count = models.PositiveIntegerField(_("errors"), default=0)
    # [{"row": 3, "column": "iccid", "code": "invalid_checksum", "message": "..."}], capped.
    errors = models.JSONField(default=list, blank=True, verbose_name=_("row errors"))
    failure_message = models.TextField(_("why it failed"), blank=True)
    # Null when a platform API key acted (no user; its audit events name the key).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # An actor that is no user (a platform API key) names itself here (its audit_data), so that the events the
    # worker writes for the import name it too.
    actor_data = models.JSONField(default=dict, blank=True, editable=False, verbose_name=_("actor (audit data)"))
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # When the import's task was last sent to the broker (core.queueing), and the task that took
    # it: a second message for the same import (sent again by the beat task) then finds it taken
    # and does nothing, while a redelivery of the taking message (its worker died) runs it again.
    queued_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("time queued"))
    task_id = models.CharField(max_length=64, blank=True, editable=False, verbose_name=_("background task id"))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("card import")
        verbose_name_plural = _("card imports")

    def __str__(self) -> str:
        return f"{self.file_format.upper()} {str(self.public_id)[:8]}"

    @property
    def progress_percent(self) -> int:
        if self.status == ImportStatus.SUCCEEDED:
            return 100
        if not self.total_rows:
            return 0
        return min(100, int(self.processed_rows * 100 / self.total_rows))


class Handler(models.Model):
    """The customer unit's person who handles an order (H1). Found again by the blind index."""

    enterprise = models.ForeignKey(
        "enterprises.Enterprise", verbose_name=_("enterprise"), on_delete=models.PROTECT, related_name="handlers"
    )
    name = models.CharField(_("name"), max_length=100)
    id_type = models.CharField(_("ID type"), max_length=32, choices=PersonalIdType.choices)
    id_number = EncryptedTextField(_("ID number"))
    id_number_index = models.CharField(max_length=64, editable=False, verbose_name=_("ID number blind index"))
    id_address = models.CharField(_("ID address"), max_length=255)
    created_at = models.DateTimeField(_("first recorded at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("handler")
        verbose_name_plural = _("handlers")
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "id_number_index"], name="handler_unique_per_enterprise")
        ]

    def __str__(self) -> str:
        # Masked: the admin's titles, breadcrumbs and history pages, and any log, show it so.
        return mask_name(self.name)

    @property
    def id_number_masked(self) -> str:
        return mask_identifier(self.id_number or "")


class Channel(models.TextChoices):
    """How a card user's real-name reached the portal (DESIGN.md C1-C3); recorded on the card user and in
    its audit event, and in the platform's events: the values are those issue 9 names (counter, self_service,
    platform); cards 0015 renamed the older internal and api."""

    COUNTER = "counter", _("C1: staff pages (account manager at the counter or on site)")
    SELF_SERVICE = "self_service", _("C2: self-service link on the card user's phone")
    PLATFORM = "platform", _("C3: REST API (customer platform)")


class BusinessType(models.TextChoices):
    NEW_INSTALLATION = "new_installation", _("New installation")
    OWNERSHIP_TRANSFER = "ownership_transfer", _("Ownership transfer")
    SUPPLEMENTARY_REGISTRATION = "supplementary_registration", _("Real-name supplementary registration")
    CARD_REPLACEMENT = "card_replacement", _("Card replacement")
    SERVICE_CHANGE = "service_change", _("Service or package change")
    SUSPEND_RESUME = "suspend_resume", _("Suspension / resumption")
    CANCELLATION = "cancellation", _("Cancellation")


SUSPEND, RESUME = "suspend", "resume"


@dataclass(frozen=True)
class Business:
    """What one business type is. The wizard, the order API and the H3 gate read only BUSINESSES
    (README, "How to add a business type"); what completing it does to a card is written in
    cards.orders.services.order_complete."""

    type: BusinessType
    # H3: the order waits for the handler's live photo to pass the face comparison.
    face_gated: bool
    # The card states the business may start from.
    card_statuses: frozenset[str]
    # The parameters it takes; anything else is refused, so a typo is never ignored.
    parameters: tuple[str, ...] = ()
    # A business with a choice of action (suspension / resumption): each action's card states.
    actions: Mapping[str, frozenset[str]] = dataclasses.field(default_factory=dict)
    # U5: a card may come out awaiting its user's real-name and go on under the same order later.
    awaits_realname: bool = False

    @property
    def label(self) -> StrOrPromise:
        return self.type.label


_LIVE = frozenset(LIVE_CARD_STATUSES)

BUSINESSES: dict[str, Business] = {
    business.type: business
    for business in (
        Business(
            BusinessType.NEW_INSTALLATION,
            face_gated=True,
            card_statuses=frozenset({CardStatus.IN_STOCK, CardStatus.AWAITING_REALNAME}),
            awaits_realname=True,
        ),
        Business(
            BusinessType.OWNERSHIP_TRANSFER,
            face_gated=True,
            card_statuses=_LIVE,
            parameters=("target_enterprise",),
            awaits_realname=True,
        ),
        Business(BusinessType.SUPPLEMENTARY_REGISTRATION, face_gated=True, card_statuses=_LIVE),
        Business(BusinessType.CARD_REPLACEMENT, face_gated=True, card_statuses=_LIVE, parameters=("new_iccids",)),
        Business(
            BusinessType.SERVICE_CHANGE,
            face_gated=False,
            card_statuses=_LIVE,
            parameters=("data", "voice", "sms", "package"),
        ),
        Business(
            BusinessType.SUSPEND_RESUME,
            face_gated=False,
            card_statuses=frozenset({CardStatus.ACTIVE, CardStatus.SUSPENDED}),
            parameters=("action",),
            actions={SUSPEND: frozenset({CardStatus.ACTIVE}), RESUME: frozenset({CardStatus.SUSPENDED})},
        ),
        Business(BusinessType.CANCELLATION, face_gated=False, card_statuses=_LIVE),
    )
}
# The order wizard's and the order API's choice of business, in the table's order.
BUSINESS_CHOICES = [(business.type.value, business.label) for business in BUSINESSES.values()]


def is_face_gated(business_type: str) -> bool:
    """H3: whether an order of this business waits for the handler's face comparison."""
    business = BUSINESSES.get(business_type)
    return business is not None and business.face_gated


class OrderStatus(models.TextChoices):
    AWAITING_VERIFICATION = "awaiting_verification", _("Awaiting the handler's face comparison")
    COMPLETED = "completed", _("Completed")
    REJECTED = "rejected", _("Rejected")


class Order(models.Model):
    """A business transaction on an enterprise's cards. Every order records its handler (H2)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("reference"))
    number = models.CharField(_("order number"), max_length=24, unique=True)
    enterprise = models.ForeignKey(
        "enterprises.Enterprise", verbose_name=_("enterprise"), on_delete=models.PROTECT, related_name="orders"
    )
    business_type = models.CharField(_("business type"), max_length=32, choices=BusinessType.choices)
    status = models.CharField(_("status"), max_length=24, choices=OrderStatus.choices)
    handler = models.ForeignKey(Handler, verbose_name=_("handler"), on_delete=models.PROTECT, related_name="orders")
    handler_id_photo = models.FileField(
        storage=private_storage, upload_to="orders/", max_length=200, verbose_name=_("handler's ID photo")
    )
    handler_live_photo = models.FileField(
        storage=private_storage, upload_to="orders/", max_length=200, blank=True, verbose_name=_("handler's live photo")
    )
    cards: models.ManyToManyField[Card, OrderCard] = models.ManyToManyField(
        Card, through="OrderCard", related_name="orders", verbose_name=_("cards")
    )
    # Parameters of the business, e.g. {"target_enterprise": uuid} or {"package": code}.
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)
    rejection_reason = models.TextField(_("why it was rejected"), blank=True)
    # Null when a platform API key acted (no user; its audit events name the key).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("filed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("filed at"), auto_now_add=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        # The list's keyset order (core.keyset), within an enterprise and across a province's (as card users).
        indexes = [
            models.Index(fields=["enterprise", "-created_at", "-id"], name="order_ent_created"),
            models.Index(fields=["-created_at", "-id"], name="order_created"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_face_gated(self) -> bool:
        return is_face_gated(self.business_type)


class OrderCard(models.Model):
    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE)
    card = models.ForeignKey(Card, verbose_name=_("card"), on_delete=models.PROTECT)
    # Card replacement: the ICCID the card had before.
    previous_iccid = models.CharField(_("previous ICCID"), max_length=20, blank=True)
    new_iccid = models.CharField(_("new ICCID"), max_length=20, blank=True)
    # What completing the order did to this card, e.g. "activated" or "awaiting_realname"
    # (a new installation whose card still needs its user's real-name, U5).
    outcome = models.CharField(_("outcome"), max_length=32, blank=True)
    outcome_detail = models.JSONField(default=dict, blank=True, verbose_name=_("outcome details"))

    class Meta:
        verbose_name = _("card of the order")
        verbose_name_plural = _("cards of the order")
        constraints = [models.UniqueConstraint(fields=["order", "card"], name="order_card_unique")]

    def __str__(self) -> str:
        return self.card.iccid


class RegistrationStatus(models.TextChoices):
    """Where one card-user registration stands (U5, U6); only cards.card_users sets it.

    The face comparison's status says whether the person matched their ID; this says what came of
    the registration, a passed comparison that bound no card included. Self-service (C2) shows
    submitted, in_review, registered, needs_new_photo, and "refused" for the last three, with
    their reason.
    """

    SUBMITTED = "submitted", _("Submitted: the photos are being compared")
    IN_REVIEW = "in_review", _("In review: awaiting a reviewer")
    REGISTERED = "registered", _("Registered: the cards are bound to this user")
    NEEDS_NEW_PHOTO = "needs_new_photo", _("Needs a new photo")
    DECLINED = "declined", _("Refused: the reviewer declined the face comparison")
    NOT_BOUND_CARD_LIMIT = "not_bound_card_limit", _("Verified, but not bound: one ID, five cards")
    NOT_BOUND = "not_bound", _("Verified, but not bound: a card is no longer available")
    # Issue 11 §1.2: at the counter, a clear mismatch waits for a retake or the manager's hand-off to review.
    FACE_MISMATCH = "face_mismatch", _("The photos do not match: retake the live photo or send it to a reviewer")


FINAL_REGISTRATION_STATUSES = frozenset(
    {
        RegistrationStatus.REGISTERED,
        RegistrationStatus.NEEDS_NEW_PHOTO,
        RegistrationStatus.DECLINED,
        RegistrationStatus.NOT_BOUND_CARD_LIMIT,
        RegistrationStatus.NOT_BOUND,
    }
)


class CardUser(models.Model):
    """A card user's identity as registered for real-name (U5), with consent to biometrics.

    One row per registration: registering the same ID again makes another row, with its own enterprise,
    photos and consent. One ID number is one person (issue 11 §1.3): every row of one blind index carries the
    same name (cards.card_users.services.check_one_id_one_person refuses another), and the rows are that
    person's registrations, gathered by the per-person page (cards:card_user_person).
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("reference"))
    enterprise = models.ForeignKey(
        "enterprises.Enterprise", on_delete=models.PROTECT, related_name="card_users", verbose_name=_("enterprise")
    )
    name = models.CharField(_("name"), max_length=100)
    id_type = models.CharField(_("ID type"), max_length=32, choices=PersonalIdType.choices)
    id_number = EncryptedTextField(_("ID number"))
    id_number_index = models.CharField(
        max_length=64, db_index=True, editable=False, verbose_name=_("ID number blind index")
    )
    id_photo = models.FileField(
        storage=private_storage, upload_to="card-users/", max_length=200, verbose_name=_("ID photo")
    )
    live_photo = models.FileField(
        storage=private_storage, upload_to="card-users/", max_length=200, verbose_name=_("live photo")
    )
    biometric_consent_at = models.DateTimeField(_("consent to biometric processing given at"))
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, default=Channel.COUNTER)
    registration_status = models.CharField(
        _("registration status"),
        max_length=24,
        choices=RegistrationStatus.choices,
        default=RegistrationStatus.SUBMITTED,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("time created"))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("card user")
        verbose_name_plural = _("card users")
        # The list's keyset order (core.keyset; issue 12 §1.1): within one enterprise (its admin), and across
        # a province's or the nation's, where the scope is a join and the walk filters it (no sort either way).
        indexes = [
            models.Index(fields=["enterprise", "-created_at", "-id"], name="card_user_ent_created"),
            models.Index(fields=["-created_at", "-id"], name="card_user_created"),
        ]

    def __str__(self) -> str:
        # Masked: the admin's titles, breadcrumbs and history pages, and any log, show it so.
        return mask_name(self.name)

    @property
    def id_number_masked(self) -> str:
        return mask_identifier(self.id_number or "")


class IdentitySlotLock(models.Model):
    """One row per ID document: bind transactions lock it to serialise the U6 count."""

    id_number_index = models.CharField(max_length=64, primary_key=True, verbose_name=_("ID number blind index"))

    class Meta:
        verbose_name = _("ID slot lock")
        verbose_name_plural = _("ID slot locks")

    def __str__(self) -> str:
        # The blind index names no one; its head is enough to tell rows apart.
        return self.id_number_index[:12]


class CardBinding(models.Model):
    """A card bound to its registered user. A live binding has no `ended_at` (U6 counts these)."""

    card = models.ForeignKey(Card, on_delete=models.PROTECT, related_name="bindings", verbose_name=_("card"))
    card_user = models.ForeignKey(
        CardUser, on_delete=models.PROTECT, related_name="bindings", verbose_name=_("card user")
    )
    id_number_index = models.CharField(
        max_length=64, db_index=True, editable=False, verbose_name=_("ID number blind index")
    )
    bound_at = models.DateTimeField(auto_now_add=True, verbose_name=_("time bound"))
    ended_at = models.DateTimeField(null=True, blank=True, verbose_name=_("time ended"))
    end_reason = models.CharField(max_length=32, blank=True, verbose_name=_("why it ended"))

    class Meta:
        verbose_name = _("card binding")
        verbose_name_plural = _("card bindings")
        constraints = [
            models.UniqueConstraint(
                fields=["card"], condition=Q(ended_at__isnull=True), name="card_binding_one_live_per_card"
            )
        ]
        indexes = [
            models.Index(fields=["id_number_index"], condition=Q(ended_at__isnull=True), name="binding_live_idx")
        ]

    def __str__(self) -> str:
        return self.card.iccid


# --- self-service links (C2, issue 9 §1) ------------------------------------------

SELF_SERVICE_LINK_DEFAULT_DAYS = 7
SELF_SERVICE_LINK_MAX_DAYS = 30


class SelfServiceLinkStatus(models.TextChoices):
    ACTIVE = "active", pgettext_lazy("self-service link", "Active")
    REVOKED = "revoked", pgettext_lazy("self-service link", "Revoked")
    EXPIRED = "expired", pgettext_lazy("self-service link", "Expired")
    EXHAUSTED = "exhausted", pgettext_lazy("self-service link", "All uses taken")


class SelfServiceLinkKind(models.TextChoices):
    LINK = "link", pgettext_lazy("self-service link", "Link sent by the enterprise")
    # C1: the counter hands one person and one card set over to the phone (issue 9 §4).
    HANDOVER = "handover", pgettext_lazy("self-service link", "Counter handover to the phone")


class HandoverStatus(models.TextChoices):
    """Who completed a handover: one side only, by an atomic change from OPEN (cards.self_service.handover)."""

    OPEN = "open", pgettext_lazy("handover", "Open")
    PHONE = "phone", pgettext_lazy("handover", "Completed on the phone")
    COUNTER = "counter", pgettext_lazy("handover", "Taken back to the counter")


class SelfServiceLink(models.Model):
    """A link (and QR code) an enterprise sends its card users to register themselves (C2).

    Only a keyed hash of the token is stored (cards.self_service.tokens): a database dump yields no usable
    link, so the URL, its QR code and its poster can be shown only while the token is at hand (at creation,
    at a renewal that issues a new token, or on a request to the token's own path).
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("reference"))
    enterprise = models.ForeignKey(
        "enterprises.Enterprise",
        verbose_name=_("enterprise"),
        on_delete=models.PROTECT,
        related_name="self_service_links",
    )
    label = models.CharField(_("label"), max_length=100)
    # Without a list the link covers the enterprise's cards that await real-name, whichever they are then.
    cards = models.ManyToManyField(Card, verbose_name=_("cards"), blank=True, related_name="self_service_links")
    token_hash = models.CharField(max_length=64, unique=True, editable=False, verbose_name=_("token digest"))
    expires_at = models.DateTimeField(_("expires at"))
    max_uses = models.PositiveIntegerField(_("uses allowed"), validators=[MinValueValidator(1)])
    uses = models.PositiveIntegerField(_("uses"), default=0)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    kind = models.CharField(_("kind"), max_length=10, choices=SelfServiceLinkKind, default=SelfServiceLinkKind.LINK)
    # A handover only: who completed it, the phone's last step (never anything the person typed) and the
    # card user the phone registered.
    handover_status = models.CharField(_("handover"), max_length=10, choices=HandoverStatus, blank=True)
    progress = models.CharField(_("progress"), max_length=12, blank=True)
    # The code of the domain error that refused the phone's submit (e.g. card_limit_reached), so that the
    # desk does not wait on a handover the phone can no longer finish; never the message (it may mask an ID).
    refusal_code = models.CharField(_("refusal"), max_length=40, blank=True)
    card_user = models.ForeignKey(
        CardUser, verbose_name=_("card user"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("self-service link")
        verbose_name_plural = _("self-service links")

    def __str__(self) -> str:
        return self.label

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return SelfServiceLinkStatus.REVOKED
        if self.expires_at <= timezone.now():
            return SelfServiceLinkStatus.EXPIRED
        if self.uses >= self.max_uses:
            return SelfServiceLinkStatus.EXHAUSTED
        return SelfServiceLinkStatus.ACTIVE

    def get_status_display(self) -> StrOrPromise:
        return SelfServiceLinkStatus(self.status).label

    @property
    def is_active(self) -> bool:
        return self.status == SelfServiceLinkStatus.ACTIVE
