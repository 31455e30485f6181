"""This node's spool of inbound webhooks (channels_sms.spool; docs/spool.md): what waits, what was
held aside, and a drain by hand. It prints headers only (kind, arrival time, our number): the
requests themselves stay encrypted."""

from django.core.management.base import CommandError
from django.db import DatabaseError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from channels_sms import spool
from channels_sms.spool_drain import spool_drain
from helpline.management.base import Command as LifelineCommand


class Command(LifelineCommand):
    help = gettext_lazy(
        "Show this node's spool of inbound webhooks (status, list, held) or drain it now (drain)."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["status", "list", "held", "drain"])
        parser.add_argument(
            "--limit", type=int, default=None, help=gettext_lazy("drain or list at most this many")
        )

    def handle(self, *args, action: str, limit: int | None = None, **options):
        if action == "drain":
            return self._drain(limit)
        if action == "held":
            return self._list(spool.held_paths(), limit, held=True)
        if action == "list":
            return self._list(spool.entry_paths(), limit, held=False)
        figures = spool.counted(fresh=True)
        refusing = spool.refusal(figures)
        values = {
            "directory": spool.directory(),
            "pending": figures.pending,
            "size": figures.size,
            "oldest": f"{spool.oldest_seconds(figures):.0f}",
            "held": len(spool.held_paths()),
            "limit": refusing,
        }
        if refusing:
            # Translators: %(directory)s is a path; %(oldest)s is in seconds; %(limit)s is the limit's
            # code (messages, bytes, age): keep it as it is.
            text = _(
                "spool %(directory)s: %(pending)s waiting, %(size)s bytes, oldest %(oldest)s s, "
                "%(held)s held aside; REFUSING (%(limit)s limit)"
            )
        else:
            # Translators: %(directory)s is a path; %(oldest)s is in seconds.
            text = _(
                "spool %(directory)s: %(pending)s waiting, %(size)s bytes, oldest %(oldest)s s, "
                "%(held)s held aside; taking requests"
            )
        self.stdout.write(text % values)

    def _list(self, paths, limit, *, held: bool) -> None:
        for path in paths[:limit]:
            try:
                header = spool.header_of(path)
            except (OSError, ValueError) as exc:
                self.stdout.write(
                    # Translators: %(name)s is a file's name; %(error)s the name of the error (OSError).
                    _("%(name)s  unreadable (%(error)s)") % {"name": path.name, "error": type(exc).__name__}
                )
                continue
            kind, received_at, to = header.get("kind"), header.get("received_at"), header.get("to")
            self.stdout.write(
                # Translators: %(name)s is a file's name; %(kind)s the request's kind (sms, voice...);
                # %(to)s our number.
                _("%(name)s  %(kind)s  %(received_at)s  to %(to)s")
                % {"name": path.name, "kind": kind, "received_at": received_at, "to": to}
            )
        count = len(paths)
        # English says the same for any number; a language with plural forms chooses its own.
        if held:
            text = ngettext("%(count)s held aside.", "%(count)s held aside.", count)
        else:
            text = ngettext("%(count)s waiting.", "%(count)s waiting.", count)
        self.stdout.write(text % {"count": count})

    def _drain(self, limit: int | None) -> None:
        try:
            result = spool_drain(limit=limit)
        except DatabaseError as exc:
            # Translators: %(error)s is the name of the error (OperationalError).
            unavailable = _("The database is not available (%(error)s); nothing drained.") % {
                "error": type(exc).__name__
            }
            raise CommandError(unavailable) from exc
        if result is None:
            raise CommandError(_("Another process is draining this spool now; try again in a moment."))
        values = {
            "stored": result.stored,
            "already_stored": result.already_stored,
            "refused": result.refused,
            "held": len(result.held),
            "seconds": f"{result.seconds:.1f}",
        }
        if result.interrupted:
            text = _(
                "%(stored)s stored, %(already_stored)s stored before, %(refused)s refused (held aside too), "
                "%(held)s held aside, in %(seconds)s s; the database went away again, the rest waits"
            )
        else:
            text = _(
                "%(stored)s stored, %(already_stored)s stored before, %(refused)s refused (held aside too), "
                "%(held)s held aside, in %(seconds)s s"
            )
        self.stdout.write(text % values)
        if result.interrupted:
            raise CommandError(_("Interrupted: the database is not available."))
