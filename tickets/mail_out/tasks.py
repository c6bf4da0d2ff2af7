"""Mail out: delivery, recording what was sent, the stuck-mail sweeper. Each keeps the name it
had in `tickets.tasks`: messages already queued in Redis carry it."""

from __future__ import annotations

import logging
from datetime import timedelta
from uuid import UUID

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from helpdesk.core.errors import TransientError, is_temporary
from helpdesk.core.tasks import system_task
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.managers import cross_tenant
from helpdesk.tenancy.tasks import tenant_task
from tickets.mail_out import services as outbound
from tickets.models import (
    DeliveryStatus,
    Message,
)

logger = logging.getLogger(__name__)


@tenant_task(
    name="tickets.tasks.deliver_message_email", queue="email", max_retries=6, own_transactions=True
)
def deliver_message_email(*, tenant_id: str, message_id: str) -> None:
    """Send one queued reply: claim (committed), send, record. A second run, a redelivered
    task or the sweeper finds it claimed or sent and does nothing.

    A temporary failure puts it back to queued and retries with backoff; after the last
    retry it stays queued for the outbound sweeper. A permanent one marks it failed."""
    with tenant_context(tenant_id):
        tenant = tenancy_selectors.get_tenant(tenant_id)
        email = outbound.claim_message_email(
            message_id=UUID(message_id), tenant_name=tenant.name, language=tenant.language
        )
    if email is None:
        return
    try:
        sent = outbound.send_email(email)
    except Exception as error:
        with tenant_context(tenant_id):
            status = outbound.release_message_email(message_id=UUID(message_id), error=error)
        request = deliver_message_email.request
        retries_allowed = deliver_message_email.max_retries or 0
        last = bool(request.is_eager) or (request.retries or 0) >= retries_allowed
        if status == DeliveryStatus.QUEUED and not last:
            raise TransientError(f"{type(error).__name__}: {error}") from error
        return
    if not sent:
        with tenant_context(tenant_id):
            outbound.release_message_email(
                message_id=UUID(message_id), error=RuntimeError("the mail backend sent nothing")
            )
        return
    provider_id = outbound.provider_message_id(email)
    try:
        with tenant_context(tenant_id):
            outbound.record_message_sent(
                message_id=UUID(message_id), provider_message_id=provider_id
            )
    except Exception as error:
        if not is_temporary(error):
            raise
        # It went out; only the record failed (the database is down). Record it later;
        # retrying this task would find it claimed and do nothing.
        logger.warning("message %s sent but not recorded yet: %r", message_id, error)
        record_message_sent.apply_async(
            kwargs={
                "tenant_id": tenant_id,
                "message_id": message_id,
                "provider_message_id": provider_id,
            },
            countdown=10,
        )


@tenant_task(name="tickets.tasks.record_message_sent", queue="email", max_retries=10)
def record_message_sent(*, tenant_id: str, message_id: str, provider_message_id: str) -> bool:
    """Record a send whose first record failed (retried through an outage). Should this
    never succeed, the sweeper marks the message unknown: never sent twice."""
    return outbound.record_message_sent(
        message_id=UUID(message_id), provider_message_id=provider_message_id
    )


@system_task(name="tickets.tasks.sweep_outbound_emails")
def sweep_outbound_emails() -> int:
    """Beat: find tenants with outgoing mail left queued past the grace period (its task
    was lost: a killed worker, a Redis restart) or left sending past the sending timeout,
    and queue one requeue per tenant. One indexed query through the ops role."""
    now = timezone.now()
    queued_before = now - timedelta(seconds=settings.HELPDESK_OUTBOUND_SWEEP_AFTER_SECONDS)
    sending_before = now - timedelta(seconds=settings.HELPDESK_OUTBOUND_SENDING_TIMEOUT_SECONDS)
    with cross_tenant(reason="outbound sweeper: tenants with stale outgoing mail"):
        tenant_ids = list(
            Message.all_tenants.filter(
                Q(delivery_status=DeliveryStatus.QUEUED, updated_at__lt=queued_before)
                | Q(delivery_status=DeliveryStatus.SENDING, updated_at__lt=sending_before)
            )
            .order_by()
            .values_list("tenant_id", flat=True)
            .distinct()
        )
    for tenant_id in tenant_ids:
        requeue_outbound_emails.delay(tenant_id=str(tenant_id))
    return len(tenant_ids)


@tenant_task(name="tickets.tasks.requeue_outbound_emails", queue="email")
def requeue_outbound_emails(*, tenant_id: str) -> int:
    """Queue this tenant's stale queued mail for sending again (the claim makes a second
    task harmless) and mark interrupted sends unknown. Returns the number queued."""
    outbound.mark_interrupted_sends(
        older_than=timedelta(seconds=settings.HELPDESK_OUTBOUND_SENDING_TIMEOUT_SECONDS)
    )
    stale = outbound.list_stale_queued(
        older_than=timedelta(seconds=settings.HELPDESK_OUTBOUND_SWEEP_AFTER_SECONDS)
    )
    for message_id in stale:
        deliver_message_email.delay_on_commit(tenant_id=tenant_id, message_id=str(message_id))
    return len(stale)
