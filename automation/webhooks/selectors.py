"""Reads for webhooks: the list, one webhook, its delivery log, the events the tenant's
active webhooks want (cached: read on every ticket change), and deliveries that are due."""

from __future__ import annotations

import datetime
from uuid import UUID

from django.core.cache import cache
from django.db.models import QuerySet

from automation.errors import WebhookNotFound
from automation.models import Webhook, WebhookDelivery, WebhookDeliveryStatus
from helpdesk.core import batching
from helpdesk.tenancy.context import require_tenant_id

EVENTS_SECONDS = 600


def list_webhooks() -> QuerySet[Webhook]:
    """The tenant's webhooks, oldest first."""
    return Webhook.objects.order_by("created_at", "id")


def get_webhook(webhook_id: UUID | str) -> Webhook:
    """One webhook; another tenant's is WebhookNotFound like a missing one."""
    try:
        webhook = list_webhooks().filter(id=UUID(str(webhook_id))).first()
    except ValueError:
        webhook = None
    if webhook is None:
        raise WebhookNotFound(webhook_id=str(webhook_id))
    return webhook


def list_deliveries(webhook: Webhook) -> QuerySet[WebhookDelivery]:
    """A webhook's delivery log, newest first."""
    return WebhookDelivery.objects.filter(webhook=webhook).order_by("-id")


def get_delivery(delivery_id: UUID | str) -> WebhookDelivery | None:
    return WebhookDelivery.objects.select_related("webhook").filter(id=delivery_id).first()


def wanted_events_key() -> str:
    return f"webhooks:events:{require_tenant_id()}"


def wanted_events() -> frozenset[str]:
    """The events at least one active webhook of the tenant subscribes to. Read for every
    ticket change, so cached (a tenant without webhooks costs one cache read); the webhook
    services drop it."""
    key = wanted_events_key()
    cached = batching.remembered(key, lambda: cache.get(key))  # once per inbound batch
    if isinstance(cached, frozenset):
        return cached
    events: set[str] = set()
    for subscribed in list_webhooks().filter(is_active=True).values_list("events", flat=True):
        events.update(subscribed)
    found = frozenset(events)
    cache.set(key, found, EVENTS_SECONDS)
    return found


def list_subscribers(event: str) -> list[Webhook]:
    """The active webhooks subscribed to `event`."""
    return list(list_webhooks().filter(is_active=True, events__contains=[event]))


def list_due_delivery_ids(*, now: datetime.datetime, limit: int = 500) -> list[UUID]:
    """Pending deliveries whose next attempt is due (their task was lost, or the retry
    waits longer than a task may be delayed), oldest due first."""
    return list(
        WebhookDelivery.objects.filter(
            status=WebhookDeliveryStatus.PENDING, next_attempt_at__lte=now
        )
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )
