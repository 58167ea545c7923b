from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.storage import private_storage


class VerificationPurpose(models.TextChoices):
    HANDLER = "handler", _("Handler face comparison (H3)")
    CARD_USER = "card_user", _("Card-user real-name (U5)")


class VerificationOutcome(models.TextChoices):
    """What the engine concluded."""

    PASS = "pass", _("Match")
    REVIEW = "review", _("Borderline: manual review")
    FAIL = "fail", _("No match")
    REJECTED = "rejected", _("Photo unusable")


class VerificationStatus(models.TextChoices):
    """Where the record is in its life; only PASSED and APPROVED open the gate."""

    PENDING = "pending", _("Comparing")
    PASSED = "passed", _("Passed")
    IN_REVIEW = "in_review", _("Awaiting manual review")
    APPROVED = "approved", _("Approved by a reviewer")
    DECLINED = "declined", _("Declined by a reviewer")
    REJECTED = "rejected", _("Photo unusable: take it again")
    # Issue 11 §1.2: a clear mismatch at the counter waits for a retake while the person is there, or for the
    # account manager to send it to a reviewer; after FACE_RETAKE_LIMIT retakes it goes to one by itself.
    MISMATCH = "mismatch", _("The photos do not match: retake the live photo")


class LivenessSource(models.TextChoices):
    """How the live photo came (issue 9 §3): "" for a staff photo without a capture check."""

    PASS = "pass", _("Live capture: liveness passed")
    FAIL = "fail", _("Live capture: liveness failed too often (session locked)")
    INCONCLUSIVE = "inconclusive", _("Live capture: liveness inconclusive")
    FALLBACK = "fallback", _("One photo from the file input: presence not checked")


# Liveness results a reviewer must look at with the frames (never auto-approved).
LIVENESS_FOR_REVIEW = frozenset({LivenessSource.FAIL, LivenessSource.INCONCLUSIVE, LivenessSource.FALLBACK})


GATE_OPEN_STATUSES = frozenset({VerificationStatus.PASSED, VerificationStatus.APPROVED})


class Verification(models.Model):
    """One person-versus-document face comparison (人证比对): an ID photo against a live photo."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("reference"))
    purpose = models.CharField(_("purpose"), max_length=16, choices=VerificationPurpose.choices)
    enterprise = models.ForeignKey(
        "enterprises.Enterprise", on_delete=models.PROTECT, related_name="verifications", verbose_name=_("enterprise")
    )
    order = models.ForeignKey(
        "cards.Order",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="verifications",
        verbose_name=_("order"),
    )
    card_user = models.ForeignKey(
        "cards.CardUser",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="verifications",
        verbose_name=_("card user"),
    )
    # The cards a card-user verification binds once it passes (U5, U6).
    cards = models.ManyToManyField("cards.Card", blank=True, related_name="verifications", verbose_name=_("cards"))
    id_photo = models.FileField(
        storage=private_storage, upload_to="verifications/", max_length=200, verbose_name=_("ID photo")
    )
    live_photo = models.FileField(
        storage=private_storage, upload_to="verifications/", max_length=200, verbose_name=_("live photo")
    )
    status = models.CharField(
        _("status"), max_length=16, choices=VerificationStatus.choices, default=VerificationStatus.PENDING
    )
    outcome = models.CharField(_("outcome"), max_length=16, choices=VerificationOutcome.choices, blank=True)
    distance = models.FloatField(_("distance"), null=True, blank=True)
    threshold_pass = models.FloatField(null=True, blank=True, verbose_name=_("pass threshold"))
    threshold_fail = models.FloatField(null=True, blank=True, verbose_name=_("fail threshold"))
    engine = models.CharField(max_length=32, blank=True, verbose_name=_("matching engine"))
    engine_version = models.CharField(max_length=32, blank=True, verbose_name=_("engine version"))
    timings_ms = models.JSONField(default=dict, blank=True, verbose_name=_("timings (ms)"))
    # [{"code": "no_face", "zh": "...", "en": "..."}]
    reasons = models.JSONField(default=list, blank=True, verbose_name=_("reason codes"))
    live_photo_phash = models.CharField(max_length=16, blank=True, verbose_name=_("perceptual hash of the live photo"))
    # The same hash as four indexed 16-bit bands, for the replay check (verification.matching).
    live_phash_band0 = models.PositiveIntegerField(null=True, blank=True, editable=False, verbose_name=_("hash band 1"))
    live_phash_band1 = models.PositiveIntegerField(null=True, blank=True, editable=False, verbose_name=_("hash band 2"))
    live_phash_band2 = models.PositiveIntegerField(null=True, blank=True, editable=False, verbose_name=_("hash band 3"))
    live_phash_band3 = models.PositiveIntegerField(null=True, blank=True, editable=False, verbose_name=_("hash band 4"))
    replay_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("reuses the live photo of"),
    )
    # Presence not proven by a live capture (a single photo from a file input, an inconclusive liveness
    # check): a passed comparison goes to a reviewer instead of opening the gate.
    review_required = models.BooleanField(default=False, editable=False, verbose_name=_("needs manual review"))
    liveness = models.CharField(
        _("liveness"), max_length=16, choices=LivenessSource.choices, blank=True, editable=False
    )
    # The capture's frames as one contact sheet (thumbnails side by side, in order), for the reviewer of a
    # capture that did not prove presence: one file, so one logged view, served like the two photos.
    liveness_frames = models.FileField(
        _("liveness frames"),
        storage=private_storage,
        upload_to="verifications/",
        max_length=200,
        blank=True,
        editable=False,
    )
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("number of attempts"))
    # Offered where the person stands at the counter (the staff page); other channels go to review at once.
    retake_offered = models.BooleanField(
        default=False, editable=False, verbose_name=_("retake offered on a clear mismatch")
    )
    retakes = models.PositiveSmallIntegerField(default=0, editable=False, verbose_name=_("live photo retakes"))
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    reviewed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("time reviewed"))
    review_comment = models.TextField(_("review comment"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("time created"))
    # When the comparison's task was last sent to the broker (core.queueing): the beat task
    # queues a record again that is still pending long after.
    queued_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("time queued"))
    completed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("time completed"))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("face verification")
        verbose_name_plural = _("face verifications")
        constraints = [
            models.CheckConstraint(
                name="verification_has_subject",
                condition=(Q(purpose="handler") & Q(order__isnull=False))
                | (Q(purpose="card_user") & Q(card_user__isnull=False)),
            )
        ]
        indexes = [
            models.Index(fields=["status", "enterprise"]),
            # The operations admin's list, newest first, by keyset (core.pagination): no sort of every comparison.
            models.Index(fields=["-created_at", "-id"], name="verification_created"),
            # The face-review queue, oldest first (approvals.selectors.review_queue): partial, as the
            # comparisons awaiting review are few among all ever made, so a page walks only them and stops at
            # its rows. completed_at and enterprise_id ride along: the dashboard's ages of the queue are
            # counted from the index alone.
            models.Index(
                fields=["created_at", "id"],
                include=["completed_at", "enterprise_id"],
                condition=Q(status="in_review"),
                name="verification_review_queue",
            ),
            *(
                models.Index(fields=[f"live_phash_band{band}"], name=f"verification_phash_band{band}")
                for band in range(4)
            ),
        ]

    def __str__(self) -> str:
        return str(self.public_id)[:8]

    @property
    def gate_open(self) -> bool:
        return self.status in GATE_OPEN_STATUSES


class VerificationTally(models.Model):
    """Counters of the completed comparisons per (enterprise, week, outcome), so that the dashboard's
    face-match rates never count the comparisons themselves (issue 12 §1.3).

    `week` is the Monday, in the portal's time zone, of the week the comparison completed in. A ledger as
    cards.models.CardTally is (core.ledger): recording a result inserts +1 for its key and a retake that
    clears it -1, in the transaction that changes the comparison; verification.tallies folds the rows
    (each minute) and rebuilds them from the comparisons (daily).
    """

    enterprise = models.ForeignKey(
        "enterprises.Enterprise",
        verbose_name=_("enterprise"),
        on_delete=models.CASCADE,
        related_name="verification_tallies",
        db_index=False,
    )
    week = models.DateField(_("week"))
    outcome = models.CharField(_("outcome"), max_length=16, choices=VerificationOutcome.choices)
    count = models.BigIntegerField(_("count"))

    class Meta:
        verbose_name = _("face comparison counter")
        verbose_name_plural = _("face comparison counters")
        indexes = [
            models.Index(fields=["enterprise", "week", "outcome"], name="verification_tally_key"),
            # A province's or the nation's weeks: the weeks shown, not every week ever counted.
            models.Index(fields=["week"], name="verification_tally_week"),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise_id} {self.week} {self.outcome}: {self.count:+d}"
