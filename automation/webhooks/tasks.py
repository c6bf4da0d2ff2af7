"""Webhook background work: the deliveries of a transaction's events, one delivery, and
the sweeper for retries due later than a countdown may wait and for lost attempts."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db.models import Q
from django.utils import timezone

from automation.models import WebhookDelivery, WebhookDeliveryStatus
from automation.webhooks import selectors, services
from helpdesk.core.tasks import system_task
from helpdesk.tenancy.managers import cross_tenant
from helpdesk.tenancy.tasks import tenant_task


@tenant_task(queue="automation")
def queue_webhook_events(*, tenant_id: str, items: list[dict[str, Any]], batch_id: str) -> int:
    """Write and queue the deliveries of one transaction's events (idempotent per batch)."""
    return len(services.queue_events(items=items, batch_id=batch_id))


@tenant_task(queue="automation", own_transactions=True)
def deliver_webhook(*, tenant_id: str, delivery_id: str) -> None:
    """Send one delivery (claimed first, so a second run does nothing); a failure that
    will be retried soon queues the retry with a countdown, later ones wait for the
    sweeper."""
    countdown = services.deliver(tenant_id=tenant_id, delivery_id=UUID(delivery_id))
    if countdown is not None:
        deliver_webhook.apply_async(
            kwargs={"tenant_id": tenant_id, "delivery_id": delivery_id}, countdown=countdown
        )


@tenant_task(queue="automation")
def send_due_webhook_deliveries(*, tenant_id: str) -> int:
    """Queue the tenant's due deliveries, after making those cut short by a dead worker
    due again."""
    services.mark_interrupted_deliveries()
    due = selectors.list_due_delivery_ids(now=timezone.now())
    for delivery_id in due:
        deliver_webhook.delay(tenant_id=tenant_id, delivery_id=str(delivery_id))
    return len(due)


@tenant_task(queue="automation")
def erase_webhook_payloads(*, tenant_id: str, ticket_ids: list[str]) -> int:
    """Erased tickets: the delivery log forgets what was sent about them (idempotent)."""
    return services.erase_payloads(ticket_ids=ticket_ids)


@system_task
def sweep_webhook_deliveries() -> int:
    """Beat: one indexed query through the ops role for tenants with deliveries due or in
    flight; the work runs per tenant."""
    now = timezone.now()
    with cross_tenant(reason="Webhook sweeper: tenants with deliveries due"):
        tenant_ids = set(
            WebhookDelivery.all_tenants.filter(
                Q(status=WebhookDeliveryStatus.PENDING, next_attempt_at__lte=now)
                | Q(
                    status=WebhookDeliveryStatus.SENDING,
                    claimed_at__lt=now - services.SENDING_TIMEOUT,
                )
            )
            .values_list("tenant_id", flat=True)
            .distinct()
        )
    for tenant_id in tenant_ids:
        send_due_webhook_deliveries.delay(tenant_id=str(tenant_id))
    return len(tenant_ids)
