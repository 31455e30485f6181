"""Writes docs/permissions.md from helpline/policy.py (the only source of the rules)."""

from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from helpline.management.base import Command as LifelineCommand
from helpline.policy import matrix_markdown

DOC = Path(settings.BASE_DIR) / "docs" / "permissions.md"


class Command(LifelineCommand):
    help = gettext_lazy(
        "Regenerate docs/permissions.md from the access policy (--check: fail if it is out of date)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help=gettext_lazy("Exit 1 if the file is not current.")
        )

    def handle(self, *args, check=False, **options):
        text = matrix_markdown()
        if check:
            if not DOC.exists() or DOC.read_text() != text:
                self.stderr.write(
                    # Translators: %(path)s is a file's path; keep the command between backquotes as it is.
                    _("%(path)s is out of date: run `python manage.py permissions_doc`.") % {"path": DOC}
                )
                raise SystemExit(1)
            self.stdout.write(_("%(path)s is current.") % {"path": DOC})
            return
        DOC.write_text(text)
        self.stdout.write(_("Wrote %(path)s.") % {"path": DOC})
