"""Fixtures shared by the mail tests."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from aiosmtpd.controller import Controller
from django.db import connections

from tickets.management.commands.smtpd import IntakeHandler


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[Controller]:
    """The SMTP listener's handler on a free loopback port (50 kB size limit)."""
    # The handler's database work runs in the server loop's default executor: one thread
    # here, so that its connections can be closed there afterwards (left open, they keep
    # the test database from being dropped).
    executor = ThreadPoolExecutor(max_workers=1)
    loop = asyncio.new_event_loop()
    loop.set_default_executor(executor)
    controller = Controller(
        IntakeHandler(),
        hostname="127.0.0.1",
        port=_free_port(),
        loop=loop,
        data_size_limit=50_000,
        decode_data=False,
    )
    controller.start()
    yield controller
    executor.submit(connections.close_all).result()
    controller.stop()
    loop.close()
