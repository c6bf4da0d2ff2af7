"""A real Celery worker against the real Redis broker: a queued task crosses the process
boundary (here: a worker thread with its own database connection) and runs in its tenant."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from celery import signals
from celery.contrib.testing.worker import start_worker
from celery.worker import WorkController
from django.db import connections

from helpdesk.celery import app as celery_app
from helpdesk.tenancy.context import tenant_context
from tests.conftest import make_tenant
from tickets.mail_in import intake
from tickets.models import InboundEmail, Ticket

RAW = (
    b"From: Carla <carla@example.test>\r\nTo: support@acme.localhost\r\n"
    b"Subject: Worker path\r\nMessage-ID: <worker-1@example.test>\r\n\r\nHello worker.\r\n"
)


def _close_connections(**_: object) -> None:
    connections.close_all()


@pytest.fixture
def real_worker(broker_mode: None) -> Iterator[WorkController]:
    # Tasks run in the worker's thread, whose database connections this thread cannot
    # close; left open they keep pytest from dropping the test database.
    signals.task_postrun.connect(_close_connections)
    try:
        with start_worker(
            celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=20
        ) as worker:
            yield worker
    finally:
        signals.task_postrun.disconnect(_close_connections)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_inbound_mail_is_processed_by_a_real_worker(real_worker: WorkController) -> None:
    acme = make_tenant("acme", "Acme")
    address = intake.find_inbound_address("support@acme.localhost")
    assert address is not None
    accepted = intake.store_inbound_email(
        raw=RAW,
        recipient=address,
        envelope_from="carla@example.test",
        envelope_to=["support@acme.localhost"],
        channel="test",
    )
    deadline = time.monotonic() + 30
    status = "queued"
    while time.monotonic() < deadline:
        with tenant_context(acme.id):
            status = InboundEmail.objects.get(id=accepted.email_id).status
        if status != "queued":
            break
        time.sleep(0.2)
    assert status == "processed"
    with tenant_context(acme.id):
        assert Ticket.objects.get().subject == "Worker path"
