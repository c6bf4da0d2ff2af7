"""The SMTP listener on loopback: 550 for unknown recipients, 552 over the size limit,
250 only after the mail is stored (and, with eager tasks, turned into a ticket)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from helpdesk.tenancy.context import tenant_context
from tests.conftest import make_tenant
from tickets.models import InboundEmail, Ticket

pytestmark = pytest.mark.django_db(transaction=True)


def _message(subject: str = "Printer on fire", body: str = "Help!") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Carla <carla@example.test>"
    message["To"] = "support@acme.localhost"
    message["Subject"] = subject
    message["Message-ID"] = f"<{abs(hash(subject))}@example.test>"
    message.set_content(body)
    return message


def test_mail_to_a_tenant_mailbox_becomes_a_ticket(smtp_server: Controller) -> None:
    acme = make_tenant("acme", "Acme")
    with smtplib.SMTP(smtp_server.hostname, smtp_server.port) as client:
        refused = client.send_message(_message())
    assert refused == {}
    with tenant_context(acme.id):
        ticket = Ticket.objects.get()
        assert ticket.subject == "Printer on fire"
        assert ticket.contact.email == "carla@example.test"
        assert InboundEmail.objects.get().status == "processed"


def test_unknown_recipient_is_refused_at_rcpt(smtp_server: Controller) -> None:
    make_tenant("acme", "Acme")
    with (
        smtplib.SMTP(smtp_server.hostname, smtp_server.port) as client,
        pytest.raises(smtplib.SMTPRecipientsRefused) as refused,
    ):
        client.send_message(_message(), to_addrs=["nobody@nowhere.test"])
    assert refused.value.recipients["nobody@nowhere.test"][0] == 550


def test_oversized_mail_is_refused_with_552(smtp_server: Controller) -> None:
    make_tenant("acme", "Acme")
    with (
        smtplib.SMTP(smtp_server.hostname, smtp_server.port) as client,
        pytest.raises(smtplib.SMTPResponseException) as refused,
    ):
        client.send_message(_message(body="x" * 80_000))
    assert refused.value.smtp_code == 552


def test_redelivery_is_stored_once(smtp_server: Controller) -> None:
    acme = make_tenant("acme", "Acme")
    message = _message()
    with smtplib.SMTP(smtp_server.hostname, smtp_server.port) as client:
        client.send_message(message)
        client.send_message(message)
    with tenant_context(acme.id):
        assert InboundEmail.objects.count() == 1
        assert Ticket.objects.count() == 1


def test_reply_with_subject_tag_threads_and_reopens(smtp_server: Controller) -> None:
    acme = make_tenant("acme", "Acme")
    with smtplib.SMTP(smtp_server.hostname, smtp_server.port) as client:
        client.send_message(_message())
        with tenant_context(acme.id):
            ticket = Ticket.objects.get()
            from tickets.ticket import services

            services.change_status(ticket=ticket, status="solved", actor=None)
        client.send_message(
            _message(subject=f"Re: [#{ticket.number}] Printer on fire", body="Still burning")
        )
    with tenant_context(acme.id):
        ticket.refresh_from_db()
        assert Ticket.objects.count() == 1
        assert ticket.status == "open"
        assert ticket.messages.filter(kind="customer").count() == 2
