"""Beat: reminders, holds that ran out, tickets left waiting. One sweeper finds the tenants
with work (through the ops role) and queues one task per tenant; that task can run twice
without doing its work twice (tickets/reminders/services.py)."""

from __future__ import annotations

import datetime

from django.utils import timezone

from helpdesk.core.tasks import system_task
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.managers import cross_tenant
from helpdesk.tenancy.tasks import tenant_task
from tickets.models import TicketHold, TicketTask, WorkspaceSettings
from tickets.reminders import services as reminders


def _tenants_with_due_work(now: datetime.datetime) -> set[str]:
    """Tenant ids with a reminder due, a hold run out or auto-solving on: three index
    scans through the ops role, tenant ids only."""
    due_reminders = TicketTask.all_tenants.filter(
        done=False, reminded_at__isnull=True, remind_at__isnull=False, remind_at__lte=now
    )
    holds = TicketHold.all_tenants.filter(released_at__isnull=True, until__lte=now)
    solving = WorkspaceSettings.all_tenants.filter(auto_solve_waiting_days__gt=0)
    found: set[str] = set()
    for rows in (due_reminders, holds, solving):
        found.update(str(t) for t in rows.order_by().values_list("tenant_id", flat=True).distinct())
    return found


@system_task
def sweep_ticket_clocks() -> int:
    """Beat, every minute: queue `run_ticket_clocks` for each tenant with work due."""
    with cross_tenant(reason="ticket clocks: tenants with reminders, holds or auto-solve"):
        tenant_ids = _tenants_with_due_work(timezone.now())
    for tenant_id in tenant_ids:
        run_ticket_clocks.delay(tenant_id=tenant_id)
    return len(tenant_ids)


@tenant_task(own_transactions=True)
def run_ticket_clocks(*, tenant_id: str) -> dict[str, int]:
    """Send this tenant's due reminders, open tickets whose hold ran out, and solve tickets
    left waiting on the customer."""
    with tenant_context(tenant_id):
        reminded = reminders.send_due_reminders()
    with tenant_context(tenant_id):
        opened = reminders.release_due_holds()
    with tenant_context(tenant_id):
        solved = reminders.solve_stale_waiting()
    return {"reminded": reminded, "opened": opened, "solved": solved}
