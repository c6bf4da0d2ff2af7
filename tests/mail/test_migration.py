"""Migration tickets 0023 and the mail in flight when the outbox arrived (queued, sending):
the migration only leaves it marked by its legacy status (it runs no live code, so later
model changes cannot break it); the outbound sweeper gives it its OutboundEmail, tenant by
tenant, and it still goes out exactly once with its own Message-ID; settled mail keeps its
recorded state."""

from __future__ import annotations

import ast
import datetime
import importlib
import inspect

import pytest
import time_machine
from django.core import mail
from django.db import migrations
from django.utils import timezone
from pytest_django import Settings

from helpdesk.celery import app as celery_app
from helpdesk.mail.models import OutboundEmail
from helpdesk.tenancy.context import tenant_context
from tests.conftest import TenantSetup, make_tenant
from tests.tickets.test_inbound import build, deliver
from tests.tickets.test_outbound import _without_acknowledgements
from tickets.mail_out import tasks as mail_out_tasks
from tickets.models import Message, Ticket

MIGRATION = importlib.import_module("tickets.migrations.0023_message_outbound_email")


def test_the_migration_keeps_the_legacy_state_as_the_mark_and_runs_no_live_code() -> None:
    operations = MIGRATION.Migration.operations
    assert not [op for op in operations if isinstance(op, migrations.RunPython)]
    renames = {
        (op.old_name, op.new_name) for op in operations if isinstance(op, migrations.RenameField)
    }
    assert ("delivery_status", "legacy_delivery_status") in renames
    imported = set()
    for node in ast.walk(ast.parse(inspect.getsource(MIGRATION))):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    # Only the migration framework and the constraint class its operations name.
    assert imported <= {"django.db", "django.db.models.deletion", "helpdesk.tenancy.rls"}


def _legacy_reply(setup: TenantSetup, status: str, number: int) -> Message:
    """A reply as 0023 leaves mail from before the outbox: its state in legacy_*."""
    with tenant_context(setup.id):
        return Message.objects.create(
            ticket=Ticket.objects.get(),
            kind="reply",
            body_text=f"Reply {number} from before the outbox.",
            author_member=setup.admin,
            email_message_id=f"<reply-{number}@{setup.tenant.slug}.localhost>",
            legacy_delivery_status=status,
        )


@pytest.mark.django_db(transaction=True, databases=["default", "ops"])
def test_the_sweeper_sends_mail_in_flight_before_the_outbox_once(settings: Settings) -> None:
    # The beat runs the sweeper that adopts them, every minute.
    schedule = celery_app.conf.beat_schedule["sweep-outbound-emails"]
    assert schedule["task"] == mail_out_tasks.sweep_outbound_emails.name
    settings.HELPDESK_OUTBOUND_SWEEP_AFTER_SECONDS = 300
    settings.HELPDESK_OUTBOUND_SENDING_TIMEOUT_SECONDS = 600
    acme, globex = make_tenant("acme", "Acme"), make_tenant("globex", "Globex")
    for setup in (acme, globex):
        _without_acknowledgements(setup)
        deliver(setup, build(to=f"support@{setup.tenant.slug}.localhost"))
    mail.outbox.clear()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        queued = _legacy_reply(acme, "queued", 1)
        sending = _legacy_reply(acme, "sending", 2)
        settled = _legacy_reply(acme, "sent", 3)
        other = _legacy_reply(globex, "queued", 4)

    with time_machine.travel(start + datetime.timedelta(seconds=30), tick=False):
        mail_out_tasks.sweep_outbound_emails.apply().get()

    sent = {m.extra_headers["Message-ID"] for m in mail.outbox}
    assert len(mail.outbox) == 2
    assert sent == {queued.email_message_id, other.email_message_id}
    with tenant_context(acme.id):
        for message in (queued, sending, settled):
            message.refresh_from_db()
        assert (queued.delivery_status, queued.legacy_delivery_status) == ("sent", "")
        assert queued.outbound_email is not None
        assert queued.outbound_email.message_id == queued.email_message_id
        assert "Reply 1 from before the outbox." in queued.outbound_email.body_text
        # A send the deploy may have cut short: sending from the time it was claimed.
        assert (sending.delivery_status, sending.legacy_delivery_status) == ("sending", "")
        assert sending.outbound_email is not None
        assert sending.outbound_email.updated_at == start
        assert (settled.outbound_email_id, settled.delivery_status) == (None, "sent")
        assert OutboundEmail.objects.count() == 2
    with tenant_context(globex.id):
        other.refresh_from_db()
        assert other.delivery_status == "sent"
        assert OutboundEmail.objects.count() == 1

    # Its old task, still in Redis, and later sweeps send nothing more; the cut-short send
    # becomes unknown, never sent twice.
    mail_out_tasks.deliver_message_email.delay(tenant_id=str(acme.id), message_id=str(queued.id))
    with time_machine.travel(start + datetime.timedelta(seconds=1000), tick=False):
        mail_out_tasks.sweep_outbound_emails.apply().get()
    assert len(mail.outbox) == 2
    with tenant_context(acme.id):
        sending.refresh_from_db()
        assert sending.delivery_status == "unknown"
        assert OutboundEmail.objects.count() == 2
