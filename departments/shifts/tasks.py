"""The shift clock: every minute, per tenant with work, shifts that began or ended and
members gone idle (HELPDESK_AWAY_AFTER_MINUTES)."""

from __future__ import annotations

import datetime

from django.db.models import Q
from django.utils import timezone

from departments.models import AgentShift, ShiftLeave
from departments.shifts import services
from helpdesk.accounts.services import away_after
from helpdesk.core.tasks import system_task
from helpdesk.tenancy.managers import cross_tenant
from helpdesk.tenancy.models import Availability, Membership, Tenant
from helpdesk.tenancy.tasks import tenant_task


@tenant_task
def run_shift_clock(*, tenant_id: str) -> None:
    """One tenant: on-shift flags brought in line (a shift that ended takes its member
    offline), then idle online members away. Idempotent."""
    services.run_shift_clock()


@system_task
def sweep_shift_clock() -> int:
    """Beat, every minute: the tenants with a shift, leave that is not over, a member
    stored as off shift, or an online member idle past HELPDESK_AWAY_AFTER_MINUTES; one
    run_shift_clock each. Returns how many were enqueued."""
    now = timezone.now()
    with cross_tenant(reason="shift clock: tenants with shifts or leave"):
        with_hours = set(AgentShift.all_tenants.values_list("tenant_id", flat=True).distinct())
        recent = now.date() - datetime.timedelta(days=2)
        with_hours |= set(
            ShiftLeave.all_tenants.filter(ends_on__gte=recent)
            .values_list("tenant_id", flat=True)
            .distinct()
        )
    cutoff = now - away_after()
    # Membership is a global table (no tenant policy): read here with the app's role.
    seats = Membership.objects.filter(is_active=True).filter(
        Q(on_shift=False)
        | Q(
            Q(availability=Availability.ONLINE),
            Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=cutoff),
            Q(availability_changed_at__isnull=True) | Q(availability_changed_at__lt=cutoff),
        )
    )
    with_work = with_hours | set(seats.values_list("tenant_id", flat=True).distinct())
    tenant_ids = list(
        Tenant.objects.filter(id__in=with_work, is_active=True).values_list("id", flat=True)
    )
    for tenant_id in tenant_ids:
        run_shift_clock.delay(tenant_id=str(tenant_id))
    return len(tenant_ids)
