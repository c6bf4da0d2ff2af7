"""Migration tickets 0023: mail in flight when the outbox arrived (queued, sending) gets its
OutboundEmail, tenant by tenant, and still goes out exactly once; settled mail keeps its
recorded state."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

from django.core import mail
from django.db import connection

from helpdesk.mail.models import OutboundEmail
from helpdesk.tenancy.context import tenant_context
from tests.conftest import TenantSetup
from tests.tickets.test_inbound import build, deliver
from tests.tickets.test_outbound import _without_acknowledgements
from tickets.mail_out import tasks as mail_out_tasks
from tickets.models import Message, Ticket

MIGRATION = importlib.import_module("tickets.migrations.0023_message_outbound_email")


def _legacy_reply(setup: TenantSetup, status: str, number: int) -> Message:
    """A reply as the columns left it before the outbox (renamed legacy_* by 0023)."""
    with tenant_context(setup.id):
        return Message.objects.create(
            ticket=Ticket.objects.get(),
            kind="reply",
            body_text=f"Reply {number} from before the outbox.",
            author_member=setup.admin,
            email_message_id=f"<reply-{number}@{setup.tenant.slug}.localhost>",
            legacy_delivery_status=status,
        )


def test_mail_in_flight_gets_its_outbox_email_and_goes_out_once(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    for setup in (acme, globex):
        _without_acknowledgements(setup)
        deliver(setup, build(to=f"support@{setup.tenant.slug}.localhost"))
    mail.outbox.clear()
    queued = _legacy_reply(acme, "queued", 1)
    sending = _legacy_reply(acme, "sending", 2)
    settled = _legacy_reply(acme, "sent", 3)
    other = _legacy_reply(globex, "queued", 4)

    MIGRATION.give_in_flight_mail_its_outbox_email(None, SimpleNamespace(connection=connection))

    with tenant_context(acme.id):
        for message in (queued, sending, settled):
            message.refresh_from_db()
        assert queued.delivery_status == "queued"
        assert queued.legacy_delivery_status == ""
        assert queued.outbound_email is not None
        assert queued.outbound_email.message_id == queued.email_message_id
        assert queued.outbound_email.updated_at == queued.updated_at  # the sweeper's clock
        assert "Reply 1 from before the outbox." in queued.outbound_email.body_text
        assert sending.delivery_status == "sending"  # a send the deploy may have cut short
        assert (settled.outbound_email_id, settled.delivery_status) == (None, "sent")
        assert OutboundEmail.objects.count() == 2
    with tenant_context(globex.id):
        other.refresh_from_db()
        assert other.delivery_status == "queued"
        assert OutboundEmail.objects.count() == 1
    assert mail.outbox == []  # nothing enqueued by a migration

    # Its task, still in Redis under the old name, sends it once; again, nothing more.
    for _ in range(2):
        mail_out_tasks.deliver_message_email.delay(
            tenant_id=str(acme.id), message_id=str(queued.id)
        )
    [sent] = mail.outbox
    assert sent.extra_headers["Message-ID"] == queued.email_message_id
    # Run again (a second migrate of a restored copy): nothing new.
    MIGRATION.give_in_flight_mail_its_outbox_email(None, SimpleNamespace(connection=connection))
    with tenant_context(acme.id):
        assert OutboundEmail.objects.count() == 2
