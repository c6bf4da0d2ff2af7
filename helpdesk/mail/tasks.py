"""Delivery of the outbox: the one delivery task, the late record of a send, the sweeper."""

from __future__ import annotations

import logging
from datetime import timedelta
from uuid import UUID

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from helpdesk.core.tasks import system_task
from helpdesk.mail import services
from helpdesk.mail.models import OutboundEmail, OutboundEmailStatus
from helpdesk.tenancy.managers import cross_tenant
from helpdesk.tenancy.tasks import tenant_task

logger = logging.getLogger(__name__)


@tenant_task(
    name="helpdesk.mail.tasks.deliver_outbound_email",
    queue="email",
    max_retries=6,
    own_transactions=True,
)
def deliver_outbound_email(*, tenant_id: str, outbound_email_id: str) -> str | None:
    """Send one queued email: claim (committed), send, record. A second run, a redelivered
    task or the sweeper finds it claimed or sent and does nothing.

    A temporary failure puts it back to queued and retries with backoff; after the last
    retry it stays queued for the outbound sweeper. A permanent one marks it failed."""
    return services.deliver(
        tenant_id=tenant_id,
        outbound_email_id=UUID(outbound_email_id),
        last_attempt=is_last_attempt(deliver_outbound_email),
    )


@tenant_task(
    name="helpdesk.mail.tasks.deliver_outbound_emails",
    queue="email",
    max_retries=6,
    own_transactions=True,
)
def deliver_outbound_emails(*, tenant_id: str, outbound_email_ids: list[str]) -> int:
    """Send many queued emails of one transaction (a batch of acknowledgements) over one
    connection to the mail backend; each as deliver_outbound_email would (claimed and
    committed as sending first, so none is ever sent twice). Returns how many were sent."""
    outcome = services.deliver_many(
        tenant_id=tenant_id,
        outbound_email_ids=[UUID(i) for i in outbound_email_ids],
        last_attempt=is_last_attempt(deliver_outbound_emails),
    )
    return sum(1 for status in outcome.values() if status == "sent")


def is_last_attempt(task: object) -> bool:
    """Eager runs (tests, a direct call) are their only attempt; a worker's last retry too."""
    request = task.request  # type: ignore[attr-defined]
    allowed = task.max_retries or 0  # type: ignore[attr-defined]
    return bool(request.is_eager) or (request.retries or 0) >= allowed


@tenant_task(name="helpdesk.mail.tasks.record_outbound_email_sent", queue="email", max_retries=10)
def record_outbound_email_sent(
    *, tenant_id: str, outbound_email_id: str, provider_message_id: str
) -> bool:
    """Record a send whose first record failed (retried through an outage). Should this
    never succeed, the sweeper marks the email unknown: never sent twice."""
    return services.record_sent(
        outbound_email_id=UUID(outbound_email_id), provider_message_id=provider_message_id
    )


@system_task(name="helpdesk.mail.tasks.sweep_outbound_email")
def sweep_outbound_email() -> int:
    """Beat: find tenants with outgoing mail left queued past the grace period (its task
    was lost: a killed worker, a Redis restart) or left sending past the sending timeout,
    and queue one requeue per tenant. One indexed query through the ops role."""
    now = timezone.now()
    queued_before = now - timedelta(seconds=settings.HELPDESK_OUTBOUND_SWEEP_AFTER_SECONDS)
    sending_before = now - timedelta(seconds=settings.HELPDESK_OUTBOUND_SENDING_TIMEOUT_SECONDS)
    with cross_tenant(reason="outbound sweeper: tenants with stale outgoing mail"):
        tenant_ids = list(
            OutboundEmail.all_tenants.filter(
                Q(status=OutboundEmailStatus.QUEUED, updated_at__lt=queued_before)
                | Q(status=OutboundEmailStatus.SENDING, updated_at__lt=sending_before)
            )
            .order_by()
            .values_list("tenant_id", flat=True)
            .distinct()
        )
    for tenant_id in tenant_ids:
        requeue_outbound_email.delay(tenant_id=str(tenant_id))
    return len(tenant_ids)


@tenant_task(name="helpdesk.mail.tasks.requeue_outbound_email", queue="email")
def requeue_outbound_email(*, tenant_id: str) -> int:
    """Queue this tenant's stale queued mail for sending again (the claim makes a second
    task harmless) and mark interrupted sends unknown. Returns the number queued."""
    services.mark_interrupted_sends(
        older_than=timedelta(seconds=settings.HELPDESK_OUTBOUND_SENDING_TIMEOUT_SECONDS)
    )
    stale = services.list_stale_queued(
        older_than=timedelta(seconds=settings.HELPDESK_OUTBOUND_SWEEP_AFTER_SECONDS)
    )
    for outbound_email_id in stale:
        deliver_outbound_email.delay_on_commit(
            tenant_id=tenant_id, outbound_email_id=str(outbound_email_id)
        )
    return len(stale)
