"""Tasks of contacts and companies. Each keeps the name it had in `tickets.tasks`: messages
already queued in Redis carry it."""

from __future__ import annotations

from uuid import UUID

from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.tasks import tenant_task
from tickets.contacts import services as contacts


@tenant_task(name="tickets.tasks.attach_domain_contacts")
def attach_domain_contacts(*, tenant_id: str, company_id: str) -> int:
    """A company got a domain: the contacts already known there join it."""
    tenant = tenancy_selectors.get_tenant(tenant_id)
    return contacts.attach_contacts_by_domain(company_id=UUID(company_id), language=tenant.language)
