"""The Redis transport's guards (helpdesk.core.broker): closing a channel whose transport
was already detached, with messages unacknowledged, no longer raises, and a late
acknowledgement on such a channel reaches Redis (both errors killed the worker when Redis
went away mid-stream, see tests/faults)."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import redis as redis_py

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


def _detach_and_close(channel: Any) -> None:
    """What the worker's connection loss leaves: the transport forgets its connection, then
    the channel closes (and is detached from the transport)."""
    channel.connection.client = None
    channel.close()
    assert channel.connection is None


@pytest.mark.worker
def test_late_ack_on_a_channel_closed_since_delivery_removes_the_message(
    broker_mode: None,
) -> None:
    """A task running when the connection dropped acknowledges after the worker
    reconnected, on its message's old channel (kombu 5.7.0 alone: AttributeError
    'NoneType' object has no attribute 'client', and the worker exited)."""
    connection = celery_app.connection_for_write()
    queue = connection.SimpleQueue("default")
    queue.put({"late": "ack"})
    message = queue.get(timeout=5)
    channel = message.channel
    assert channel is not None
    client = channel.client
    tag = message.delivery_tag
    try:
        _detach_and_close(channel)
        message.ack()
        # Acknowledged in Redis: never restored, so never run a second time.
        assert not client.hexists(channel.unacked_key, tag)
        assert client.zscore(channel.unacked_index_key, tag) is None
    finally:
        client.hdel(channel.unacked_key, tag)
        client.zrem(channel.unacked_index_key, tag)
        connection.release()


@pytest.mark.worker
@pytest.mark.parametrize("requeue", [False, True])
def test_late_reject_on_a_closed_channel(broker_mode: None, requeue: bool) -> None:
    connection = celery_app.connection_for_write()
    queue = connection.SimpleQueue("default")
    queue.put({"late": "reject"})
    message = queue.get(timeout=5)
    channel = message.channel
    assert channel is not None
    client = channel.client
    tag = message.delivery_tag
    try:
        _detach_and_close(channel)
        message.reject(requeue=requeue)
        # Rejected for good: gone. To be requeued: left for the visibility timeout's
        # restore (a closed channel cannot look up the queue), not lost.
        assert client.hexists(channel.unacked_key, tag) is requeue
    finally:
        client.hdel(channel.unacked_key, tag)
        client.zrem(channel.unacked_index_key, tag)
        connection.release()


@pytest.mark.worker
def test_late_ack_while_redis_is_still_down_is_a_connection_error(broker_mode: None) -> None:
    """Celery logs a connection error from an acknowledgement ("Couldn't ack") and goes on;
    any other error ends the worker."""
    connection = celery_app.connection_for_write()
    queue = connection.SimpleQueue("default")
    queue.put({"late": "ack"})
    message = queue.get(timeout=5)
    channel = message.channel
    assert channel is not None
    client = channel.client
    tag = message.delivery_tag
    try:
        _detach_and_close(channel)
        # Where the channel's Redis was: nothing listens there any more.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        parameters = {**channel._pool_parameters, "host": "127.0.0.1", "port": port}
        parameters.pop("path", None)
        if parameters.get("connection_class") is redis_py.UnixDomainSocketConnection:
            parameters["connection_class"] = redis_py.Connection
        channel._pool_parameters = parameters
        with pytest.raises(connection.connection_errors):
            message.ack()
        assert client.hexists(channel.unacked_key, tag)  # restored after the timeout
    finally:
        client.hdel(channel.unacked_key, tag)
        client.zrem(channel.unacked_index_key, tag)
        connection.release()
