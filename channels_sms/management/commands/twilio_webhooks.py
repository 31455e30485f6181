"""Sets our helpline numbers' webhooks at Twilio to retry and to fail over (channels_sms.twilio_numbers
says what and why). Dry run by default: it reports each change (field, before, after); --apply makes
them. A second run finds nothing to change."""

from django.core.management.base import BaseCommand, CommandError

from channels_sms.twilio_numbers import CONNECTION_OVERRIDES, TwilioWebhooksError, twilio_webhooks_configure


class Command(BaseCommand):
    help = (
        "Set each helpline number's SMS and voice webhooks at Twilio: connection overrides that retry on "
        "connection failures, 5xx and read timeouts, and Fallback URLs on TWILIO_FALLBACK_BASE_URL. "
        "Reports what it would change; changes nothing without --apply."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--apply", action="store_true", help="Make the changes (default: only report them)."
        )

    def handle(self, *args, apply: bool = False, **options):
        try:
            report = twilio_webhooks_configure(apply=apply)
        except TwilioWebhooksError as exc:
            raise CommandError(str(exc)) from None
        write = self.stdout.write
        write(f"Webhooks on {report.primary_base}, fallbacks on {report.fallback_base}")
        write(f"Connection overrides: #{CONNECTION_OVERRIDES}")
        for number in report.numbers:
            heading = f"{number.phone_number} ({', '.join(number.channels)}) {number.sid}"
            write(f"{heading}:" if number.changes else f"{heading}: nothing to change")
            for change in number.changes:
                write(f"    {change.field}: {change.before or '(empty)'} -> {change.after}")
            for note in number.notes:
                write(f"    attention: {note}")
        if report.not_ours:
            write(f"Not an active number of ours, left untouched: {', '.join(report.not_ours)}")
        if report.missing:
            listed = ", ".join(f"{number} ({channel})" for number, channel in report.missing)
            write(f"Ours but not in this Twilio account: {listed}")
        if report.whatsapp:
            write(
                f"WhatsApp senders, not configurable here (their webhooks are set on the WhatsApp sender "
                f"at Twilio): {', '.join(report.whatsapp)}"
            )
        for note in report.notes:
            write(f"Note: {note}")
        changed = [number for number in report.numbers if number.changes]
        summary = f"{report.changes} change(s) on {len(changed)} number(s)"
        if not changed:
            write("Nothing to change.")
        elif apply:
            write(self.style.SUCCESS(f"Applied: {summary}."))
        else:
            write(f"Dry run: {summary}; nothing was changed. Run again with --apply to make them.")
