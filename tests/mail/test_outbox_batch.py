"""Outgoing mail of one transaction sent by one task over one connection: a batch of
inbound mail's acknowledgements. Each email is claimed (sending) and committed before it is
sent, so a second run, a redelivery or a crash never sends one twice."""

from __future__ import annotations

import datetime
import smtplib
from typing import Any
from uuid import UUID

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.core import mail
from django.core.mail import get_connection
from django.db import connection
from django.test.utils import CaptureQueriesContext
from psycopg import pq
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from helpdesk.core.errors import TransientError
from helpdesk.mail import services as mail_services
from helpdesk.mail import tasks as mail_tasks
from helpdesk.mail.models import OutboundEmail
from helpdesk.tenancy.context import tenant_context
from tests.conftest import TenantSetup, make_tenant
from tests.tickets.test_inbound import build
from tests.tickets.test_outbound import _free_port
from tickets.mail_in import intake
from tickets.mail_in import services as inbound


def _acknowledged_batch(
    acme: TenantSetup, count: int, capture: DjangoCaptureOnCommitCallbacks
) -> list[UUID]:
    """`count` new requests processed as one batch (one transaction), callbacks run."""
    for n in range(count):
        intake.accept(
            raw=build(subject=f"Request {n}", sender=f"c{n}@example.test"),
            envelope_to=["support@acme.localhost"],
            envelope_from="",
            channel="test",
            enqueue=False,
        )
    mail.outbox.clear()
    with capture(execute=True), tenant_context(acme.id):
        inbound.process_batch(limit=count)
    with tenant_context(acme.id):
        return list(
            OutboundEmail.objects.filter(kind="auto_reply")
            .order_by("id")
            .values_list("id", flat=True)
        )


def test_a_batchs_acknowledgements_are_one_task_over_one_connection(
    acme: TenantSetup,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    calls: list[dict[str, Any]] = []
    real = mail_tasks.deliver_outbound_emails.delay
    single: list[dict[str, Any]] = []

    def batch_task(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(mail_tasks.deliver_outbound_emails, "delay", batch_task)
    monkeypatch.setattr(
        mail_tasks.deliver_outbound_email, "delay", lambda **kwargs: single.append(kwargs)
    )
    opened: list[object] = []

    def connection(*args: Any, **kwargs: Any) -> Any:
        opened.append(object())
        return get_connection(*args, **kwargs)

    monkeypatch.setattr(mail_services, "get_connection", connection)
    ids = _acknowledged_batch(acme, 3, django_capture_on_commit_callbacks)
    assert len(ids) == 3
    assert single == []
    assert len(calls) == 1
    assert sorted(calls[0]["outbound_email_ids"]) == sorted(str(i) for i in ids)
    assert len(opened) == 1
    assert len(mail.outbox) == 3
    with tenant_context(acme.id):
        assert set(OutboundEmail.objects.values_list("status", "attempts")) == {("sent", 1)}
    # A redelivered task sends nothing again.
    assert (
        mail_tasks.deliver_outbound_emails.apply(
            kwargs={"tenant_id": str(acme.id), "outbound_email_ids": [str(i) for i in ids]}
        ).get()
        == 0
    )
    assert len(mail.outbox) == 3


def test_an_email_left_sending_by_a_crash_is_never_sent_again(
    acme: TenantSetup,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    monkeypatch.setattr(mail_tasks.deliver_outbound_emails, "delay", lambda **_: None)
    ids = _acknowledged_batch(acme, 2, django_capture_on_commit_callbacks)
    with tenant_context(acme.id):
        OutboundEmail.objects.filter(id=ids[0]).update(status="sending")  # claimed, then died
    sent = mail_services.deliver_many(
        tenant_id=str(acme.id), outbound_email_ids=ids, last_attempt=True
    )
    assert sent == {ids[1]: "sent"}
    assert len(mail.outbox) == 1


def test_a_temporary_failure_puts_one_back_and_the_rest_go_out(
    acme: TenantSetup,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    monkeypatch.setattr(mail_tasks.deliver_outbound_emails, "delay", lambda **_: None)
    ids = _acknowledged_batch(acme, 3, django_capture_on_commit_callbacks)
    with tenant_context(acme.id):
        failing = OutboundEmail.objects.get(id=ids[1]).message_id
    real_send = mail_services.send

    def send(email: Any) -> bool:
        if email.extra_headers["Message-ID"] == failing:
            raise smtplib.SMTPServerDisconnected("gone")
        return real_send(email)

    monkeypatch.setattr(mail_services, "send", send)
    with pytest.raises(TransientError):
        mail_services.deliver_many(
            tenant_id=str(acme.id), outbound_email_ids=ids, last_attempt=False
        )
    assert len(mail.outbox) == 2
    with tenant_context(acme.id):
        statuses = dict(OutboundEmail.objects.values_list("id", "status"))
    assert statuses == {ids[0]: "sent", ids[1]: "queued", ids[2]: "sent"}
    monkeypatch.setattr(mail_services, "send", real_send)
    assert mail_services.deliver_many(
        tenant_id=str(acme.id), outbound_email_ids=ids, last_attempt=True
    ) == {ids[1]: "sent"}
    assert len(mail.outbox) == 3


def test_temporary_refusals_are_retried_for_five_days_then_the_email_fails(
    acme: TenantSetup,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    """A mailbox that stays full answered 452 for ever: the reply stayed "queued" and the
    sweeper sent it again every few minutes, however old."""
    monkeypatch.setattr(mail_tasks.deliver_outbound_emails, "delay", lambda **_: None)
    young, old = _acknowledged_batch(acme, 2, django_capture_on_commit_callbacks)
    with tenant_context(acme.id):
        OutboundEmail.objects.filter(id=old).update(
            created_at=OutboundEmail.objects.get(id=old).created_at
            - mail_services.GIVE_UP_AFTER
            - datetime.timedelta(minutes=1)
        )

    def send(email: Any) -> bool:
        raise smtplib.SMTPRecipientsRefused({"carla@example.test": (452, b"4.2.2 mailbox full")})

    monkeypatch.setattr(mail_services, "send", send)
    outcome = mail_services.deliver_many(
        tenant_id=str(acme.id), outbound_email_ids=[young, old], last_attempt=True
    )
    assert outcome == {young: "queued", old: "failed"}
    with tenant_context(acme.id):
        failed = OutboundEmail.objects.get(id=old)
    assert failed.error.startswith("still refused after 5 days: ")


def test_another_tenants_emails_are_not_claimed(
    acme: TenantSetup,
    globex: TenantSetup,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    monkeypatch.setattr(mail_tasks.deliver_outbound_emails, "delay", lambda **_: None)
    ids = _acknowledged_batch(acme, 2, django_capture_on_commit_callbacks)
    assert (
        mail_services.deliver_many(
            tenant_id=str(globex.id), outbound_email_ids=ids, last_attempt=True
        )
        == {}
    )
    assert mail.outbox == []


class CountConnections:
    """A loopback SMTP server's handler: which connection (client port) each mail came on."""

    def __init__(self) -> None:
        self.peers: list[object] = []

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.peers.append(session.peer)
        return "250 OK"


def test_a_batch_goes_out_over_one_smtp_connection_one_transaction_an_email(
    acme: TenantSetup,
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    monkeypatch.setattr(mail_tasks.deliver_outbound_emails, "delay", lambda **_: None)
    ids = _acknowledged_batch(acme, 5, django_capture_on_commit_callbacks)
    handler = CountConnections()
    server = Controller(handler, hostname="127.0.0.1", port=_free_port())
    server.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = server.hostname, server.port
        with CaptureQueriesContext(connection) as captured:
            outcome = mail_services.deliver_many(
                tenant_id=str(acme.id), outbound_email_ids=ids, last_attempt=True
            )
    finally:
        server.stop()
    assert outcome == dict.fromkeys(ids, "sent")
    assert len(handler.peers) == 5
    assert len(set(handler.peers)) == 1  # one connection for the whole batch
    # Each email is claimed by the statement that records the one before it sent, sent to
    # the server with its tenant setting as one query: one round trip an email, and one to
    # record the last (no BEGIN, setting, read or COMMIT of their own).
    statements = [q["sql"] for q in captured.captured_queries]
    assert len(statements) == 6
    assert all(
        sql.startswith(f"SELECT set_config('app.tenant_id', '{acme.id}', true); ")
        for sql in statements
    )
    with tenant_context(acme.id):
        assert set(OutboundEmail.objects.values_list("status", "attempts")) == {("sent", 1)}


class Killed(BaseException):
    """The worker killed in the middle of a send (not an error anything catches)."""


def test_a_worker_killed_mid_batch_leaves_one_email_sending_never_sent_again(
    acme: TenantSetup,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    monkeypatch.setattr(mail_tasks.deliver_outbound_emails, "delay", lambda **_: None)
    ids = _acknowledged_batch(acme, 3, django_capture_on_commit_callbacks)
    real_send = mail_services.send

    def send(email: Any) -> bool:
        if len(mail.outbox) == 1:
            raise Killed()
        return real_send(email)

    monkeypatch.setattr(mail_services, "send", send)
    with pytest.raises(Killed):
        mail_services.deliver_many(
            tenant_id=str(acme.id), outbound_email_ids=ids, last_attempt=True
        )
    assert len(mail.outbox) == 1
    with tenant_context(acme.id):
        statuses = dict(OutboundEmail.objects.values_list("id", "status"))
    # The first was recorded when the second was claimed; the second was being sent.
    assert statuses == {ids[0]: "sent", ids[1]: "sending", ids[2]: "queued"}
    # The retry sends only what was never claimed; the sweeper marks the other unknown.
    monkeypatch.setattr(mail_services, "send", real_send)
    assert mail_services.deliver_many(
        tenant_id=str(acme.id), outbound_email_ids=ids, last_attempt=True
    ) == {ids[2]: "sent"}
    assert len(mail.outbox) == 2
    with tenant_context(acme.id):
        assert mail_services.mark_interrupted_sends(older_than=datetime.timedelta(0)) == 1
        assert OutboundEmail.objects.get(id=ids[1]).status == "unknown"


def test_a_run_overlapping_another_sends_each_email_once(
    acme: TenantSetup,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    """A redelivered task running while the first still sends: the claim takes the next
    email still queued, so the two share the batch and neither sends one twice."""
    monkeypatch.setattr(mail_tasks.deliver_outbound_emails, "delay", lambda **_: None)
    ids = _acknowledged_batch(acme, 4, django_capture_on_commit_callbacks)
    real_send = mail_services.send
    second: list[dict[UUID, str]] = []
    started: list[bool] = []

    def send(email: Any) -> bool:
        if not started:
            started.append(True)
            second.append(
                mail_services.deliver_many(
                    tenant_id=str(acme.id), outbound_email_ids=ids, last_attempt=True
                )
            )
        return real_send(email)

    monkeypatch.setattr(mail_services, "send", send)
    first = mail_services.deliver_many(
        tenant_id=str(acme.id), outbound_email_ids=ids, last_attempt=True
    )
    assert first == {ids[0]: "sent"}
    assert second == [dict.fromkeys(ids[1:], "sent")]
    assert len({m.extra_headers["Message-ID"] for m in mail.outbox}) == len(mail.outbox) == 4
    with tenant_context(acme.id):
        assert set(OutboundEmail.objects.values_list("status", "attempts")) == {("sent", 1)}


@pytest.mark.django_db(transaction=True)
def test_each_claim_is_committed_before_its_send_and_the_tenant_setting_ends_with_it(
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    """Outside any transaction, as a worker runs it: when an email goes out its claim is
    committed (another run sees it sending; nothing is left open on the connection), and
    the tenant setting of the statements does not outlive them."""
    acme = make_tenant("acme", "Acme")
    monkeypatch.setattr(mail_tasks.deliver_outbound_emails, "delay", lambda **_: None)
    ids = _acknowledged_batch(acme, 3, django_capture_on_commit_callbacks)
    seen: list[tuple[bool, str, dict[str, str]]] = []
    real_send = mail_services.send

    def send(email: Any) -> bool:
        idle = connection.connection.info.transaction_status == pq.TransactionStatus.IDLE
        seen.append((idle and not connection.in_atomic_block, _tenant_setting(), _statuses(acme)))
        return real_send(email)

    monkeypatch.setattr(mail_services, "send", send)
    outcome = mail_services.deliver_many(
        tenant_id=str(acme.id), outbound_email_ids=ids, last_attempt=True
    )
    assert outcome == dict.fromkeys(ids, "sent")
    names = [str(i) for i in ids]
    assert seen == [
        (True, "", {names[0]: "sending", names[1]: "queued", names[2]: "queued"}),
        (True, "", {names[0]: "sent", names[1]: "sending", names[2]: "queued"}),
        (True, "", {names[0]: "sent", names[1]: "sent", names[2]: "sending"}),
    ]
    assert _tenant_setting() == ""
    assert set(_statuses(acme).values()) == {"sent"}


def _tenant_setting() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('app.tenant_id', true)")
        return str(cursor.fetchone()[0] or "")


def _statuses(acme: TenantSetup) -> dict[str, str]:
    with tenant_context(acme.id):
        return {str(i): s for i, s in OutboundEmail.objects.values_list("id", "status")}
