"""Automation background work: SLA clocks measured after ticket changes, measured afresh
after policy changes, and the sweeper that records targets missed in silence."""

from __future__ import annotations

from uuid import UUID

from django.utils import timezone

from automation import selectors, sla
from automation.models import SlaTimer
from helpdesk.core.tasks import system_task
from helpdesk.tenancy.managers import cross_tenant
from helpdesk.tenancy.tasks import tenant_task
from tickets.ticket import selectors as ticket_selectors

REAPPLY_BATCH = 200


@tenant_task(queue="automation")
def apply_sla(*, tenant_id: str, ticket_id: str = "", ticket_ids: list[str] | None = None) -> None:
    """Recompute the SLA timers of one ticket (`ticket_id`, as queued before batching) or of
    a transaction's tickets (`ticket_ids`), each in its own transaction, in id order so two
    runs lock tickets in the same order (idempotent: derived from the ticket's history)."""
    wanted = {*(ticket_ids or ()), *([ticket_id] if ticket_id else [])}
    for each in sorted(wanted):
        sla.apply_sla(ticket_id=UUID(each))


@tenant_task(queue="automation")
def reapply_sla_policies(*, tenant_id: str, after: str = "") -> None:
    """Measure the tenant's unsolved tickets afresh under the current policies, a batch at
    a time (each batch enqueues the next), without announcing old misses."""
    ids = ticket_selectors.list_unsolved_ticket_ids(
        after=UUID(after) if after else None, limit=REAPPLY_BATCH
    )
    for ticket_id in ids:
        sla.apply_sla(ticket_id=ticket_id, announce=False)
    if len(ids) == REAPPLY_BATCH:
        reapply_sla_policies.delay(tenant_id=tenant_id, after=str(ids[-1]))


@tenant_task(queue="automation")
def record_sla_breaches(*, tenant_id: str) -> None:
    """Recompute the tickets whose running timers passed their due time unrecorded."""
    for ticket_id in selectors.list_overdue_ticket_ids():
        sla.apply_sla(ticket_id=ticket_id)


@system_task
def sweep_sla_breaches() -> int:
    """Beat: one indexed query through the ops role for tenants with overdue timers not yet
    recorded; the work runs per tenant."""
    with cross_tenant(reason="SLA sweeper: tenants with overdue timers"):
        tenant_ids = set(
            selectors.filter_overdue(SlaTimer.all_tenants.all(), timezone.now())
            .values_list("tenant_id", flat=True)
            .distinct()
        )
    for tenant_id in tenant_ids:
        record_sla_breaches.delay(tenant_id=str(tenant_id))
    return len(tenant_ids)
