"""Receivers of what lower apps report; each only enqueues a task (see CONTRIBUTING.md)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from automation import selectors, tasks
from departments.signals import business_hours_changed
from tickets.signals import ticket_changed


@receiver(ticket_changed, dispatch_uid="automation.sla.ticket_changed")
def measure_sla_after_change(*, tenant_id: Any, ticket_id: Any, **_: Any) -> None:
    """SLA clocks follow the ticket; tenants without policies have nothing to measure."""
    if selectors.list_active_sla_policies():
        tasks.apply_sla.delay_on_commit(tenant_id=str(tenant_id), ticket_id=str(ticket_id))


@receiver(business_hours_changed, dispatch_uid="automation.sla.business_hours_changed")
def measure_sla_after_hours_change(*, tenant_id: Any, **_: Any) -> None:
    if selectors.list_active_sla_policies():
        tasks.reapply_sla_policies.delay_on_commit(tenant_id=str(tenant_id))
