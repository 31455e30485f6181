"""Lists the replies kept in the local outbox (no Twilio credentials configured)."""

from django.core.management.base import BaseCommand

from channels_sms.selectors import outbox_list


class Command(BaseCommand):
    help = "List outbound messages recorded in the local outbox (ids, case, time; bodies on request)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--show-bodies",
            action="store_true",
            help="Also print each message's recipient and text (a local developer's outbox only).",
        )
        parser.add_argument("--limit", type=int, default=100)

    def handle(self, *args, show_bodies: bool = False, limit: int = 100, **options):
        messages = list(outbox_list()[:limit])
        if not messages:
            self.stdout.write("The outbox is empty.")
            return
        for message in messages:
            reference = message.case.reference if message.case else "-"
            self.stdout.write(
                f"message {message.pk}  case {message.case_id} ({reference})  {message.channel}  "
                f"{message.at.isoformat()}"
            )
            if show_bodies:
                self.stdout.write(f"    to {message.to_address} from {message.from_address}")
                self.stdout.write(f"    {message.body}")
        self.stdout.write(f"{len(messages)} message(s) in the outbox.")
