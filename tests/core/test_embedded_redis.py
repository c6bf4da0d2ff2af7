"""The embedded Redis (make run, make test) keeps queued Celery tasks across a restart,
even one it did not see coming."""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from helpdesk.celery import app as celery_app
from helpdesk.core import embedded


@pytest.fixture
def private_var_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    # A short path: the unix socket's must stay under 108 bytes.
    directory = Path(tempfile.mkdtemp(prefix="hd-redis-"))
    monkeypatch.setenv("HELPDESK_VAR_DIR", str(directory))
    try:
        yield directory
    finally:
        embedded.stop_redis()


def _kill_hard(directory: Path) -> None:
    pid = int((directory / "redis.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError("redis did not die")


def test_a_queued_task_survives_a_crash_of_the_embedded_redis(
    private_var_dir: Path, broker_mode: None
) -> None:
    url = embedded.ensure_redis()
    with celery_app.connection_for_write(url) as connection:
        celery_app.send_task(
            "helpdesk.core.tasks.record_beat_heartbeat", queue="default", connection=connection
        )
    time.sleep(1.5)  # appendfsync everysec: on disk within a second
    _kill_hard(private_var_dir)  # no shutdown save: only what is already on disk counts

    embedded.ensure_redis()
    client = redis.Redis(unix_socket_path=str(embedded.redis_socket()))
    queued = client.lrange("default", 0, -1)
    assert len(queued) == 1
    assert json.loads(queued[0])["headers"]["task"] == "helpdesk.core.tasks.record_beat_heartbeat"
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
