"""Django's PostgreSQL backend, with a connection health check that costs no round trip.

With CONN_HEALTH_CHECKS, Django sends `SELECT 1` before the first query of every request
that reuses a persistent connection: on the robot POST, one round trip of five. Here the
check looks at the socket instead: an idle connection has nothing to read, while one whose
server went away (a restart, a terminated backend) has its FATAL message or its end of file
waiting. Either way the connection is closed and the request opens a fresh one, as after a
failed `SELECT 1`. A peer that vanished without closing (no FIN) is not seen here; the
query then fails and the request is answered 503 (core.exceptions), as it would be if the
server died between `SELECT 1` and the query.
"""

import select

from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self) -> None:
        if self.connection is None or not self.health_check_enabled or self.health_check_done:
            return
        if not self.socket_is_idle():
            self.close()
        self.health_check_done = True

    def socket_is_idle(self) -> bool:
        """True if the connection is open, outside any transaction and has nothing unread."""
        connection = self.connection
        if connection.closed or connection.info.transaction_status != TransactionStatus.IDLE:
            return False
        try:
            readable, _, _ = select.select([connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable
