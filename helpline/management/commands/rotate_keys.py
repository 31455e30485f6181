"""Re-encrypts every encrypted column under the current (first) key of FIELD_ENCRYPTION_KEYS.

Rotation: put the new key first in FIELD_ENCRYPTION_KEYS (old keys after it) on every process,
run this, then drop the old key. Safe to run while the service is up and to run again."""

from django.core.management.base import CommandError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from helpline import crypto
from helpline.audit import audit_record
from helpline.management.base import Command as LifelineCommand
from helpline.vocabulary import AuditAction

# Triggers that would refuse the rotation's UPDATE statements, lifted for those statements only.
# Notes are append-only for people (a correction is a new note); re-encrypting a note under a
# new key changes its storage, not its content, so the rotation is the one writer allowed past.
LIFTED_TRIGGERS = {"cases.Note": ("cases.Note:note_append_only",)}


class Command(LifelineCommand):
    help = gettext_lazy(
        "Re-encrypt every encrypted column under the current (first) FIELD_ENCRYPTION_KEYS key."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help=gettext_lazy("Rows per transaction."))

    def handle(self, *args, batch_size: int, **options):
        if batch_size < 1:
            # Translators: --batch-size is the option's name: keep it as it is.
            raise CommandError(_("--batch-size must be at least 1."))
        counts: dict[str, dict[str, int]] = {}
        for model in crypto.encrypted_fields():
            try:
                found = crypto.rotate_model(
                    model, batch_size=batch_size, ignore_triggers=LIFTED_TRIGGERS.get(model._meta.label, ())
                )
            except crypto.DecryptionError as exc:
                raise CommandError(str(exc)) from None
            for column, column_counts in found.items():
                self.stdout.write(
                    # Translators: %(column)s names a column (cases.Case.child_location): keep it as it is.
                    _("%(column)s: %(rotated)s re-encrypted, %(current)s already under the current key")
                    % {
                        "column": column,
                        "rotated": column_counts["rotated"],
                        "current": column_counts["already_current"],
                    }
                )
            counts.update(found)
        rotated = sum(c["rotated"] for c in counts.values())
        current = sum(c["already_current"] for c in counts.values())
        with transaction.atomic():
            audit_record(
                actor=None,
                action=AuditAction.CRYPTO_ROTATE_KEYS,
                object_type="crypto",
                extra={"rotated": rotated, "already_current": current, "columns": counts},
            )
        self.stdout.write(
            _("done: %(rotated)s values re-encrypted, %(current)s already under the current key")
            % {"rotated": rotated, "current": current}
        )
