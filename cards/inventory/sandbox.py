"""What a sandbox enterprise holds of cards (issue 10 §5): its seeded cards, its magic ID numbers, its reset.

A real enterprise's test keys (rnk_test_) act on its sandbox (enterprises.sandbox). There:

- **Cards.** 20 cards are seeded when the sandbox is created and again on every reset: ICCID
  `898699` + the sandbox's number in 10 digits + `01`..`20` + a Luhn digit, MSISDN `19999` + the sandbox's
  number in 6 digits + `01`..`20`, in stock, on the package SANDBOX-IOT (not offered to real cards). A test key
  lists them with GET /api/v1/cards/.
- **Outcomes, by ID number** (resident ID numbers with valid check digits; no real face matching runs, the
  photos are stored but never compared):

  | ID number            | outcome                                                                  |
  |----------------------|--------------------------------------------------------------------------|
  | `110101199001010015` | registered: the comparison passes and the cards are bound                |
  | `110101199001010023` | in_review: the comparison waits for a reviewer, for good                 |
  | `110101199001010031` | refused at once: one ID, five cards (`card_limit_reached`)               |
  | `11010119900101004X` | refused: face mismatch (the comparison is declined, reason face_mismatch)|
  | any other valid one  | registered                                                               |

- **One ID, five cards** counts a sandbox's own bindings only, and a real count never counts a sandbox's.
- **Reset** deletes the sandbox's card users and their bindings, orders and handlers, comparisons, imports,
  self-service links and cards with their events, and seeds the cards again (enterprises.sandbox.sandbox_reset,
  from the keys page or the operations admin).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.db import transaction
from stdnum import luhn

from accounts.pii import personal_id_index
from cards.inventory.services import card_create
from cards.inventory.tallies import tallies_forget_enterprise
from cards.models import (
    Card,
    CardBinding,
    CardImport,
    CardUser,
    Handler,
    Order,
    Package,
    SelfServiceLink,
)
from cards.rules import ServiceLevel
from cards.validation import sandbox_iccid_prefix, sandbox_msisdn_prefix
from enterprises.models import Enterprise
from verification.engine import FAIL, PASS, REVIEW
from verification.models import Verification
from verification.tallies import verification_tallies_forget_enterprise

SANDBOX_CARDS = 20
SANDBOX_PACKAGE_CODE = "SANDBOX-IOT"


class SandboxOutcome(StrEnum):
    REGISTERED = "registered"
    IN_REVIEW = "in_review"
    CARD_LIMIT = "refused_card_limit"
    FACE_MISMATCH = "refused_face_mismatch"


MAGIC_ID_NUMBERS: dict[str, SandboxOutcome] = {
    "110101199001010015": SandboxOutcome.REGISTERED,
    "110101199001010023": SandboxOutcome.IN_REVIEW,
    "110101199001010031": SandboxOutcome.CARD_LIMIT,
    "11010119900101004X": SandboxOutcome.FACE_MISMATCH,
}
ENGINE_OUTCOMES = {
    SandboxOutcome.REGISTERED: PASS,
    SandboxOutcome.IN_REVIEW: REVIEW,
    SandboxOutcome.FACE_MISMATCH: FAIL,
    # Refused before any comparison; should one run all the same, the bind refuses it.
    SandboxOutcome.CARD_LIMIT: PASS,
}


def is_sandbox(enterprise: Any) -> bool:
    return getattr(enterprise, "sandbox_of_id", None) is not None


def outcome_for(id_number: str) -> SandboxOutcome:
    return MAGIC_ID_NUMBERS.get((id_number or "").upper(), SandboxOutcome.REGISTERED)


def _magic_index(outcome: SandboxOutcome) -> str:
    number = next(number for number, value in MAGIC_ID_NUMBERS.items() if value == outcome)
    return personal_id_index("resident_id", number)


def sandbox_live_card_count(enterprise: Enterprise, id_number_index: str, limit: int) -> int:
    """U6 in a sandbox: its own bindings only, and the card-limit number holds the limit already."""
    if id_number_index == _magic_index(SandboxOutcome.CARD_LIMIT):
        return limit
    return CardBinding.objects.filter(
        id_number_index=id_number_index, ended_at__isnull=True, card__enterprise=enterprise
    ).count()


def engine_outcome(*, verification: Verification) -> str:
    """Receiver of verification.hooks.sandbox_outcome: the sandbox engine's outcome for this comparison."""
    card_user = CardUser.objects.filter(pk=verification.card_user_id).first() if verification.card_user_id else None
    if card_user is None:  # a handler's comparison (an order): it passes
        return PASS
    return ENGINE_OUTCOMES[outcome_for(card_user.id_number)]


def sandbox_iccid(sandbox: Enterprise, n: int) -> str:
    body = f"{sandbox_iccid_prefix(sandbox.pk)}{n:02d}"
    return body + luhn.calc_check_digit(body)


def sandbox_msisdn(sandbox: Enterprise, n: int) -> str:
    return f"{sandbox_msisdn_prefix(sandbox.pk)}{n:02d}"


def _package() -> Package:
    package, _created = Package.objects.get_or_create(
        code=SANDBOX_PACKAGE_CODE,
        defaults={"name": "沙箱物联网套餐 Sandbox IoT", "is_test_package": False, "is_active": False},
    )
    return package


def seed_cards(*, sandbox: Enterprise) -> list[Card]:
    """Receiver of enterprises.hooks.sandbox_created: the sandbox's 20 cards, those it lacks created."""
    if not is_sandbox(sandbox):
        return []
    package = _package()
    have = set(Card.objects.filter(enterprise=sandbox).values_list("iccid", flat=True))
    return [
        card_create(
            actor=None,
            enterprise=sandbox,
            iccid=sandbox_iccid(sandbox, n),
            msisdn=sandbox_msisdn(sandbox, n),
            package=package,
            data=ServiceLevel.NON_DIRECTED.value,
        )
        for n in range(1, SANDBOX_CARDS + 1)
        if sandbox_iccid(sandbox, n) not in have
    ]


def _files_of(rows, *fields: str) -> list[tuple[Any, str]]:
    return [(getattr(row, f).storage, getattr(row, f).name) for row in rows for f in fields if getattr(row, f).name]


def _delete_files_after_commit(files: list[tuple[Any, str]]) -> None:
    def delete() -> None:
        for storage, name in files:
            try:
                storage.delete(name)
            except OSError:  # a file already gone, or storage briefly away: the rows are gone either way
                pass

    transaction.on_commit(delete)


def wipe(*, sandbox: Enterprise) -> None:
    """Receiver of enterprises.hooks.sandbox_reset: every card record of the sandbox, in FK order."""
    if not is_sandbox(sandbox):
        return
    verifications = Verification.objects.filter(enterprise=sandbox)
    card_users = CardUser.objects.filter(enterprise=sandbox)
    orders = Order.objects.filter(enterprise=sandbox)
    imports = CardImport.objects.filter(enterprise=sandbox)
    files = (
        _files_of(verifications, "id_photo", "live_photo")
        + _files_of(card_users, "id_photo", "live_photo")
        + _files_of(orders, "handler_id_photo", "handler_live_photo")
        + _files_of(imports, "file")
    )
    verifications.delete()
    CardBinding.objects.filter(card__enterprise=sandbox).delete()
    CardBinding.objects.filter(card_user__enterprise=sandbox).delete()
    SelfServiceLink.objects.filter(enterprise=sandbox).delete()
    orders.delete()
    card_users.delete()
    Handler.objects.filter(enterprise=sandbox).delete()
    imports.delete()
    Card.objects.filter(enterprise=sandbox).delete()
    tallies_forget_enterprise(sandbox.pk)
    verification_tallies_forget_enterprise(sandbox.pk)
    _delete_files_after_commit(files)


__all__ = [
    "MAGIC_ID_NUMBERS",
    "SANDBOX_CARDS",
    "SandboxOutcome",
    "engine_outcome",
    "outcome_for",
    "sandbox_iccid",
    "sandbox_live_card_count",
    "sandbox_msisdn",
    "seed_cards",
    "wipe",
]
