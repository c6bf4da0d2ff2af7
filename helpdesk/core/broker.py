"""kombu's Redis transport with one guard, so a broker outage cannot kill the worker.

When Redis goes away while tasks are being acknowledged, Celery closes the broker
connection, and closing its channel tries to put the unacknowledged messages back on the
queue through a transport that is already detached from its connection. kombu 5.7.0 (the
latest release) then raises `AttributeError: 'NoneType' object has no attribute
'hostname'` from `Channel._connparams`; Celery only ignores connection errors there, so it
reports "Unrecoverable error" and the worker exits. The same error from the same place is
celery/kombu#582; the reconnect bugs around it are celery/celery#9054 (fixed in kombu 5.4,
kombu#2007) and celery/celery#10205.

With the guard the restore is skipped: Redis is unreachable anyway, and the messages are
still in Redis' unacked hash (written on delivery), from which the running tasks' late
acknowledgements remove them once Redis is back, or kombu restores them after the
visibility timeout. The inbound and outbound sweepers cover the rest from the database.
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.transport import redis

logger = logging.getLogger(__name__)


class QoS(redis.QoS):
    def restore_unacked(self, client: Any = None) -> None:
        transport = self.channel.connection
        delivered = self._delivered
        if client is None and (transport is None or transport.client is None):
            logger.warning(
                "broker connection already closed: %d unacknowledged message(s) stay in "
                "Redis until acknowledged or restored after the visibility timeout",
                len(delivered or ()),
            )
            if delivered is not None:
                delivered.clear()
            return
        super().restore_unacked(client)


class Channel(redis.Channel):
    QoS = QoS


class Transport(redis.Transport):
    Channel = Channel
