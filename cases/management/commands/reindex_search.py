"""Recomputes the search index (cases/search.py) of every case.

Run it after changing IDENTIFIER_HASH_KEY (the index is keyed by it: until the run ends, cases not
yet re-indexed are not found by name, number or reference) or to finish an interrupted run. Safe
while the service is up and to run again: unchanged rows are not written."""

from django.core.management.base import BaseCommand, CommandError

from cases.services import reindex_search


class Command(BaseCommand):
    help = "Recompute the search index (blind index of names, numbers, references) of every case."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="Cases per transaction.")

    def handle(self, *args, batch_size: int, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        counts = reindex_search(batch_size=batch_size)
        self.stdout.write(f"done: {counts['reindexed']} cases re-indexed, {counts['unchanged']} unchanged")
