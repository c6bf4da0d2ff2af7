"""Rollups follow the tickets, debounced: a transaction's changed tickets mark the days
they count on as dirty, and one recompute per tenant runs a few seconds later for all the
days marked by then (a burst of changes to today's tickets recomputes today once, not once
per change). A sweeper recomputes days whose task was lost. Inbound mail's batches are
coalesced: their new tickets are added as a delta, their customer messages change nothing,
only their other changes mark days. Yesterday is recomputed once a day (reconciliation).
The weekly summary mail goes out on Monday morning in each tenant's zone."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from automation.models import ReportDirtyDay
from automation.reports import selectors, services
from helpdesk.core.batching import collect_on_commit, is_remembering
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


# What an inbound batch's changes (ticket id, reason: tickets.signals) ask of the
# rollups: a customer's message counts in no figure (replies and first responses are the
# agents'), so a ticket that only received one asks for nothing; a ticket the batch created
# (and perhaps answered again) is added by a delta (services.count_new_tickets); any other
# change (a reopen, a status) marks the days the ticket counts on for a recompute.
NEUTRAL_REASONS = frozenset({"customer_message"})
CREATED_REASON = "created"


def sort_changes(changes: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """(tickets to add by delta, tickets whose days to recompute) of a batch's changes."""
    reasons: dict[str, set[str]] = {}
    for ticket_id, reason in changes:
        reasons.setdefault(str(ticket_id), set()).add(reason)
    created, changed = [], []
    for ticket_id, seen in sorted(reasons.items()):
        if seen - NEUTRAL_REASONS - {CREATED_REASON}:
            changed.append(ticket_id)
        elif CREATED_REASON in seen:
            created.append(ticket_id)
    return created, changed


def refresh_on_commit(*, tenant_id: str, ticket_id: str, reason: str) -> None:
    """After the commit, the rollups of the days this ticket counts on: once per transaction
    for all its tickets (refresh_report_rollups); for an inbound batch's tickets coalesced
    with the next batches' (one refresh per tenant per few seconds, not one per batch), by
    reason: its new tickets are added as a delta, a customer's message alone changes no
    figure (sort_changes)."""
    if is_remembering():

        def coalesce(changes: list[tuple[str, str]]) -> None:
            refresh_report_rollups_soon(tenant_id=tenant_id, changes=changes)

        collect_on_commit(
            ("automation.reports.coalesced", tenant_id), (ticket_id, reason), coalesce
        )
        return

    def enqueue(ids: list[str]) -> None:
        refresh_report_rollups.delay(tenant_id=tenant_id, ticket_ids=sorted(set(ids)))

    collect_on_commit(("automation.reports", tenant_id), ticket_id, enqueue)


def refresh_report_rollups_soon(*, tenant_id: str, changes: list[tuple[str, str]]) -> None:
    """After an inbound batch's commit: add its new tickets and its changed ones
    (sort_changes) to the tenant's pending sets and schedule one
    refresh_pending_report_rollups in REFRESH_COALESCE_SECONDS, unless one is scheduled
    already (it will take these ids too)."""
    created, changed = sort_changes(changes)
    if not created and not changed:
        return
    client = _redis()
    with client.pipeline(transaction=True) as pipe:
        for key, ids in ((_pending_key(tenant_id), changed), (_created_key(tenant_id), created)):
            if ids:
                pipe.sadd(key, *ids)
                pipe.expire(key, PENDING_SECONDS)
        pipe.sadd(_pending_tenants_key(), tenant_id)
        pipe.expire(_pending_tenants_key(), PENDING_SECONDS)
        pipe.execute()
    _schedule_refresh(tenant_id)


def _schedule_refresh(tenant_id: str) -> None:
    if cache.add(_refresh_claim_key(tenant_id), 1, timeout=REFRESH_COALESCE_SECONDS * 6):
        refresh_pending_report_rollups.apply_async(
            kwargs={"tenant_id": tenant_id}, countdown=REFRESH_COALESCE_SECONDS
        )


@tenant_task(queue="automation")
def refresh_pending_report_rollups(*, tenant_id: str) -> int:
    """For the inbound batches since the last run: the new tickets added to the rollups by
    one delta (services.count_new_tickets), and the days of the changed ones (and of new
    ones created before yesterday) marked for the debounced recompute; returns the tickets
    added plus the days marked. Idempotent: the ids leave their sets only after this
    transaction commits, so a failed run leaves them for the next; a ticket is added once
    (noted as counted in the same transaction), marking twice is marking once."""
    cache.delete(_refresh_claim_key(tenant_id))  # batches from now on schedule the next run
    client = _redis()
    pending, created_key = _pending_key(tenant_id), _created_key(tenant_id)
    changed, created = (
        sorted(i.decode() if isinstance(i, bytes) else str(i) for i in client.smembers(key))
        for key in (pending, created_key)
    )
    if not changed and not created:
        return 0
    counted = services.count_new_tickets(ticket_ids=created, wait=False) if created else (0, [])
    added, elsewhere = counted if counted is not None else (0, [])
    if counted is None:
        # A recompute holds the tenant's rollups (for as long as reading a day's tickets
        # takes): the new tickets wait for the next run rather than this worker for it.
        created = []
        transaction.on_commit(lambda: _schedule_refresh(tenant_id))
    recompute = sorted({*changed, *elsewhere})
    marked = services.mark_days_dirty(days=selectors.ticket_days(recompute)) if recompute else 0

    def forget() -> None:
        with client.pipeline(transaction=True) as pipe:
            if changed:
                pipe.srem(pending, *changed)
            if created:
                pipe.srem(created_key, *created)
            pipe.execute()

    transaction.on_commit(forget)
    if recompute:
        _schedule_recompute(tenant_id)
    return added + marked


def _redis() -> Any:
    return cache._cache.get_client(write=True)  # type: ignore[attr-defined]


def _pending_key(tenant_id: str) -> str:
    return cache.make_and_validate_key(f"reports:refresh-pending:{tenant_id}")


def _pending_tenants_key() -> str:
    """The tenants whose inbound batches asked for a refresh in the last PENDING_SECONDS
    (the sweeper looks there for refreshes that were lost)."""
    return cache.make_and_validate_key("reports:refresh-pending-tenants")


def _created_key(tenant_id: str) -> str:
    return cache.make_and_validate_key(f"reports:created-pending:{tenant_id}")


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
    """Beat: tenants with days marked long ago (their recompute task was lost) get one;
    returns how many. Tenants with inbound tickets still pending and no refresh scheduled
    (the task was lost, its claim has expired) get a refresh."""
    with cross_tenant(reason="Report sweeper: tenants with stale dirty days"):
        tenant_ids = set(
            ReportDirtyDay.all_tenants.filter(marked_at__lt=timezone.now() - SWEEP_AFTER)
            .values_list("tenant_id", flat=True)
            .distinct()
        )
    for tenant_id in tenant_ids:
        recompute_report_rollups.delay(tenant_id=str(tenant_id))
    client = _redis()
    for member in client.smembers(_pending_tenants_key()):
        tenant = member.decode() if isinstance(member, bytes) else str(member)
        if client.exists(_pending_key(tenant), _created_key(tenant)):
            _schedule_refresh(tenant)  # unless one is scheduled (its claim)
    return len(tenant_ids)


# Once a day, in the small hours of the tenant's zone, yesterday is recomputed whole from
# the tickets: whatever deltas and change marks left out of date (a refresh task lost with
# its pending ids, changes that report no ticket_changed) is set right once the day is over.
RECONCILE_HOUR = 3


@system_task
def reconcile_report_rollups() -> int:
    """Beat (hourly): the tenants where it is RECONCILE_HOUR get yesterday recomputed."""
    due = _tenants_at(_is_reconcile_time)
    for tenant_id in due:
        reconcile_report_day.delay(tenant_id=tenant_id)
    return len(due)


@tenant_task(queue="automation")
def reconcile_report_day(*, tenant_id: str) -> int:
    """Mark yesterday (the tenant's zone) for the debounced recompute; returns the days
    newly marked."""
    today = datetime.datetime.now(selectors.tenant_zone()).date()
    marked = services.mark_days_dirty(days=[today - datetime.timedelta(days=1)])
    _schedule_recompute(tenant_id)
    return marked


def _tenants_at(moment: Callable[[datetime.datetime, str], bool]) -> list[str]:
    """The active tenants for whom it is now `moment` in their own zone (ids)."""
    now = timezone.now()
    return [
        str(tenant.id)
        for tenant in Tenant.objects.filter(is_active=True).only("id", "time_zone")
        if moment(now, tenant.time_zone)
    ]


def _is_reconcile_time(now: datetime.datetime, zone_name: str) -> bool:
    try:
        return now.astimezone(selectors.zone_named(zone_name)).hour == RECONCILE_HOUR
    except ValueError:
        return False


@system_task
def send_weekly_reports() -> int:
    """Beat (hourly): the tenants where it is Monday, from 07:00 to midnight local time, get
    their weekly summary task (which sends each admin's mail once)."""
    due = _tenants_at(_is_weekly_time)
    for tenant_id in due:
        send_weekly_report.delay(tenant_id=tenant_id)
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
