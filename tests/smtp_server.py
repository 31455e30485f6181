"""A real SMTP server for tests (aiosmtpd) on a spare 127.0.0.1 port, in a thread: Django's SMTP
backend talks to it as to any mail server. `messages` holds what it accepted (the envelope's
recipients and the parsed message); `plan` answers the next DATA commands ("250" accepted, or an
SMTP reply such as "451 Try again later"); `hold_next()` keeps the next DATA unanswered until
`release()` (the sender is mid-send), and a message whose sender went away meanwhile is dropped,
as a mail server drops a message it never acknowledged."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.processes import free_port


@dataclass
class Received:
    to: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        return self.message.get_content()


class SmtpServer:
    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.plan: list[str] = []
        self.sessions = 0
        self.held = threading.Event()
        self._hold_next = False
        self._release = threading.Event()
        self._lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    # aiosmtpd handler hooks ----------------------------------------------------------------------

    async def handle_DATA(self, server, session, envelope) -> str:
        with self._lock:
            self.sessions += 1
            answer = self.plan.pop(0) if self.plan else "250 OK"
            hold, self._hold_next = self._hold_next, False
        if hold:
            self.held.set()
            while not self._release.is_set():
                await asyncio.sleep(0.05)
            if server.transport is None or server.transport.is_closing():
                return "421 Sender gone"  # never acknowledged: not delivered
        if answer.startswith("250"):
            message = message_from_bytes(envelope.content, policy=policy.default)
            with self._lock:
                self.messages.append(Received(list(envelope.rcpt_tos), message))
        return answer

    # control --------------------------------------------------------------------------------------

    def hold_next(self) -> None:
        self.held.clear()
        self._release.clear()
        self._hold_next = True

    def release(self) -> None:
        self._release.set()

    def to(self, address: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if address in m.to]

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self.controller.stop()

    def settings(self) -> dict[str, object]:
        """Django settings that send through this server."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": self.port,
            "EMAIL_USE_TLS": False,
            "EMAIL_USE_SSL": False,
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
        }
