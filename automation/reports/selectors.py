"""Reads for reports: the facts a day is made of (from the tickets, for the services that
keep the rollups) and the report over a date range (from the rollups only).

Which day a fact counts on, in the tenant's time zone: created on the ticket's creation;
solved, resolution time and replies per ticket on its `solved_at`; first response on the
first public reply written by an agent (automatic mails do not count); reopened on each
change of status from solved or closed back to an unsolved one; an SLA target on its
completion (met, or missed when it passed its target), or on the breach for a target
missed and still running; satisfaction on the answer; a solve (for the backlog) on each
change of status from an unsolved one to solved or closed. Spam and merged tickets count
nowhere (the inbox, where every figure links, shows neither). Breakdowns use the ticket's
current channel, department, agent (assignee), type, priority, mailbox, tags (a ticket
counts once under each of its tags) and its contact's company.

Business time is counted on the business hours of the SLA policy that measured the ticket
(its latest target), else on the help desk's business hours when it has exactly one
schedule, else around the clock (departments.business_time, the clock SLA targets use).
"""

from __future__ import annotations

import datetime
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Count

from automation.errors import InvalidReportRange, ReportAgentNotFound, ReportOfOthers
from automation.reports.buckets import EDGES, bucket_of, percentile
from departments import business_time
from departments import selectors as department_selectors
from departments.errors import BusinessHoursNotFound
from departments.models import BusinessHours, Department, Mailbox
from helpdesk.core import moments
from helpdesk.tenancy import permissions
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.context import require_tenant_id
from helpdesk.tenancy.models import Membership
from knowledge_base import public as kb_selectors
from tickets.models import Company, Ticket, TicketChannel, TicketPriority, TicketType

# The breakdown by assignee (agent performance); a dimension, not a role.
BY_AGENT = "agent"
DIMENSIONS = ("channel", "department", BY_AGENT, "type", "priority", "mailbox", "tag", "company")
TIMED_FACTS = ("first_response", "resolution")

# One row per (day, dimension, key, fact, bucket): how many and the sum of their values.
# Each source is bounded by the instants of the days asked for (index ranges); the day
# itself is then taken in the tenant's zone.
_FACTS_CTES = """
facts AS (
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
    SELECT m.ticket_id, m.created_at, 'solves', 0
    FROM tickets_message m
    WHERE m.tenant_id = %(tenant)s AND m.kind = 'event'
      AND m.created_at >= %(lo)s AND m.created_at < %(hi)s
      AND m.event ->> 'field' = 'status'
      AND m.event ->> 'from' NOT IN ('solved', 'closed')
      AND m.event ->> 'to' IN ('solved', 'closed')
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
    SELECT f.*, f.at AT TIME ZONE %(zone)s AS local_at, (f.at AT TIME ZONE %(zone)s)::date AS day
    FROM facts f
)
"""
_FACTS_SQL = "WITH " + _FACTS_CTES

# Before the facts of a recompute, in the same statement (one snapshot): its recent days'
# tickets noted as counted (automation.models.ReportCountedTicket), so that a delta for a
# ticket this statement counts adds nothing, and one for a ticket committed after it
# (which it does not count) adds it.
_COUNTING_SQL = """
WITH counted AS (
    INSERT INTO automation_reportcountedticket (id, tenant_id, created_at, updated_at,
                                                ticket_id, day)
    SELECT gen_random_uuid(), t.tenant_id, now(), now(), t.id,
           (t.created_at AT TIME ZONE %(zone)s)::date
    FROM tickets_ticket t
    WHERE t.tenant_id = %(tenant)s AND t.created_at >= %(counted_lo)s AND t.created_at < %(hi)s
      AND (t.created_at AT TIME ZONE %(zone)s)::date = ANY(%(counted_days)s::date[])
      AND NOT t.is_spam AND t.merged_into_id IS NULL
    ON CONFLICT (tenant_id, ticket_id) DO NOTHING
), """

# The breakdown values of ticket `t` (its contact `c`): one row per dimension, and one per
# tag (or a "" tag for a ticket without any).
_DIMENSIONS_SQL = """
CROSS JOIN LATERAL (
    VALUES
        ('all', ''),
        ('channel', t.channel),
        ('department', coalesce(t.department_id::text, '')),
        ('agent', coalesce(t.assignee_id::text, '')),
        ('type', coalesce(t.type_id::text, '')),
        ('priority', t.priority),
        ('mailbox', coalesce(t.mailbox_id::text, '')),
        ('company', coalesce(c.company_id::text, ''))
    UNION ALL
    SELECT 'tag', tag.name
    FROM tickets_tickettag tt
    JOIN tickets_tag tag ON tag.id = tt.tag_id AND tag.tenant_id = tt.tenant_id
    WHERE tt.tenant_id = t.tenant_id AND tt.ticket_id = t.id
    UNION ALL
    SELECT 'tag', ''
    WHERE NOT EXISTS (
        SELECT 1 FROM tickets_tickettag tt WHERE tt.tenant_id = t.tenant_id AND tt.ticket_id = t.id
    )
) AS d(dimension, key)
"""

# Grouped: a time's bucket (minutes), a creation's hour of the day (the heat map).
_GROUPED_SELECT = (
    """
SELECT f.day, d.dimension, d.key, f.fact,
       CASE WHEN f.fact IN ('first_response', 'resolution')
            THEN width_bucket(f.value, %(edges)s::float8[]) - 1
            WHEN f.fact = 'created' THEN extract(hour FROM f.local_at)::int
            ELSE 0 END AS bucket,
       count(*), coalesce(sum(f.value), 0)
FROM dated f
JOIN tickets_ticket t ON t.id = f.ticket_id AND t.tenant_id = %(tenant)s
LEFT JOIN tickets_contact c ON c.id = t.contact_id AND c.tenant_id = t.tenant_id
"""
    + _DIMENSIONS_SQL
    + """
WHERE f.day = ANY(%(days)s::date[]) AND NOT t.is_spam AND t.merged_into_id IS NULL
GROUP BY 1, 2, 3, 4, 5
"""
)
_GROUPED_SQL = _FACTS_SQL + _GROUPED_SELECT
_GROUPED_COUNTING_SQL = _COUNTING_SQL + _FACTS_CTES + _GROUPED_SELECT

# The creation facts of new tickets not counted yet, noted as counted in the same
# statement (services.count_new_tickets): by day, breakdown value and hour of the day.
_NEW_TICKETS_SQL = (
    """
WITH fresh AS (
    INSERT INTO automation_reportcountedticket (id, tenant_id, created_at, updated_at,
                                                ticket_id, day)
    SELECT gen_random_uuid(), t.tenant_id, now(), now(), t.id,
           (t.created_at AT TIME ZONE %(zone)s)::date
    FROM tickets_ticket t
    WHERE t.tenant_id = %(tenant)s AND t.id = ANY(%(ids)s::uuid[])
      AND t.created_at >= %(lo)s AND t.created_at < %(hi)s
      AND NOT t.is_spam AND t.merged_into_id IS NULL
    ON CONFLICT (tenant_id, ticket_id) DO NOTHING
    RETURNING ticket_id, day
)
SELECT f.day, d.dimension, d.key, extract(hour FROM t.created_at AT TIME ZONE %(zone)s)::int,
       count(*)
FROM fresh f
JOIN tickets_ticket t ON t.id = f.ticket_id AND t.tenant_id = %(tenant)s
LEFT JOIN tickets_contact c ON c.id = t.contact_id AND c.tenant_id = t.tenant_id
"""  # noqa: S608 (module constants joined, no input)
    + _DIMENSIONS_SQL
    + """
GROUP BY 1, 2, 3, 4
"""
)

# One row per first response and resolution, for business time (measured in Python on the
# ticket's schedule): the ticket's creation, the moment, and the business hours its latest
# SLA target was measured on.
_TIMED_SQL = (
    _FACTS_SQL  # noqa: S608 (module constants joined, no input)
    + """
SELECT f.day, f.ticket_id, f.fact, t.created_at, f.at,
       (SELECT p.business_hours_id
        FROM automation_slatimer s
        JOIN automation_slapolicy p ON p.id = s.policy_id AND p.tenant_id = s.tenant_id
        WHERE s.tenant_id = t.tenant_id AND s.ticket_id = t.id
        ORDER BY s.started_at DESC LIMIT 1)
FROM dated f
JOIN tickets_ticket t ON t.id = f.ticket_id AND t.tenant_id = %(tenant)s
WHERE f.fact IN ('first_response', 'resolution')
  AND f.day = ANY(%(days)s::date[]) AND NOT t.is_spam AND t.merged_into_id IS NULL
"""
)

# The business-time buckets measured in Python, grouped by day and breakdown like the rest.
_BUSINESS_SQL = (
    """
SELECT x.day, d.dimension, d.key, x.fact || '_business', x.bucket, count(*), 0
FROM unnest(%(days)s::date[], %(ids)s::uuid[], %(facts)s::text[], %(buckets)s::int[])
     AS x(day, ticket_id, fact, bucket)
JOIN tickets_ticket t ON t.id = x.ticket_id AND t.tenant_id = %(tenant)s
LEFT JOIN tickets_contact c ON c.id = t.contact_id AND c.tenant_id = t.tenant_id
"""
    + _DIMENSIONS_SQL
    + """
GROUP BY 1, 2, 3, 4, 5
"""
)


def tenant_zone() -> ZoneInfo:
    tenant = tenancy_selectors.get_tenant(require_tenant_id())
    return zone_named(tenant.time_zone)


def zone_named(name: str) -> ZoneInfo:
    """The zone called `name`; UTC for an empty or unknown name."""
    try:
        return ZoneInfo(name or "UTC")
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


def day_bounds(first: datetime.date, last: datetime.date, zone: ZoneInfo) -> tuple[Any, Any]:
    """The instants from the start of `first` to the end of `last` in `zone`."""
    lo = datetime.datetime.combine(first, datetime.time(), tzinfo=zone)
    hi = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time(), tzinfo=zone)
    return lo, hi


def list_day_facts(
    days: list[datetime.date], *, counting: list[datetime.date] | None = None
) -> list[tuple[Any, ...]]:
    """(day, dimension, key, fact, bucket, count, sum) for the current tenant's `days`; the
    facts `first_response_business` and `resolution_business` count business minutes.
    `counting` (some of `days`, for a recompute that replaces their rows): their tickets
    are noted as counted (ReportCountedTicket) by the statement that counts them."""
    if not days:
        return []
    zone = tenant_zone()
    lo, hi = day_bounds(min(days), max(days), zone)
    params = {
        "tenant": require_tenant_id(),
        "lo": lo,
        "hi": hi,
        "zone": str(zone.key),
        "edges": list(EDGES),
        "days": sorted(set(days)),
    }
    counted = sorted(set(counting or []) & set(days))
    with connection.cursor() as cursor:
        if counted:
            cursor.execute(
                _GROUPED_COUNTING_SQL,
                {
                    **params,
                    "counted_lo": day_bounds(counted[0], counted[0], zone)[0],
                    "counted_days": counted,
                },
            )
        else:
            cursor.execute(_GROUPED_SQL, params)
        rows = list(cursor.fetchall())
        cursor.execute(_TIMED_SQL, params)
        timed = cursor.fetchall()
        if timed:
            schedules = _Schedules()
            measured = [
                (
                    day,
                    ticket_id,
                    fact,
                    bucket_of(
                        business_time.seconds_between(created, at, schedules.get(hours_id)) / 60
                    ),
                )
                for day, ticket_id, fact, created, at, hours_id in timed
            ]
            cursor.execute(
                _BUSINESS_SQL,
                {
                    "tenant": params["tenant"],
                    "days": [row[0] for row in measured],
                    "ids": [row[1] for row in measured],
                    "facts": [row[2] for row in measured],
                    "buckets": [row[3] for row in measured],
                },
            )
            rows.extend(cursor.fetchall())
    return rows


def count_new_tickets(
    ticket_ids: list[str], *, lo: datetime.datetime, hi: datetime.datetime, zone: ZoneInfo
) -> list[tuple[Any, ...]]:
    """(day, dimension, key, hour, count): the creations of those of `ticket_ids` created
    from `lo` to `hi` that no rollup counts yet (neither spam nor merged), noted as counted
    by the same statement; the current tenant's. For services.count_new_tickets, inside
    its transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            _NEW_TICKETS_SQL,
            {
                "tenant": require_tenant_id(),
                "ids": ticket_ids,
                "lo": lo,
                "hi": hi,
                "zone": str(zone.key),
            },
        )
        return list(cursor.fetchall())


def tickets_created_outside(
    ticket_ids: list[str], *, lo: datetime.datetime, hi: datetime.datetime
) -> list[str]:
    """Those of `ticket_ids` (the current tenant's) created before `lo` or from `hi` on."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM tickets_ticket WHERE tenant_id = %s AND id = ANY(%s::uuid[])"
            " AND (created_at < %s OR created_at >= %s)",
            [require_tenant_id(), ticket_ids, lo, hi],
        )
        return sorted(str(row[0]) for row in cursor.fetchall())


class _Schedules:
    """The business-hours schedules of one recompute, each loaded once."""

    def __init__(self) -> None:
        self._loaded: dict[Any, business_time.Schedule | None] = {}
        ids = list(BusinessHours.objects.values_list("id", flat=True)[:2])
        self._default = ids[0] if len(ids) == 1 else None

    def get(self, hours_id: Any) -> business_time.Schedule | None:
        hours_id = hours_id or self._default
        if hours_id is None:
            return None
        if hours_id not in self._loaded:
            try:
                self._loaded[hours_id] = department_selectors.get_schedule(hours_id)
            except (business_time.InvalidSchedule, BusinessHoursNotFound):
                self._loaded[hours_id] = None
        return self._loaded[hours_id]


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
    solves: int = 0
    first_response_hist: list[int] = field(default_factory=lambda: [0] * len(EDGES))
    resolution_hist: list[int] = field(default_factory=lambda: [0] * len(EDGES))
    first_response_business_hist: list[int] = field(default_factory=lambda: [0] * len(EDGES))
    resolution_business_hist: list[int] = field(default_factory=lambda: [0] * len(EDGES))
    sla_met: dict[str, int] = field(default_factory=dict)
    sla_missed: dict[str, int] = field(default_factory=dict)
    csat_good: int = 0
    csat_bad: int = 0
    csat_okay: int = 0
    open_now: int | None = None

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
    def first_response_business_median(self) -> int | None:
        return percentile(self.first_response_business_hist, 0.5)

    @property
    def first_response_business_p90(self) -> int | None:
        return percentile(self.first_response_business_hist, 0.9)

    @property
    def resolution_business_median(self) -> int | None:
        return percentile(self.resolution_business_hist, 0.5)

    @property
    def resolution_business_p90(self) -> int | None:
        return percentile(self.resolution_business_hist, 0.9)

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
        """Good answers of all answers: okay is neither good nor bad, but it is an answer
        that was not good, so it lowers the score."""
        total = self.csat_good + self.csat_okay + self.csat_bad
        return round(100 * self.csat_good / total, 1) if total else None


@dataclass
class Week:
    """One week of the trends (Monday `start`, clipped to the report's range)."""

    start: datetime.date
    created: int
    solved: int
    first_response_hist: list[int]
    csat_good: int
    csat_bad: int
    csat_okay: int

    @property
    def first_response_median(self) -> int | None:
        return percentile(self.first_response_hist, 0.5)

    @property
    def csat_percent(self) -> float | None:
        """Good answers of all answers: okay is neither good nor bad, but it is an answer
        that was not good, so it lowers the score."""
        total = self.csat_good + self.csat_okay + self.csat_bad
        return round(100 * self.csat_good / total, 1) if total else None


@dataclass
class Report:
    start: datetime.date
    end: datetime.date
    total: Figures
    breakdowns: dict[str, dict[str, Figures]]
    daily: list[tuple[datetime.date, int, int]]  # day, created, solved
    # Unsolved tickets at the end of each day (None for days still to come).
    backlog: list[tuple[datetime.date, int | None]] = field(default_factory=list)
    weekly: list[Week] = field(default_factory=list)
    # Tickets created by weekday (Monday 0) and hour, in the tenant's zone.
    heat_map: list[list[int]] = field(default_factory=list)
    deflections: int | None = None
    # The member whose own figures these are (an agent), or None: the whole team's.
    agent_id: str | None = None
    # Values of long breakdowns left out of a summary (read_report's `top`), by breakdown.
    more: dict[str, int] = field(default_factory=dict)

    @property
    def deflection_rate_percent(self) -> float | None:
        """Of the help center's visitors who needed help in the range, the share who found
        it in a suggested article: deflections / (deflections + tickets created on the web
        channel, the request form). None without either, or in an agent's report."""
        if self.deflections is None:
            return None
        web = self.breakdowns.get("channel", {}).get(TicketChannel.WEB)
        asked = self.deflections + (web.created if web else 0)
        return round(100 * self.deflections / asked, 1) if asked else None


# The rows of a range: its whole months as the difference of two running totals (the
# total at the end of the last whole month, minus the one before the first: `total_lo`,
# counted negative), the days around them from day rows; with an agent, only that agent's
# rows (their figures are the report's total). Two rows per breakdown value for any number
# of months, so a year costs what a month does.
_RANGE = """
    r.tenant_id = %(tenant)s AND (
        (r.span = 'total' AND r.day IN (%(total_hi)s::date, %(total_lo)s::date))
        OR (r.span = 'day' AND r.day >= %(start)s AND r.day < %(month_first)s)
        OR (r.span = 'day' AND r.day > %(month_end)s AND r.day <= %(end)s)
    )
    AND (%(agent)s::text IS NULL OR (r.dimension = 'agent' AND r.key = %(agent)s::text))
"""
_SIGN = "(CASE WHEN r.span = 'total' AND r.day = %(total_lo)s::date THEN -1 ELSE 1 END)"
# Whether a value counted anything in the range (a difference of totals can be all zero).
_COUNTED = """
    sum({sign} * (created + solved + reopened + solves + first_response_count
        + resolution_count + csat_good + csat_bad + csat_okay
        + (SELECT coalesce(sum(m.value::int), 0) FROM jsonb_each_text(r.sla_met) AS m)
        + (SELECT coalesce(sum(m.value::int), 0) FROM jsonb_each_text(r.sla_missed) AS m)))
    <> 0
"""
_HISTS = (
    "first_response_hist",
    "resolution_hist",
    "first_response_business_hist",
    "resolution_business_hist",
)
# The four histograms summed bucket by bucket in one pass over the rows (unnest of several
# arrays pads the shorter ones with nulls).
_HIST_SQL = """
    SELECT r.dimension, r.key, bucket.i - 1, sum({sign} * bucket.fr), sum({sign} * bucket.res),
           sum({sign} * bucket.frb), sum({sign} * bucket.resb)
    FROM automation_reportrollup r,
         unnest(r.first_response_hist, r.resolution_hist, r.first_response_business_hist,
                r.resolution_business_hist) WITH ORDINALITY AS bucket(fr, res, frb, resb, i)
    WHERE {range}
    GROUP BY 1, 2, 3
"""
_SLA_SQL = """
    SELECT r.dimension, r.key, 'sla_met', metric.key, sum({sign} * metric.value::int)
    FROM automation_reportrollup r, jsonb_each_text(r.sla_met) AS metric
    WHERE {range}
    GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT r.dimension, r.key, 'sla_missed', metric.key, sum({sign} * metric.value::int)
    FROM automation_reportrollup r, jsonb_each_text(r.sla_missed) AS metric
    WHERE {range}
    GROUP BY 1, 2, 3, 4
"""


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


# Breakdowns that may have thousands of values: a summary keeps the largest (by created,
# then solved) and counts the rest (the breakdown API and the CSV have them all).
LONG_BREAKDOWNS = ("tag", "company")
SUMMARY_TOP = 50
# Only the rows of the kept breakdown values (when some were left out).
_KEPT = """
    AND (%(kept_dimensions)s::text[] IS NULL OR (r.dimension, r.key) IN (
        SELECT kept.dimension, kept.key
        FROM unnest(%(kept_dimensions)s::text[], %(kept_keys)s::text[]) AS kept(dimension, key)
    ))
"""


def _keep_top(figures: dict[tuple[str, str], Figures], top: int | None) -> dict[str, int]:
    """Drop all but the `top` largest values of each long breakdown from `figures`; returns
    how many each lost."""
    more: dict[str, int] = {}
    if top is None:
        return more
    for dimension in LONG_BREAKDOWNS:
        keys = sorted(
            (key for dim, key in figures if dim == dimension),
            key=lambda key: (
                -figures[(dimension, key)].created,
                -figures[(dimension, key)].solved,
                key,
            ),
        )
        for key in keys[top:]:
            del figures[(dimension, key)]
        if len(keys) > top:
            more[dimension] = len(keys) - top
    return more


def read_report(
    start: datetime.date,
    end: datetime.date,
    *,
    agent_id: str | None = None,
    top: int | None = SUMMARY_TOP,
) -> Report:
    """The current tenant's report from `start` to `end` (both included), from the rollups
    alone: a handful of grouped queries whatever the number of tickets. With `agent_id`,
    that agent's own figures (the tickets they are assignee of) and no other breakdown.
    The tag and company breakdowns keep their `top` largest values (None: all)."""
    month_first, month_end = _whole_months(start, end)
    one_day = datetime.timedelta(days=1)
    params: dict[str, Any] = {
        "tenant": require_tenant_id(),
        "start": start,
        "end": end,
        # Without a whole month: the day rows of [start, end] once, no month rows.
        "month_first": month_first if month_first <= month_end else end + one_day,
        "month_last": month_end.replace(day=1),
        "month_end": month_end if month_first <= month_end else end,
        "agent": agent_id,
        "total_hi": None,
        "total_lo": None,
    }
    figures: dict[tuple[str, str], Figures] = defaultdict(Figures)
    with connection.cursor() as cursor:
        if month_first <= month_end:
            cursor.execute(
                """
                SELECT max(day) FILTER (WHERE day <= %(last)s),
                       max(day) FILTER (WHERE day < %(first)s)
                FROM automation_reportrollup
                WHERE tenant_id = %(tenant)s AND span = 'total' AND day <= %(last)s
                """,
                {"tenant": params["tenant"], "first": month_first, "last": params["month_last"]},
            )
            fetched = cursor.fetchone()
            # The same total at both ends: nothing happened in those months.
            if fetched and fetched[0] != fetched[1]:
                params["total_hi"], params["total_lo"] = fetched
        sign = _SIGN
        cursor.execute(
            f"""
            SELECT dimension, key, sum({sign} * created), sum({sign} * solved),
                   sum({sign} * reopened), sum({sign} * replies), sum({sign} * csat_good),
                   sum({sign} * csat_bad), sum({sign} * csat_okay), sum({sign} * solves)
            FROM automation_reportrollup r
            WHERE {_RANGE}
            GROUP BY dimension, key
            HAVING {_COUNTED.format(sign=sign)}
            """,  # noqa: S608 (module constants, no input)
            params,
        )
        for dimension, key, *counts in cursor.fetchall():
            row = figures[(dimension, key)]
            (
                row.created,
                row.solved,
                row.reopened,
                row.replies,
                row.csat_good,
                row.csat_bad,
                row.csat_okay,
                row.solves,
            ) = (int(count) for count in counts)
        more = _keep_top(figures, top)
        kept = list(figures) if more else None
        params["kept_dimensions"] = [dimension for dimension, _ in kept] if kept else None
        params["kept_keys"] = [key for _, key in kept] if kept else None
        cursor.execute(_HIST_SQL.format(range=_RANGE + _KEPT, sign=sign), params)
        for dimension, key, index, *counts in cursor.fetchall():
            if (dimension, key) not in figures:
                continue  # nothing counted in the range (two equal totals)
            row = figures[(dimension, key)]
            for column, count in zip(_HISTS, counts, strict=True):
                if count:
                    getattr(row, column)[index] += int(count)
        cursor.execute(_SLA_SQL.format(range=_RANGE + _KEPT, sign=sign), params)
        for dimension, key, column, metric, count in cursor.fetchall():
            if count and (dimension, key) in figures:
                getattr(figures[(dimension, key)], column)[metric] = int(count)
    breakdowns: dict[str, dict[str, Figures]] = {dimension: {} for dimension in DIMENSIONS}
    for (dimension, key), row in figures.items():
        if dimension in breakdowns:
            breakdowns[dimension][key] = row
    for key, count in count_open_by_agent(agent_id).items():
        if key in breakdowns["agent"] or count:
            breakdowns["agent"].setdefault(key, Figures()).open_now = count
    total = figures.get(("agent", agent_id) if agent_id else ("all", ""), Figures())
    if agent_id:
        breakdowns = {"agent": {agent_id: total}}
    series = _read_series(start, end, agent_id)
    return Report(
        start=start,
        end=end,
        total=total,
        breakdowns=breakdowns,
        daily=series.daily,
        backlog=series.backlog,
        weekly=series.weekly,
        heat_map=series.heat_map,
        deflections=None if agent_id else count_deflections(start, end),
        more=more,
        agent_id=agent_id,
    )


@dataclass
class _Series:
    daily: list[tuple[datetime.date, int, int]]
    backlog: list[tuple[datetime.date, int | None]]
    weekly: list[Week]
    heat_map: list[list[int]]


def _read_series(start: datetime.date, end: datetime.date, agent_id: str | None) -> _Series:
    """Per day, per week and per hour of the week, from the day rows of the whole team (or
    of one agent). The backlog is counted back from the unsolved tickets now: at the end
    of a day it is today's minus what came in (created, reopened) after that day, plus
    what went out (solves) after it."""
    zone = tenant_zone()
    today = datetime.datetime.now(zone).date()
    dimension, key = ("agent", agent_id) if agent_id else ("all", "")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT day, created, solved, reopened, solves, first_response_hist, csat_good,
                   csat_bad, created_hours, csat_okay
            FROM automation_reportrollup
            WHERE tenant_id = %(tenant)s AND span = 'day' AND dimension = %(dimension)s
              AND key = %(key)s AND day >= %(start)s AND day <= %(end)s
            ORDER BY day
            """,
            {
                "tenant": require_tenant_id(),
                "dimension": dimension,
                "key": key,
                "start": start,
                "end": end,
            },
        )
        rows = {row[0]: row for row in cursor.fetchall()}
        cursor.execute(
            """
            SELECT coalesce(sum(created + reopened - solves), 0)
            FROM automation_reportrollup
            WHERE tenant_id = %(tenant)s AND span = 'day' AND dimension = %(dimension)s
              AND key = %(key)s AND day > %(end)s AND day <= %(today)s
            """,
            {
                "tenant": require_tenant_id(),
                "dimension": dimension,
                "key": key,
                "end": end,
                "today": today,
            },
        )
        fetched = cursor.fetchone()
        after_end = int(fetched[0]) if fetched else 0
    daily: list[tuple[datetime.date, int, int]] = []
    heat_map = [[0] * 24 for _ in range(7)]
    weeks: dict[datetime.date, Week] = {}
    day = start
    while day <= end:
        row = rows.get(day)
        created, solved = (int(row[1]), int(row[2])) if row else (0, 0)
        daily.append((day, created, solved))
        monday = max(start, day - datetime.timedelta(days=day.weekday()))
        week = weeks.setdefault(monday, Week(monday, 0, 0, [0] * len(EDGES), 0, 0, 0))
        week.created += created
        week.solved += solved
        if row:
            for index, count in enumerate(row[5]):
                week.first_response_hist[index] += count
            week.csat_good += int(row[6])
            week.csat_bad += int(row[7])
            week.csat_okay += int(row[9])
            for hour, count in enumerate(row[8]):
                heat_map[day.weekday()][hour] += count
        day += datetime.timedelta(days=1)
    backlog: list[tuple[datetime.date, int | None]] = []
    level = count_unsolved(agent_id) - after_end
    for day, *_ in reversed(daily):
        if day > today:
            backlog.append((day, None))
            continue
        backlog.append((day, max(0, level)))
        row = rows.get(day)
        if row:
            level -= int(row[1]) + int(row[3]) - int(row[4])
    backlog.reverse()
    return _Series(daily=daily, backlog=backlog, weekly=list(weeks.values()), heat_map=heat_map)


def count_unsolved(agent_id: str | None = None) -> int:
    """Unsolved tickets now (of one agent), as the reports count them (no spam, no merged)."""
    tickets = Ticket.objects.filter(is_unsolved=True, is_spam=False, merged_into__isnull=True)
    if agent_id:
        tickets = tickets.filter(assignee_id=uuid.UUID(agent_id))
    return tickets.count()


def count_open_by_agent(agent_id: str | None = None) -> dict[str, int]:
    """Each agent's unsolved tickets now (the open load; "" for nobody's)."""
    tickets = Ticket.objects.filter(is_unsolved=True, is_spam=False, merged_into__isnull=True)
    if agent_id:
        tickets = tickets.filter(assignee_id=uuid.UUID(agent_id))
    return {
        str(row["assignee_id"] or ""): row["n"]
        for row in tickets.values("assignee_id").annotate(n=Count("id")).order_by()
    }


def count_deflections(start: datetime.date, end: datetime.date) -> int:
    """Help-center visits that ended on a suggested article in the range (knowledge_base's
    definition: the visitor opened a suggestion and did not send the request after all)."""
    lo, hi = day_bounds(start, end, tenant_zone())
    return kb_selectors.count_deflections(start=lo, end=hi)


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
    if not (moments.in_range(start) and moments.in_range(end)):
        raise InvalidReportRange(f"from and to are dates {moments.RANGE_TEXT}.")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise InvalidReportRange("A report covers at most two years.")
    return start, end


def dimension_labels(report: Report) -> dict[str, dict[str, str]]:
    """What each breakdown key of `report` is called (the key itself is an id or a value);
    only the keys the report holds are looked up (a tenant may have many companies)."""

    def keys(dimension: str) -> list[str]:
        return [key for key in report.breakdowns.get(dimension, {}) if key]

    labels: dict[str, dict[str, str]] = {
        "channel": dict(TicketChannel.choices),
        "priority": dict(TicketPriority.choices),
        "department": {
            str(d.id): d.name for d in Department.objects.filter(id__in=keys("department"))
        },
        "type": {str(t.id): t.name for t in TicketType.objects.filter(id__in=keys("type"))},
        "mailbox": {str(m.id): m.address for m in Mailbox.objects.filter(id__in=keys("mailbox"))},
        "agent": {
            str(m.id): str(m.user.display_name)
            for m in Membership.objects.in_current_tenant()
            .filter(id__in=keys("agent"))
            .select_related("user")
        },
        "company": {str(c.id): c.name for c in Company.objects.filter(id__in=keys("company"))},
        "tag": {key: key for key in keys("tag")},
    }
    for dimension, values in labels.items():
        values[""] = "No tag" if dimension == "tag" else "None"
    return labels


BREAKDOWNS = ("channel", "department", "agent", "type", "priority", "mailbox", "tag", "company")


def figures_payload(figures: Figures) -> dict[str, Any]:
    return {
        "tickets_created": figures.created,
        "tickets_solved": figures.solved,
        "tickets_reopened": figures.reopened,
        "first_response_median_minutes": figures.first_response_median,
        "first_response_p90_minutes": figures.first_response_p90,
        "first_response_business_median_minutes": figures.first_response_business_median,
        "first_response_business_p90_minutes": figures.first_response_business_p90,
        "resolution_median_minutes": figures.resolution_median,
        "resolution_p90_minutes": figures.resolution_p90,
        "resolution_business_median_minutes": figures.resolution_business_median,
        "resolution_business_p90_minutes": figures.resolution_business_p90,
        "replies_per_ticket": figures.replies_per_ticket,
        "sla_met": figures.sla_met_total,
        "sla_missed": figures.sla_missed_total,
        "sla_met_percent": figures.sla_met_percent,
        "csat_good": figures.csat_good,
        "csat_okay": figures.csat_okay,
        "csat_bad": figures.csat_bad,
        "csat_percent": figures.csat_percent,
    }


def breakdown_payload(
    report: Report, dimension: str, labels: dict[str, dict[str, str]]
) -> list[dict[str, Any]]:
    """One breakdown's rows, {key, label, figures…}, largest first; agents' rows also carry
    their unsolved tickets now (`open_now`)."""
    rows = report.breakdowns.get(dimension, {})
    body = []
    for key, figures in sorted(
        rows.items(), key=lambda item: (-item[1].created, -item[1].solved, item[0])
    ):
        row = {
            "key": key,
            "label": labels[dimension].get(key, key or "None"),
            **figures_payload(figures),
        }
        if dimension == BY_AGENT:
            row["open_now"] = figures.open_now or 0
        body.append(row)
    return body


def report_payload(report: Report) -> dict[str, Any]:
    """The summary API's body (and the CSV's rows): the range's figures, the series (per
    day, per week, the heat map), then one list per breakdown, largest first."""
    labels = dimension_labels(report)
    body: dict[str, Any] = {
        "from": report.start.isoformat(),
        "to": report.end.isoformat(),
        "agent_id": report.agent_id,
        **figures_payload(report.total),
        "deflections": report.deflections,
        "breakdown_values_left_out": report.more,
        "deflection_rate_percent": report.deflection_rate_percent,
        "sla_by_metric": {
            metric: {
                "met": report.total.sla_met.get(metric, 0),
                "missed": report.total.sla_missed.get(metric, 0),
            }
            for metric in sorted({*report.total.sla_met, *report.total.sla_missed})
        },
        "first_response_distribution": [
            {"from_minutes": EDGES[index], "tickets": count}
            for index, count in enumerate(report.total.first_response_hist)
            if count
        ],
        "daily": [
            {"day": day.isoformat(), "created": created, "solved": solved, "backlog": backlog}
            for (day, created, solved), (_, backlog) in zip(
                report.daily, report.backlog, strict=True
            )
        ],
        "weekly": [
            {
                "week": week.start.isoformat(),
                "created": week.created,
                "solved": week.solved,
                "first_response_median_minutes": week.first_response_median,
                "csat_percent": week.csat_percent,
            }
            for week in report.weekly
        ],
        "created_by_weekday_hour": report.heat_map,
    }
    for dimension in BREAKDOWNS:
        body[f"by_{dimension}"] = breakdown_payload(report, dimension, labels)
    return body


def report_agent(member: Membership, requested: str = "") -> str | None:
    """Whose figures `member` sees: None (the whole team) or an agent's id. Admins see the
    team, or the agent they ask for; everyone else sees their own, whatever they ask.
    Raises ReportOfOthers (another agent's asked by a non-admin), ReportAgentNotFound."""
    requested = str(requested or "").strip()
    if not permissions.can(member, permissions.Capability.VIEW_TEAM_REPORTS):
        if requested and requested != str(member.id):
            raise ReportOfOthers()
        return str(member.id)
    if not requested:
        return None
    try:
        agent_id = uuid.UUID(requested)
    except ValueError:
        raise ReportAgentNotFound() from None
    if not Membership.objects.in_current_tenant().filter(id=agent_id).exists():
        raise ReportAgentNotFound()
    return str(agent_id)
