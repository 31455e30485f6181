"""Recount the reports' roll-ups from the raw tables (after a restore), or check them against a
recount (`--check`: first take in the changes waiting, then exit 1 naming what differs)."""

from django.core.management.base import BaseCommand, CommandError

from reports import rollups


class Command(BaseCommand):
    help = "Recount the reports' roll-ups from the raw contacts (all helplines, or those named)."

    def add_arguments(self, parser):
        parser.add_argument("--helpline", type=int, action="append", help="a helpline's id (repeatable)")
        parser.add_argument(
            "--check",
            action="store_true",
            help="take in the changes waiting (as the beat task does), then compare with a recount",
        )

    def handle(self, *args, helpline=None, check=False, **options):
        if check:
            while rollups.rollups_refresh(wait=True):
                pass
            differences = rollups.rollups_differences(helpline_ids=helpline)
            for difference in differences[:50]:
                self.stdout.write(f"{difference[0]}: {difference[1:]}")
            if differences:
                raise CommandError(f"{len(differences)} roll-up rows differ from a recount.")
            self.stdout.write("The roll-ups equal a recount.")
            return
        written = rollups.rollups_rebuild(helpline_ids=helpline)
        self.stdout.write(f"Recounted: {written} roll-up rows.")
