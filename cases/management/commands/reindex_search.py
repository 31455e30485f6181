"""Recomputes the search index (cases/search.py) of every case.

Run it after changing IDENTIFIER_HASH_KEY (the index is keyed by it: until the run ends, cases not
yet re-indexed are not found by name, number or reference) or to finish an interrupted run. Safe
while the service is up and to run again: unchanged rows are not written."""

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.services import reindex_search
from helpline.management.base import Command as LifelineCommand


class Command(LifelineCommand):
    help = gettext_lazy(
        "Recompute the search index (blind index of names, numbers, references) of every case."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size", type=int, default=500, help=gettext_lazy("Cases per transaction.")
        )

    def handle(self, *args, batch_size: int, **options):
        if batch_size < 1:
            # Translators: --batch-size is the option's name: keep it as it is.
            raise CommandError(_("--batch-size must be at least 1."))
        counts = reindex_search(batch_size=batch_size)
        self.stdout.write(
            _("done: %(reindexed)s cases re-indexed, %(unchanged)s unchanged")
            % {"reindexed": counts["reindexed"], "unchanged": counts["unchanged"]}
        )
