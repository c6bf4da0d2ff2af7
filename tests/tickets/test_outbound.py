"""Email out: agent replies thread in the customer's mail client, failures are shown,
the customer's answer comes back onto the same ticket, ESP delivery status is recorded."""

from __future__ import annotations

import email
import hashlib
import hmac
import json
import smtplib
import socket
import time
from email import policy
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any
from uuid import UUID

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.test import Client
from pytest_django import DjangoAssertNumQueries, DjangoCaptureOnCommitCallbacks, Settings

from helpdesk.core.errors import TransientError
from helpdesk.mail.models import OutboundEmail
from helpdesk.tenancy.context import tenant_context
from tests.conftest import TenantSetup, make_tenant
from tests.factories.tickets import make_contact
from tests.tickets.test_inbound import build, deliver
from tickets.mail_out import tasks as mail_out_tasks
from tickets.models import Contact, Message, Ticket
from tickets.ticket import selectors as ticket_selectors
from tickets.ticket import services

if TYPE_CHECKING:
    from tests.conftest import ClientResponse


def _reply(setup: TenantSetup, body: str = "We replaced the fuser.", **kwargs: Any) -> Message:
    with tenant_context(setup.id):
        ticket = Ticket.objects.get()
        return services.add_message(
            ticket=ticket, kind="reply", body=body, actor=setup.admin, **kwargs
        )


def _without_acknowledgements(setup: TenantSetup) -> None:
    """These tests look at agent replies alone (the acknowledgement has its own tests)."""
    from departments import services as department_services

    with tenant_context(setup.id):
        department_services.update_mailbox(mailbox=setup.mailbox, auto_ack_enabled=False)


def test_reply_is_emailed_with_threading_headers(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _without_acknowledgements(acme)
    deliver(acme, build(message_id="<first@example.test>", Cc="dan@example.test"))
    with django_capture_on_commit_callbacks(execute=True):
        message = _reply(acme)
    [sent] = mail.outbox
    headers = sent.message()
    with tenant_context(acme.id):
        message.refresh_from_db()
        ticket = Ticket.objects.get()
    assert message.delivery_status == "sent"
    assert headers["Message-ID"] == message.email_message_id
    assert headers["In-Reply-To"] == "<first@example.test>"
    assert headers["References"] == "<first@example.test>"
    assert headers["Subject"] == f"Re: Printer on fire [#{ticket.number}]"
    assert headers["From"] == "Acme Support <support@acme.localhost>"
    assert headers["Reply-To"] == f"support+t-{ticket.reply_token}@acme.localhost"
    assert headers["Auto-Submitted"] is None
    assert sent.to == ["carla@example.test"]
    assert sent.cc == ["dan@example.test"]
    assert "We replaced the fuser." in sent.body
    assert isinstance(sent, EmailMultiAlternatives)
    assert sent.alternatives[0][1] == "text/html"


def test_placeholders_typed_into_a_reply_are_filled_in(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    """As in a canned response; braces that are not a placeholder stay as typed, and an
    internal note is kept as written."""
    _without_acknowledgements(acme)
    deliver(acme, build())
    body = (
        "Hi {{contact.first_name}}, #{{ ticket.number }} is with {{ department.name }}."
        " Use {{ name }} in your own template; {{ reply.body }} too."
    )
    with django_capture_on_commit_callbacks(execute=True):
        message = _reply(acme, body=body)
    with tenant_context(acme.id):
        ticket = Ticket.objects.select_related("department").get()
        note = services.add_message(
            ticket=ticket, kind="note", body="{{ contact.name }} called", actor=acme.admin
        )
    filled = (
        f"Hi Carla, #{ticket.number} is with {ticket.department.name}."
        " Use {{ name }} in your own template; {{ reply.body }} too."
    )
    assert message.body_text == filled
    assert filled in mail.outbox[-1].body
    assert note.body_text == "{{ contact.name }} called"


def test_references_chain_the_whole_conversation(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _without_acknowledgements(acme)
    deliver(acme, build(message_id="<one@example.test>"))
    with django_capture_on_commit_callbacks(execute=True):
        first = _reply(acme, body="First answer")
    deliver(acme, build(message_id="<two@example.test>", In_Reply_To=first.email_message_id))
    with django_capture_on_commit_callbacks(execute=True):
        _reply(acme, body="Second answer")
    headers = mail.outbox[-1].message()
    assert headers["In-Reply-To"] == "<two@example.test>"
    assert headers["References"].split() == [
        "<one@example.test>",
        first.email_message_id,
        "<two@example.test>",
    ]


def test_internal_notes_are_never_emailed(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    deliver(acme, build())
    with django_capture_on_commit_callbacks(execute=True), tenant_context(acme.id):
        services.add_message(
            ticket=Ticket.objects.get(), kind="note", body="psst", actor=acme.admin
        )
    assert mail.outbox == []


def test_automatic_mail_is_marked(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        deliver(acme, build())
    [ack] = mail.outbox
    assert ack.message()["Auto-Submitted"] == "auto-replied"


def test_a_send_the_mail_server_refuses_for_good_is_failed_and_shown(
    acme: TenantSetup,
    settings: Settings,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    deliver(acme, build())
    server = Controller(RefuseRecipients(), hostname="127.0.0.1", port=_free_port())
    server.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = server.hostname, server.port
        with django_capture_on_commit_callbacks(execute=True):
            message = _reply(acme)
    finally:
        server.stop()
    with tenant_context(acme.id):
        message.refresh_from_db()
        assert message.delivery_status == "failed"
        assert "SMTPRecipientsRefused" in message.delivery_error
        number = message.ticket.number
    page = acme.client(acme.admin).get(f"/tickets/{number}/").content
    assert b"Email failed" in page


def test_a_send_while_the_mail_server_is_down_stays_queued_and_is_shown(
    acme: TenantSetup,
    settings: Settings,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    """An outage is never a failure: back in the queue, for the task's next attempt or,
    after its last, the outbound sweeper (test_outbound_sweeper.py)."""
    deliver(acme, build())
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    with django_capture_on_commit_callbacks(execute=True):
        message = _reply(acme)
    with tenant_context(acme.id):
        message.refresh_from_db()
        assert message.delivery_status == "queued"
        assert "will retry: ConnectionRefusedError" in message.delivery_error
        number = message.ticket.number
    page = acme.client(acme.admin).get(f"/tickets/{number}/").content
    assert b"Email queued: not sent yet, will retry" in page


def test_a_failed_attempt_is_retried_not_lost(acme: TenantSetup, settings: Settings) -> None:
    deliver(acme, build())
    mail.outbox.clear()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    message = _reply(acme)
    kwargs = {"tenant_id": str(acme.id), "message_id": str(message.id)}
    # Called as a worker would on a first attempt (not eagerly, which is every run's last):
    # it raises for Celery to retry it, and the message is queued again.
    with pytest.raises(TransientError):
        mail_out_tasks.deliver_message_email(**kwargs)
    with tenant_context(acme.id):
        message.refresh_from_db()
        assert message.delivery_status == "queued"  # released: the retry will claim it
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail_out_tasks.deliver_message_email.delay(**kwargs)
    mail_out_tasks.deliver_message_email.delay(**kwargs)  # a redelivery: claimed and sent already
    with tenant_context(acme.id):
        message.refresh_from_db()
        assert message.delivery_status == "sent"
    assert len(mail.outbox) == 1


class RefuseRecipients:
    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        return "550 5.1.1 No such user here"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the round trip through the real SMTP listener ----------------------------------------


def _answer(
    received: email.message.EmailMessage,
    *,
    drop_tag: bool,
    drop_references: bool,
    drop_in_reply_to: bool,
) -> EmailMessage:
    """What a mail client makes when the customer presses Reply on our message."""
    answer = EmailMessage()
    answer["From"] = "Carla <carla@example.test>"
    answer["To"] = received["Reply-To"]
    subject = str(received["Subject"])
    if drop_tag:
        subject = subject.split(" [#")[0]
    answer["Subject"] = subject if subject.startswith("Re:") else f"Re: {subject}"
    answer["Message-ID"] = email.utils.make_msgid(domain="example.test")
    if not drop_in_reply_to:
        answer["In-Reply-To"] = received["Message-ID"]
    if not drop_references:
        answer["References"] = f"{received['References'] or ''} {received['Message-ID']}".strip()
    plain = received.get_body(("plain",))
    assert plain is not None
    quoted = "\n".join(f"> {line}" for line in plain.get_content().splitlines())
    answer.set_content(f"Thanks, that fixed it.\n\nOn Monday Acme wrote:\n{quoted}\n")
    return answer


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("drop_tag", "drop_references", "drop_in_reply_to"),
    [
        (False, False, False),
        (True, False, False),
        (False, True, False),
        (True, True, True),
    ],
)
def test_round_trip_through_the_smtp_listener(
    smtp_server: Controller, drop_tag: bool, drop_references: bool, drop_in_reply_to: bool
) -> None:
    acme = make_tenant("acme", "Acme")
    with smtplib.SMTP(smtp_server.hostname, smtp_server.port) as client:
        client.sendmail(
            "carla@example.test",
            ["support@acme.localhost"],
            build(subject="Printer on fire", body="Help!"),
        )
    _reply(acme, body="Try turning it off and on again.")
    reply = next(m for m in mail.outbox if "Try turning" in m.body)
    received = email.message_from_bytes(reply.message().as_bytes(), policy=policy.default)
    answer = _answer(
        received,
        drop_tag=drop_tag,
        drop_references=drop_references,
        drop_in_reply_to=drop_in_reply_to,
    )
    with smtplib.SMTP(smtp_server.hostname, smtp_server.port) as client:
        client.send_message(answer)
    with tenant_context(acme.id):
        ticket = Ticket.objects.get()
        customer = list(ticket.messages.filter(kind="customer").order_by("created_at"))
        assert len(customer) == 2
        assert customer[-1].body_text == "Thanks, that fixed it."
        assert "Try turning it off" in customer[-1].quoted_text
        assert ticket.status == "open"


# --- delivery status from the ESP ---------------------------------------------------------

SIGNING_KEY = "mailgun-signing-key"


def _tracking(
    client: Client, event: str, message: Message, tenant_id: UUID, **extra: object
) -> ClientResponse:
    timestamp, token = str(int(time.time())), "tok"
    signature = hmac.new(
        SIGNING_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256
    ).hexdigest()
    payload = {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": {
            "event": event,
            "timestamp": time.time(),
            "id": "evt",
            "recipient": "carla@example.test",
            "message": {"headers": {"message-id": "provider-id@mailgun"}},
            "user-variables": {"tenant_id": str(tenant_id), "message_id": str(message.id)},
            **extra,
        },
    }
    return client.post(
        "/anymail/mailgun/tracking/",
        json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION="Basic aG9vazpzZWNyZXQ=",
    )


@pytest.fixture
def tracked(
    acme: TenantSetup,
    settings: Settings,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> Message:
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:secret", "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
    deliver(acme, build())
    with django_capture_on_commit_callbacks(execute=True):
        return _reply(acme)


def test_delivered_event_updates_the_message(
    acme: TenantSetup, tracked: Message, client: Client
) -> None:
    assert _tracking(client, "delivered", tracked, acme.id).status_code == 200
    with tenant_context(acme.id):
        tracked.refresh_from_db()
        assert tracked.delivery_status == "delivered"


def test_hard_bounce_fails_the_message_and_flags_the_address(
    acme: TenantSetup, tracked: Message, client: Client
) -> None:
    response = _tracking(
        client,
        "failed",
        tracked,
        acme.id,
        severity="permanent",
        **{
            "delivery-status": {
                "code": 550,
                "message": "No such user",
                "description": "mailbox unavailable",
            }
        },
    )
    assert response.status_code == 200
    with tenant_context(acme.id):
        tracked.refresh_from_db()
        assert tracked.delivery_status == "failed"
        assert "No such user" in tracked.delivery_error
        assert Contact.objects.get(email="carla@example.test").email_bounced_at is not None


def test_a_followers_hard_bounce_flags_the_follower_not_the_requester(
    acme: TenantSetup, tracked: Message, client: Client
) -> None:
    """Replies copy the followers: a bad follower's address bounced the requester's, who
    then got no status mails, surveys or sign-in links."""
    with tenant_context(acme.id):
        dan = make_contact(email="dan@typo-domain.test")
    response = _tracking(
        client,
        "failed",
        tracked,
        acme.id,
        severity="permanent",
        recipient="Dan@typo-domain.test",
        **{"delivery-status": {"code": 550, "message": "No such user"}},
    )
    assert response.status_code == 200
    with tenant_context(acme.id):
        tracked.refresh_from_db()
        assert tracked.delivery_status != "failed"  # it reached the requester
        assert Contact.objects.get(id=dan.id).email_bounced_at is not None
        assert Contact.objects.get(email="carla@example.test").email_bounced_at is None
        said = [m.event.get("to") for m in Message.objects.filter(kind="event")]
        assert "not delivered to Dan@typo-domain.test: No such user" in said


def test_tracking_event_cannot_touch_another_tenant(
    acme: TenantSetup,
    globex: TenantSetup,
    tracked: Message,
    client: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _tracking(client, "delivered", tracked, globex.id)
    with tenant_context(acme.id):
        tracked.refresh_from_db()
        assert tracked.delivery_status == "sent"
    assert f"which tenant {globex.id} does not have: ignored" in caplog.text


def test_tracking_event_must_match_the_provider_id_the_message_was_sent_as(
    acme: TenantSetup, tracked: Message, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """The metadata names our message; the ESP's message id must be the mail we sent."""
    assert tracked.outbound_email_id is not None
    with tenant_context(acme.id):
        OutboundEmail.objects.filter(id=tracked.outbound_email_id).update(
            provider_message_id="<other@mailgun>"
        )
    assert _tracking(client, "delivered", tracked, acme.id).status_code == 200
    with tenant_context(acme.id):
        tracked.refresh_from_db()
        assert tracked.delivery_status == "sent"
    assert "sent as <other@mailgun>: ignored" in caplog.text

    with tenant_context(acme.id):
        OutboundEmail.objects.filter(id=tracked.outbound_email_id).update(
            provider_message_id="<provider-id@mailgun>"
        )
    _tracking(client, "delivered", tracked, acme.id)
    with tenant_context(acme.id):
        tracked.refresh_from_db()
        assert tracked.delivery_status == "delivered"


def test_tracking_webhook_without_a_webhook_secret_is_refused(
    acme: TenantSetup, tracked: Message, client: Client, settings: Settings
) -> None:
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
    response = _tracking(client, "delivered", tracked, acme.id)
    assert response.status_code == 403
    assert b"ANYMAIL_WEBHOOK_SECRET" in response.content
    with tenant_context(acme.id):
        tracked.refresh_from_db()
        assert tracked.delivery_status == "sent"


def test_a_reply_skips_a_follower_no_mail_can_go_to(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    """One made before Cc addresses were checked: the reply still reaches the rest."""
    _without_acknowledgements(acme)
    deliver(acme, build(Cc="fay@example.test"))
    with tenant_context(acme.id):
        Contact.objects.filter(email="fay@example.test").update(email="fay@example..test")
    with django_capture_on_commit_callbacks(execute=True):
        message = _reply(acme)
    [sent] = mail.outbox
    assert sent.to == ["carla@example.test"]
    assert sent.cc == []
    with tenant_context(acme.id):
        message.refresh_from_db()
    assert message.delivery_status == "sent"


def test_threading_headers_never_name_an_internal_note_or_a_forward(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    """An outsider's mail kept as a note (found by the [#n] tag alone): the requester's mail
    client must not learn its Message-ID, nor answer a mail it never got."""
    _without_acknowledgements(acme)
    deliver(acme, build(message_id="<carla-1@example.test>"))
    with tenant_context(acme.id):
        number = Ticket.objects.get().number
    outsider = deliver(
        acme,
        build(
            subject=f"Re: Printer on fire [#{number}]",
            sender="eve@elsewhere.test",
            message_id="<eve-secret@elsewhere.test>",
        ),
    )
    with tenant_context(acme.id):
        assert Message.objects.get(email_message_id="<eve-secret@elsewhere.test>").kind == "note"
    assert outsider.status == "processed"
    with django_capture_on_commit_callbacks(execute=True):
        _reply(acme)
    headers = mail.outbox[-1].message()
    assert headers["In-Reply-To"] == "<carla-1@example.test>"
    assert headers["References"] == "<carla-1@example.test>"


def test_reply_attachments_are_emailed(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    deliver(acme, build())
    with tenant_context(acme.id):
        number = Ticket.objects.get().number
    upload = SimpleUploadedFile("steps.pdf", b"%PDF-1.4 steps", content_type="application/pdf")
    with django_capture_on_commit_callbacks(execute=True):
        response = acme.client(acme.admin).post(
            f"/tickets/{number}/messages/",
            {"kind": "reply", "body": "See the attached steps.", "attachments": [upload]},
        )
    assert response.status_code == 302
    [sent] = mail.outbox
    assert sent.attachments[0][0] == "steps.pdf"
    assert sent.attachments[0][1] == b"%PDF-1.4 steps"


def test_an_upload_whose_content_type_is_no_mime_type_is_stored_as_bytes(
    acme: TenantSetup,
) -> None:
    """The browser (or a client) names the type: a NUL in it was a 500 (PostgreSQL), and
    parameters or odd text are not a type. Plain ones stay as they came, lower-cased."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tickets.models import Attachment

    deliver(acme, build())
    with tenant_context(acme.id):
        number = Ticket.objects.get().number
    named = {
        "nul.txt": "text/pl\x00ain",
        "spaced.txt": "text plain",
        "params.txt": "Text/Plain; charset=utf-8",
        "fine.pdf": "application/pdf",
    }
    uploads = [SimpleUploadedFile(n, b"x", content_type=t) for n, t in named.items()]
    response = acme.client(acme.admin).post(
        f"/tickets/{number}/messages/", {"kind": "note", "body": "Files.", "attachments": uploads}
    )
    assert response.status_code == 302
    with tenant_context(acme.id):
        stored = dict(Attachment.objects.values_list("filename", "content_type"))
    assert stored == {
        "nul.txt": "application/octet-stream",
        "spaced.txt": "application/octet-stream",
        "params.txt": "text/plain",
        "fine.pdf": "application/pdf",
    }


def test_api_reply_with_attachment(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    deliver(acme, build())
    with tenant_context(acme.id):
        number = Ticket.objects.get().number
    api = acme.api_client()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"/api/v1/tickets/{number}/messages/",
            {
                "kind": "reply",
                "body": "Invoice attached.",
                "attachments": [SimpleUploadedFile("invoice.txt", b"total: 10")],
            },
        )
    assert response.status_code == 201, response.content
    assert response.json()["delivery_status"] in {"queued", "sent"}
    assert mail.outbox[0].attachments[0][0] == "invoice.txt"


def test_a_thread_reads_only_the_delivery_state_of_its_outbox_emails(
    acme: TenantSetup,
    django_assert_num_queries: DjangoAssertNumQueries,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    _without_acknowledgements(acme)
    deliver(acme, build())
    with django_capture_on_commit_callbacks(execute=True):
        reply = _reply(acme)
    with tenant_context(acme.id):
        ticket = Ticket.objects.get()
        first = ticket_selectors.list_thread(ticket).first()
        assert first is not None
        thread = list(ticket_selectors.list_thread(ticket))
        after = ticket_selectors.list_messages_after(ticket, first.id)
        for messages in (thread, after):
            [emailed] = [message for message in messages if message.id == reply.id]
            outbound = emailed.outbound_email
            assert outbound is not None
            # The bodies, headers and attachments of the outbox row stay in the database.
            assert {"body_text", "body_html", "headers", "attachments"} <= (
                outbound.get_deferred_fields()
            )
            with django_assert_num_queries(0):
                assert (emailed.delivery_status, emailed.delivery_error) == ("sent", "")
