"""Re-computes the audit hash chains; exits 1 naming the first broken entry."""

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from helpline.audit import chains, verify_chain
from helpline.management.base import Command as LifelineCommand
from helpline.models import Helpline


def _intact(chain: int, entries: int) -> str:
    # English says "entries" for any number; a language with plural forms chooses its own.
    if chain == 0:
        text = ngettext(
            "chain %(chain)s (no helpline): %(entries)s entries, intact",
            "chain %(chain)s (no helpline): %(entries)s entries, intact",
            entries,
        )
    else:
        text = ngettext(
            "chain %(chain)s: %(entries)s entries, intact",
            "chain %(chain)s: %(entries)s entries, intact",
            entries,
        )
    return text % {"chain": chain, "entries": entries}


def _broken_at(chain: int, entry, problem) -> str:
    values = {
        "chain": chain,
        "id": entry.pk,
        "position": entry.chain_seq,
        "at": f"{entry.at:%Y-%m-%d %H:%M:%S}",
        "action": entry.action,
        "problem": problem,
    }
    if chain == 0:
        # Translators: "id=" and "position=" name the entry's fields: keep them as they are.
        # %(action)s is the entry's action code; %(problem)s says what is wrong with it.
        text = _(
            "chain %(chain)s (no helpline): BROKEN at entry id=%(id)s position=%(position)s "
            "(%(at)s %(action)s): %(problem)s"
        )
    else:
        # Translators: "id=" and "position=" name the entry's fields: keep them as they are.
        # %(action)s is the entry's action code; %(problem)s says what is wrong with it.
        text = _(
            "chain %(chain)s: BROKEN at entry id=%(id)s position=%(position)s (%(at)s %(action)s): "
            "%(problem)s"
        )
    return text % values


def _broken(chain: int, problem) -> str:
    if chain == 0:
        # Translators: %(problem)s says what is wrong with the chain.
        text = _("chain %(chain)s (no helpline): BROKEN: %(problem)s")
    else:
        # Translators: %(problem)s says what is wrong with the chain.
        text = _("chain %(chain)s: BROKEN: %(problem)s")
    return text % {"chain": chain, "problem": problem}


class Command(LifelineCommand):
    help = gettext_lazy(
        "Verify the tamper-evident audit chain of one helpline (--helpline CODE) or all of them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--helpline", help=gettext_lazy("Helpline code; all chains when omitted."))

    def handle(self, *args, helpline=None, **options):
        target = None
        if helpline:
            target = Helpline.objects.filter(code=helpline.upper()).first()
            if target is None:
                raise CommandError(_("Unknown helpline %(code)r.") % {"code": helpline})
        broken = False
        for chain in chains(target):
            report = verify_chain(chain)
            if report.ok:
                self.stdout.write(_intact(chain, report.entries))
                continue
            broken = True
            if report.first_broken is not None:
                self.stderr.write(_broken_at(chain, report.first_broken, report.problem))
            else:
                self.stderr.write(_broken(chain, report.problem))
        if broken:
            raise SystemExit(1)
