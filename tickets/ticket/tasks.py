"""Ticket tasks: releasing a departed member's tickets, orphaned attachment files. Each keeps
the name it had in `tickets.tasks`: messages already queued in Redis carry it."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from django.conf import settings

from helpdesk.core.tasks import system_task
from helpdesk.tenancy.models import Tenant
from helpdesk.tenancy.tasks import tenant_task
from tickets.ticket import services


@tenant_task(name="tickets.tasks.release_member_tickets")
def release_member_tickets(*, tenant_id: str, membership_id: str) -> int:
    """A member who can no longer take tickets hands their unsolved ones back to the queue."""
    return services.release_member_tickets(membership_id=UUID(membership_id))


@system_task(name="tickets.tasks.sweep_orphaned_attachment_files")
def sweep_orphaned_attachment_files() -> int:
    """Beat (daily): queue a clean-up of each tenant's attachment folder."""
    tenant_ids = list(Tenant.objects.values_list("id", flat=True))
    for tenant_id in tenant_ids:
        delete_orphaned_attachment_files.delay(tenant_id=str(tenant_id))
    return len(tenant_ids)


@tenant_task(name="tickets.tasks.delete_orphaned_attachment_files")
def delete_orphaned_attachment_files(*, tenant_id: str) -> int:
    """Delete this tenant's attachment files left by rolled-back transactions."""
    hours = settings.HELPDESK_ORPHANED_FILES_AFTER_HOURS
    return services.delete_orphaned_attachment_files(older_than=timedelta(hours=hours))
