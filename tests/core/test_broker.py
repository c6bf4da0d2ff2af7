"""The Redis transport's guard (helpdesk.core.broker): closing a channel whose transport
was already detached, with messages unacknowledged, no longer raises (that error killed
the worker when Redis went away mid-acknowledgement, see tests/faults)."""

from __future__ import annotations

import pytest

from helpdesk.celery import app as celery_app
from helpdesk.core import broker


@pytest.mark.worker
def test_channel_close_after_the_transport_is_detached_keeps_unacked_messages(
    broker_mode: None,
) -> None:
    connection = celery_app.connection_for_write()
    assert isinstance(connection.transport, broker.Transport)
    queue = connection.SimpleQueue("default")
    queue.put({"hello": "world"})
    message = queue.get(timeout=5)  # delivered, not acknowledged: in the unacked hash
    channel = message.channel
    assert channel is not None
    client = channel.client
    tag = message.delivery_tag
    try:
        assert client.hexists(channel.unacked_key, tag)
        # What kombu's Connection._close leaves when the broker vanished during an ack:
        # the transport no longer knows its connection, and the channel is closed after.
        channel.connection.client = None
        channel.close()  # kombu 5.7.0 alone: AttributeError: 'NoneType' ... 'hostname'
        # The message was not lost: it waits in Redis for its acknowledgement or the
        # visibility timeout.
        assert client.hexists(channel.unacked_key, tag)
    finally:
        client.hdel(channel.unacked_key, tag)
        client.zrem(channel.unacked_index_key, tag)
