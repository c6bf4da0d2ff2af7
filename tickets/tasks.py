"""Ticket background work: inbound mail processing, acknowledgements, outgoing mail, the
stuck-mail sweepers (inbound and outbound), satisfaction surveys."""

from __future__ import annotations

import logging
from datetime import timedelta
from uuid import UUID

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from departments.models import Mailbox
from helpdesk.core.errors import TransientError, is_temporary
from helpdesk.core.tasks import system_task, tenant_task
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.managers import cross_tenant
from helpdesk.tenancy.models import Tenant
from tickets import services
from tickets.mail import imap, inbound, outbound
from tickets.models import (
    DeliveryStatus,
    InboundEmail,
    InboundEmailStatus,
    Message,
)

logger = logging.getLogger(__name__)


@tenant_task
def process_inbound_email(*, tenant_id: str, email_id: str) -> None:
    """Turn one stored InboundEmail into a ticket message; a second run changes nothing.

    An outage (database, Redis, broker, network) is retried with backoff; the attempt's
    writes roll back, so the row stays `queued`, and once the retries run out the inbound
    sweeper queues it again. Only an error that would recur whatever happens marks it
    `failed`, with the reason."""
    tenant = tenancy_selectors.get_tenant(tenant_id)
    try:
        inbound.process_inbound_email(
            email_id=UUID(email_id), language=tenant.language, tenant_name=tenant.name
        )
    except InboundEmail.DoesNotExist:
        raise  # another tenant's id: a bug to see in the worker log
    except Exception as error:
        if is_temporary(error):
            raise  # retried by the task's autoretry; the row is still queued
        # Anything else would fail the same way again: mark it, keep the mail, move on.
        logger.exception("processing inbound email %s failed", email_id)
        inbound.mark_failed(
            email_id=UUID(email_id), reason=f"processing failed: {type(error).__name__}: {error}"
        )


@tenant_task(queue="email")
def send_auto_acknowledgement(*, tenant_id: str, email_id: str) -> None:
    """Queue the acknowledgement of the mail that opened a ticket (once per mail).

    Processing queues it itself now; this task stays for tasks enqueued before that
    change (and redeliveries), and does nothing when the acknowledgement exists."""
    tenant = tenancy_selectors.get_tenant(tenant_id)
    outbound.queue_auto_acknowledgement(email_id=UUID(email_id), tenant_name=tenant.name)


@tenant_task
def release_member_tickets(*, tenant_id: str, membership_id: str) -> int:
    """A member who can no longer take tickets hands their unsolved ones back to the queue."""
    return services.release_member_tickets(membership_id=UUID(membership_id))


@tenant_task(queue="email", max_retries=6, own_transactions=True)
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


@tenant_task(queue="email", max_retries=10)
def record_message_sent(*, tenant_id: str, message_id: str, provider_message_id: str) -> bool:
    """Record a send whose first record failed (retried through an outage). Should this
    never succeed, the sweeper marks the message unknown: never sent twice."""
    return outbound.record_message_sent(
        message_id=UUID(message_id), provider_message_id=provider_message_id
    )


@system_task
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


@tenant_task(queue="email")
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


def _stale_before() -> object:
    return timezone.now() - timedelta(seconds=settings.HELPDESK_INBOUND_SWEEP_AFTER_SECONDS)


@system_task
def sweep_inbound_emails() -> int:
    """Beat: find tenants with mail left queued (broker down, worker killed) and requeue it.

    One indexed query through the ops role returns tenant ids only; the work runs per tenant.
    """
    with cross_tenant(reason="sweeper: tenants with stale queued inbound mail"):
        tenant_ids = list(
            InboundEmail.all_tenants.filter(
                status=InboundEmailStatus.QUEUED, updated_at__lt=_stale_before()
            )
            .values_list("tenant_id", flat=True)
            .distinct()
        )
    for tenant_id in tenant_ids:
        requeue_inbound_emails.delay(tenant_id=str(tenant_id))
    return len(tenant_ids)


@tenant_task
def requeue_inbound_emails(*, tenant_id: str) -> int:
    """Queue processing again for this tenant's stale queued mail (processing is idempotent)."""
    stale = list(
        InboundEmail.objects.filter(
            status=InboundEmailStatus.QUEUED, updated_at__lt=_stale_before()
        )
        .order_by("created_at")
        .values_list("id", flat=True)[:1000]
    )
    # Touch them first so the next sweep does not queue them again while they wait.
    InboundEmail.objects.filter(id__in=stale).update(updated_at=timezone.now())
    for email_id in stale:
        process_inbound_email.delay(tenant_id=tenant_id, email_id=str(email_id))
    return len(stale)


@system_task
def poll_imap_mailboxes() -> int:
    """Beat: queue one poll per tenant that has IMAP mailboxes (tenant ids via the ops role)."""
    with cross_tenant(reason="IMAP poller: tenants with IMAP mailboxes"):
        tenant_ids = list(
            Mailbox.all_tenants.filter(imap_enabled=True, is_active=True)
            .values_list("tenant_id", flat=True)
            .distinct()
        )
    for tenant_id in tenant_ids:
        poll_tenant_mailboxes.delay(tenant_id=str(tenant_id))
    return len(tenant_ids)


@tenant_task
def poll_tenant_mailboxes(*, tenant_id: str) -> int:
    """Queue a poll of each of this tenant's active IMAP mailboxes."""
    mailbox_ids = list(
        Mailbox.objects.filter(imap_enabled=True, is_active=True).values_list("id", flat=True)
    )
    for mailbox_id in mailbox_ids:
        poll_mailbox.delay(tenant_id=tenant_id, mailbox_id=str(mailbox_id))
    return len(mailbox_ids)


@tenant_task(soft_time_limit=240, time_limit=300)
def poll_mailbox(*, tenant_id: str, mailbox_id: str) -> int:
    """Fetch new mail of one IMAP mailbox. A poll already running for it is not doubled."""
    mailbox = (
        Mailbox.objects.select_for_update(skip_locked=True)
        .filter(id=mailbox_id, imap_enabled=True)
        .first()
    )
    if mailbox is None:
        return 0
    return imap.poll_mailbox(mailbox=mailbox).stored


@system_task
def sweep_orphaned_attachment_files() -> int:
    """Beat (daily): queue a clean-up of each tenant's attachment folder."""
    tenant_ids = list(Tenant.objects.values_list("id", flat=True))
    for tenant_id in tenant_ids:
        delete_orphaned_attachment_files.delay(tenant_id=str(tenant_id))
    return len(tenant_ids)


@tenant_task
def delete_orphaned_attachment_files(*, tenant_id: str) -> int:
    """Delete this tenant's attachment files left by rolled-back transactions."""
    hours = settings.HELPDESK_ORPHANED_FILES_AFTER_HOURS
    return services.delete_orphaned_attachment_files(older_than=timedelta(hours=hours))
