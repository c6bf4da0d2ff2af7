"""Notification tasks. Each keeps the name it had in `tickets.tasks`: messages already queued in
Redis carry it."""

from __future__ import annotations

from uuid import UUID

from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.tasks import tenant_task
from tickets.notifications import services as notifications


@tenant_task(name="tickets.tasks.send_agent_notification", queue="email")
def send_agent_notification(
    *,
    tenant_id: str,
    member_id: str,
    kind: str,
    ticket_id: str,
    message_id: str = "",
    notification_id: str = "",
) -> None:
    """Email an agent about a ticket (assigned, mentioned, customer replied)."""
    name = tenancy_selectors.get_tenant(tenant_id).name
    notifications.send_agent_notification(
        member_id=UUID(member_id),
        kind=kind,
        ticket_id=UUID(ticket_id),
        message_id=UUID(message_id) if message_id else None,
        tenant_name=name,
        notification_id=UUID(notification_id) if notification_id else None,
    )


@tenant_task(queue="email")
def send_agent_notifications(*, tenant_id: str, notification_ids: list[str]) -> int:
    """Email agents about many notifications at once (automatic assignment of a batch)."""
    name = tenancy_selectors.get_tenant(tenant_id).name
    return notifications.send_agent_notifications(
        notification_ids=[UUID(i) for i in notification_ids], tenant_name=name
    )
