"""Django's PostgreSQL backend with a health check that costs no round trip while the connection is
busy and nothing has ended the session (settings: DATABASES ENGINE "config.postgresql")."""

import select
import time

from django.db.backends.postgresql import base
from psycopg2.extensions import TRANSACTION_STATUS_IDLE

# A connection used this recently is checked without a round trip; one idle longer asks `SELECT 1`.
BUSY_SECONDS = 5.0


class DatabaseWrapper(base.DatabaseWrapper):
    _last_used = 0.0

    def create_cursor(self, name=None):  # Django's signature
        self._last_used = time.monotonic()
        return super().create_cursor(name)

    def is_usable(self) -> bool:
        """Django asks this before a request's first query on a kept connection (CONN_HEALTH_CHECKS).
        Its `SELECT 1` was 11 % of a webhook's time in the bench: one more wait for the database on
        a busy machine. A server that ends a session (restart, shutdown, terminated backend, crash)
        sends an error and closes the socket, which makes it readable; a healthy idle session's
        socket has nothing to read. So a connection used in the last BUSY_SECONDS, with no
        transaction open and nothing to read, is taken as usable without asking; otherwise (idle
        longer: a host that failed over or a firewall that forgot the connection says nothing until
        we send; anything to read, even a TLS record; a transaction left open) `SELECT 1` decides."""
        try:
            if (
                time.monotonic() - self._last_used > BUSY_SECONDS
                or self.connection.get_transaction_status() != TRANSACTION_STATUS_IDLE
            ):
                return super().is_usable()
            # poll, not select: no limit on the descriptor's number.
            poller = select.poll()
            poller.register(self.connection.fileno(), select.POLLIN)
            readable = poller.poll(0)
        except (OSError, ValueError, base.Database.Error):  # the socket or connection is closed
            return False
        return super().is_usable() if readable else True
