"""Re-computes the audit hash chains; exits 1 naming the first broken entry."""

from django.core.management.base import BaseCommand, CommandError

from helpline.audit import chains, verify_chain
from helpline.models import Helpline


class Command(BaseCommand):
    help = "Verify the tamper-evident audit chain of one helpline (--helpline CODE) or all of them."

    def add_arguments(self, parser):
        parser.add_argument("--helpline", help="Helpline code; all chains when omitted.")

    def handle(self, *args, helpline=None, **options):
        target = None
        if helpline:
            target = Helpline.objects.filter(code=helpline.upper()).first()
            if target is None:
                raise CommandError(f"Unknown helpline {helpline!r}.")
        broken = False
        for chain in chains(target):
            report = verify_chain(chain)
            name = f"chain {chain}" + (" (no helpline)" if chain == 0 else "")
            if report.ok:
                self.stdout.write(f"{name}: {report.entries} entries, intact")
                continue
            broken = True
            if report.first_broken is not None:
                entry = report.first_broken
                self.stderr.write(
                    f"{name}: BROKEN at entry id={entry.pk} position={entry.chain_seq} "
                    f"({entry.at:%Y-%m-%d %H:%M:%S} {entry.action}): {report.problem}"
                )
            else:
                self.stderr.write(f"{name}: BROKEN: {report.problem}")
        if broken:
            raise SystemExit(1)
