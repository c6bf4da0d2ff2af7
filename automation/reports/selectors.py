"""Reads for reports: the facts a day is made of (from the tickets, for the services that
keep the rollups) and the report over a date range (from the rollups only).

Which day a fact counts on, in the tenant's time zone: created on the ticket's creation;
solved, resolution time and replies per ticket on its `solved_at`; first response on the
first public reply written by an agent (automatic mails do not count); reopened on each
change of status from solved or closed back to an unsolved one; an SLA target on its
completion (met, or missed when it passed its target), or on the breach for a target
missed and still running; satisfaction on the answer. Spam and merged tickets count
nowhere (the inbox, where every figure links, shows neither). Breakdowns use the ticket's
current channel, department, agent (assignee), type, priority and mailbox.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection

from automation.errors import InvalidReportRange
from automation.reports.buckets import EDGES, percentile
from departments.models import Department, Mailbox
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.context import require_tenant_id
from helpdesk.tenancy.models import Membership
from tickets.models import TicketChannel, TicketPriority, TicketType

DIMENSIONS = ("channel", "department", "agent", "type", "priority", "mailbox")
TIMED_FACTS = ("first_response", "resolution")

# One row per (day, dimension, key, fact, bucket): how many and the sum of their values.
# Each source is bounded by the instants of the days asked for (index ranges); the day
# itself is then taken in the tenant's zone.
_FACTS_SQL = """
WITH facts AS (
    SELECT t.id AS ticket_id, t.created_at AS at, 'created' AS fact, 0::float8 AS value
    FROM tickets_ticket t
    WHERE t.tenant_id = %(tenant)s AND t.created_at >= %(lo)s AND t.created_at < %(hi)s
      AND NOT t.is_spam AND t.merged_into_id IS NULL
    UNION ALL
    SELECT t.id, t.solved_at, 'resolution',
           greatest(0, extract(epoch FROM t.solved_at - t.created_at) / 60)
    FROM tickets_ticket t
    WHERE t.tenant_id = %(tenant)s AND t.solved_at >= %(lo)s AND t.solved_at < %(hi)s
      AND NOT t.is_spam AND t.merged_into_id IS NULL
    UNION ALL
    SELECT t.id, t.solved_at, 'replies',
           (SELECT count(*) FROM tickets_message m
            WHERE m.tenant_id = t.tenant_id AND m.ticket_id = t.id AND m.kind = 'reply'
              AND NOT m.is_automatic AND m.author_member_id IS NOT NULL)
    FROM tickets_ticket t
    WHERE t.tenant_id = %(tenant)s AND t.solved_at >= %(lo)s AND t.solved_at < %(hi)s
      AND NOT t.is_spam AND t.merged_into_id IS NULL
    UNION ALL
    SELECT first.ticket_id, first.at, 'first_response',
           greatest(0, extract(epoch FROM first.at - t.created_at) / 60)
    FROM (
        SELECT m.ticket_id, min(m.created_at) AS at
        FROM tickets_message m
        WHERE m.tenant_id = %(tenant)s AND m.kind = 'reply' AND NOT m.is_automatic
          AND m.author_member_id IS NOT NULL
          AND m.ticket_id IN (
              SELECT r.ticket_id FROM tickets_message r
              WHERE r.tenant_id = %(tenant)s AND r.kind = 'reply'
                AND r.created_at >= %(lo)s AND r.created_at < %(hi)s
          )
        GROUP BY m.ticket_id
    ) first
    JOIN tickets_ticket t ON t.id = first.ticket_id
    WHERE first.at >= %(lo)s AND first.at < %(hi)s
    UNION ALL
    SELECT m.ticket_id, m.created_at, 'reopened', 0
    FROM tickets_message m
    WHERE m.tenant_id = %(tenant)s AND m.kind = 'event'
      AND m.created_at >= %(lo)s AND m.created_at < %(hi)s
      AND m.event ->> 'field' = 'status'
      AND m.event ->> 'from' IN ('solved', 'closed')
      AND m.event ->> 'to' NOT IN ('solved', 'closed')
    UNION ALL
    SELECT s.ticket_id, coalesce(s.completed_at, s.breached_at),
           CASE WHEN s.breached_at IS NULL THEN 'sla_met:' ELSE 'sla_missed:' END || s.metric, 0
    FROM automation_slatimer s
    WHERE s.tenant_id = %(tenant)s
      AND coalesce(s.completed_at, s.breached_at) >= %(lo)s
      AND coalesce(s.completed_at, s.breached_at) < %(hi)s
    UNION ALL
    SELECT r.ticket_id, r.rated_at, 'csat_' || r.score, 0
    FROM tickets_satisfactionrating r
    WHERE r.tenant_id = %(tenant)s AND r.score <> ''
      AND r.rated_at >= %(lo)s AND r.rated_at < %(hi)s
), dated AS (
    SELECT f.*, (f.at AT TIME ZONE %(zone)s)::date AS day FROM facts f
)
SELECT f.day, d.dimension, d.key, f.fact,
       CASE WHEN f.fact IN ('first_response', 'resolution')
            THEN width_bucket(f.value, %(edges)s::float8[]) - 1 ELSE 0 END AS bucket,
       count(*), coalesce(sum(f.value), 0)
FROM dated f
JOIN tickets_ticket t ON t.id = f.ticket_id AND t.tenant_id = %(tenant)s
CROSS JOIN LATERAL (VALUES
    ('all', ''),
    ('channel', t.channel),
    ('department', coalesce(t.department_id::text, '')),
    ('agent', coalesce(t.assignee_id::text, '')),
    ('type', coalesce(t.type_id::text, '')),
    ('priority', t.priority),
    ('mailbox', coalesce(t.mailbox_id::text, ''))
) AS d(dimension, key)
WHERE f.day = ANY(%(days)s::date[]) AND NOT t.is_spam AND t.merged_into_id IS NULL
GROUP BY 1, 2, 3, 4, 5
"""


def tenant_zone() -> ZoneInfo:
    tenant = tenancy_selectors.get_tenant(require_tenant_id())
    try:
        return ZoneInfo(tenant.time_zone or "UTC")
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


def day_bounds(first: datetime.date, last: datetime.date, zone: ZoneInfo) -> tuple[Any, Any]:
    """The instants from the start of `first` to the end of `last` in `zone`."""
    lo = datetime.datetime.combine(first, datetime.time(), tzinfo=zone)
    hi = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time(), tzinfo=zone)
    return lo, hi


def list_day_facts(days: list[datetime.date]) -> list[tuple[Any, ...]]:
    """(day, dimension, key, fact, bucket, count, sum) for the current tenant's `days`."""
    if not days:
        return []
    zone = tenant_zone()
    lo, hi = day_bounds(min(days), max(days), zone)
    with connection.cursor() as cursor:
        cursor.execute(
            _FACTS_SQL,
            {
                "tenant": require_tenant_id(),
                "lo": lo,
                "hi": hi,
                "zone": str(zone.key),
                "edges": list(EDGES),
                "days": sorted(set(days)),
            },
        )
        return list(cursor.fetchall())


def ticket_days(ticket_ids: list[str]) -> list[datetime.date]:
    """The days (tenant's zone) these tickets count on, today included: the days to
    recompute after they changed (their old values counted on the same days)."""
    zone = tenant_zone()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT (at AT TIME ZONE %(zone)s)::date FROM (
                SELECT created_at AS at FROM tickets_ticket
                WHERE tenant_id = %(tenant)s AND id = ANY(%(ids)s::uuid[])
                UNION ALL
                SELECT solved_at FROM tickets_ticket
                WHERE tenant_id = %(tenant)s AND id = ANY(%(ids)s::uuid[])
                  AND solved_at IS NOT NULL
                UNION ALL
                SELECT created_at FROM tickets_message
                WHERE tenant_id = %(tenant)s AND ticket_id = ANY(%(ids)s::uuid[])
                  AND kind IN ('reply', 'event')
                UNION ALL
                SELECT coalesce(completed_at, breached_at) FROM automation_slatimer
                WHERE tenant_id = %(tenant)s AND ticket_id = ANY(%(ids)s::uuid[])
                  AND coalesce(completed_at, breached_at) IS NOT NULL
                UNION ALL
                SELECT rated_at FROM tickets_satisfactionrating
                WHERE tenant_id = %(tenant)s AND ticket_id = ANY(%(ids)s::uuid[])
                  AND rated_at IS NOT NULL
            ) moments
            """,
            {"zone": str(zone.key), "tenant": require_tenant_id(), "ids": ticket_ids},
        )
        days = {row[0] for row in cursor.fetchall()}
    days.add(datetime.datetime.now(zone).date())
    return sorted(days)


@dataclass
class Figures:
    """The report's figures for the whole range, or one breakdown row."""

    created: int = 0
    solved: int = 0
    reopened: int = 0
    replies: int = 0
    first_response_hist: list[int] = field(default_factory=lambda: [0] * len(EDGES))
    resolution_hist: list[int] = field(default_factory=lambda: [0] * len(EDGES))
    sla_met: dict[str, int] = field(default_factory=dict)
    sla_missed: dict[str, int] = field(default_factory=dict)
    csat_good: int = 0
    csat_bad: int = 0

    @property
    def first_response_median(self) -> int | None:
        return percentile(self.first_response_hist, 0.5)

    @property
    def first_response_p90(self) -> int | None:
        return percentile(self.first_response_hist, 0.9)

    @property
    def resolution_median(self) -> int | None:
        return percentile(self.resolution_hist, 0.5)

    @property
    def resolution_p90(self) -> int | None:
        return percentile(self.resolution_hist, 0.9)

    @property
    def replies_per_ticket(self) -> float | None:
        return round(self.replies / self.solved, 2) if self.solved else None

    @property
    def sla_met_total(self) -> int:
        return sum(self.sla_met.values())

    @property
    def sla_missed_total(self) -> int:
        return sum(self.sla_missed.values())

    @property
    def sla_met_percent(self) -> float | None:
        total = self.sla_met_total + self.sla_missed_total
        return round(100 * self.sla_met_total / total, 1) if total else None

    @property
    def csat_percent(self) -> float | None:
        total = self.csat_good + self.csat_bad
        return round(100 * self.csat_good / total, 1) if total else None


@dataclass
class Report:
    start: datetime.date
    end: datetime.date
    total: Figures
    breakdowns: dict[str, dict[str, Figures]]
    daily: list[tuple[datetime.date, int, int]]  # day, created, solved


_HIST_SQL = {
    "first_response_hist": """
        SELECT r.dimension, r.key, bucket.i - 1, sum(bucket.n)
        FROM automation_reportrollup r,
             unnest(r.first_response_hist) WITH ORDINALITY AS bucket(n, i)
        WHERE r.tenant_id = %(tenant)s AND (
            (r.span = 'month' AND r.day >= %(month_first)s AND r.day <= %(month_last)s)
            OR (r.span = 'day' AND r.day >= %(start)s AND r.day <= %(end)s
                AND NOT (r.day >= %(month_first)s AND r.day <= %(month_end)s))
        )
          AND bucket.n > 0
        GROUP BY 1, 2, 3
    """,
    "resolution_hist": """
        SELECT r.dimension, r.key, bucket.i - 1, sum(bucket.n)
        FROM automation_reportrollup r,
             unnest(r.resolution_hist) WITH ORDINALITY AS bucket(n, i)
        WHERE r.tenant_id = %(tenant)s AND (
            (r.span = 'month' AND r.day >= %(month_first)s AND r.day <= %(month_last)s)
            OR (r.span = 'day' AND r.day >= %(start)s AND r.day <= %(end)s
                AND NOT (r.day >= %(month_first)s AND r.day <= %(month_end)s))
        )
          AND bucket.n > 0
        GROUP BY 1, 2, 3
    """,
}
_SLA_SQL = {
    "sla_met": """
        SELECT r.dimension, r.key, metric.key, sum(metric.value::int)
        FROM automation_reportrollup r, jsonb_each_text(r.sla_met) AS metric
        WHERE r.tenant_id = %(tenant)s AND (
            (r.span = 'month' AND r.day >= %(month_first)s AND r.day <= %(month_last)s)
            OR (r.span = 'day' AND r.day >= %(start)s AND r.day <= %(end)s
                AND NOT (r.day >= %(month_first)s AND r.day <= %(month_end)s))
        )
        GROUP BY 1, 2, 3
    """,
    "sla_missed": """
        SELECT r.dimension, r.key, metric.key, sum(metric.value::int)
        FROM automation_reportrollup r, jsonb_each_text(r.sla_missed) AS metric
        WHERE r.tenant_id = %(tenant)s AND (
            (r.span = 'month' AND r.day >= %(month_first)s AND r.day <= %(month_last)s)
            OR (r.span = 'day' AND r.day >= %(start)s AND r.day <= %(end)s
                AND NOT (r.day >= %(month_first)s AND r.day <= %(month_end)s))
        )
        GROUP BY 1, 2, 3
    """,
}


def _whole_months(start: datetime.date, end: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The first day of the first whole month in the range and the last day of the last
    one (read from month rows; the days around them from day rows). Without a whole month:
    an empty span (first after last)."""
    first = (
        start
        if start.day == 1
        else (start.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
    )
    after = end + datetime.timedelta(days=1)
    last = end if after.day == 1 else end.replace(day=1) - datetime.timedelta(days=1)
    if first > last:
        return end + datetime.timedelta(days=1), start - datetime.timedelta(days=1)
    return first, last


def read_report(start: datetime.date, end: datetime.date) -> Report:
    """The current tenant's report from `start` to `end` (both included), from the rollups
    alone: a handful of grouped queries whatever the number of tickets."""
    month_first, month_end = _whole_months(start, end)
    params: dict[str, Any] = {
        "tenant": require_tenant_id(),
        "start": start,
        "end": end,
        "month_first": month_first,
        "month_last": month_end.replace(day=1),
        "month_end": month_end,
    }
    figures: dict[tuple[str, str], Figures] = defaultdict(Figures)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT dimension, key, sum(created), sum(solved), sum(reopened), sum(replies),
                   sum(csat_good), sum(csat_bad)
            FROM automation_reportrollup r
            WHERE r.tenant_id = %(tenant)s AND (
                (r.span = 'month' AND r.day >= %(month_first)s AND r.day <= %(month_last)s)
                OR (r.span = 'day' AND r.day >= %(start)s AND r.day <= %(end)s
                    AND NOT (r.day >= %(month_first)s AND r.day <= %(month_end)s))
            )
            GROUP BY dimension, key
            """,
            params,
        )
        for dimension, key, created, solved, reopened, replies, good, bad in cursor.fetchall():
            row = figures[(dimension, key)]
            row.created, row.solved, row.reopened, row.replies = (
                int(created),
                int(solved),
                int(reopened),
                int(replies),
            )
            row.csat_good, row.csat_bad = int(good), int(bad)
        for column, query in _HIST_SQL.items():
            cursor.execute(query, params)
            for dimension, key, index, count in cursor.fetchall():
                getattr(figures[(dimension, key)], column)[index] += int(count)
        for column, query in _SLA_SQL.items():
            cursor.execute(query, params)
            for dimension, key, metric, count in cursor.fetchall():
                getattr(figures[(dimension, key)], column)[metric] = int(count)
        cursor.execute(
            """
            SELECT day, created, solved FROM automation_reportrollup
            WHERE tenant_id = %(tenant)s AND span = 'day' AND day >= %(start)s
              AND day <= %(end)s AND dimension = 'all'
            ORDER BY day
            """,
            params,
        )
        by_day = {day: (int(created), int(solved)) for day, created, solved in cursor.fetchall()}
    daily = []
    day = start
    while day <= end:
        created, solved = by_day.get(day, (0, 0))
        daily.append((day, created, solved))
        day += datetime.timedelta(days=1)
    breakdowns: dict[str, dict[str, Figures]] = {dimension: {} for dimension in DIMENSIONS}
    for (dimension, key), row in figures.items():
        if dimension in breakdowns:
            breakdowns[dimension][key] = row
    return Report(
        start=start,
        end=end,
        total=figures.get(("all", ""), Figures()),
        breakdowns=breakdowns,
        daily=daily,
    )


def first_ticket_at() -> datetime.datetime | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(created_at) FROM tickets_ticket WHERE tenant_id = %s",
            [require_tenant_id()],
        )
        row = cursor.fetchone()
    return row[0] if row else None


MAX_RANGE_DAYS = 2 * 366


def parse_range(params: Any, *, default_days: int = 30) -> tuple[datetime.date, datetime.date]:
    """`from` and `to` (YYYY-MM-DD, both included, in the tenant's zone) from query
    parameters; the last `default_days` days to today when both are missing. Raises
    InvalidReportRange."""
    raw_from, raw_to = params.get("from", ""), params.get("to", "")
    if not raw_from and not raw_to:
        today = datetime.datetime.now(tenant_zone()).date()
        return today - datetime.timedelta(days=default_days - 1), today
    try:
        start = datetime.date.fromisoformat(str(raw_from))
        end = datetime.date.fromisoformat(str(raw_to))
    except ValueError:
        raise InvalidReportRange("from and to are dates written YYYY-MM-DD.") from None
    if start > end:
        raise InvalidReportRange("from is after to.")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise InvalidReportRange("A report covers at most two years.")
    return start, end


def dimension_labels() -> dict[str, dict[str, str]]:
    """What each breakdown key is called (the key itself is an id or a value)."""
    labels: dict[str, dict[str, str]] = {
        "channel": dict(TicketChannel.choices),
        "priority": dict(TicketPriority.choices),
        "department": {str(d.id): d.name for d in Department.objects.all()},
        "type": {str(t.id): t.name for t in TicketType.objects.all()},
        "mailbox": {str(m.id): m.address for m in Mailbox.objects.all()},
        "agent": {
            str(m.id): str(m.user.display_name) for m in Membership.objects.select_related("user")
        },
    }
    for values in labels.values():
        values[""] = "None"
    return labels


BREAKDOWNS = ("channel", "department", "agent", "type")


def figures_payload(figures: Figures) -> dict[str, Any]:
    return {
        "tickets_created": figures.created,
        "tickets_solved": figures.solved,
        "tickets_reopened": figures.reopened,
        "first_response_median_minutes": figures.first_response_median,
        "first_response_p90_minutes": figures.first_response_p90,
        "resolution_median_minutes": figures.resolution_median,
        "resolution_p90_minutes": figures.resolution_p90,
        "replies_per_ticket": figures.replies_per_ticket,
        "sla_met": figures.sla_met_total,
        "sla_missed": figures.sla_missed_total,
        "sla_met_percent": figures.sla_met_percent,
        "csat_good": figures.csat_good,
        "csat_bad": figures.csat_bad,
        "csat_percent": figures.csat_percent,
    }


def report_payload(report: Report) -> dict[str, Any]:
    """The summary API's body (and the CSV's rows): the range's figures, then one list per
    breakdown of {key, label, figures…}, largest first."""
    labels = dimension_labels()
    body: dict[str, Any] = {
        "from": report.start.isoformat(),
        "to": report.end.isoformat(),
        **figures_payload(report.total),
        "sla_by_metric": {
            metric: {
                "met": report.total.sla_met.get(metric, 0),
                "missed": report.total.sla_missed.get(metric, 0),
            }
            for metric in sorted({*report.total.sla_met, *report.total.sla_missed})
        },
        "daily": [
            {"day": day.isoformat(), "created": created, "solved": solved}
            for day, created, solved in report.daily
        ],
    }
    for dimension in (*BREAKDOWNS, "priority", "mailbox"):
        rows = report.breakdowns.get(dimension, {})
        body[f"by_{dimension}"] = [
            {
                "key": key,
                "label": labels[dimension].get(key, key or "None"),
                **figures_payload(figures),
            }
            for key, figures in sorted(
                rows.items(), key=lambda item: (-item[1].created, -item[1].solved, item[0])
            )
        ]
    return body
