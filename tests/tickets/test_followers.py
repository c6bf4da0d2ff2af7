"""Who reads a conversation: followers (copied on every public reply) are added only by the
requester, by followers and by agents (merging), and by mail only when it opens a ticket or
answers ours (one of our Message-IDs, the reply address token). A stranger who names a
ticket by its number, even with the requester's address forged in `From:`, or anyone else
who is not on it, cannot copy themselves or others in; the addresses they wrote to stay on
their message for the agents to see. No mailbox of any tenant here becomes a follower."""

from __future__ import annotations

import smtplib
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
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


def _sent(body_part: str) -> EmailMessage:
    """The one mail with this text, as its recipient's client sees it (headers included)."""
    sent = [m for m in mail.outbox if body_part in m.body]
    assert len(sent) == 1, f"{len(sent)} mails with {body_part!r}"
    return message_from_bytes(sent[0].message().as_bytes(), _class=EmailMessage, policy=default)


def _send(smtp_server: Controller, message: EmailMessage) -> None:
    with smtplib.SMTP(smtp_server.hostname, smtp_server.port) as client:
        client.send_message(message)


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


@pytest.mark.django_db(transaction=True)
def test_a_forged_requester_address_with_the_number_copies_nobody_in(
    smtp_server: Controller,
) -> None:
    """The attack end to end: `From:` is not authenticated and numbers are sequential, so
    mail "from" the requester with `[#N]` and a Cc of the attacker's reaches the ticket.
    It is still the customer's public message (a customer whose client drops References
    must be able to answer), but its Cc stays on the message and follows nothing: the next
    reply goes to the requester alone. Answering that forged mail's own Message-ID, which
    the forger chose, does not help either."""
    acme = make_tenant("acme", "Acme")
    _without_acknowledgements(acme)
    _send(smtp_server, _smtp_mail(sender="Carla <carla@example.test>", subject="VPN", body="Hi"))
    with tenant_context(acme.id):
        ticket = Ticket.objects.get()
    _reply(acme, ticket, "First answer: reinstall the client.")
    assert _recipients("First answer") == {"carla@example.test"}

    forged = _smtp_mail(
        sender="Carla <carla@example.test>",
        subject=f"Re: VPN [#{ticket.number}]",
        body="Please also copy my new colleague",
        cc="Mallory <mallory@evil.test>",
    )
    _send(smtp_server, forged)
    with tenant_context(acme.id):
        message = ticket.messages.get(body_text="Please also copy my new colleague")
        assert (message.kind, message.email_cc) == ("customer", ["mallory@evil.test"])
        assert _followers(ticket) == set()

    mail.outbox.clear()
    _reply(acme, ticket, "Second answer: the new certificate is attached.")
    assert _recipients("Second answer") == {"carla@example.test"}

    again = _smtp_mail(
        sender="Carla <carla@example.test>",
        subject="Re: VPN",
        body="Copy her please",
        cc="mallory@evil.test",
        In_Reply_To=forged["Message-ID"],
        References=forged["Message-ID"],
    )
    _send(smtp_server, again)
    with tenant_context(acme.id):
        message = ticket.messages.get(body_text="Copy her please")
        assert (message.kind, message.email_cc) == ("customer", ["mallory@evil.test"])
        assert _followers(ticket) == set()
    mail.outbox.clear()
    _reply(acme, ticket, "Third answer.")
    assert _recipients("Third answer") == {"carla@example.test"}
    page = acme.client(acme.admin).get(f"/tickets/{ticket.number}/").content.decode()
    assert "Also sent to mallory@evil.test" in page


@pytest.mark.django_db(transaction=True)
def test_the_requester_answering_our_mail_copies_people_in(smtp_server: Controller) -> None:
    """The legitimate ways, through the SMTP listener with the headers of the mail we sent:
    a new ticket's Cc, a reply that names our Message-ID (In-Reply-To, References), and a
    reply to the Reply-To address with its token (from a client that drops References)."""
    acme = make_tenant("acme", "Acme")
    _without_acknowledgements(acme)
    _send(
        smtp_server,
        _smtp_mail(
            sender="Carla <carla@example.test>", subject="VPN", body="Hi", cc="dan@example.test"
        ),
    )
    with tenant_context(acme.id):
        ticket = Ticket.objects.get()
        assert _followers(ticket) == {"dan@example.test"}
    _reply(acme, ticket, "First answer.")
    ours = _sent("First answer")
    _send(
        smtp_server,
        _smtp_mail(
            sender="Carla <carla@example.test>",
            subject=str(ours["Subject"]),
            body="Copying my manager",
            cc="erin@example.test",
            In_Reply_To=str(ours["Message-ID"]),
            References=str(ours["Message-ID"]),
        ),
    )
    with tenant_context(acme.id):
        assert _followers(ticket) == {"dan@example.test", "erin@example.test"}

    mail.outbox.clear()
    _reply(acme, ticket, "Second answer.")
    assert _recipients("Second answer") == {
        "carla@example.test",
        "dan@example.test",
        "erin@example.test",
    }
    ours = _sent("Second answer")
    to_token = _smtp_mail(
        sender="Carla <carla@example.test>",
        subject=str(ours["Subject"]),
        body="And our technician",
        cc="tom@example.test",
    )
    to_token.replace_header("To", str(ours["Reply-To"]))
    _send(smtp_server, to_token)
    with tenant_context(acme.id):
        assert Ticket.objects.count() == 1
        assert _followers(ticket) == {"dan@example.test", "erin@example.test", "tom@example.test"}
    mail.outbox.clear()
    _reply(acme, ticket, "Third answer.")
    assert _recipients("Third answer") == {
        "carla@example.test",
        "dan@example.test",
        "erin@example.test",
        "tom@example.test",
    }


def test_a_forged_requester_address_cannot_reopen_a_closed_ticket_with_followers(
    acme: TenantSetup,
) -> None:
    """A tag alone on a closed ticket opens a follow-up, linked to the old conversation:
    still no followers from its Cc, nor later from mail that answers its Message-ID."""
    _without_acknowledgements(acme)
    deliver(acme, build())
    with tenant_context(acme.id):
        old = Ticket.objects.get()
        services.change_status(ticket=old, status="closed", actor=None)
    forged = deliver(
        acme,
        build(
            subject=f"Re: [#{old.number}] Printer on fire",
            body="Copy my colleague",
            message_id="<forged@evil.test>",
            Cc="mallory@evil.test",
        ),
    )
    deliver(
        acme,
        build(
            subject="Re: Printer on fire",
            body="Copy her please",
            In_Reply_To="<forged@evil.test>",
            Cc="mallory@evil.test",
        ),
    )
    with tenant_context(acme.id):
        new = Ticket.objects.get(follow_up_of=old)
        assert forged.ticket_id == new.id
        assert new.messages.filter(kind="customer").count() == 2
        assert _followers(new) == set()
        assert _followers(old) == set()


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
    # Dan answers the opening mail before any reply of ours: its Message-ID is the
    # requester's, who chose the followers with it.
    deliver(
        acme,
        build(
            subject="Re: Printer on fire",
            sender="Dan <dan@example.test>",
            body="And our technician",
            In_Reply_To="<first@example.test>",
            References="<first@example.test>",
            Cc="tom@example.test",
        ),
    )
    with django_capture_on_commit_callbacks(execute=True):
        _reply(acme, ticket, "We are on it.")
    with tenant_context(acme.id):
        ours = ticket.messages.get(kind="reply").email_message_id
    deliver(
        acme,
        build(
            subject=f"Re: [#{ticket.number}] Printer on fire",
            body="Adding my manager",
            In_Reply_To=ours,
            References=f"<first@example.test> {ours}",
            Cc="erin@example.test, support+t-abc123@globex.localhost, help@acme.example",
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
