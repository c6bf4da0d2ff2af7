"""CPU per acknowledgement built and per email sent, measured by hand (not part of the
suite: the file name does not start with `test_`, so only naming it runs it):

    HELPDESK_TEST_SESSION=<name> DATABASE_URL=... REDIS_URL=... \\
        .venv/bin/python -m pytest tests/mail/bench_delivery.py -q -p no:randomly -s

`BENCH_MAILS` new requests (600 unless set) go through the real batched intake, 100 a
batch; the first batch warms the process and is not counted. Then their acknowledgements
are delivered (`deliver_many`, 100 a call, as the delivery task does) to a loopback SMTP
sink in a process of its own (aiosmtpd's Sink). Printed: this process's CPU and its
PostgreSQL backend's (from /proc, so only for a server on this machine) per
acknowledgement built (`acknowledge_many`: counting, building, the outbox and message
inserts) and per email delivered, the wall time, statements per email (the last 100,
counted apart so that counting costs nothing in the timed part) and the load average.
`BENCH_PROFILE=1` also writes cProfile files, bench_delivery_{build,deliver}.prof in the
temporary directory.
"""

from __future__ import annotations

import cProfile
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django import Settings

from helpdesk.mail import services as mail_services
from helpdesk.mail import tasks as mail_tasks
from helpdesk.mail.models import OutboundEmail
from helpdesk.tenancy.context import tenant_context
from tests.conftest import make_tenant
from tests.tickets.test_inbound import build
from tickets.mail_in import intake
from tickets.mail_in import services as inbound
from tickets.mail_out import services as outbound

MAILS = int(os.environ.get("BENCH_MAILS", "600"))
PROFILE = bool(os.environ.get("BENCH_PROFILE"))
BATCH = 100


def _backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.django_db(transaction=True)
def test_cpu_per_acknowledgement_and_per_email_sent(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.HELPDESK_TENANT_CACHE_SECONDS = 300  # as in production (the tests turn it off)
    acme = make_tenant("acme", "Acme")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    monkeypatch.setattr(mail_tasks.deliver_outbound_emails, "delay", lambda **_: None)
    monkeypatch.setattr(mail_tasks.deliver_outbound_email, "delay", lambda **_: None)
    profiles = {"build": cProfile.Profile(), "deliver": cProfile.Profile()}
    built = {"cpu": 0.0, "backend": 0.0, "count": 0, "batches": 0}
    real_acknowledge_many = outbound.acknowledge_many

    def timed(**kwargs: Any) -> Any:
        built["batches"] += 1
        if built["batches"] == 1:
            return real_acknowledge_many(**kwargs)  # warming up
        cpu, server = time.process_time(), _backend_cpu(backend)
        if PROFILE:
            profiles["build"].enable()
        messages = real_acknowledge_many(**kwargs)
        profiles["build"].disable()
        built["cpu"] += time.process_time() - cpu
        built["backend"] += _backend_cpu(backend) - server
        built["count"] += len(messages)
        return messages

    monkeypatch.setattr(outbound, "acknowledge_many", timed)
    for n in range(MAILS):
        intake.accept(
            raw=build(subject=f"Request {n} about https://example.com/x", sender=f"c{n}@x.test"),
            envelope_to=["support@acme.localhost"],
            envelope_from="",
            channel="test",
            enqueue=False,
        )
    while True:
        with tenant_context(acme.id):
            if not inbound.process_batch(limit=BATCH, language="en", tenant_name="Acme"):
                break
    with tenant_context(acme.id):
        ids = list(
            OutboundEmail.objects.filter(kind="auto_reply", status="queued")
            .order_by("id")
            .values_list("id", flat=True)
        )
    assert len(ids) == MAILS
    # Warming up (locmem backend), not counted.
    mail_services.deliver_many(
        tenant_id=str(acme.id), outbound_email_ids=ids[:BATCH], last_attempt=True
    )
    timed_ids, counted_ids = ids[BATCH:-BATCH], ids[-BATCH:]
    port = _free_port()
    listen = f"127.0.0.1:{port}"
    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l", listen]
    )
    time.sleep(1.5)
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        cpu, server, wall = time.process_time(), _backend_cpu(backend), time.perf_counter()
        if PROFILE:
            profiles["deliver"].enable()
        for start in range(0, len(timed_ids), BATCH):
            mail_services.deliver_many(
                tenant_id=str(acme.id),
                outbound_email_ids=timed_ids[start : start + BATCH],
                last_attempt=True,
            )
        profiles["deliver"].disable()
        cpu = time.process_time() - cpu
        server = _backend_cpu(backend) - server
        wall = time.perf_counter() - wall
        with CaptureQueriesContext(connection) as captured:
            mail_services.deliver_many(
                tenant_id=str(acme.id), outbound_email_ids=counted_ids, last_attempt=True
            )
    finally:
        sink.terminate()
        sink.wait()
    with tenant_context(acme.id):
        assert OutboundEmail.objects.filter(status="sent").count() == MAILS
    if PROFILE:
        for name, profile in profiles.items():
            profile.dump_stats(Path(tempfile.gettempdir()) / f"bench_delivery_{name}.prof")
    count = built["count"]
    sys.stdout.write(
        f"\nbuilt: {count} acknowledgements, CPU ms each: this process"
        f" {1000 * built['cpu'] / count:.3f}, PostgreSQL backend"
        f" {1000 * built['backend'] / count:.3f}\n"
    )
    sent = len(timed_ids)
    sys.stdout.write(
        f"sent: {sent} emails, CPU ms each: this process {1000 * cpu / sent:.3f},"
        f" PostgreSQL backend {1000 * server / sent:.3f}; wall {1000 * wall / sent:.3f} ms;"
        f" statements {len(captured.captured_queries) / len(counted_ids):.2f} an email;"
        f" load average {' / '.join(f'{x:.2f}' for x in os.getloadavg())}\n"
    )
