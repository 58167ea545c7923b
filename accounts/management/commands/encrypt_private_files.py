"""Encrypt the documents and photos that a version before encryption at rest stored in the clear.

Safe to repeat: encrypted files are only checked (every one must open with a key
in FIELD_ENCRYPTION_KEYS) and left as they are. `make migrate` runs it after the
migrations; in a deployment run it once after the upgrade, after `migrate`.
Until then the plaintext files still open (core.storage). To re-encrypt the
encrypted files under a new key, use `rotate_field_keys`.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core.storage import PrivateFileUnreadable, reencrypt_private_files


class Command(BaseCommand):
    help = "Encrypt private files still stored in the clear (documents, photos, approval forms, card files)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count and check the files, change nothing.")

    def handle(self, *args, dry_run: bool = False, **options):
        try:
            counts = reencrypt_private_files(rotate=False, dry_run=dry_run)
        except PrivateFileUnreadable as exc:
            raise CommandError(str(exc)) from exc
        verb = "would encrypt" if dry_run else "encrypted"
        self.stdout.write(
            self.style.SUCCESS(
                f"Private files: {verb} {counts['encrypted']} plaintext file(s); {counts['checked']} already encrypted."
            )
        )
