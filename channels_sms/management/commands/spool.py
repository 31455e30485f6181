"""This node's spool of inbound webhooks (channels_sms.spool; docs/spool.md): what waits, what was
held aside, and a drain by hand. It prints headers only (kind, arrival time, our number): the
requests themselves stay encrypted."""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from channels_sms import spool
from channels_sms.spool_drain import spool_drain


class Command(BaseCommand):
    help = "Show this node's spool of inbound webhooks (status, list, held) or drain it now (drain)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["status", "list", "held", "drain"])
        parser.add_argument("--limit", type=int, default=None, help="drain or list at most this many")

    def handle(self, *args, action: str, limit: int | None = None, **options):
        if action == "drain":
            return self._drain(limit)
        if action == "held":
            return self._list(spool.held_paths(), limit, "held aside")
        if action == "list":
            return self._list(spool.entry_paths(), limit, "waiting")
        figures = spool.counted(fresh=True)
        refusing = spool.refusal(figures)
        self.stdout.write(
            f"spool {spool.directory()}: {figures.pending} waiting, {figures.size} bytes, oldest "
            f"{spool.oldest_seconds(figures):.0f} s, {len(spool.held_paths())} held aside; "
            + (f"REFUSING ({refusing} limit)" if refusing else "taking requests")
        )

    def _list(self, paths, limit, what: str) -> None:
        for path in paths[:limit]:
            try:
                header = spool.header_of(path)
            except (OSError, ValueError) as exc:
                self.stdout.write(f"{path.name}  unreadable ({type(exc).__name__})")
                continue
            kind, received_at, to = header.get("kind"), header.get("received_at"), header.get("to")
            self.stdout.write(f"{path.name}  {kind}  {received_at}  to {to}")
        self.stdout.write(f"{len(paths)} {what}.")

    def _drain(self, limit: int | None) -> None:
        try:
            result = spool_drain(limit=limit)
        except DatabaseError as exc:
            unavailable = f"The database is not available ({type(exc).__name__}); nothing drained."
            raise CommandError(unavailable) from exc
        if result is None:
            raise CommandError("Another process is draining this spool now; try again in a moment.")
        self.stdout.write(
            f"{result.stored} stored, {result.already_stored} stored before, {result.refused} refused "
            f"(held aside too), {len(result.held)} held aside, in {result.seconds:.1f} s"
            + ("; the database went away again, the rest waits" if result.interrupted else "")
        )
        if result.interrupted:
            raise CommandError("Interrupted: the database is not available.")
