"""Satisfaction survey tasks. Each keeps the name it had in `tickets.tasks`: messages already
queued in Redis carry it."""

from __future__ import annotations

from django.utils import timezone

from helpdesk.core.tasks import system_task
from helpdesk.tenancy.managers import cross_tenant
from helpdesk.tenancy.tasks import tenant_task
from tickets.models import (
    SatisfactionRating,
)
from tickets.satisfaction import services as satisfaction


@system_task(name="tickets.tasks.send_satisfaction_surveys")
def send_satisfaction_surveys() -> int:
    """Beat: find tenants with satisfaction surveys due and queue one send per tenant.

    One query through the ops role (the partial index of unsent surveys) returns tenant
    ids only; a survey held back (its ticket open again) does not wake its tenant.
    """
    with cross_tenant(reason="survey sweeper: tenants with satisfaction surveys due"):
        tenant_ids = list(
            satisfaction.filter_due(SatisfactionRating.all_tenants.all(), timezone.now())
            .order_by()
            .values_list("tenant_id", flat=True)
            .distinct()
        )
    for tenant_id in tenant_ids:
        send_due_surveys.delay(tenant_id=str(tenant_id))
    return len(tenant_ids)


@tenant_task(name="tickets.tasks.send_due_surveys", queue="email")
def send_due_surveys(*, tenant_id: str) -> int:
    """Email this tenant's due satisfaction surveys; a second run finds them sent."""
    return satisfaction.send_due_surveys()
