"""Sets our helpline numbers' webhooks at Twilio to retry and to fail over (channels_sms.twilio_numbers
says what and why). Dry run by default: it reports each change (field, before, after); --apply makes
them. A second run finds nothing to change."""

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels_sms.twilio_numbers import CONNECTION_OVERRIDES, TwilioWebhooksError, twilio_webhooks_configure
from helpline.management.base import Command as LifelineCommand


class Command(LifelineCommand):
    help = gettext_lazy(
        "Set each helpline number's SMS and voice webhooks at Twilio: connection overrides that retry on "
        "connection failures, 5xx and read timeouts, and Fallback URLs on TWILIO_FALLBACK_BASE_URL. "
        "Reports what it would change; changes nothing without --apply."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--apply", action="store_true", help=gettext_lazy("Make the changes (default: only report them).")
        )

    def handle(self, *args, apply: bool = False, **options):
        try:
            report = twilio_webhooks_configure(apply=apply)
        except TwilioWebhooksError as exc:
            raise CommandError(str(exc)) from None
        write = self.stdout.write
        write(
            _("Webhooks on %(primary)s, fallbacks on %(fallback)s")
            % {"primary": report.primary_base, "fallback": report.fallback_base}
        )
        # Translators: %(overrides)s is Twilio's fragment (rc=3&rp=...): keep the "#" before it.
        write(_("Connection overrides: #%(overrides)s") % {"overrides": CONNECTION_OVERRIDES})
        for number in report.numbers:
            heading = f"{number.phone_number} ({', '.join(number.channels)}) {number.sid}"
            if number.changes:
                write(f"{heading}:")
            else:
                # Translators: %(number)s is a phone number, its channels' codes and its Twilio SID.
                write(_("%(number)s: nothing to change") % {"number": heading})
            for change in number.changes:
                if change.before:
                    write(f"    {change.field}: {change.before} -> {change.after}")
                else:
                    # Translators: %(field)s is the name of a field at Twilio (sms_url);
                    # %(after)s its new value.
                    write(
                        "    "
                        + _("%(field)s: (empty) -> %(after)s")
                        % {"field": change.field, "after": change.after}
                    )
            for note in number.notes:
                write("    " + _("attention: %(note)s") % {"note": note})
        if report.not_ours:
            write(
                _("Not an active number of ours, left untouched: %(numbers)s")
                % {"numbers": ", ".join(report.not_ours)}
            )
        if report.missing:
            listed = ", ".join(f"{number} ({channel})" for number, channel in report.missing)
            write(_("Ours but not in this Twilio account: %(numbers)s") % {"numbers": listed})
        if report.whatsapp:
            write(
                _(
                    "WhatsApp senders, not configurable here (their webhooks are set on the WhatsApp sender "
                    "at Twilio): %(senders)s"
                )
                % {"senders": ", ".join(report.whatsapp)}
            )
        for note in report.notes:
            write(_("Note: %(note)s") % {"note": note})
        changed = [number for number in report.numbers if number.changes]
        counts = {"changes": report.changes, "numbers": len(changed)}
        if not changed:
            write(_("Nothing to change."))
        elif apply:
            write(self.style.SUCCESS(_("Applied: %(changes)s change(s) on %(numbers)s number(s).") % counts))
        else:
            write(
                _(
                    "Dry run: %(changes)s change(s) on %(numbers)s number(s); nothing was changed. Run again "
                    "with --apply to make them."
                )
                % counts
            )
