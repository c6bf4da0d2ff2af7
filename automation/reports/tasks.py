"""Rollups follow the tickets: one task per transaction's changed tickets."""

from __future__ import annotations

from automation.reports import selectors, services
from helpdesk.tenancy.tasks import tenant_task


@tenant_task(queue="automation")
def refresh_report_rollups(*, tenant_id: str, ticket_ids: list[str]) -> int:
    """Recompute the days these tickets count on (idempotent: the days are recomputed
    whole from the tickets)."""
    return services.recompute_days(days=selectors.ticket_days(sorted(set(ticket_ids))))
