"""Keeping the rollups: a day is recomputed whole from the tickets (never incremented), so
running it twice, late or out of order gives the same rows."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import connection, transaction

from automation.models import ReportRollup
from automation.reports import selectors
from automation.reports.buckets import EDGES
from helpdesk.tenancy.context import require_tenant_id

REBUILD_CHUNK_DAYS = 31


def recompute_days(*, days: list[datetime.date]) -> int:
    """Replace the current tenant's rollups of `days` with figures computed from the
    tickets; returns the rows written. One transaction, serialised per tenant (an
    advisory lock), so two runs never interleave their delete and insert."""
    wanted = sorted(set(days))
    if not wanted:
        return 0
    tenant_id = require_tenant_id()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext('automation.reports'), hashtext(%s))",
                [str(tenant_id)],
            )
        rows: dict[tuple[Any, str, str], ReportRollup] = {}
        for day, dimension, key, fact, bucket, count, total in selectors.list_day_facts(wanted):
            row = rows.get((day, dimension, key))
            if row is None:
                row = rows[(day, dimension, key)] = ReportRollup(
                    tenant_id=tenant_id,
                    day=day,
                    dimension=dimension,
                    key=key,
                    first_response_hist=[0] * len(EDGES),
                    resolution_hist=[0] * len(EDGES),
                    sla_met={},
                    sla_missed={},
                )
            _add(row, fact, int(bucket), int(count), float(total))
        for row in rows.values():
            row.first_response_hist = _trim(row.first_response_hist)
            row.resolution_hist = _trim(row.resolution_hist)
        ReportRollup.objects.filter(day__in=wanted).delete()
        ReportRollup.objects.bulk_create(rows.values(), batch_size=1000)
    return len(rows)


def rebuild(*, start: datetime.date | None = None, end: datetime.date | None = None) -> int:
    """Recompute every day of the current tenant from its first ticket to today, a month
    at a time; returns the rows written."""
    zone = selectors.tenant_zone()
    today = datetime.datetime.now(zone).date()
    if start is None:
        first = selectors.first_ticket_at()
        start = first.astimezone(zone).date() if first else today
    end = end or today
    written = 0
    day = start
    while day <= end:
        chunk = [
            day + datetime.timedelta(days=n)
            for n in range(REBUILD_CHUNK_DAYS)
            if day + datetime.timedelta(days=n) <= end
        ]
        written += recompute_days(days=chunk)
        day = chunk[-1] + datetime.timedelta(days=1)
    return written


def _add(row: ReportRollup, fact: str, bucket: int, count: int, total: float) -> None:
    if fact == "created":
        row.created += count
    elif fact == "resolution":
        row.solved += count
        row.resolution_count += count
        row.resolution_minutes += round(total)
        row.resolution_hist[bucket] += count
    elif fact == "replies":
        row.replies += round(total)
    elif fact == "first_response":
        row.first_response_count += count
        row.first_response_minutes += round(total)
        row.first_response_hist[bucket] += count
    elif fact == "reopened":
        row.reopened += count
    elif fact.startswith("sla_met:"):
        metric = fact.removeprefix("sla_met:")
        row.sla_met[metric] = row.sla_met.get(metric, 0) + count
    elif fact.startswith("sla_missed:"):
        metric = fact.removeprefix("sla_missed:")
        row.sla_missed[metric] = row.sla_missed.get(metric, 0) + count
    elif fact == "csat_good":
        row.csat_good += count
    elif fact == "csat_bad":
        row.csat_bad += count


def _trim(hist: list[int]) -> list[int]:
    """Without trailing zeros (most rows of one agent's day count a few buckets)."""
    end = len(hist)
    while end and not hist[end - 1]:
        end -= 1
    return hist[:end]
