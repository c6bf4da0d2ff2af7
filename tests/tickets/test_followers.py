"""Who reads a conversation: followers (copied on every public reply) are added only by the
requester, by followers and by agents (merging). A stranger who names a ticket by its
number, or anyone else who is not on it, cannot copy themselves or others in; the
addresses they wrote to stay on their message for the agents to see. No mailbox of any
tenant here becomes a follower."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from aiosmtpd.controller import Controller
from django.core import mail
from pytest_django import DjangoCaptureOnCommitCallbacks

from departments import services as department_services
from helpdesk.tenancy.context import tenant_context
from tests.conftest import TenantSetup, make_tenant
from tests.tickets.test_inbound import build, deliver
from tickets.models import InboundEmail, Ticket
from tickets.ticket import merging, services


def _followers(ticket: Ticket) -> set[str]:
    return set(ticket.followers.values_list("contact__email", flat=True))


def _reply(setup: TenantSetup, ticket: Ticket, body: str) -> None:
    with tenant_context(setup.id):
        services.add_message(ticket=ticket, kind="reply", body=body, actor=setup.admin)


def _recipients(body_part: str) -> set[str]:
    """Everyone the mail with this text went to (To, Cc and Bcc)."""
    sent = [m for m in mail.outbox if body_part in m.body]
    assert sent, f"no mail with {body_part!r}"
    return {a.lower() for m in sent for a in m.recipients()}


def _without_acknowledgements(setup: TenantSetup) -> None:
    with tenant_context(setup.id):
        department_services.update_mailbox(mailbox=setup.mailbox, auto_ack_enabled=False)


def _smtp_mail(
    *, sender: str, subject: str, body: str, cc: str = "", **headers: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "support@acme.localhost"
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="mail.test")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


@pytest.mark.django_db(transaction=True)
def test_a_stranger_who_guesses_the_number_never_receives_the_agents_replies(
    smtp_server: Controller,
) -> None:
    """The attack end to end, through the SMTP listener and the outbox: a stranger mails
    `[#N]` with a Cc of their own; the agent answers the customer again; neither the
    stranger nor their Cc is among the recipients, and the stranger cannot post publicly
    later, not even by replying to their own mail."""
    acme = make_tenant("acme", "Acme")
    _without_acknowledgements(acme)
    customer = _smtp_mail(
        sender="Carla <carla@example.test>",
        subject="Printer on fire",
        body="Help!",
        cc="dan@example.test",
    )
    with smtplib.SMTP(smtp_server.hostname, smtp_server.port) as client:
        client.send_message(customer)
    with tenant_context(acme.id):
        ticket = Ticket.objects.get()
    _reply(acme, ticket, "First answer: unplug it.")
    assert _recipients("First answer") == {"carla@example.test", "dan@example.test"}

    stranger = _smtp_mail(
        sender="Eve <eve@evil.test>",
        subject=f"Re: Printer on fire [#{ticket.number}]",
        body="Please send me the details too",
        cc="Mallory <mallory@evil.test>",
    )
    with smtplib.SMTP(smtp_server.hostname, smtp_server.port) as client:
        client.send_message(stranger)
    with tenant_context(acme.id):
        note = ticket.messages.get(author_contact__email="eve@evil.test")
        assert note.kind == "note"
        assert note.email_cc == ["mallory@evil.test"]
        assert _followers(ticket) == {"dan@example.test"}

    mail.outbox.clear()
    _reply(acme, ticket, "Second answer: the fuser is replaced.")
    assert _recipients("Second answer") == {"carla@example.test", "dan@example.test"}

    # Replying to their own mail (its Message-ID is on the note) does not make the
    # stranger part of the conversation either.
    again = _smtp_mail(
        sender="Eve <eve@evil.test>",
        subject=f"Re: Printer on fire [#{ticket.number}]",
        body="Public now?",
        cc="mallory@evil.test",
        In_Reply_To=stranger["Message-ID"],
        References=stranger["Message-ID"],
    )
    with smtplib.SMTP(smtp_server.hostname, smtp_server.port) as client:
        client.send_message(again)
    with tenant_context(acme.id):
        later = ticket.messages.get(body_text="Public now?")
        assert (later.kind, later.ticket_id) == ("note", ticket.id)
        assert _followers(ticket) == {"dan@example.test"}
        assert list(
            ticket.messages.filter(kind="customer").values_list("body_text", flat=True)
        ) == ["Help!"]
    mail.outbox.clear()
    _reply(acme, ticket, "Third answer.")
    assert _recipients("Third answer") == {"carla@example.test", "dan@example.test"}

    page = acme.client(acme.admin).get(f"/tickets/{ticket.number}/").content.decode()
    assert "Also sent to mallory@evil.test (not copied on replies" in page
    response = acme.api_client().get(f"/api/v1/tickets/{ticket.number}/messages/")
    by_body = {m["body_text"]: m for m in response.json()["results"]}
    assert by_body["Please send me the details too"]["email_cc"] == ["mallory@evil.test"]


def test_someone_found_by_the_reply_address_writes_but_copies_nobody_in(acme: TenantSetup) -> None:
    """The plus-address token reaches the ticket (mail forwarded to a colleague), but only
    the requester and followers choose who reads the replies."""
    _without_acknowledgements(acme)
    deliver(acme, build())
    with tenant_context(acme.id):
        ticket = Ticket.objects.get()
    to = f"support+t-{ticket.reply_token}@acme.localhost"
    email = deliver(
        acme,
        build(
            subject="Fwd",
            body="I am Carla's colleague",
            sender="pat@example.test",
            to=to,
            Cc="outsider@else.test",
        ),
        to=[to],
    )
    with tenant_context(acme.id):
        message = email.ticket_message
        assert message is not None
        assert (message.kind, message.ticket_id) == ("customer", ticket.id)
        assert message.email_cc == ["outsider@else.test"]
        assert _followers(ticket) == set()


def test_someone_found_by_a_message_id_of_ours_copies_nobody_in(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _without_acknowledgements(acme)
    deliver(acme, build())
    with tenant_context(acme.id):
        ticket = Ticket.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        _reply(acme, ticket, "Our answer.")
    with tenant_context(acme.id):
        ours = ticket.messages.get(kind="reply").email_message_id
    email = deliver(
        acme,
        build(
            subject="Re: something",
            body="Forwarded to me",
            sender="pat@example.test",
            In_Reply_To=ours,
            Cc="outsider@else.test",
        ),
    )
    with tenant_context(acme.id):
        assert email.ticket_message is not None
        assert (email.ticket_id, email.ticket_message.kind) == (ticket.id, "customer")
        assert _followers(ticket) == set()


def test_the_requester_and_followers_copy_people_in_but_never_a_mailbox(
    acme: TenantSetup,
    globex: TenantSetup,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    """The legitimate ways stay: the requester's Cc (new ticket and reply) and a
    follower's Cc become followers. A mailbox of another tenant (or a plus form of it, or
    an alias of ours) never does, so no reply of ours lands in another help desk."""
    _without_acknowledgements(acme)
    with tenant_context(acme.id):
        department_services.create_mailbox(address="help@acme.example", department=acme.department)
    deliver(
        acme,
        build(
            message_id="<first@example.test>",
            Cc="dan@example.test, support@globex.localhost",
        ),
    )
    with tenant_context(acme.id):
        ticket = Ticket.objects.get()
        assert _followers(ticket) == {"dan@example.test"}
        first = ticket.messages.get(kind="customer")
        assert first.email_cc == ["dan@example.test", "support@globex.localhost"]
    deliver(
        acme,
        build(
            subject=f"Re: [#{ticket.number}] Printer on fire",
            body="Adding my manager",
            Cc="erin@example.test, support+t-abc123@globex.localhost, help@acme.example",
        ),
    )
    deliver(
        acme,
        build(
            subject=f"Re: [#{ticket.number}] Printer on fire",
            sender="Dan <dan@example.test>",
            body="And our technician",
            Cc="tom@example.test",
        ),
    )
    with tenant_context(acme.id):
        assert _followers(ticket) == {"dan@example.test", "erin@example.test", "tom@example.test"}
        ticket.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        _reply(acme, ticket, "To all of you.")
    assert _recipients("To all of you") == {
        "carla@example.test",
        "dan@example.test",
        "erin@example.test",
        "tom@example.test",
    }
    with tenant_context(globex.id):
        assert not Ticket.objects.exists()
        assert not InboundEmail.objects.exists()


def test_merging_carries_the_followers_the_requesters_chose_and_no_outsiders(
    acme: TenantSetup,
) -> None:
    """Merging is the agent's choice: the other ticket's requester and followers follow
    the survivor. A stranger's Cc on the merged ticket was never a follower, so it does not
    come along."""
    _without_acknowledgements(acme)
    deliver(acme, build(message_id="<a@example.test>"))
    deliver(
        acme,
        build(
            subject="Second request",
            sender="Bob <bob@example.test>",
            message_id="<b@example.test>",
            Cc="ben@example.test",
        ),
    )
    with tenant_context(acme.id):
        survivor = Ticket.objects.get(contact__email="carla@example.test")
        other = Ticket.objects.get(contact__email="bob@example.test")
    deliver(
        acme,
        build(
            subject=f"[#{other.number}]",
            sender="eve@evil.test",
            body="me too",
            Cc="mallory@evil.test",
        ),
    )
    with tenant_context(acme.id):
        assert _followers(other) == {"ben@example.test"}
        merging.merge_tickets(survivor=survivor, others=[other], actor=acme.admin)
        assert _followers(survivor) == {"bob@example.test", "ben@example.test"}
