"""Rebuild the full-text search document of every ticket of one tenant."""

from __future__ import annotations

from typing import Any

from helpdesk.tenancy.commands import TenantCommand
from helpdesk.tenancy.models import Tenant
from tickets.models import Ticket
from tickets.ticket import services


class Command(TenantCommand):
    help = "Rebuild the search index of a tenant's tickets (after changing its language)."

    def handle_tenant(self, tenant: Tenant, *args: Any, **options: Any) -> None:
        count = 0
        for ticket in Ticket.objects.select_related("contact__company").iterator(chunk_size=500):
            services.refresh_search_vector(ticket=ticket, language=tenant.language)
            count += 1
        self.stdout.write(f"reindexed {count} tickets of {tenant.slug}")
