"""Integration background work: creating one linked item in its tool."""

from __future__ import annotations

from automation.integrations import services
from helpdesk.tenancy.tasks import tenant_task


@tenant_task(queue="automation", own_transactions=True)
def create_external_task(*, tenant_id: str, item_id: str) -> str:
    """Create a pending linked item in its tool (claimed first, so a second run does
    nothing; never retried by itself, as a repeat could create a second item)."""
    item = services.run_external_task(tenant_id=tenant_id, item_id=item_id)
    return item.status if item is not None else "skipped"


@tenant_task(queue="automation")
def erase_external_task_titles(*, tenant_id: str, ticket_ids: list[str]) -> int:
    """Erased tickets: their linked items forget the copied subject (idempotent)."""
    return services.erase_titles(ticket_ids=ticket_ids)
