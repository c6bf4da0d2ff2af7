"""The one path for outgoing mail: every kind of email is an OutboundEmail row in the
tenant's outbox and exactly one sent mail; a redelivered task, a second queueing or the
sweeper never send it twice; one tenant's outbox is invisible to another."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import re
import time

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.core import mail
from django.db import connection
from django.test import Client, TestCase
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from helpdesk.mail import selectors as mail_selectors
from helpdesk.mail import services as mail_services
from helpdesk.mail import tasks as mail_tasks
from helpdesk.mail.models import OutboundEmail
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import MembershipRole
from tests.conftest import TenantSetup, make_tenant
from tests.factories.accounts import make_member
from tests.tickets.test_inbound import build, deliver
from tests.tickets.test_outbound import (
    SIGNING_KEY,
    RefuseRecipients,
    _free_port,
    _reply,
    _without_acknowledgements,
)
from tests.tickets.test_outbound_sweeper import tasks_lost
from tickets.mail_out import tasks as mail_out_tasks
from tickets.models import Message, Ticket
from tickets.satisfaction import services as satisfaction
from tickets.ticket import services


def _outbox(setup: TenantSetup, kind: str) -> list[OutboundEmail]:
    with tenant_context(setup.id):
        return list(OutboundEmail.objects.filter(kind=kind).order_by("created_at"))


def _one_sent(row: OutboundEmail) -> mail.EmailMessage:
    """Exactly one mail left, and it is the outbox row (same Message-ID), recorded sent."""
    [sent] = mail.outbox
    assert sent.extra_headers["Message-ID"] == row.message_id
    assert row.status == "sent"
    assert row.attempts == 1
    assert row.sent_at is not None
    return sent


# --- Every kind of mail goes through the outbox ------------------------------------------


def test_an_agent_reply_goes_through_the_outbox(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _without_acknowledgements(acme)
    deliver(acme, build())
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        message = _reply(acme, body="We replaced the fuser.")
    [row] = _outbox(acme, "reply")
    assert row.key == f"message:{message.id}"
    assert message.outbound_email_id == row.id
    sent = _one_sent(row)
    assert "We replaced the fuser." in sent.body
    assert row.body_text == sent.body
    assert row.headers["In-Reply-To"] == sent.extra_headers["In-Reply-To"]


def test_an_acknowledgement_goes_through_the_outbox(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        deliver(acme, build())
    [row] = _outbox(acme, "auto_reply")
    with tenant_context(acme.id):
        ack = Message.objects.get(is_automatic=True)
    assert ack.outbound_email_id == row.id
    assert row.headers["Auto-Submitted"] == "auto-replied"
    _one_sent(row)


def test_a_status_mail_goes_through_the_outbox(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _without_acknowledgements(acme)
    deliver(acme, build())
    mail.outbox.clear()
    with tenant_context(acme.id), django_capture_on_commit_callbacks(execute=True):
        services.change_status(
            ticket=Ticket.objects.get(), status="waiting", actor=acme.admin, notify_customer=True
        )
    [row] = _outbox(acme, "auto_reply")
    sent = _one_sent(row)
    assert sent.to == ["carla@example.test"]


def test_a_survey_goes_through_the_outbox(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _without_acknowledgements(acme)
    deliver(acme, build())
    with tenant_context(acme.id):
        ticket = Ticket.objects.get()
        services.change_status(ticket=ticket, status="solved", actor=None)
        OutboundEmail.objects.all().update(status="sent")  # the solved mail: not this test's
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            later = timezone.now() + datetime.timedelta(days=2)
            assert satisfaction.send_due_surveys(now=later) == 1
        survey = Message.objects.get(email_subject__startswith="How did we do?")
    [row] = [r for r in _outbox(acme, "auto_reply") if r.id == survey.outbound_email_id]
    assert row.subject == f"How did we do? [#{ticket.number}]"
    _one_sent(row)


def test_an_agent_notification_goes_through_the_outbox(
    tenant: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    ana = make_member(tenant.tenant, MembershipRole.AGENT, name="Ana Agent")
    deliver(tenant, build())
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.assign_ticket(ticket=Ticket.objects.get(), assignee=ana, actor=tenant.admin)
    [row] = _outbox(tenant, "notification")
    assert row.to == [ana.user.email]
    assert row.key.startswith("notification:")
    assert row.headers["Auto-Submitted"] == "auto-generated"
    _one_sent(row)


def test_an_invitation_goes_through_the_outbox(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = acme.api_client().post(
            "/api/v1/members/",
            {"email": "ria@new.test", "role": "agent", "name": "Ria"},
            content_type="application/json",
        )
    assert response.status_code == 201, response.content
    [row] = _outbox(acme, "invitation")
    assert row.to == ["ria@new.test"]
    assert row.subject.endswith("invited you to the Acme help desk")
    sent = _one_sent(row)
    assert "To accept, open this link" in sent.body
    _link_stored_nowhere(row, _link(sent, "http://acme.localhost/accounts/invitations/"))


def test_a_password_reset_goes_through_the_outbox(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        acme.client().post("/accounts/password-reset/", {"email": "admin@acme.test"})
    [row] = _outbox(acme, "password_reset")
    assert row.to == ["admin@acme.test"]
    sent = _one_sent(row)
    _link_stored_nowhere(row, _link(sent, "http://acme.localhost/accounts/reset/"))


def _link(sent: mail.EmailMessage, start: str) -> str:
    [link] = re.findall(re.escape(start) + r"\S+", str(sent.body))
    return str(link)


def _link_stored_nowhere(row: OutboundEmail, link: str) -> None:
    """The mail carried the account link; its outbox row keeps the record, not the link."""
    secret = link.rstrip("/").rpartition("/")[2]
    assert len(secret) > 10
    for model_field in OutboundEmail._meta.concrete_fields:
        stored = json.dumps(getattr(row, model_field.attname), default=str)
        assert secret not in stored, model_field.name
    assert (row.body_text, row.body_html) == ("", "")


def test_a_password_reset_keeps_its_link_for_a_retry_until_it_is_sent(
    acme: TenantSetup, settings: Settings
) -> None:
    backend = settings.EMAIL_BACKEND
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    with TestCase.captureOnCommitCallbacks(execute=True):
        acme.client().post("/accounts/password-reset/", {"email": "admin@acme.test"})
    [row] = _outbox(acme, "password_reset")
    assert row.status == "queued"  # the mail server is down: the retry needs the link
    assert "http://acme.localhost/accounts/reset/" in row.body_text
    settings.EMAIL_BACKEND = backend
    mail_tasks.deliver_outbound_email.delay(tenant_id=str(acme.id), outbound_email_id=str(row.id))
    [row] = _outbox(acme, "password_reset")
    assert (row.status, row.attempts) == ("sent", 2)
    [sent] = mail.outbox
    _link_stored_nowhere(row, _link(sent, "http://acme.localhost/accounts/reset/"))


def test_an_invitation_refused_for_good_keeps_no_link(
    acme: TenantSetup, settings: Settings
) -> None:
    server = Controller(RefuseRecipients(), hostname="127.0.0.1", port=_free_port())
    server.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = server.hostname, server.port
        with TestCase.captureOnCommitCallbacks(execute=True):
            response = acme.api_client().post(
                "/api/v1/members/",
                {"email": "ria@new.test", "role": "agent", "name": "Ria"},
                content_type="application/json",
            )
    finally:
        server.stop()
    assert response.status_code == 201, response.content
    [row] = _outbox(acme, "invitation")
    assert row.status == "failed"
    assert "SMTPRecipientsRefused" in row.error
    assert (row.body_text, row.body_html) == ("", "")
    assert row.to == ["ria@new.test"]
    assert row.subject.endswith("invited you to the Acme help desk")


# --- Idempotency ------------------------------------------------------------------------


def _queue(setup: TenantSetup, key: str = "test:one") -> OutboundEmail:
    email = mail_services.build(
        kind="notification",
        key=key,
        template="invitation",
        context={"inviter": "Ana", "tenant": "Acme", "role": "agent", "accept_url": "x"},
        to=["nina@example.test"],
    )
    with tenant_context(setup.id):
        return mail_services.queue_email(email)


@pytest.mark.django_db(transaction=True, databases=["default", "ops"])
def test_a_redelivered_task_a_second_queueing_and_the_sweeper_never_send_twice(
    settings: Settings,
) -> None:
    acme = make_tenant("acme", "Acme")
    settings.HELPDESK_OUTBOUND_SWEEP_AFTER_SECONDS = 300
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        row = _queue(acme)  # sent after the commit
    assert len(mail.outbox) == 1
    kwargs = {"tenant_id": str(acme.id), "outbound_email_id": str(row.id)}
    mail_tasks.deliver_outbound_email.delay(**kwargs)  # a redelivery: claimed and sent
    assert _queue(acme).id == row.id  # the same key is the same email
    with time_machine.travel(start + datetime.timedelta(seconds=1000), tick=False):
        assert mail_tasks.sweep_outbound_email.apply().get() == 0
    assert len(mail.outbox) == 1
    with tenant_context(acme.id):
        row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 1)


@pytest.mark.django_db(transaction=True, databases=["default", "ops"])
def test_an_email_whose_task_was_lost_is_sent_once_by_the_sweeper(settings: Settings) -> None:
    acme = make_tenant("acme", "Acme")
    settings.HELPDESK_OUTBOUND_SWEEP_AFTER_SECONDS = 300
    start = timezone.now()
    with time_machine.travel(start, tick=False), tasks_lost():
        row = _queue(acme)
    assert mail.outbox == []
    with time_machine.travel(start + datetime.timedelta(seconds=60), tick=False):
        assert mail_tasks.sweep_outbound_email.apply().get() == 0  # within the grace period
    with time_machine.travel(start + datetime.timedelta(seconds=301), tick=False):
        assert mail_tasks.sweep_outbound_email.apply().get() == 1
    [sent] = mail.outbox
    assert sent.extra_headers["Message-ID"] == row.message_id
    # The lost task coming back, the old task names and later sweeps send nothing more.
    kwargs = {"tenant_id": str(acme.id), "outbound_email_id": str(row.id)}
    mail_tasks.deliver_outbound_email.delay(**kwargs)
    mail_out_tasks.requeue_outbound_emails.delay(tenant_id=str(acme.id))
    with time_machine.travel(start + datetime.timedelta(seconds=2000), tick=False):
        assert mail_out_tasks.sweep_outbound_emails.apply().get() == 0
    assert len(mail.outbox) == 1


def test_an_email_the_backend_refuses_for_good_is_failed_not_retried(
    acme: TenantSetup, settings: Settings
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    with TestCase.captureOnCommitCallbacks(execute=True):
        row = _queue(acme)
    with tenant_context(acme.id):
        row.refresh_from_db()
    # An outage: back in the queue with the reason, for the retry or the sweeper.
    assert row.status == "queued"
    assert row.error.startswith("not sent yet, will retry: ConnectionRefusedError")


# --- Tenant isolation -------------------------------------------------------------------


def test_one_tenants_outbox_is_invisible_to_another(acme: TenantSetup, globex: TenantSetup) -> None:
    row = _queue(acme)
    with tenant_context(globex.id):
        assert not OutboundEmail.objects.filter(id=row.id).exists()
        assert mail_selectors.get_outbound_email(row.id) is None
        with connection.cursor() as cursor:  # row-level security too
            cursor.execute("SELECT count(*) FROM mail_outboundemail")
            assert cursor.fetchone() == (0,)
    with tenant_context(acme.id):
        assert mail_selectors.get_outbound_email(row.id) == row


# --- Delivery events for mail that is not a ticket message ------------------------------


def _mailgun_event(
    client: Client, event: str, tenant_id: str, outbound_email_id: str, **extra: object
) -> int:
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
            "recipient": "nina@example.test",
            "message": {"headers": {"message-id": "provider-id@mailgun"}},
            "user-variables": {"tenant_id": tenant_id, "outbound_email_id": outbound_email_id},
            **extra,
        },
    }
    response = client.post(
        "/anymail/mailgun/tracking/",
        json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION="Basic aG9vazpzZWNyZXQ=",
    )
    return response.status_code


def test_a_delivery_event_updates_the_outbox_email_in_its_own_tenant_only(
    acme: TenantSetup, globex: TenantSetup, client: Client, settings: Settings
) -> None:
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:secret", "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
    with TestCase.captureOnCommitCallbacks(execute=True):
        row = _queue(acme)
    with tenant_context(acme.id):
        OutboundEmail.objects.filter(id=row.id).update(provider_message_id="<provider-id@mailgun>")

    # Another tenant named in the metadata finds nothing to update.
    assert _mailgun_event(client, "delivered", str(globex.id), str(row.id)) == 200
    with tenant_context(acme.id):
        row.refresh_from_db()
    assert row.status == "sent"

    assert _mailgun_event(client, "delivered", str(acme.id), str(row.id)) == 200
    with tenant_context(acme.id):
        row.refresh_from_db()
    assert row.status == "delivered"
    failed = {"severity": "permanent", "delivery-status": {"code": 550, "message": "No such user"}}
    assert _mailgun_event(client, "failed", str(acme.id), str(row.id), **failed) == 200
    with tenant_context(acme.id):
        row.refresh_from_db()
    assert row.status == "failed"
    assert "No such user" in row.error


def test_a_late_delivered_event_never_overwrites_a_bounce(acme: TenantSetup) -> None:
    row = _queue(acme)
    with tenant_context(acme.id):
        # The "delivered" webhook read the row before the bounce was recorded.
        read_before_the_bounce = OutboundEmail.objects.get(id=row.id)
        mail_services.record_delivery_event(
            outbound=OutboundEmail.objects.get(id=row.id),
            status="failed",
            reason="550 No such user",
        )
        mail_services.record_delivery_event(outbound=read_before_the_bounce, status="delivered")
        row.refresh_from_db()
    assert (row.status, row.error) == ("failed", "550 No such user")
    assert read_before_the_bounce.status == "failed"


def test_an_interrupted_password_reset_keeps_no_link(acme: TenantSetup) -> None:
    email = mail_services.build(
        kind="password_reset",
        key="password_reset:interrupted",
        template="password_reset",
        context={
            "email": "admin@acme.test",
            "domain": "acme.localhost",
            "protocol": "http",
            "uid": "MQ",
            "token": "secret-token-of-the-link",
        },
        to=["admin@acme.test"],
    )
    with tenant_context(acme.id):
        row = mail_services.queue_email(email, deliver=False)
        assert "secret-token-of-the-link" in row.body_text
        # The worker claimed it and died during the send.
        OutboundEmail.objects.filter(id=row.id).update(
            status="sending", updated_at=timezone.now() - datetime.timedelta(hours=1)
        )
        assert mail_services.mark_interrupted_sends(older_than=datetime.timedelta(minutes=10)) == 1
        row.refresh_from_db()
    assert row.status == "unknown"
    assert (row.body_text, row.body_html) == ("", "")
