"""Contacts, and for SMS, WhatsApp and chat contacts their messages (with the raw inbound events of
the last year): the part of the generator that writes conversations."""

import random
from typing import Any

from .copy_text import N, ts
from .reference import HelplineData
from .shapes import MESSAGING, NON_CASE_CALL_TYPES, YEAR, pick


class ConversationRows:
    """Mixed into Generator, whose state it uses."""

    rng: random.Random
    now: float
    other_mean: float
    pools: dict[str, list[str]]
    tables: dict[str, tuple[list[Any], list[float]]]
    buffers: dict[str, list[str]]

    def _contacts(
        self,
        h: HelplineData,
        case_id: int,
        created: float,
        end: float,
        first_channel: str,
        creator: int | None,
        operators: list[int],
        dismissed: bool,
        personal: bool,
    ) -> None:
        # The hot loop (about K rows per case): locals and index picks instead of rng.choice.
        rng = self.rng
        rand = rng.random
        summaries = self.pools["summary"]
        channels = self.tables["channel"]
        out = self.buffers["cases_contact"].append
        count = 1 if dismissed else 1 + int(rand() * 2 * (self.other_mean - 1) + 0.5)
        helpline_text, case_text = str(h.id), str(case_id)
        for n in range(count):
            contact_id = self._next_id("cases_contact")
            if n == 0:
                channel, started, by, direction = first_channel, created, creator, "inbound"
            else:
                channel = pick(rng, channels)
                started = created + rand() * (end - created)
                direction = "outbound" if channel == "voice" and rand() < 0.3 else "inbound"
                by = operators[int(rand() * len(operators))]
            if dismissed:
                call_type = NON_CASE_CALL_TYPES[int(rand() * len(NON_CASE_CALL_TYPES))]
            elif n == 0 and by is None and rand() < 0.1:
                call_type = ""  # not classified yet
            else:
                call_type = "child" if rand() < 0.7 else "caller_about_child"
            if channel in MESSAGING:
                ended = self._messages(h, case_id, contact_id, channel, started, end, operators)
                if n != 0 and channel != "chat":
                    by = None  # threaded in by the system from an inbound message
            else:
                ended = min(started + 60 + rand() * 2340, max(end, started))
            ended_text = ts(ended)
            summary = summaries[int(rand() * len(summaries))] if personal and rand() < 0.6 else ""
            out(
                "\t".join(
                    (
                        str(contact_id),
                        helpline_text,
                        case_text,
                        channel,
                        direction,
                        call_type,
                        summary,
                        ts(started),
                        ended_text,
                        str(by) if by else N,
                        ended_text,
                        # Opened by the system from a number or chat: its language; by staff: none.
                        h.language if by is None else "",
                    )
                )
            )

    def _messages(
        self,
        h: HelplineData,
        case_id: int,
        contact_id: int,
        channel: str,
        started: float,
        end: float,
        operators: list[int],
    ) -> float:
        rng, p = self.rng, self.pools
        rand = rng.random
        bodies, params = p["body"], p["params"]
        out = self.buffers["channels_sms_message"].append
        count = 1 + int(rand() * 5)
        at = started
        sender_token, sender_hash = h.phones[int(rand() * len(h.phones))]
        operator = str(operators[int(rand() * len(operators))])
        recent = started > self.now - YEAR and channel != "chat"
        head = (str(h.id), str(case_id), str(contact_id), channel)
        for n in range(count):
            if n:
                at = min(at + 20 + rand() * 580, max(end, at))
            message_id = self._next_id("channels_sms_message")
            external = f"SM{message_id:032x}" if channel != "chat" else ""
            body = bodies[int(rand() * len(bodies))]
            at_text = ts(at)
            if n % 2 == 0:  # inbound: the child writes first
                event_id = N
                if recent:
                    event_id = str(self._next_id("channels_sms_inboundevent"))
                    self.buffers["channels_sms_inboundevent"].append(
                        "\t".join(
                            (
                                event_id,
                                head[0],
                                channel,
                                "message",
                                "twilio",
                                external,
                                sender_token,
                                sender_hash,
                                body,
                                "0",
                                "",
                                params[int(rand() * len(params))],
                                "",
                                at_text,
                                ts(at + 0.05),
                                ts(at + 0.4),
                                "1",
                                head[2],
                                h.language,
                            )
                        )
                    )
                values = ("inbound", sender_hash, body, "", external, event_id, at_text, at_text)
                values += (N, "", "", "", "", "0", N, N)
            else:
                values = ("outbound", "", body, "", external, N, at_text, at_text, operator)
                values += (h.numbers[channel], sender_token, "delivered", "", "1", at_text, at_text)
            out("\t".join((str(message_id), *head, *values)))
        return at
