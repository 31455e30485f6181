"""Lists the replies kept in the local outbox (no Twilio credentials configured)."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from channels_sms.selectors import outbox_list
from helpline.management.base import Command as LifelineCommand


class Command(LifelineCommand):
    help = gettext_lazy(
        "List outbound messages recorded in the local outbox (ids, case, time; bodies on request)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--show-bodies",
            action="store_true",
            help=gettext_lazy(
                "Also print each message's recipient and text (a local developer's outbox only)."
            ),
        )
        parser.add_argument("--limit", type=int, default=100)

    def handle(self, *args, show_bodies: bool = False, limit: int = 100, **options):
        messages = list(outbox_list()[:limit])
        if not messages:
            self.stdout.write(_("The outbox is empty."))
            return
        for message in messages:
            reference = message.case.reference if message.case else "-"
            self.stdout.write(
                # Translators: %(channel)s is the channel's code (sms, whatsapp); %(at)s an ISO 8601 time.
                _("message %(id)s  case %(case)s (%(reference)s)  %(channel)s  %(at)s")
                % {
                    "id": message.pk,
                    "case": message.case_id,
                    "reference": reference,
                    "channel": message.channel,
                    "at": message.at.isoformat(),
                }
            )
            if show_bodies:
                self.stdout.write(
                    "    "
                    + _("to %(to)s from %(from)s") % {"to": message.to_address, "from": message.from_address}
                )
                self.stdout.write(f"    {message.body}")
        count = len(messages)
        # English says "message(s)" for any number; a language with plural forms chooses its own.
        self.stdout.write(
            ngettext("%(count)s message(s) in the outbox.", "%(count)s message(s) in the outbox.", count)
            % {"count": count}
        )
