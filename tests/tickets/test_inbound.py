"""Email to ticket: threading, follow-ups, followers, loops, bounces, acknowledgements and
the ingest_email command."""

from __future__ import annotations

import io
import subprocess
import sys
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from uuid import UUID

import pytest
from django.core import mail
from django.core.management import call_command
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from departments import services as department_services
from helpdesk.tenancy.context import tenant_context
from tests.concurrency import second_behind_first
from tests.conftest import TenantSetup
from tickets.mail_in import intake
from tickets.mail_in import services as inbound
from tickets.mail_in import tasks as mail_in_tasks
from tickets.models import InboundEmail, Message, Ticket, TicketFollower, UnroutedEmail
from tickets.ticket import services

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def build(
    subject: str = "Printer on fire",
    body: str = "Help!",
    sender: str = "Carla <carla@example.test>",
    to: str = "support@acme.localhost",
    **headers: str,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = headers.pop("message_id", make_msgid(domain="example.test"))
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


def deliver(setup: TenantSetup, raw: bytes, to: list[str] | None = None) -> InboundEmail:
    """The real intake and processing, as a worker would run them."""
    accepted = intake.accept(
        raw=raw, envelope_to=to or [], envelope_from="", channel="test", enqueue=False
    )
    assert accepted is not None
    with tenant_context(setup.id):
        return inbound.process_inbound_email(email_id=UUID(accepted.email_id))


def test_new_mail_opens_a_ticket_in_the_mailbox_department(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        billing = department_services.create_department(name="Billing")
        department_services.create_mailbox(address="billing@acme.localhost", department=billing)
    email = deliver(acme, build(to="billing@acme.localhost"))
    assert email.status == "processed"
    with tenant_context(acme.id):
        ticket = Ticket.objects.get()
        assert ticket.department == billing
        assert ticket.channel == "email"
        assert ticket.contact.name == "Carla"


def test_reply_by_in_reply_to_threads_and_reopens_solved(acme: TenantSetup) -> None:
    first = build(message_id="<q1@example.test>")
    deliver(acme, first)
    with tenant_context(acme.id):
        ticket = Ticket.objects.get()
        services.change_status(ticket=ticket, status="solved", actor=None)
    deliver(
        acme, build(subject="something else", body="Still broken", In_Reply_To="<q1@example.test>")
    )
    with tenant_context(acme.id):
        ticket.refresh_from_db()
        assert Ticket.objects.count() == 1
        assert ticket.status == "open"
        assert ticket.messages.filter(kind="customer").count() == 2


def test_reply_by_references_only(acme: TenantSetup) -> None:
    deliver(acme, build(message_id="<root@example.test>"))
    deliver(acme, build(subject="no tag", References="<x@y> <root@example.test>"))
    with tenant_context(acme.id):
        assert Ticket.objects.count() == 1


def test_reply_to_our_acknowledgement_threads(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        deliver(acme, build())
    with tenant_context(acme.id):
        ack = Message.objects.get(is_automatic=True)
    deliver(acme, build(subject="Thanks", In_Reply_To=ack.email_message_id))
    with tenant_context(acme.id):
        assert Ticket.objects.count() == 1


def test_reply_by_subject_tag(acme: TenantSetup) -> None:
    deliver(acme, build())
    with tenant_context(acme.id):
        number = Ticket.objects.get().number
    deliver(acme, build(subject=f"Re: [#{number}] Printer on fire"))
    with tenant_context(acme.id):
        assert Ticket.objects.count() == 1


def test_by_the_subject_tag_alone_a_stranger_reaches_only_the_agents(acme: TenantSetup) -> None:
    """Ticket numbers are guessable: mail that names a ticket only by `[#N]`, from someone
    who is neither its requester nor a follower, becomes an internal note by that contact.
    It never shows in the requester's conversation (their tracking page) nor reopens the
    ticket; the agents judge it (a colleague writing in, or someone who guessed)."""
    from tickets.mail_out import tracking

    deliver(acme, build(Cc="dan@example.test"))
    with tenant_context(acme.id):
        ticket = Ticket.objects.get()
        services.change_status(ticket=ticket, status="waiting", actor=acme.admin)
    subject = f"Re: Printer on fire [#{ticket.number}]"
    eve = deliver(acme, build(subject=subject, sender="Eve <eve@evil.test>", body="Pay here"))
    with tenant_context(acme.id):
        ticket.refresh_from_db()
        assert (eve.ticket_id, ticket.status) == (ticket.id, "waiting")
        note = eve.ticket_message
        assert note is not None
        assert note.author_contact is not None
        assert (note.kind, note.author_contact.email) == ("note", "eve@evil.test")
    deliver(acme, build(subject=subject, sender="Dan <dan@example.test>", body="Same here"))
    deliver(acme, build(subject=subject, body="Any news?"))
    with tenant_context(acme.id):
        customer = ticket.messages.filter(kind="customer").order_by("created_at")
        assert list(customer.values_list("body_text", flat=True)) == [
            "Help!",
            "Same here",
            "Any news?",
        ]
        assert Ticket.objects.count() == 1
    tracking_page = acme.client().get(f"/track/{tracking.tracking_token(ticket.id)}/")
    assert b"Pay here" not in tracking_page.content
    agent_page = acme.client(acme.admin).get(f"/tickets/{ticket.number}/").content.decode()
    assert "Pay here" in agent_page
    assert "Mail from someone who is not the requester or a follower" in agent_page


def test_an_address_of_its_own_wins_over_the_plus_addressed_base(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    """support+vip@ registered by another mailbox is that mailbox's; other plus forms still
    reach the owner of the base address. (Another tenant cannot register a plus form of
    acme's address at all: tests/test_api_robustness.py.)"""
    with tenant_context(acme.id):
        general = department_services.create_mailbox(
            address="help@acme.example", department=acme.department
        )
        vip = department_services.create_mailbox(
            address="help+vip@acme.example", department=acme.department
        )

    def mailbox_of(address: str) -> UUID | None:
        row = intake.find_inbound_address(address)
        assert row is not None
        return row.mailbox_id

    for _ in range(3):  # not whichever row the index happens to return first
        assert mailbox_of("Help+VIP@acme.example") == vip.id
        assert mailbox_of("help+other@acme.example") == general.id
        assert mailbox_of("help@acme.example") == general.id


def test_reply_by_plus_address_token(acme: TenantSetup) -> None:
    deliver(acme, build())
    with tenant_context(acme.id):
        ticket = Ticket.objects.get()
    to = f"support+t-{ticket.reply_token}@acme.localhost"
    email = deliver(acme, build(subject="no tag at all", to=to), to=[to])
    assert email.ticket_id == ticket.id


def test_reply_to_closed_ticket_opens_a_linked_follow_up(acme: TenantSetup) -> None:
    deliver(acme, build(message_id="<old@example.test>"))
    with tenant_context(acme.id):
        old = Ticket.objects.get()
        services.change_status(ticket=old, status="closed", actor=None)
    deliver(acme, build(In_Reply_To="<old@example.test>", body="Again!"))
    with tenant_context(acme.id):
        new = Ticket.objects.exclude(id=old.id).get()
        assert new.follow_up_of == old
        assert old.messages.filter(kind="event", event__field="follow_up").exists()


def test_cc_addresses_become_followers(acme: TenantSetup) -> None:
    deliver(acme, build(Cc="Dan <dan@example.test>, support@acme.localhost"))
    with tenant_context(acme.id):
        followers = TicketFollower.objects.values_list("contact__email", flat=True)
        assert list(followers) == ["dan@example.test"]


def test_cc_addresses_no_mail_could_go_to_are_not_followers(acme: TenantSetup) -> None:
    """A typo in a Cc made a follower every later reply was copied to, and Django refuses
    to send to it: each reply failed, the requester's copy too."""
    deliver(acme, build(Cc="dan@example..test, eve@@example.test, fay@example.test"))
    with tenant_context(acme.id):
        followers = TicketFollower.objects.values_list("contact__email", flat=True)
        assert list(followers) == ["fay@example.test"]


def test_mail_from_our_own_mailbox_never_opens_a_ticket(acme: TenantSetup) -> None:
    email = deliver(acme, build(sender="support@acme.localhost"))
    assert email.status == "rejected"
    assert "own mailboxes" in email.reason


def test_redelivery_is_one_message(acme: TenantSetup) -> None:
    raw = build(message_id="<same@example.test>")
    deliver(acme, raw)
    deliver(acme, raw)
    with tenant_context(acme.id):
        assert InboundEmail.objects.count() == 1
        assert Message.objects.filter(kind="customer").count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("in_callers_transaction", [False, True])
def test_the_same_mail_on_two_paths_at_once_is_one_row(
    acme: TenantSetup, in_callers_transaction: bool
) -> None:
    """The second insert waits on the first one's unique Message-ID, fails when it commits,
    and the intake answers with the row that won: its own transaction rolls back whole, or,
    inside a caller's (the IMAP poller's batch), its savepoint, and the caller goes on."""
    raw = build(message_id="<twice@example.test>")

    def first() -> InboundEmail:  # another path (an ESP webhook, say), between insert and commit
        return InboundEmail.objects.create(
            mailbox=acme.mailbox,
            channel="esp",
            message_id="<twice@example.test>",
            sha256="0" * 64,
            size=len(raw),
            raw=raw,
        )

    def second() -> tuple[intake.Accepted | None, int]:
        if not in_callers_transaction:
            accepted = intake.accept(
                raw=raw, envelope_to=[], envelope_from="", channel="smtp", enqueue=False
            )
            return accepted, 1
        with tenant_context(acme.id):
            accepted = intake.accept(
                raw=raw, envelope_to=[], envelope_from="", channel="imap", enqueue=False
            )
            return accepted, InboundEmail.objects.count()  # the caller goes on

    stored, (accepted, rows_seen_by_caller) = second_behind_first(acme.id, first, second)

    assert accepted == intake.Accepted(str(acme.id), str(stored.id), created=False)
    assert rows_seen_by_caller == 1
    with tenant_context(acme.id):
        assert InboundEmail.objects.count() == 1


def test_acknowledgement_is_threaded_and_marked_automatic(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        deliver(acme, build(message_id="<ask@example.test>"))
    assert len(mail.outbox) == 1
    sent = mail.outbox[0].message()
    with tenant_context(acme.id):
        ticket = Ticket.objects.get()
    assert sent["In-Reply-To"] == "<ask@example.test>"
    assert sent["References"] == "<ask@example.test>"
    assert sent["Auto-Submitted"] == "auto-replied"
    assert f"[#{ticket.number}]" in sent["Subject"]
    assert sent["Reply-To"] == f"support+t-{ticket.reply_token}@acme.localhost"
    assert "Hello Carla" in mail.outbox[0].body
    # A second run of the task (redelivery) sends nothing more.

    with tenant_context(acme.id):
        email = InboundEmail.objects.get()
    mail_in_tasks.send_auto_acknowledgement.apply(
        kwargs={"tenant_id": str(acme.id), "email_id": str(email.id)}
    )
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied"},
        {"Precedence": "bulk"},
        {"List_Id": "<news.example.test>"},
        {"sender": "MAILER-DAEMON@example.test"},
        {"sender": "noreply@shop.example.test"},
    ],
)
def test_no_acknowledgement_for_machine_mail(
    acme: TenantSetup,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    headers: dict[str, str],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        email = deliver(acme, build(**headers))
    assert email.status == "processed"
    assert mail.outbox == []


def test_acknowledgements_are_rate_limited_per_sender(
    acme: TenantSetup,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    settings: Settings,
) -> None:
    settings.HELPDESK_AUTO_REPLY_LIMIT_PER_HOUR = 2
    with django_capture_on_commit_callbacks(execute=True):
        for index in range(4):
            deliver(acme, build(subject=f"Question {index}"))
    assert len(mail.outbox) == 2


def test_acknowledgement_can_be_switched_off(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with tenant_context(acme.id):
        department_services.update_mailbox(mailbox=acme.mailbox, auto_ack_enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        deliver(acme, build())
    assert mail.outbox == []


def _bounce_for(message_id: str) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.test>\r\n"
        "To: support@acme.localhost\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {make_msgid(domain='mx.example.test')}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.test\r\n\r\n"
        "Final-Recipient: rfc822; carla@example.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {message_id}\r\nSubject: Re: Printer\r\n\r\n"
        "--B--\r\n"
    ).encode()


def test_bounce_marks_our_message_failed_instead_of_opening_a_ticket(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        deliver(acme, build())
    with tenant_context(acme.id):
        ack = Message.objects.get(is_automatic=True)
    email = deliver(acme, _bounce_for(ack.email_message_id))
    assert email.status == "processed"
    with tenant_context(acme.id):
        ack.refresh_from_db()
        assert Ticket.objects.count() == 1
        assert ack.delivery_status == "failed"
        assert "5.1.1" in ack.delivery_error
        assert ack.ticket.messages.filter(kind="event", event__field="delivery").exists()


def test_bounce_for_unknown_message_is_rejected_with_a_reason(acme: TenantSetup) -> None:
    email = deliver(acme, _bounce_for("<never-sent@acme.localhost>"))
    assert email.status == "rejected"
    assert "did not send" in email.reason


def test_tenant_found_from_headers_when_the_envelope_is_unknown(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    raw = build(to="support@globex.localhost", Delivered_To="support@globex.localhost")
    accepted = intake.accept(
        raw=raw, envelope_to=[], envelope_from="", channel="test", enqueue=False
    )
    assert accepted is not None
    assert accepted.tenant_id == str(globex.id)


def test_mail_for_no_tenant_is_kept_unrouted(db: None) -> None:
    assert (
        intake.accept(
            raw=build(to="who@nowhere.test"), envelope_to=[], envelope_from="", channel="test"
        )
        is None
    )
    assert UnroutedEmail.objects.get().reason == "no tenant owns any recipient"


def test_ingest_email_command_prints_one_line_per_message(
    acme: TenantSetup, tmp_path: Path
) -> None:
    first = tmp_path / "a.eml"
    first.write_bytes(build(message_id="<a@example.test>"))
    second = tmp_path / "b.eml"
    second.write_bytes(build(sender="support@acme.localhost", message_id="<b@example.test>"))
    nowhere = tmp_path / "c.eml"
    nowhere.write_bytes(build(to="x@nowhere.test", message_id="<c@example.test>"))
    out = io.StringIO()
    call_command("ingest_email", str(first), str(second), str(nowhere), stdout=out)
    assert out.getvalue().splitlines() == [
        "#1",
        "rejected: sent from one of our own mailboxes",
        "rejected: no tenant owns any recipient",
    ]


def test_ingest_email_reads_stdin_with_envelope_recipient(
    acme: TenantSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = build(to="undisclosed-recipients:;")
    monkeypatch.setattr(sys, "stdin", type("In", (), {"buffer": io.BytesIO(raw)})())
    out = io.StringIO()
    call_command("ingest_email", "--to", "support@acme.localhost", stdout=out)
    assert out.getvalue().strip() == "#1"


def test_a_piped_mail_for_two_tenants_is_stored_for_each(
    acme: TenantSetup, globex: TenantSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the SMTP listener does: the second tenant's copy was dropped while the command
    said it had stored the mail (and the MTA considered it delivered)."""
    raw = build(to="support@acme.localhost, support@globex.localhost")
    monkeypatch.setattr(sys, "stdin", type("In", (), {"buffer": io.BytesIO(raw)})())
    out = io.StringIO()
    call_command(
        "ingest_email",
        "--to",
        "support@acme.localhost",
        "--to",
        "support@globex.localhost",
        stdout=out,
    )
    assert out.getvalue().strip() == "#1 #1"
    for setup in (acme, globex):
        with tenant_context(setup.id):
            assert Ticket.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_ingest_email_as_an_mta_pipe(tmp_path: Path) -> None:
    """The real command in a subprocess, reading stdin; exit status 0."""
    from tests.conftest import make_tenant

    make_tenant("acme", "Acme")
    from django.conf import settings

    env = {**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "helpdesk.settings"}
    database = settings.DATABASES["default"]
    # The subprocess reads the same test database, as the owner role (as tests do).
    script = (
        "import django, sys; from django.conf import settings; "
        f"settings.DATABASES['default']['NAME'] = {database['NAME']!r}; "
        f"settings.DATABASES['default']['USER'] = {database['USER']!r}; "
        "django.setup(); from django.core.management import call_command; "
        "call_command('ingest_email', '--to', 'support@acme.localhost')"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        input=build(),
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert result.stdout.decode().strip() == "#1"


def test_mark_failed_takes_a_queued_row_out_of_the_sweep(acme: TenantSetup) -> None:
    accepted = intake.accept(
        raw=build(), envelope_to=[], envelope_from="", channel="test", enqueue=False
    )
    assert accepted is not None
    email_id = UUID(accepted.email_id)
    with tenant_context(acme.id):
        inbound.mark_failed(email_id=email_id, reason="processing failed: boom")
        email = InboundEmail.objects.get(id=email_id)
        assert (email.status, email.reason) == ("failed", "processing failed: boom")
        inbound.mark_failed(email_id=email_id, reason="again")  # only queued rows
        email.refresh_from_db()
        assert email.reason == "processing failed: boom"
