"""Tasks of contacts and companies. Each keeps the name it had in `tickets.tasks`: messages
already queued in Redis carry it."""

from __future__ import annotations

from uuid import UUID

from helpdesk.core.tasks import system_task
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.managers import cross_tenant
from helpdesk.tenancy.tasks import tenant_task
from tickets.contacts import personal_data
from tickets.contacts import services as contacts
from tickets.models import WorkspaceSettings


@tenant_task(name="tickets.tasks.attach_domain_contacts")
def attach_domain_contacts(*, tenant_id: str, company_id: str) -> int:
    """A company got a domain: the contacts already known there join it."""
    tenant = tenancy_selectors.get_tenant(tenant_id)
    return contacts.attach_contacts_by_domain(company_id=UUID(company_id), language=tenant.language)


@tenant_task
def apply_retention(*, tenant_id: str) -> int:
    """One batch of the tenant's retention (old solved tickets anonymized or deleted); a
    full batch queues the next."""
    done = personal_data.apply_retention()
    if done == personal_data.RETENTION_BATCH:
        apply_retention.delay_on_commit(tenant_id=tenant_id)
    return done


@system_task
def sweep_retention() -> int:
    """Beat (nightly): one query through the ops role for the tenants with a retention
    period; each applies its own."""
    with cross_tenant(reason="Retention sweep: tenants that keep tickets for a period"):
        tenant_ids = list(
            WorkspaceSettings.all_tenants.filter(retention_months__gt=0).values_list(
                "tenant_id", flat=True
            )
        )
    for tenant_id in tenant_ids:
        apply_retention.delay(tenant_id=str(tenant_id))
    return len(tenant_ids)
