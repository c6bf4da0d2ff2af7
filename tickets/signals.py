"""What tickets tell higher apps (receivers only enqueue tasks; see CONTRIBUTING.md)."""

from __future__ import annotations

from django.dispatch import Signal

from tickets.models import Ticket

# Something SLA clocks or automation rules depend on changed: the ticket was created, a
# message came in or went out, its status, priority, department, type or spam flag moved.
# Sent inside the change's transaction with `tenant_id`, `ticket_id` and `reason`.
ticket_changed = Signal()


def send_ticket_changed(ticket: Ticket, reason: str) -> None:
    ticket_changed.send(
        sender=Ticket, tenant_id=ticket.tenant_id, ticket_id=ticket.id, reason=reason
    )
