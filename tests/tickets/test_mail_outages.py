"""Inbound mail while PostgreSQL or Redis is unreachable: the work is retried and the mail
kept `queued`, the SMTP listener answers 451 4.3.0 on one line, ESP webhooks answer 503.

The outages are real: the cache is pointed at a Unix socket nobody listens on, a database
connection at a socket directory without a server."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis
from aiosmtpd.controller import Controller
from celery import signals
from django.db import connections
from django.test import Client
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from departments.models import Department, Mailbox
from helpdesk.celery import app as celery_app
from helpdesk.tenancy.context import tenant_context
from tests.conftest import TenantSetup, make_tenant
from tests.tickets.conftest import _free_port
from tests.tickets.test_inbound import build
from tests.tickets.test_inbound_admin import _mailgun_post, anymail_settings  # noqa: F401
from tickets.mail_in import intake
from tickets.mail_in import tasks as mail_in_tasks
from tickets.management.commands.smtpd import IntakeHandler
from tickets.models import InboundEmail, Ticket


def _redis_down(settings: Any, tmp_path: Path) -> None:
    """Point the cache at a socket where nothing listens (restored after the test)."""
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": f"unix://{tmp_path}/gone.sock"}
    }


@pytest.fixture
def retries() -> Iterator[list[str]]:
    """The reasons of the task retries Celery announces while the test runs. Eager tasks
    run their retries in turn (without the countdown) when errors do not propagate."""
    celery_app.conf.task_eager_propagates = False
    seen: list[str] = []

    def record(sender: Any = None, reason: Any = None, **kwargs: Any) -> None:
        seen.append(repr(reason))

    signals.task_retry.connect(record, weak=False)
    yield seen
    signals.task_retry.disconnect(record)
    celery_app.conf.task_eager_propagates = True


def test_processing_with_redis_unreachable_is_retried_and_the_mail_stays_queued(
    acme: TenantSetup,
    settings: Settings,
    tmp_path: Path,
    retries: list[str],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    accepted = intake.accept(
        raw=build(subject="Printer on fire"),
        envelope_to=["support@acme.localhost"],
        envelope_from="",
        channel="test",
        enqueue=False,
    )
    assert accepted is not None
    _redis_down(settings, tmp_path)
    result = mail_in_tasks.process_inbound_email.delay(
        tenant_id=str(acme.id), email_id=accepted.email_id
    )
    assert result.state == "FAILURE"
    assert isinstance(result.result, redis.exceptions.ConnectionError)
    assert len(retries) == mail_in_tasks.process_inbound_email.max_retries
    with tenant_context(acme.id):
        email = InboundEmail.objects.get(id=accepted.email_id)
        assert (email.status, email.reason) == ("queued", "")  # not `failed`
        assert not Ticket.objects.exists()

    # Redis is back: the sweeper's run for the tenant gets it processed.
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": settings.REDIS_URL}}
    settings.HELPDESK_INBOUND_SWEEP_AFTER_SECONDS = 0
    # The sweep wakes a drain after its commit.
    with django_capture_on_commit_callbacks(execute=True):
        assert mail_in_tasks.requeue_inbound_emails.delay(tenant_id=str(acme.id)).get() == 1
    with tenant_context(acme.id):
        email.refresh_from_db()
        assert email.status == "processed"
        assert Ticket.objects.get().subject == "Printer on fire"


def test_a_mail_that_cannot_be_processed_still_ends_failed_with_its_reason(
    acme: TenantSetup, retries: list[str]
) -> None:
    """Retrying cannot help here (the help desk has no department left to file the mail
    under, until an admin adds one): no retry, `failed` with the reason at once. Together
    with the test above: only outages are retried."""
    accepted = intake.accept(
        raw=build(),
        envelope_to=["support@acme.localhost"],
        envelope_from="",
        channel="test",
        enqueue=False,
    )
    assert accepted is not None
    with tenant_context(acme.id):
        InboundEmail.objects.filter(id=accepted.email_id).update(mailbox=None)
        Mailbox.objects.all().delete()
        Department.objects.all().delete()
    mail_in_tasks.process_inbound_email.delay(tenant_id=str(acme.id), email_id=accepted.email_id)
    assert retries == []
    with tenant_context(acme.id):
        email = InboundEmail.objects.get(id=accepted.email_id)
        assert email.status == "failed"
        assert email.reason.startswith("processing failed: DepartmentNotFound")


# --- The SMTP listener --------------------------------------------------------------------


class DatabaseSwitch:
    """Cuts the SMTP handler's database connection (in its one executor thread) by pointing
    it at a socket directory without a server, and restores it."""

    def __init__(self, executor: ThreadPoolExecutor, nowhere: Path) -> None:
        self.executor = executor
        self.nowhere = nowhere
        self.original: dict[str, Any] | None = None

    def _swap(self, down: bool) -> None:
        connection = connections["default"]
        connection.close()
        if down:
            self.original = connection.settings_dict
            connection.settings_dict = {**self.original, "HOST": str(self.nowhere), "PORT": ""}
        elif self.original is not None:
            connection.settings_dict = self.original

    def down(self) -> None:
        self.executor.submit(self._swap, True).result()

    def up(self) -> None:
        self.executor.submit(self._swap, False).result()


@pytest.fixture
def smtp_with_database_switch(tmp_path: Path) -> Iterator[tuple[Controller, DatabaseSwitch]]:
    """The SMTP listener's handler on loopback, as the smtp_server fixture, with a switch
    for its database connection."""
    executor = ThreadPoolExecutor(max_workers=1)
    loop = asyncio.new_event_loop()
    loop.set_default_executor(executor)
    controller = Controller(
        IntakeHandler(), hostname="127.0.0.1", port=_free_port(), loop=loop, decode_data=False
    )
    controller.start()
    switch = DatabaseSwitch(executor, tmp_path)
    try:
        yield controller, switch
    finally:
        switch.up()
        executor.submit(connections.close_all).result()
        controller.stop()
        loop.close()


@pytest.mark.django_db(transaction=True)
def test_smtp_answers_451_on_one_line_while_the_database_is_down(
    smtp_with_database_switch: tuple[Controller, DatabaseSwitch],
) -> None:
    """Before: RCPT got `500 Error: (OperationalError) connection failed: ... socket
    "/tmp/.s.PGSQL.5432" ...` with a bare line break, so the client read the rest of that
    text as the reply to its next command."""
    server, database = smtp_with_database_switch
    acme = make_tenant("acme", "Acme")
    raw = build(subject="During the outage", message_id="<outage-1@example.test>")
    with smtplib.SMTP(server.hostname, server.port, timeout=30) as client:
        client.ehlo()
        assert client.mail("carla@example.test")[0] == 250

        database.down()
        code, text = client.rcpt("support@acme.localhost")
        assert (code, text) == (451, b"4.3.0 Temporary failure, please try again later")
        # The next command gets its own reply: the session is still in step.
        assert client.noop() == (250, b"OK")
        assert client.rcpt("support@acme.localhost")[0] == 451

        database.up()
        assert client.rcpt("support@acme.localhost")[0] == 250
        database.down()
        code, text = client.data(raw)
        assert (code, text) == (451, b"4.3.0 Temporary failure, please try again later")
        assert client.rset() == (250, b"OK")

        database.up()  # the sender's retry goes through
        assert client.mail("carla@example.test")[0] == 250
        assert client.rcpt("support@acme.localhost")[0] == 250
        assert client.data(raw)[0] == 250
    with tenant_context(acme.id):
        assert InboundEmail.objects.get().message_id == "<outage-1@example.test>"


# --- ESP webhooks -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_esp_webhook_answers_503_while_the_database_is_down(
    anymail_settings: None,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Before: a 500. ESPs retry both, but 503 with Retry-After says what happened and the
    error page shows nothing of it."""
    acme = make_tenant("acme", "Acme")
    client = Client(raise_request_exception=False)
    connection = connections["default"]
    original = connection.settings_dict
    connection.close()
    connection.settings_dict = {**original, "HOST": str(tmp_path), "PORT": ""}
    try:
        response = _mailgun_post(client, build(subject="Via Mailgun"), "support@acme.localhost")
    finally:
        connection.close()
        connection.settings_dict = original
    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    assert response.json()["error"]["code"] == "service_unavailable"
    assert str(tmp_path).encode() not in response.content
    # The ESP's retry is stored.
    response = _mailgun_post(client, build(subject="Via Mailgun"), "support@acme.localhost")
    assert response.status_code == 200
    with tenant_context(acme.id):
        assert InboundEmail.objects.get().channel == "esp:mailgun"
