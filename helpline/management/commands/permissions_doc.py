"""Writes docs/permissions.md from helpline/policy.py (the only source of the rules)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from helpline.policy import matrix_markdown

DOC = Path(settings.BASE_DIR) / "docs" / "permissions.md"


class Command(BaseCommand):
    help = "Regenerate docs/permissions.md from the access policy (--check: fail if it is out of date)."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Exit 1 if the file is not current.")

    def handle(self, *args, check=False, **options):
        text = matrix_markdown()
        if check:
            if not DOC.exists() or DOC.read_text() != text:
                self.stderr.write(f"{DOC} is out of date: run `python manage.py permissions_doc`.")
                raise SystemExit(1)
            self.stdout.write(f"{DOC} is current.")
            return
        DOC.write_text(text)
        self.stdout.write(f"Wrote {DOC}.")
