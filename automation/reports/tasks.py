"""Rollups follow the tickets, debounced: a transaction's changed tickets mark the days
they count on as dirty, and one recompute per tenant runs a few seconds later for all the
days marked by then (a burst of changes to today's tickets recomputes today once, not once
per change). A sweeper recomputes days whose task was lost. The weekly summary mail goes
out on Monday morning in each tenant's zone."""

from __future__ import annotations

import datetime
import time
from typing import Any

from django.core.cache import cache
from django.db import transaction
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


# Inbound mail changes tickets a batch at a time, up to hundreds a second: their refresh
# is coalesced, one task per tenant per REFRESH_COALESCE_SECONDS for every ticket the
# batches changed meanwhile (held in a Redis set until that task has marked their days).
REFRESH_COALESCE_SECONDS = 5
# A recompute waits at least this many times as long as the tenant's last one took, so
# that recomputing a busy day (all of today's tickets) while mail streams in takes at most
# about a fifth of a worker.
RECOMPUTE_SPACING = 4
# How long ticket ids wait in the Redis set for a refresh that never ran (a lost task;
# changes after that are refreshed with the next ones).
PENDING_SECONDS = 24 * 3600


def refresh_report_rollups_soon(*, tenant_id: str, ticket_ids: list[str]) -> None:
    """After an inbound batch's commit: add its tickets to the tenant's pending set and
    schedule one refresh_pending_report_rollups in REFRESH_COALESCE_SECONDS, unless one is
    scheduled already (it will take these ids too)."""
    if not ticket_ids:
        return
    client = _redis()
    pending = _pending_key(tenant_id)
    with client.pipeline(transaction=True) as pipe:
        pipe.sadd(pending, *sorted(set(ticket_ids)))
        pipe.expire(pending, PENDING_SECONDS)
        pipe.execute()
    if cache.add(_refresh_claim_key(tenant_id), 1, timeout=REFRESH_COALESCE_SECONDS * 6):
        refresh_pending_report_rollups.apply_async(
            kwargs={"tenant_id": tenant_id}, countdown=REFRESH_COALESCE_SECONDS
        )


@tenant_task(queue="automation")
def refresh_pending_report_rollups(*, tenant_id: str) -> int:
    """refresh_report_rollups for every ticket in the tenant's pending set (inbound batches
    since the last run). Idempotent: the ids leave the set only after their marks commit, so
    a failed run leaves them for the next; marking twice is marking once."""
    cache.delete(_refresh_claim_key(tenant_id))  # batches from now on schedule the next run
    client = _redis()
    pending = _pending_key(tenant_id)
    ids = sorted(i.decode() if isinstance(i, bytes) else str(i) for i in client.smembers(pending))
    if not ids:
        return 0
    marked = services.mark_days_dirty(days=selectors.ticket_days(ids))
    transaction.on_commit(lambda: client.srem(pending, *ids))
    _schedule_recompute(tenant_id)
    return marked


def _redis() -> Any:
    return cache._cache.get_client(write=True)  # type: ignore[attr-defined]


def _pending_key(tenant_id: str) -> str:
    return cache.make_and_validate_key(f"reports:refresh-pending:{tenant_id}")


def _refresh_claim_key(tenant_id: str) -> str:
    return f"reports:refresh-scheduled:{tenant_id}"


def _schedule_recompute(tenant_id: str) -> None:
    took = cache.get(_took_key(tenant_id)) or 0.0
    countdown = max(DEBOUNCE_SECONDS, round(RECOMPUTE_SPACING * float(took)))
    if cache.add(_claim_key(tenant_id), 1, timeout=countdown * 6):
        recompute_report_rollups.apply_async(kwargs={"tenant_id": tenant_id}, countdown=countdown)


def _took_key(tenant_id: str) -> str:
    return f"reports:recompute-took:{tenant_id}"


def _claim_key(tenant_id: str) -> str:
    return f"reports:recompute-scheduled:{tenant_id}"


@tenant_task(queue="automation")
def recompute_report_rollups(*, tenant_id: str) -> int:
    """Recompute the tenant's dirty days (idempotent: a day is recomputed whole from the
    tickets, and a second run finds nothing marked). Changes from now on schedule the next
    run: the claim goes before the days are read."""
    cache.delete(_claim_key(tenant_id))
    started = time.monotonic()
    written = services.recompute_dirty_days()
    # The next recompute waits in proportion (_schedule_recompute).
    cache.set(_took_key(tenant_id), round(time.monotonic() - started, 3), timeout=3600)
    return written


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
