"""Django's PostgreSQL backend with a health check that costs no round trip while nothing has ended
the session (settings: DATABASES ENGINE "config.postgresql")."""

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        """Django asks this before a request's first query on a kept connection (CONN_HEALTH_CHECKS).
        Its `SELECT 1` was 11 % of a webhook's time in the bench: one more wait for the database on
        a busy machine. A server that ends a session (restart, shutdown, terminated backend, crash)
        sends an error and closes the socket, which makes the socket readable; an idle session's
        socket has nothing to read. So the round trip is asked only when there is something to
        read (anything: a TLS record the server sent after the handshake also makes it ask). A
        host gone silently (no packet at all) is found by the first query, as it would be by the
        `SELECT 1`."""
        try:
            # poll, not select: no limit on the descriptor's number.
            poller = select.poll()
            poller.register(self.connection.fileno(), select.POLLIN)
            readable = poller.poll(0)
        except (OSError, ValueError, base.Database.Error):  # the socket or connection is closed
            return False
        return super().is_usable() if readable else True
