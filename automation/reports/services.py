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
        ReportRollup.objects.filter(span="day", day__in=wanted).delete()
        ReportRollup.objects.bulk_create(rows.values(), batch_size=1000)
        sum_months(tenant_id, {day.replace(day=1) for day in wanted})
    return len(rows)


def sum_months(tenant_id: Any, months: set[datetime.date]) -> None:
    """Replace the month rows of `months` with the sums of their day rows (the current
    tenant's; call inside its transaction)."""
    for month in sorted(months):
        following = (month + datetime.timedelta(days=32)).replace(day=1)
        sums: dict[tuple[str, str], ReportRollup] = {}
        for day in ReportRollup.objects.filter(span="day", day__gte=month, day__lt=following):
            total = sums.get((day.dimension, day.key))
            if total is None:
                total = sums[(day.dimension, day.key)] = ReportRollup(
                    tenant_id=tenant_id,
                    span="month",
                    day=month,
                    dimension=day.dimension,
                    key=day.key,
                    first_response_hist=[],
                    resolution_hist=[],
                    sla_met={},
                    sla_missed={},
                )
            for name in _COUNTS:
                setattr(total, name, getattr(total, name) + getattr(day, name))
            total.first_response_hist = _plus(total.first_response_hist, day.first_response_hist)
            total.resolution_hist = _plus(total.resolution_hist, day.resolution_hist)
            for metric, count in day.sla_met.items():
                total.sla_met[metric] = total.sla_met.get(metric, 0) + count
            for metric, count in day.sla_missed.items():
                total.sla_missed[metric] = total.sla_missed.get(metric, 0) + count
        ReportRollup.objects.filter(span="month", day=month).delete()
        ReportRollup.objects.bulk_create(sums.values(), batch_size=1000)


_COUNTS = (
    "created",
    "solved",
    "reopened",
    "replies",
    "first_response_count",
    "first_response_minutes",
    "resolution_count",
    "resolution_minutes",
    "csat_good",
    "csat_bad",
)


def _plus(left: list[int], right: list[int]) -> list[int]:
    longer, shorter = (left, right) if len(left) >= len(right) else (right, left)
    return [n + (shorter[i] if i < len(shorter) else 0) for i, n in enumerate(longer)]


def rebuild(*, start: datetime.date | None = None, end: datetime.date | None = None) -> int:
    """Recompute every day of the current tenant from its first ticket to today, a
    calendar month at a time; returns the day rows written."""
    zone = selectors.tenant_zone()
    today = datetime.datetime.now(zone).date()
    if start is None:
        first = selectors.first_ticket_at()
        start = first.astimezone(zone).date() if first else today
    end = end or today
    written = 0
    day = start
    while day <= end:
        following = (day.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
        last = min(end, following - datetime.timedelta(days=1))
        written += recompute_days(
            days=[day + datetime.timedelta(days=n) for n in range((last - day).days + 1)]
        )
        day = following
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
