"""Mail in: processing, acknowledgement, the stuck-mail sweeper and IMAP polling. Each keeps the
name it had in `tickets.tasks`: messages already queued in Redis carry it."""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import timedelta
from uuid import UUID

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from departments.models import Mailbox
from helpdesk.core.tasks import system_task
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.managers import cross_tenant
from helpdesk.tenancy.tasks import tenant_task
from tickets.mail_in import imap, intake
from tickets.mail_in import services as inbound
from tickets.mail_out import services as outbound
from tickets.models import (
    InboundEmail,
    InboundEmailStatus,
)

logger = logging.getLogger(__name__)


BATCH_SIZE = 100
# A drain hands over to a fresh task after this long, so other tenants' work gets a turn.
DRAIN_SECONDS = 30.0


@tenant_task(name="tickets.tasks.drain_inbound_emails", own_transactions=True)
def drain_inbound_emails(*, tenant_id: str, handover: bool = False) -> int:
    """Process the tenant's queued mail, BATCH_SIZE rows per transaction
    (services.process_batch), until none is left; returns how many were claimed.

    Intake wakes it once per burst of mail (intake.enqueue_processing): the wake-up key is
    deleted before each claim, so mail committed after a claim wakes a drain again, and a
    second drain woken while one works claims the next batch and parses it while the first
    writes (process_batch: batches are still processed one at a time, in claim order). An
    outage rolls the current batch back and the task retries; the rows stay queued, and the
    sweeper wakes a drain if the retries run out. `handover` is accepted for tasks queued
    before drains worked side by side."""
    tenant = tenancy_selectors.get_tenant(tenant_id)
    started = time.monotonic()
    total = 0

    def clear_wake_up() -> None:
        with contextlib.suppress(Exception):  # no Redis: a later wake-up is only doubled
            cache.delete(intake.wake_key(tenant_id))

    while True:
        with tenant_context(tenant_id):
            done = inbound.process_batch(
                limit=BATCH_SIZE,
                language=tenant.language,
                tenant_name=tenant.name,
                before_claim=clear_wake_up,
            )
        total += len(done)
        if len(done) < BATCH_SIZE:
            return total
        if time.monotonic() - started > DRAIN_SECONDS:
            drain_inbound_emails.delay(tenant_id=tenant_id)
            return total


@tenant_task(name="tickets.tasks.process_inbound_email")
def process_inbound_email(*, tenant_id: str, email_id: str) -> None:
    """Process one stored InboundEmail, through the same batch path as the drain (a batch
    of one); a second run changes nothing. Intake now wakes the drain instead; this task
    stays for messages queued before that (their name is in Redis) and for a direct call.

    An outage (database, Redis, broker, network) is retried with backoff; the attempt's
    writes roll back, so the row stays `queued`, and once the retries run out the inbound
    sweeper queues it again. Only an error that would recur whatever happens marks it
    `failed`, with the reason."""
    tenant = tenancy_selectors.get_tenant(tenant_id)
    if not InboundEmail.objects.filter(id=email_id).exists():
        raise InboundEmail.DoesNotExist(f"no inbound email {email_id} in this tenant")
    inbound.process_batch(
        limit=1, email_ids=[UUID(email_id)], language=tenant.language, tenant_name=tenant.name
    )


@tenant_task(name="tickets.tasks.send_auto_acknowledgement", queue="email")
def send_auto_acknowledgement(*, tenant_id: str, email_id: str) -> None:
    """Queue the acknowledgement of the mail that opened a ticket (once per mail).

    Processing queues it itself now; this task stays for tasks enqueued before that
    change (and redeliveries), and does nothing when the acknowledgement exists."""
    tenant = tenancy_selectors.get_tenant(tenant_id)
    outbound.queue_auto_acknowledgement(email_id=UUID(email_id), tenant_name=tenant.name)


def _stale_before() -> object:
    return timezone.now() - timedelta(seconds=settings.HELPDESK_INBOUND_SWEEP_AFTER_SECONDS)


@system_task(name="tickets.tasks.sweep_inbound_emails")
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


@tenant_task(name="tickets.tasks.requeue_inbound_emails")
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
    if stale:
        # After the commit of the touch: the drain claims every queued row, these too.
        drain_inbound_emails.delay_on_commit(tenant_id=tenant_id)
    return len(stale)


@system_task(name="tickets.tasks.poll_imap_mailboxes")
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


@tenant_task(name="tickets.tasks.poll_tenant_mailboxes")
def poll_tenant_mailboxes(*, tenant_id: str) -> int:
    """Queue a poll of each of this tenant's active IMAP mailboxes."""
    mailbox_ids = list(
        Mailbox.objects.filter(imap_enabled=True, is_active=True).values_list("id", flat=True)
    )
    for mailbox_id in mailbox_ids:
        poll_mailbox.delay(tenant_id=tenant_id, mailbox_id=str(mailbox_id))
    return len(mailbox_ids)


@tenant_task(name="tickets.tasks.poll_mailbox", soft_time_limit=240, time_limit=300)
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
