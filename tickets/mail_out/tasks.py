"""Mail out: the tasks that sent ticket mail before the outbox (helpdesk.mail). Each keeps
the name it had in `tickets.tasks` and delegates to the outbox, because messages already
queued in Redis (and an old beat schedule) carry it."""

from __future__ import annotations

from uuid import UUID

from helpdesk.core.tasks import system_task
from helpdesk.mail import services as mail
from helpdesk.mail import tasks as mail_tasks
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.managers import cross_tenant
from helpdesk.tenancy.tasks import tenant_task
from tickets.mail_out import services
from tickets.models import Message


def _outbound_email_id(message_id: str) -> UUID | None:
    return Message.objects.filter(id=message_id).values_list("outbound_email_id", flat=True).first()


@tenant_task(
    name="tickets.tasks.deliver_message_email", queue="email", max_retries=6, own_transactions=True
)
def deliver_message_email(*, tenant_id: str, message_id: str) -> None:
    """Send the outbox email of one reply (helpdesk.mail's delivery: claim, send, record).
    A second run, a redelivered task or the sweeper finds it claimed or sent and does
    nothing; a temporary failure retries with backoff, as the outbox's own task does."""
    with tenant_context(tenant_id):
        outbound_email_id = _outbound_email_id(message_id)
    if outbound_email_id is None:
        return
    mail.deliver(
        tenant_id=tenant_id,
        outbound_email_id=outbound_email_id,
        last_attempt=mail_tasks.is_last_attempt(deliver_message_email),
    )


@tenant_task(name="tickets.tasks.record_message_sent", queue="email", max_retries=10)
def record_message_sent(*, tenant_id: str, message_id: str, provider_message_id: str) -> bool:
    """Record a send whose first record failed, on the message's outbox email."""
    outbound_email_id = _outbound_email_id(message_id)
    if outbound_email_id is None:
        return False
    return mail.record_sent(
        outbound_email_id=outbound_email_id, provider_message_id=provider_message_id
    )


@system_task(name="tickets.tasks.sweep_outbound_emails")
def sweep_outbound_emails() -> int:
    """Beat, every minute: the outbox sweeper (helpdesk.mail.tasks.sweep_outbound_email),
    after queueing one adoption per tenant with replies still in flight from before the
    outbox (one query through the ops role, on a partial index that is empty once they
    are adopted). Returns the outbox sweeper's count."""
    with cross_tenant(reason="outbound sweeper: tenants with mail from before the outbox"):
        tenant_ids = list(
            Message.all_tenants.filter(services.IN_FLIGHT_BEFORE_THE_OUTBOX)
            .order_by()
            .values_list("tenant_id", flat=True)
            .distinct()
        )
    for tenant_id in tenant_ids:
        adopt_mail_from_before_the_outbox.delay(tenant_id=str(tenant_id))
    return mail_tasks.sweep_outbound_email()


@tenant_task(name="tickets.tasks.adopt_mail_from_before_the_outbox", queue="email")
def adopt_mail_from_before_the_outbox(*, tenant_id: str) -> int:
    """Give this tenant's replies in flight from before the outbox their outbox email."""
    return services.adopt_mail_from_before_the_outbox()


@tenant_task(name="tickets.tasks.requeue_outbound_emails", queue="email")
def requeue_outbound_emails(*, tenant_id: str) -> int:
    """The outbox requeue under its old name (helpdesk.mail.tasks.requeue_outbound_email)."""
    return mail_tasks.requeue_outbound_email(tenant_id=tenant_id)
