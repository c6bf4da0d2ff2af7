"""What tickets tell higher apps (receivers only enqueue tasks; see CONTRIBUTING.md)."""

from __future__ import annotations

from typing import Any

from django.dispatch import Signal

from helpdesk.tenancy.context import require_tenant_id
from tickets.attribution import current_rule
from tickets.models import Ticket

# Something SLA clocks or automation rules depend on changed: the ticket was created, a
# message came in or went out, its status, priority, department, type or spam flag moved.
# Sent inside the change's transaction with `tenant_id`, `ticket_id`, `reason` and `by_rule`.
ticket_changed = Signal()


# A person, a rule or the system gave the ticket to someone else or to nobody
# (tickets.ticket.services.assign_ticket): kwargs tenant_id, ticket_id, department_id,
# previous and assignee (member ids or None). Automatic assignment hands out a department's
# backlog when an agent drops a ticket (below their cap again) or a ticket loses its agent.
# Not sent by automatic assignment itself, nor for the claim by opening a ticket.
ticket_assignee_changed = Signal()

# A customer rated the help on a ticket, or changed their score
# (tickets.satisfaction.services.record_rating): kwargs tenant_id, ticket_id, rating_id. Sent
# inside the rating's transaction.
rating_received = Signal()

# Tickets' contents were erased (a person's erasure, or retention): kwargs tenant_id and
# ticket_ids (strings). Sent inside the erasure's transaction; higher apps erase the copies
# they keep (webhook deliveries) after the commit.
tickets_erased = Signal()

# People were erased (tickets.contacts.personal_data.erase_contact): kwargs tenant_id and
# contact_ids (strings: the person and their merged duplicates). Sent inside the erasure's
# transaction; higher apps forget what they keep about them (contact apps' cached answers).
contacts_erased = Signal()


def send_ticket_changed(ticket: Ticket, reason: str) -> None:
    """`by_rule` is True while a workflow rule acts (tickets.attribution): automation runs
    no rules for what rules changed (the loop guard), SLA clocks follow it all the same."""
    ticket_changed.send(
        sender=Ticket,
        tenant_id=ticket.tenant_id,
        ticket_id=ticket.id,
        reason=reason,
        by_rule=current_rule() is not None,
    )


def send_tickets_erased(*, ticket_ids: list[Any]) -> None:
    if ticket_ids:
        tickets_erased.send(
            sender=Ticket,
            tenant_id=require_tenant_id(),
            ticket_ids=[str(ticket_id) for ticket_id in ticket_ids],
        )


def send_contacts_erased(*, contact_ids: list[Any]) -> None:
    if contact_ids:
        contacts_erased.send(
            sender=Ticket,
            tenant_id=require_tenant_id(),
            contact_ids=[str(contact_id) for contact_id in contact_ids],
        )


def send_ticket_assignee_changed(ticket: Ticket, previous: object) -> None:
    ticket_assignee_changed.send(
        sender=Ticket,
        tenant_id=ticket.tenant_id,
        ticket_id=ticket.id,
        department_id=ticket.department_id,
        previous=previous,
        assignee=ticket.assignee_id,
    )
