"""kombu's Redis transport with two guards, so a broker outage cannot kill the worker.

When Redis goes away, Celery closes the broker connection and its channels; a closed
channel is detached from its transport (`channel.connection` is None, or the transport no
longer knows its connection). kombu 5.7.0 (the latest release) then fails in two places,
both with an AttributeError from `Channel._connparams` that Celery does not expect (it only
ignores connection errors there): it reports "Unrecoverable error" and the worker exits.

1. Closing the channel tries to put the unacknowledged messages back on the queue
   (`QoS.restore_unacked`): `'NoneType' object has no attribute 'hostname'`. The same error
   from the same place is celery/kombu#582; the reconnect bugs around it are
   celery/celery#9054 (fixed in kombu 5.4, kombu#2007) and celery/celery#10205. The guard
   skips the restore: Redis is unreachable anyway, and the messages are still in Redis'
   unacked hash (written on delivery).
2. A task that was running when the connection dropped finishes, and its late
   acknowledgement goes to the channel its message came from: the closed one
   (`'NoneType' object has no attribute 'client'`). The worker reads its pool's results
   only once it has reconnected, so this happens after Redis is back, whenever a task was
   in flight at the moment of the loss (more often under load, where tasks run longer).
   The guard acknowledges through a client of its own to the same Redis, built from the
   connection parameters the channel used: an acknowledgement in Redis is only the removal
   of the delivery tag from the unacked hash and index, valid from any connection. So the
   message is done exactly once. Should Redis still be down, the error is a connection
   error, which Celery logs ("Couldn't ack") and survives; the message then stays in the
   unacked hash and kombu restores it after the visibility timeout.

Messages delivered but not yet started when the connection dropped are forgotten by the
worker; they wait in the unacked hash for the visibility timeout, and the inbound and
outbound sweepers cover mail from the database sooner.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any, cast

import redis as redis_py
from kombu.transport import redis, virtual

logger = logging.getLogger(__name__)


class QoS(redis.QoS):
    def _detached(self) -> bool:
        transport = self.channel.connection
        return transport is None or transport.client is None

    def restore_unacked(self, client: Any = None) -> None:
        delivered = self._delivered
        if client is None and self._detached():
            logger.warning(
                "broker connection already closed: %d unacknowledged message(s) stay in "
                "Redis until acknowledged or restored after the visibility timeout",
                len(delivered or ()),
            )
            if delivered is not None:
                delivered.clear()
            return
        super().restore_unacked(client)

    def _forget(self, delivery_tag: str) -> None:
        """What kombu's acknowledgement does in Redis, through a client of our own."""
        with cast(Channel, self.channel).detached_client() as client:
            pipeline = client.pipeline()
            pipeline.zrem(self.unacked_index_key, delivery_tag)
            pipeline.hdel(self.unacked_key, delivery_tag)
            pipeline.execute()

    def ack(self, delivery_tag: str) -> None:
        if not self._detached():
            super().ack(delivery_tag)
            return
        self._forget(delivery_tag)
        virtual.QoS.ack(self, delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        if not self._detached():
            super().reject(delivery_tag, requeue=requeue)
            return
        if requeue:
            # Requeueing needs the exchange table of a live channel: the message stays in
            # the unacked hash, and kombu puts it back on its queue after the visibility
            # timeout, which is what a requeue would have done sooner.
            logger.warning(
                "broker connection closed since delivery: message %s goes back on its "
                "queue after the visibility timeout",
                delivery_tag,
            )
        else:
            self._forget(delivery_tag)
        virtual.QoS.ack(self, delivery_tag)


class Channel(redis.Channel):
    QoS = QoS
    # The parameters of this channel's synchronous connection pool (the one that
    # acknowledgements use), kept for acknowledgements that arrive after it closed.
    _pool_parameters: dict[str, Any] | None = None

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        # kombu-stubs leave out this private method, which builds every pool's parameters.
        parameters: dict[str, Any] = super()._connparams(  # type: ignore[misc]
            asynchronous=asynchronous
        )
        if not asynchronous:
            self._pool_parameters = dict(parameters)
        return parameters

    @contextlib.contextmanager
    def detached_client(self) -> Iterator[redis_py.Redis]:
        """A client of its own to this channel's Redis, for use after the channel closed.
        Raises a connection error (one Celery survives) when that Redis is unknown or down.
        """
        if self._pool_parameters is None:
            raise redis_py.ConnectionError("the closed broker channel never connected")
        pool = redis_py.ConnectionPool(**self._pool_parameters)
        try:
            yield self.Client(connection_pool=pool)
        finally:
            pool.disconnect()


class Transport(redis.Transport):
    Channel = Channel
