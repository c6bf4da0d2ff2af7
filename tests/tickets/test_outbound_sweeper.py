"""The outbound sweeper: a reply whose task was lost (a killed worker, a Redis restart) is
sent later, once, with its own Message-ID; a send cut short is never sent twice."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from pytest_django import Settings

from helpdesk.celery import app as celery_app
from helpdesk.tenancy.context import tenant_context
from tests.conftest import TenantSetup, make_tenant
from tests.tickets.test_inbound import build, deliver
from tests.tickets.test_outbound import _reply, _without_acknowledgements
from tickets.mail_out import services as outbound
from tickets.mail_out import tasks as mail_out_tasks
from tickets.models import Message

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "ops"])


@contextmanager
def tasks_lost() -> Iterator[None]:
    """Tasks enqueued in the block go to the broker, and are gone afterwards, as after a
    Redis restart without persistence; eager tasks again after the block."""
    celery_app.conf.task_always_eager = False
    try:
        yield
    finally:
        with celery_app.connection_for_write() as connection:
            for queue in celery_app.conf.task_queues:
                queue.bind(connection).purge()
        celery_app.conf.task_always_eager = True


def _status(setup: TenantSetup, message: Message) -> tuple[str, str]:
    with tenant_context(setup.id):
        message.refresh_from_db()
        return message.delivery_status, message.delivery_error


@pytest.fixture
def acme_ticket() -> TenantSetup:
    acme = make_tenant("acme", "Acme")
    _without_acknowledgements(acme)
    deliver(acme, build())
    mail.outbox.clear()
    return acme


def test_a_reply_whose_task_was_lost_is_sent_once_by_the_sweeper(
    acme_ticket: TenantSetup, settings: Settings
) -> None:
    acme = acme_ticket
    settings.HELPDESK_OUTBOUND_SWEEP_AFTER_SECONDS = 300
    start = timezone.now()
    with time_machine.travel(start, tick=False), tasks_lost():
        message = _reply(acme, body="We replaced the fuser.")
    assert _status(acme, message)[0] == "queued"

    with time_machine.travel(start + datetime.timedelta(seconds=60), tick=False):
        assert mail_out_tasks.sweep_outbound_emails.apply().get() == 0  # within the grace period
    assert mail.outbox == []

    with time_machine.travel(start + datetime.timedelta(seconds=301), tick=False):
        assert mail_out_tasks.sweep_outbound_emails.apply().get() == 1
    [sent] = mail.outbox
    assert sent.extra_headers["Message-ID"] == message.email_message_id
    assert "We replaced the fuser." in sent.body
    assert _status(acme, message) == ("sent", "")

    # Later sweeps, and the lost task coming back after all, send nothing more.
    with time_machine.travel(start + datetime.timedelta(seconds=1000), tick=False):
        assert mail_out_tasks.sweep_outbound_emails.apply().get() == 0
    mail_out_tasks.deliver_message_email.delay(tenant_id=str(acme.id), message_id=str(message.id))
    mail_out_tasks.requeue_outbound_emails.delay(tenant_id=str(acme.id))
    assert len(mail.outbox) == 1


def test_a_send_cut_short_is_marked_unknown_and_never_sent_twice(
    acme_ticket: TenantSetup, settings: Settings
) -> None:
    """The worker claimed the reply (committed) and died during the send: whether the
    customer got it cannot be told, so it is not sent again by itself."""
    acme = acme_ticket
    settings.HELPDESK_OUTBOUND_SENDING_TIMEOUT_SECONDS = 1800
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        with tasks_lost():
            message = _reply(acme)
        with tenant_context(acme.id):
            assert outbound.claim_message_email(message_id=message.id, tenant_name="Acme")
    assert _status(acme, message)[0] == "sending"

    with time_machine.travel(start + datetime.timedelta(seconds=1000), tick=False):
        mail_out_tasks.sweep_outbound_emails.apply()
        mail_out_tasks.deliver_message_email.delay(
            tenant_id=str(acme.id), message_id=str(message.id)
        )
    assert _status(acme, message)[0] == "sending"  # a send may still be under way

    with time_machine.travel(start + datetime.timedelta(seconds=1801), tick=False):
        assert mail_out_tasks.sweep_outbound_emails.apply().get() == 1
    status, reason = _status(acme, message)
    assert status == "unknown"
    assert "may or may not have reached the customer" in reason

    with time_machine.travel(start + datetime.timedelta(seconds=4000), tick=False):
        assert mail_out_tasks.sweep_outbound_emails.apply().get() == 0
        mail_out_tasks.deliver_message_email.delay(
            tenant_id=str(acme.id), message_id=str(message.id)
        )
    assert mail.outbox == []
    assert _status(acme, message)[0] == "unknown"
    with tenant_context(acme.id):
        page = acme.client(acme.admin).get(f"/tickets/{message.ticket.number}/").content
    assert b"may not have been sent" in page


def test_a_reply_that_ran_out_of_retries_stays_queued_and_the_sweeper_sends_it(
    acme_ticket: TenantSetup, settings: Settings
) -> None:
    """The mail server is down for every attempt of the task: the reply is not failed but
    back in the queue, and goes out once the server is back."""
    acme = acme_ticket
    settings.HELPDESK_OUTBOUND_SWEEP_AFTER_SECONDS = 300
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        message = _reply(acme)  # the task runs (eagerly: its only, so last, attempt)
    status, reason = _status(acme, message)
    assert status == "queued"
    assert reason.startswith("not sent yet, will retry: ConnectionRefusedError")

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with time_machine.travel(start + datetime.timedelta(seconds=301), tick=False):
        assert mail_out_tasks.sweep_outbound_emails.apply().get() == 1
    assert len(mail.outbox) == 1
    assert _status(acme, message) == ("sent", "")
