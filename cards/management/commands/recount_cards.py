"""Rebuild the card counters from the cards: `manage.py recount_cards` (the daily beat task runs the same).

It repairs each card's stored real-name state, replaces the counters in one transaction, and prints what
had drifted: per (enterprise id, status, real-name state), the cards counted minus the counters' figure.
Exit status 0 either way; `--check` makes a drift exit 1 (for monitoring).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from cards.inventory.tallies import tallies_recount


class Command(BaseCommand):
    help = "Rebuild the card counters (CardTally) from the cards and report any drift."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="exit with status 1 when anything had drifted")

    def handle(self, *args, check: bool = False, **options):
        result = tallies_recount()
        self.stdout.write(f"cards with a wrong real-name state, repaired: {result.cards_repaired}")
        if not result.drift:
            self.stdout.write("counters: no drift")
        for (enterprise_id, status, realname), delta in result.drift.items():
            self.stdout.write(f"enterprise {enterprise_id} {status} {realname}: {delta:+d}")
        if check and not result.clean:
            raise CommandError("the card counters had drifted (rebuilt now)")
