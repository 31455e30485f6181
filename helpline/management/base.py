"""What every command of ours shares: it speaks the language of the shell that runs it.

An administrator's terminal names its language the way every command-line program reads it
(gettext's `LANGUAGE`, then `LC_ALL`, `LC_MESSAGES`, `LANG`: `mn_MN.UTF-8` is Mongolian); the
first one this installation speaks is used, else English (issue #16)."""

import os

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import translation

from ..i18n import supported

ENVIRONMENT = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def shell_language(environ=os.environ) -> str:
    for name in ENVIRONMENT:
        # LANGUAGE is a list ("mn:en"); the others one locale ("es_MX.UTF-8", "C").
        for locale in environ.get(name, "").split(":"):
            code = locale.split(".")[0].split("@")[0].replace("_", "-")
            if code and code not in ("C", "POSIX") and (found := supported(code)):
                return found
    return settings.LANGUAGE_CODE


class Command(BaseCommand):
    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        if parser.description is not None:
            parser.description = str(parser.description)  # argparse formats str only, not lazy text
        return parser

    def print_help(self, prog_name, subcommand):  # `manage.py help <command>` comes this way
        with translation.override(shell_language()):
            return super().print_help(prog_name, subcommand)

    def run_from_argv(self, argv):  # from the shell: its --help too
        with translation.override(shell_language()):
            return super().run_from_argv(argv)

    def execute(self, *args, **options):  # also call_command's way in
        with translation.override(shell_language()):
            return super().execute(*args, **options)
