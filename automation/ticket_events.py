"""From "a ticket changed" to rules and assignment, a transaction's tickets at a time.

tickets.signals.ticket_changed reports each creation and update inside its transaction.
`collect` gathers them per transaction and trigger (an inbound batch of a hundred mails is
one event of a hundred tickets), and after the commit one `handle_ticket_events` task runs
the tenant's rules for the trigger and then hands the still unassigned tickets to their
departments. Changes a rule makes are reported as made by a rule and start no new event,
so a rule whose action would trigger it again runs once per event.

"SLA target missed" rules run where the miss is recorded (automation.sla), in its
transaction.

Tenants with no active rule and no department that assigns automatically enqueue nothing:
the check is a cached read, so routing is no per-mail cost until it is configured.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID, uuid4

from django.db import connection

from automation.assignment import selectors as assignment_selectors
from automation.assignment import services as assignment
from automation.models import RuleTrigger
from automation.rules import engine as rules_engine
from automation.rules import selectors as rules_selectors
from helpdesk.core.batching import collect_on_commit, is_collecting, remembered
from helpdesk.core.ids import new_id
from helpdesk.tenancy.context import require_tenant_id
from helpdesk.tenancy.tasks import tenant_task

# What each ticket_changed reason is to rules. Agent replies and field changes are updates
# as much as a customer's reply; merging and spam marking close the ticket to automation.
TRIGGER_OF_REASON = {
    "created": RuleTrigger.TICKET_CREATED,
    "customer_message": RuleTrigger.TICKET_UPDATED,
    "replied": RuleTrigger.TICKET_UPDATED,
    "fields": RuleTrigger.TICKET_UPDATED,
    "status": RuleTrigger.TICKET_UPDATED,
}


def wants(trigger: str) -> bool:
    """Has the current tenant anything to do on this trigger? (Cached reads only.)"""
    return rules_selectors.has_active_rules(trigger=trigger) or bool(
        assignment_selectors.auto_assign_departments()
    )


def collect(*, trigger: str, ticket_id: Any) -> None:
    """Queue the ticket for automation on `trigger` after the current transaction commits
    (once per transaction and trigger, with every ticket of the transaction)."""
    tenant_id = str(require_tenant_id())
    key = ("automation.ticket_events", tenant_id, trigger)
    # Asked once per inbound batch (a hundred tickets), not once per ticket.
    if not is_collecting(key) and not remembered(
        ("automation.ticket_events.wants", tenant_id, trigger), lambda: wants(trigger)
    ):
        return
    collect_on_commit(key, str(ticket_id), lambda ids: _enqueue(tenant_id, trigger, ids))


def _enqueue(tenant_id: str, trigger: str, ticket_ids: list[str]) -> None:
    unique = list(dict.fromkeys(ticket_ids))
    handle_ticket_events.delay(
        tenant_id=tenant_id, trigger=trigger, ticket_ids=unique, event_id=str(uuid4())
    )


def handle(*, trigger: str, ticket_ids: Sequence[UUID], event_id: UUID) -> list[UUID]:
    """Run rules, then assignment, for the tickets not yet handled for this event; returns
    those handled now. Call inside the tenant's transaction: what the rules and the
    assignment did commits with the record that they did it."""
    fresh = _claim(trigger=trigger, ticket_ids=ticket_ids, event_id=event_id)
    if not fresh:
        return []
    rules_engine.run_rules(trigger=trigger, ticket_ids=fresh)
    assignment.assign_new_tickets(ticket_ids=fresh)
    return fresh


def _claim(*, trigger: str, ticket_ids: Sequence[UUID], event_id: UUID) -> list[UUID]:
    """Record the event for each ticket that still exists and return those recorded now: a
    ticket recorded before (a redelivered task, or a second copy running at the same time,
    which waits here for the first to commit) is left out."""
    wanted = list(dict.fromkeys(ticket_ids))
    if not wanted:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO automation_automationrun
                (id, created_at, updated_at, tenant_id, ticket_id, event_id, trigger)
            SELECT claim.id, now(), now(), ticket.tenant_id, ticket.id, %s, %s
            FROM unnest(%s::uuid[], %s::uuid[]) WITH ORDINALITY AS claim(id, ticket_id, n)
            JOIN tickets_ticket ticket ON ticket.id = claim.ticket_id
            ORDER BY claim.n
            ON CONFLICT (tenant_id, event_id, ticket_id) DO NOTHING
            RETURNING ticket_id
            """,
            [event_id, trigger, [new_id() for _ in wanted], wanted],
        )
        claimed = {row[0] for row in cursor.fetchall()}
    return [ticket_id for ticket_id in wanted if ticket_id in claimed]


@tenant_task(queue="automation")
def handle_ticket_events(
    *, tenant_id: str, trigger: str, ticket_ids: list[str], event_id: str
) -> int:
    """Rules and assignment for a transaction's tickets (idempotent per event)."""
    handled = handle(
        trigger=trigger,
        ticket_ids=[UUID(ticket_id) for ticket_id in ticket_ids],
        event_id=UUID(event_id),
    )
    return len(handled)
