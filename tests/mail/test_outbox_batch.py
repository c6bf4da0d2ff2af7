"""Outgoing mail of one transaction sent by one task over one connection: a batch of
inbound mail's acknowledgements. Each email is claimed (sending) and committed before it is
sent, so a second run, a redelivery or a crash never sends one twice."""

from __future__ import annotations

import smtplib
from typing import Any
from uuid import UUID

import pytest
from django.core import mail
from django.core.mail import get_connection
from pytest_django import DjangoCaptureOnCommitCallbacks

from helpdesk.core.errors import TransientError
from helpdesk.mail import services as mail_services
from helpdesk.mail import tasks as mail_tasks
from helpdesk.mail.models import OutboundEmail
from helpdesk.tenancy.context import tenant_context
from tests.conftest import TenantSetup
from tests.tickets.test_inbound import build
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
