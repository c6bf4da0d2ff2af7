"""Integration background work: creating one linked item in its tool; forgetting what was
kept about erased tickets and people."""

from __future__ import annotations

from automation.integrations import contact_apps, services
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


@tenant_task(queue="automation")
def forget_contact_app_answers(
    *, tenant_id: str, contact_ids: list[str], again: bool = True
) -> int:
    """Erased people: every contact app's cached answers about them deleted (idempotent).
    Run once more after the longest fetch: one already under way when the person was
    erased stores its answer when it ends (unreachable, but it names them)."""
    forgotten = contact_apps.forget_contact_answers(contact_ids=contact_ids)
    if again:
        forget_contact_app_answers.apply_async(
            kwargs={"tenant_id": tenant_id, "contact_ids": contact_ids, "again": False},
            countdown=contact_apps.LONGEST_FETCH_SECONDS,
        )
    return forgotten
