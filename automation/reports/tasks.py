"""Rollups follow the tickets, debounced: a transaction's changed tickets mark the days
they count on as dirty, and one recompute per tenant runs a few seconds later for all the
days marked by then (a burst of changes to today's tickets recomputes today once, not once
per change). A sweeper recomputes days whose task was lost. The weekly summary mail goes
out on Monday morning in each tenant's zone."""

from __future__ import annotations

import datetime

from django.core.cache import cache
from django.utils import timezone

from automation.models import ReportDirtyDay
from automation.reports import selectors, services
from helpdesk.core.tasks import system_task
from helpdesk.tenancy.managers import cross_tenant
from helpdesk.tenancy.models import Tenant
from helpdesk.tenancy.tasks import tenant_task

# How long changes gather before their days are recomputed (seconds).
DEBOUNCE_SECONDS = 10
# A day still marked this long after its mark lost its recompute task.
SWEEP_AFTER = datetime.timedelta(minutes=5)
# The weekly mail: Monday from this hour on, in the tenant's zone (for a day, so a beat
# that was down at 07:00 still sends it).
WEEKLY_HOUR = 7


@tenant_task(queue="automation")
def refresh_report_rollups(*, tenant_id: str, ticket_ids: list[str]) -> int:
    """Mark the days these tickets count on as dirty and schedule the tenant's recompute,
    unless one is already scheduled (idempotent: marking twice is marking once)."""
    marked = services.mark_days_dirty(days=selectors.ticket_days(sorted(set(ticket_ids))))
    # The recompute starts DEBOUNCE_SECONDS later, long after this task's marks commit (a
    # mark that commits later still is the sweeper's).
    _schedule_recompute(tenant_id)
    return marked


def _schedule_recompute(tenant_id: str) -> None:
    if cache.add(_claim_key(tenant_id), 1, timeout=DEBOUNCE_SECONDS * 6):
        recompute_report_rollups.apply_async(
            kwargs={"tenant_id": tenant_id}, countdown=DEBOUNCE_SECONDS
        )


def _claim_key(tenant_id: str) -> str:
    return f"reports:recompute-scheduled:{tenant_id}"


@tenant_task(queue="automation")
def recompute_report_rollups(*, tenant_id: str) -> int:
    """Recompute the tenant's dirty days (idempotent: a day is recomputed whole from the
    tickets, and a second run finds nothing marked). Changes from now on schedule the next
    run: the claim goes before the days are read."""
    cache.delete(_claim_key(tenant_id))
    return services.recompute_dirty_days()


@system_task
def sweep_report_rollups() -> int:
    """Beat: tenants with days marked long ago (their recompute task was lost) get one."""
    with cross_tenant(reason="Report sweeper: tenants with stale dirty days"):
        tenant_ids = set(
            ReportDirtyDay.all_tenants.filter(marked_at__lt=timezone.now() - SWEEP_AFTER)
            .values_list("tenant_id", flat=True)
            .distinct()
        )
    for tenant_id in tenant_ids:
        recompute_report_rollups.delay(tenant_id=str(tenant_id))
    return len(tenant_ids)


@system_task
def send_weekly_reports() -> int:
    """Beat (hourly): the tenants where it is Monday, from 07:00 to midnight local time, get
    their weekly summary task (which sends each admin's mail once)."""
    now = timezone.now()
    due = [
        tenant
        for tenant in Tenant.objects.filter(is_active=True).only("id", "time_zone")
        if _is_weekly_time(now, tenant.time_zone)
    ]
    for tenant in due:
        send_weekly_report.delay(tenant_id=str(tenant.id))
    return len(due)


@tenant_task(queue="email")
def send_weekly_report(*, tenant_id: str) -> int:
    """The tenant's weekly summary to each admin who wants it, once per week."""
    return services.send_weekly_reports()


def _is_weekly_time(now: datetime.datetime, zone_name: str) -> bool:
    try:
        local = now.astimezone(selectors.zone_named(zone_name))
    except ValueError:
        return False
    return local.weekday() == 0 and local.hour >= WEEKLY_HOUR
