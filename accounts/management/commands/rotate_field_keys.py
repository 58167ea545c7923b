"""Re-encrypt every encrypted field under the primary key (DESIGN §3, key rotation).

How an operator rotates the field keys:

1. generate a key: ``python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"``;
2. put it first in ``FIELD_ENCRYPTION_KEYS`` (``new,old``) and restart every
   process, so new writes use it and old values stay readable;
3. run ``manage.py rotate_field_keys`` (``--dry-run`` first, to count and to
   check every value is readable); it re-encrypts the stored documents and
   photos too (core.storage), and encrypts any still in the clear;
4. remove the old key from ``FIELD_ENCRYPTION_KEYS`` and restart.

The stored tokens are read and written raw (the field's own conversion would
decrypt on read and encrypt again on write), and re-encrypted with
``accounts.pii.rotate_token``, which keeps the plaintext and the token's
timestamp. Each batch runs in one transaction with its rows locked, so a value
written concurrently is not overwritten with an older one.
"""

from __future__ import annotations

from cryptography.fernet import InvalidToken
from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import models, router, transaction
from django.db.models import ExpressionWrapper, F, Value

from accounts.pii import EncryptedTextField, rotate_token
from core.storage import PrivateFileUnreadable, reencrypt_private_files


def encrypted_fields_by_model() -> list[tuple[type[models.Model], list[EncryptedTextField]]]:
    """Every concrete model with its own (non-inherited) encrypted columns."""
    found = []
    for model in apps.get_models():
        opts = model._meta
        if opts.proxy or not opts.managed:
            continue
        fields = [f for f in opts.local_concrete_fields if isinstance(f, EncryptedTextField)]
        if fields:
            found.append((model, fields))
    return found


def _raw(field: models.Field) -> ExpressionWrapper:
    # A plain TextField output: the column's token, not decrypted.
    return ExpressionWrapper(F(field.attname), output_field=models.TextField())


class Command(BaseCommand):
    help = "Re-encrypt all encrypted fields under the first key in FIELD_ENCRYPTION_KEYS."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count and check the values, change nothing.")
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction (default 500).")

    def handle(self, *args, dry_run: bool = False, batch_size: int = 500, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        total = 0
        for model, fields in encrypted_fields_by_model():
            count = self._rotate_model(model, fields, dry_run=dry_run, batch_size=batch_size)
            total += count
            verb = "would rotate" if dry_run else "rotated"
            self.stdout.write(f"{model._meta.label}: {verb} {count} value(s)")
        verb = "Would rotate" if dry_run else "Rotated"
        self.stdout.write(self.style.SUCCESS(f"{verb} {total} value(s) in all."))
        try:
            files = reencrypt_private_files(rotate=True, dry_run=dry_run)
        except PrivateFileUnreadable as exc:
            raise CommandError(str(exc)) from exc
        if dry_run:
            self.stdout.write(
                f"private files: would rotate {files['rotated']}, would encrypt {files['encrypted']} plaintext file(s)"
            )
        else:
            self.stdout.write(
                f"private files: rotated {files['rotated']}, encrypted {files['encrypted']} plaintext file(s)"
            )

    def _rotate_model(self, model, fields, *, dry_run: bool, batch_size: int) -> int:
        manager = model._base_manager
        db = router.db_for_write(model)
        aliases = {f"_raw_{field.attname}": field for field in fields}
        rotated = 0
        last_pk = None
        while True:
            with transaction.atomic(using=db):
                rows = manager.using(db).select_for_update(of=("self",)).order_by("pk")
                if last_pk is not None:
                    rows = rows.filter(pk__gt=last_pk)
                batch = list(
                    rows.annotate(**{alias: _raw(field) for alias, field in aliases.items()}).values("pk", *aliases)[
                        :batch_size
                    ]
                )
                if not batch:
                    return rotated
                for row in batch:
                    updates = {}
                    for alias, field in aliases.items():
                        token = row[alias]
                        if not token:
                            continue
                        try:
                            new_token = rotate_token(token)
                        except InvalidToken as exc:
                            raise CommandError(
                                f"{model._meta.label}.{field.name} of pk={row['pk']} cannot be decrypted "
                                "with any key in FIELD_ENCRYPTION_KEYS"
                            ) from exc
                        # Value with a plain TextField: written as is, not encrypted again.
                        updates[field.attname] = Value(new_token, output_field=models.TextField())
                    if updates and not dry_run:
                        manager.using(db).filter(pk=row["pk"]).update(**updates)
                    rotated += len(updates)
                last_pk = batch[-1]["pk"]
