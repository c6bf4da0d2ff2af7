"""Faults on a running help desk (tests/faults/stack.py: private PostgreSQL and Redis,
`run_all` with web, worker, beat and smtpd), while a real SMTP client streams mail and
resends on 4xx as an MTA does:

- the worker's main process and its pool children are killed;
- Redis is stopped for 30 s while a task is running (a reply held up on its ticket's
  row lock), which acknowledges after the worker reconnected;
- PostgreSQL is stopped for 20 s.

Afterwards every mail that got a 250 is exactly one customer message, no inbound mail is
left queued or failed, every acknowledgement went out exactly once (but one a killed pool
process was sending: at most once, and never sent again), and the whole stack is still
up. Each scenario prints its recovery time (bench/README.md keeps them).
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from pytest_django import DjangoDbBlocker

from tests.conftest import subprocess_environment
from tests.faults.stack import MailStream, Stack, make_stack, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]
DRAIN_TIMEOUT_SECONDS = 240


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="module")
def stack(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[Stack]:
    # The stack's servers and processes run in sessions of their own: stopped by SIGTERM
    # (CI's timeout, `kill`), pytest still ends through its teardown, which stops them.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    stack = make_stack()
    try:
        stack.start(template_url=subprocess_environment()["DATABASE_URL"])
        yield stack
    finally:
        stack.close()
        signal.signal(signal.SIGTERM, previous)


def _drained(stack: Stack, stream: MailStream, cut_off: int = 0) -> bool:
    """Every accepted mail processed, every acknowledgement sent but the `cut_off` ones."""
    accepted = len(stream.accepted)
    acknowledgements = Counter(sent=accepted - cut_off, sending=cut_off)
    return (
        stack.inbound_statuses(stream.prefix) == Counter(processed=accepted)
        and stack.acknowledgement_statuses(stream.prefix) == acknowledgements
        and sum(stack.outbox_recipients(stream.prefix).values()) >= accepted - cut_off
    )


def _assert_exactly_once(stack: Stack, stream: MailStream, cut_off: int = 0) -> None:
    """Each accepted mail is one message, and each acknowledgement went out once, except
    the `cut_off` ones a killed worker was sending: those went out at most once."""
    assert stream.bounces == []
    accepted = sorted(stream.accepted)
    assert len(accepted) == stream.count
    messages = stack.customer_message_ids(stream.prefix)
    assert sorted(messages) == accepted  # each mail once: none lost, none twice
    assert stack.inbound_statuses(stream.prefix) == Counter(processed=len(accepted))
    assert stack.acknowledgement_statuses(stream.prefix) == Counter(
        sent=len(accepted) - cut_off, sending=cut_off
    )
    senders = {message_id.strip("<>") for message_id in accepted}
    sent = stack.outbox_recipients(stream.prefix)
    assert set(sent) <= senders
    assert max(sent.values(), default=1) == 1  # no one twice
    assert len(sent) >= len(senders) - cut_off  # no one missed, but for a send cut off
    assert wait_for(stack.is_up, timeout=60), stack.log_tail()


def _stream_settled(stack: Stack, prefix: str) -> bool:
    """Every mail of the stream stored so far is processed and acknowledged."""
    acknowledgements = stack.acknowledgement_statuses(prefix)
    return (
        stack.inbound_statuses(prefix)["queued"] == 0
        and acknowledgements.total() == acknowledgements["sent"]
    )


def _excerpt(log: str, marker: str) -> str:
    """The log from a little before `marker` (a traceback follows it) for a failure message."""
    start = max(log.find(marker) - 2000, 0)
    return log[start : start + 8000]


def _report(name: str, **seconds: float) -> None:
    figures = ", ".join(f"{key.replace('_', ' ')} {value:.1f} s" for key, value in seconds.items())
    print(f"\n[faults] {name}: {figures}")  # noqa: T201


def test_worker_killed_mid_stream_is_restarted_and_loses_nothing(stack: Stack) -> None:
    stream = MailStream(stack, "killed", count=40).start()
    assert wait_for(lambda: stack.inbound_statuses("killed")["processed"] >= 5, timeout=60)
    main, pool = stack.worker_processes()
    for pid in [main, *pool]:  # no warm shutdown: whatever they held is cut off
        os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    killed_at_in_database = stack.database_now()

    def restarted() -> bool:
        return stack.worker_processes()[0] != main

    def cut_off() -> int:
        """Acknowledgements a pool process was sending when it was killed: claimed before,
        never recorded. The outbox never sends them again (they may have gone out); after
        its sending timeout, half an hour, the sweeper marks them unknown."""
        claimed = stack.acknowledgement_statuses("killed", changed_before=killed_at_in_database)
        return claimed["sending"]

    assert wait_for(restarted, timeout=60), stack.log_tail()
    restarted_after = time.monotonic() - killed_at
    stream.join(timeout=120)
    assert wait_for(lambda: _drained(stack, stream, cut_off()), DRAIN_TIMEOUT_SECONDS), (
        stack.inbound_statuses("killed"),
        stack.acknowledgement_statuses("killed"),
        stack.log_tail(),
    )
    _report(
        "worker killed",
        worker_back_after=restarted_after,
        queue_drained_after=time.monotonic() - killed_at,
    )
    assert "worker exited with status" in stack.log_tail(200_000)
    assert cut_off() <= len(pool)  # at most one send per pool process
    _assert_exactly_once(stack, stream, cut_off())


def test_redis_stopped_for_30_seconds_mid_stream(stack: Stack) -> None:
    worker_before = stack.worker_processes()[0]
    log_start = stack.log_size()
    stream = MailStream(stack, "redis", count=60, interval=0.5).start()
    assert wait_for(lambda: stack.inbound_statuses("redis")["processed"] >= 5, timeout=60)
    # A task in flight when Redis goes: the first sender's reply waits in the worker for
    # its ticket, which the test holds locked, and goes on once Redis is gone. Its late
    # acknowledgement is for a broker channel closed in the meantime.
    assert wait_for(lambda: "<redis-0@example.test>" in stack.customer_message_ids("redis"), 60)
    with stack.ticket_locked("redis-0@example.test"):
        reply = MailStream(stack, "redisreply", count=1, replying_to="redis").start()
        assert wait_for(lambda: stack.lock_waiters() > 0, timeout=60), stack.log_tail()
        # Best when the worker has nothing else in hand: it is then waiting on Redis for
        # more, the case where its channel is closed under the held-up task (the stream
        # leaves it idle most of each half second).
        wait_for(lambda: _stream_settled(stack, "redis"), timeout=10, interval=0.02)
        stack.stop_redis()
    time.sleep(30)
    stack.start_redis()
    back_at = time.monotonic()
    stream.join(timeout=120)
    reply.join(timeout=120)

    def drained() -> bool:
        replied = stack.inbound_statuses("redisreply") == Counter(processed=1)
        return replied and _drained(stack, stream)

    assert wait_for(drained, timeout=DRAIN_TIMEOUT_SECONDS), (
        stack.inbound_statuses("redis"),
        stack.acknowledgement_statuses("redis"),
        stack.inbound_statuses("redisreply"),
        stack.log_tail(),
    )
    _report("Redis stopped 30 s", queue_drained_after_redis_returned=time.monotonic() - back_at)
    _assert_exactly_once(stack, stream)
    assert stack.customer_message_ids("redisreply") == ["<redisreply-0@example.test>"]
    log = stack.log_since(log_start)
    # The same worker reconnected: it neither crashed nor needed the supervisor, and the
    # tasks that were running when Redis went away finished and were acknowledged once
    # it was back, on their closed channel (helpdesk.core.broker).
    assert "Unrecoverable error" not in log, _excerpt(log, "Unrecoverable error")
    assert "worker exited with status" not in log, _excerpt(log, "worker exited with status")
    assert stack.worker_processes()[0] == worker_before, log[-6000:]
    assert "raised unexpected" not in log, _excerpt(log, "raised unexpected")
    assert "Connection to broker lost" in log  # it did notice


def test_postgres_stopped_for_20_seconds_mid_stream(stack: Stack) -> None:
    worker_before = stack.worker_processes()[0]
    stream = MailStream(stack, "postgres", count=40, interval=0.5).start()
    assert wait_for(lambda: stack.inbound_statuses("postgres")["processed"] >= 5, timeout=60)
    stack.stop_postgres()
    time.sleep(20)
    stack.start_postgres()
    back_at = time.monotonic()
    stream.join(timeout=180)
    assert wait_for(lambda: _drained(stack, stream), timeout=DRAIN_TIMEOUT_SECONDS), (
        stack.inbound_statuses("postgres"),
        stack.acknowledgement_statuses("postgres"),
        stack.log_tail(),
    )
    _report(
        "PostgreSQL stopped 20 s",
        queue_drained_after_postgres_returned=time.monotonic() - back_at,
    )
    assert stream.temporary_failures > 0  # the listener answered 4xx while it was down
    _assert_exactly_once(stack, stream)
    assert stack.worker_processes()[0] == worker_before
