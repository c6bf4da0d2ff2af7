"""Keeping the rollups: a day is recomputed whole from the tickets, so running it twice,
late or out of order gives the same rows. One exception, for inbound mail: the new tickets
of a batch are added to the rows they count on (count_new_tickets), each exactly once
(ReportCountedTicket), instead of their day being recomputed from all of its tickets."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from automation.models import ReportMailOptOut, ReportRollup
from automation.reports import selectors
from automation.reports.buckets import EDGES, format_minutes
from helpdesk.core.ids import new_id
from helpdesk.mail import services as mail
from helpdesk.mail.models import OutboundEmail, OutboundEmailKind
from helpdesk.tenancy import permissions
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.context import require_tenant_id
from helpdesk.tenancy.models import Membership


def recompute_days(*, days: list[datetime.date]) -> int:
    """Replace the current tenant's rollups of `days` with figures computed from the
    tickets; returns the rows written. One transaction, serialised per tenant (an
    advisory lock), so two runs never interleave their delete and insert."""
    wanted = sorted(set(days))
    if not wanted:
        return 0
    tenant_id = require_tenant_id()
    first_counted, _ = counted_days()
    with transaction.atomic():
        _lock(tenant_id)
        rows: dict[tuple[Any, str, str], ReportRollup] = {}
        facts = selectors.list_day_facts(
            wanted, counting=[day for day in wanted if day >= first_counted]
        )
        for day, dimension, key, fact, bucket, count, total in facts:
            row = rows.get((day, dimension, key))
            if row is None:
                row = rows[(day, dimension, key)] = ReportRollup(
                    tenant_id=tenant_id,
                    day=day,
                    dimension=dimension,
                    key=key,
                    first_response_hist=[0] * len(EDGES),
                    resolution_hist=[0] * len(EDGES),
                    first_response_business_hist=[0] * len(EDGES),
                    resolution_business_hist=[0] * len(EDGES),
                    created_hours=[0] * 24,
                    sla_met={},
                    sla_missed={},
                )
            _add(row, fact, int(bucket), int(count), float(total))
        for row in rows.values():
            for name in _HISTS:
                setattr(row, name, _trim(getattr(row, name)))
            row.created_hours = _trim(row.created_hours)
        ReportRollup.objects.filter(span="day", day__in=wanted).delete()
        _insert(rows.values())
        sum_months(tenant_id, {day.replace(day=1) for day in wanted})
        sum_totals(tenant_id, since=wanted[0].replace(day=1))
    return len(rows)


def _lock(tenant_id: Any, *, wait: bool = True) -> bool:
    """Serialise the tenant's rollup writes (recomputes and deltas) until the commit; with
    `wait` False, False at once when another transaction holds them."""
    function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {function}(hashtext('automation.reports'), hashtext(%s))",
            [str(tenant_id)],
        )
        return wait or bool(cursor.fetchone()[0])


# The days a delta adds new tickets to: today and yesterday in the tenant's zone (a
# batch's tickets are counted seconds after it commits; yesterday for those around
# midnight). Counted marks of older days are pruned: a ticket created earlier that asks
# for a delta has its days recomputed instead.
COUNTED_DAYS = 2


def counted_days() -> tuple[datetime.date, datetime.date]:
    """The first and last day (today) a delta may add tickets to, in the tenant's zone."""
    today = datetime.datetime.now(selectors.tenant_zone()).date()
    return today - datetime.timedelta(days=COUNTED_DAYS - 1), today


def count_new_tickets(*, ticket_ids: list[str], wait: bool = True) -> tuple[int, list[str]] | None:
    """Add the creation of new tickets (an inbound batch's) to the current tenant's rollups
    as a delta: each day, month and running total row it changes gains the new tickets in
    one statement (`created + n`, the hour of day added bucket by bucket), instead of its
    day being recomputed from all of that day's tickets. Exactly once per ticket: the
    statement that reads them notes them as counted (ReportCountedTicket) in the same
    transaction, so a retried delta, or one that follows a recompute which already saw the
    tickets, adds nothing; spam and merged tickets count nowhere. Returns the tickets added
    and the ids created before yesterday (or after today), whose days the caller marks for
    a recompute instead; with `wait` False, None without doing anything while a recompute
    of the tenant's (a long one: all of a day's tickets) holds its rollups."""
    ids = sorted(set(ticket_ids))
    if not ids:
        return 0, []
    tenant_id = require_tenant_id()
    zone = selectors.tenant_zone()
    first, today = counted_days()
    lo, hi = selectors.day_bounds(first, today, zone)
    with transaction.atomic():
        if not _lock(tenant_id, wait=wait):
            return None
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM automation_reportcountedticket WHERE tenant_id = %s AND day < %s",
                [tenant_id, first],
            )
        facts = selectors.count_new_tickets(ids, lo=lo, hi=hi, zone=zone)
        elsewhere = selectors.tickets_created_outside(ids, lo=lo, hi=hi)
        if facts:
            _add_creations(tenant_id, facts)
    return sum(int(count) for _, dimension, _, _, count in facts if dimension == "all"), elsewhere


def _add_creations(tenant_id: Any, facts: list[tuple[Any, ...]]) -> None:
    """Add (day, dimension, key, hour, count) creations to the day rows, their months and
    the running totals."""
    days: dict[tuple[datetime.date, str, str], list[int]] = {}
    months: dict[tuple[datetime.date, str, str], int] = {}
    for day, dimension, key, hour, count in facts:
        hours = days.setdefault((day, dimension, key), [0] * 24)
        hours[int(hour)] += int(count)
        month = (day.replace(day=1), dimension, key)
        months[month] = months.get(month, 0) + int(count)
    rows = [
        ("day", day, dimension, key, sum(hours), _trim(hours))
        for (day, dimension, key), hours in days.items()
    ]
    rows += [("month", *month, count, []) for month, count in months.items()]
    touched = sorted({month for month, _, _ in months})
    # A month's running total gains what its month gained, when it is the tenant's latest
    # total; otherwise (the first tickets of a month, or later totals to carry it) the
    # totals are summed again from that month on, as a recompute does.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT day FROM automation_reportrollup"
            " WHERE tenant_id = %s AND span = 'total' AND dimension = 'all' AND day >= %s",
            [tenant_id, touched[0]],
        )
        totals = sorted(row[0] for row in cursor.fetchall())
    by_delta = len(touched) == 1 and totals == touched
    if by_delta:
        rows += [("total", *month, count, []) for month, count in months.items()]
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _ADD_CREATIONS_SQL,
            {
                "tenant": tenant_id,
                "now": now,
                "ids": [new_id() for _ in rows],
                "spans": [row[0] for row in rows],
                "days": [row[1] for row in rows],
                "dimensions": [row[2] for row in rows],
                "keys": [row[3] for row in rows],
                "created": [row[4] for row in rows],
                "hours": ["{" + ",".join(str(n) for n in row[5]) + "}" for row in rows],
            },
        )
    if not by_delta:
        sum_totals(tenant_id, since=touched[0])


# New rows have nothing but their creations; existing rows add them (the hours of the day
# bucket by bucket: two trimmed arrays of non-negative counts sum to a trimmed one).
_ADD_CREATIONS_SQL = """
INSERT INTO automation_reportrollup AS r (
    id, tenant_id, created_at, updated_at, span, day, dimension, key, created, solved,
    reopened, replies, first_response_count, first_response_minutes, resolution_count,
    resolution_minutes, csat_good, csat_bad, csat_okay, solves, first_response_hist,
    resolution_hist, first_response_business_hist, resolution_business_hist, created_hours,
    sla_met, sla_missed)
SELECT v.id, %(tenant)s, %(now)s, %(now)s, v.span, v.day, v.dimension, v.key, v.created,
       0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '{}', '{}', '{}', '{}', v.hours::int[], '{}'::jsonb,
       '{}'::jsonb
FROM unnest(%(ids)s::uuid[], %(spans)s::text[], %(days)s::date[], %(dimensions)s::text[],
            %(keys)s::text[], %(created)s::int[], %(hours)s::text[])
     AS v(id, span, day, dimension, key, created, hours)
ON CONFLICT (tenant_id, span, day, dimension, key) DO UPDATE
SET created = r.created + excluded.created,
    created_hours = ARRAY(
        SELECT coalesce(h.old, 0) + coalesce(h.new, 0)
        FROM unnest(r.created_hours, excluded.created_hours) WITH ORDINALITY AS h(old, new, i)
        ORDER BY h.i),
    updated_at = excluded.updated_at
"""


# The sums of some rows (`{rows}`: a month's days, or a running total and the month after
# it) in one statement, by breakdown value: the counts, the histograms bucket by bucket
# (unnest of several arrays pads the shorter with nulls) and the SLA counts metric by metric.
_SUM_SQL = """
WITH days AS (
    SELECT * FROM automation_reportrollup WHERE tenant_id = %(tenant)s AND ({rows})
), buckets AS (
    SELECT d.dimension, d.key, b.i, sum(b.fr) AS fr, sum(b.res) AS res, sum(b.frb) AS frb,
           sum(b.resb) AS resb
    FROM days d,
         unnest(d.first_response_hist, d.resolution_hist, d.first_response_business_hist,
                d.resolution_business_hist) WITH ORDINALITY AS b(fr, res, frb, resb, i)
    GROUP BY 1, 2, 3
), hists AS (
    SELECT dimension, key,
           array_agg(coalesce(fr, 0)::int ORDER BY i) AS fr,
           array_agg(coalesce(res, 0)::int ORDER BY i) AS res,
           array_agg(coalesce(frb, 0)::int ORDER BY i) AS frb,
           array_agg(coalesce(resb, 0)::int ORDER BY i) AS resb
    FROM buckets GROUP BY 1, 2
), sla AS (
    SELECT dimension, key, column_name, jsonb_object_agg(metric, total) AS counts
    FROM (
        SELECT d.dimension, d.key, 'met' AS column_name, m.key AS metric,
               sum(m.value::int) AS total
        FROM days d, jsonb_each_text(d.sla_met) AS m GROUP BY 1, 2, 3, 4
        UNION ALL
        SELECT d.dimension, d.key, 'missed', m.key, sum(m.value::int)
        FROM days d, jsonb_each_text(d.sla_missed) AS m GROUP BY 1, 2, 3, 4
    ) per_metric
    GROUP BY 1, 2, 3
)
SELECT s.dimension, s.key, s.created, s.solved, s.reopened, s.replies,
       s.first_response_count, s.first_response_minutes, s.resolution_count,
       s.resolution_minutes, s.csat_good, s.csat_bad, s.csat_okay, s.solves,
       coalesce(h.fr, '{{}}'), coalesce(h.res, '{{}}'), coalesce(h.frb, '{{}}'),
       coalesce(h.resb, '{{}}'),
       coalesce(met.counts, '{{}}'::jsonb), coalesce(missed.counts, '{{}}'::jsonb)
FROM (
    SELECT dimension, key, sum(created) AS created, sum(solved) AS solved,
           sum(reopened) AS reopened, sum(replies) AS replies,
           sum(first_response_count) AS first_response_count,
           sum(first_response_minutes) AS first_response_minutes,
           sum(resolution_count) AS resolution_count,
           sum(resolution_minutes) AS resolution_minutes, sum(csat_good) AS csat_good,
           sum(csat_bad) AS csat_bad, sum(csat_okay) AS csat_okay, sum(solves) AS solves
    FROM days GROUP BY 1, 2
) s
LEFT JOIN hists h USING (dimension, key)
LEFT JOIN sla met ON met.dimension = s.dimension AND met.key = s.key AND met.column_name = 'met'
LEFT JOIN sla missed
       ON missed.dimension = s.dimension AND missed.key = s.key AND missed.column_name = 'missed'
"""


_MONTH_ROWS = "span = 'day' AND day >= %(month)s AND day < %(following)s"
_TOTAL_ROWS = "(span = 'total' AND day = %(previous)s) OR (span = 'month' AND day = %(month)s)"


def sum_months(tenant_id: Any, months: set[datetime.date]) -> None:
    """Replace the month rows of `months` with the sums of their day rows (the current
    tenant's; call inside its transaction). Summed in the database: a month of a big
    tenant is thousands of day rows."""
    for month in sorted(months):
        following = (month + datetime.timedelta(days=32)).replace(day=1)
        _replace_sums(
            tenant_id,
            span="month",
            month=month,
            rows=_MONTH_ROWS,
            params={"month": month, "following": following},
        )


def sum_totals(tenant_id: Any, *, since: datetime.date) -> None:
    """Replace the running totals (span "total") of every month from `since` on: a month's
    total is everything before its end (the total of the month before plus the month's
    rows), one row per breakdown value seen so far, so whole months of any range are the
    difference of two totals (selectors.read_report). Starts earlier when an earlier month
    has no total yet (rollups written before totals existed). Call inside the tenant's
    transaction, after sum_months."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT min(m.day) FROM automation_reportrollup m
            WHERE m.tenant_id = %(tenant)s AND m.span = 'month' AND m.day < %(since)s
              AND NOT EXISTS (
                  SELECT 1 FROM automation_reportrollup t
                  WHERE t.tenant_id = m.tenant_id AND t.span = 'total' AND t.day = m.day)
            """,
            {"tenant": tenant_id, "since": since},
        )
        fetched = cursor.fetchone()
        if fetched and fetched[0]:
            since = fetched[0]
        cursor.execute(
            """
            SELECT DISTINCT day FROM automation_reportrollup
            WHERE tenant_id = %(tenant)s AND span IN ('month', 'total') AND day >= %(since)s
            ORDER BY day
            """,
            {"tenant": tenant_id, "since": since},
        )
        months = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT max(day) FROM automation_reportrollup"
            " WHERE tenant_id = %s AND span = 'total' AND day < %s",
            [tenant_id, since],
        )
        fetched = cursor.fetchone()
    previous = fetched[0] if fetched else None
    for month in months:
        _replace_sums(
            tenant_id,
            span="total",
            month=month,
            rows=_TOTAL_ROWS,
            params={"month": month, "previous": previous},
        )
        previous = month


def _replace_sums(
    tenant_id: Any, *, span: str, month: datetime.date, rows: str, params: dict[str, Any]
) -> None:
    """Replace the `span` rows of `month` with the sums of the rows `rows` selects."""
    with connection.cursor() as cursor:
        # A big tenant's month is hundreds of thousands of histogram buckets to group:
        # sorted in memory rather than on disk (for this transaction only).
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(_SUM_SQL.format(rows=rows), {"tenant": tenant_id, **params})
        sums = [
            ReportRollup(
                tenant_id=tenant_id,
                span=span,
                day=month,
                dimension=dimension,
                key=key,
                **dict(zip(_MONTH_COLUMNS, (int(value) for value in counts), strict=True)),
                first_response_hist=_trim(list(fr)),
                resolution_hist=_trim(list(res)),
                first_response_business_hist=_trim(list(frb)),
                resolution_business_hist=_trim(list(resb)),
                created_hours=[],
                sla_met=_json(met),
                sla_missed=_json(missed),
            )
            for dimension, key, *counts, fr, res, frb, resb, met, missed in [
                (row[0], row[1], *row[2:14], *row[14:]) for row in cursor.fetchall()
            ]
        ]
    ReportRollup.objects.filter(span=span, day=month).delete()
    _insert(sums)


def _json(value: Any) -> dict[str, int]:
    """A jsonb value as read through Django's cursor (text) or psycopg's (decoded)."""
    return dict(json.loads(value) if isinstance(value, str) else value)


_MONTH_COLUMNS = (
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
    "csat_okay",
    "solves",
)
_INSERT_COLUMNS = (
    "id",
    "tenant_id",
    "created_at",
    "updated_at",
    "span",
    "day",
    "dimension",
    "key",
    *_MONTH_COLUMNS,
    "first_response_hist",
    "resolution_hist",
    "first_response_business_hist",
    "resolution_business_hist",
    "created_hours",
    "sla_met",
    "sla_missed",
)


# Built from the column names above, no input.
_INSERT_SQL = "INSERT INTO automation_reportrollup ({}) VALUES ({}, %s::jsonb, %s::jsonb)".format(  # noqa: S608
    ", ".join(_INSERT_COLUMNS), ", ".join(["%s"] * (len(_INSERT_COLUMNS) - 2))
)


def _insert(rows: Iterable[ReportRollup]) -> None:
    """Insert rollup rows, pipelined by psycopg's executemany (bulk_create spent most of a
    recompute preparing the array and JSON values one by one)."""
    now = timezone.now()
    values = [
        (
            new_id(),
            row.tenant_id,
            now,
            now,
            row.span,
            row.day,
            row.dimension,
            row.key,
            *(getattr(row, name) for name in _MONTH_COLUMNS),
            row.first_response_hist,
            row.resolution_hist,
            row.first_response_business_hist,
            row.resolution_business_hist,
            row.created_hours,
            json.dumps(row.sla_met),
            json.dumps(row.sla_missed),
        )
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(_INSERT_SQL, values)


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
    "csat_okay",
    "solves",
)
_HISTS = (
    "first_response_hist",
    "resolution_hist",
    "first_response_business_hist",
    "resolution_business_hist",
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
        row.created_hours[bucket] += count
    elif fact == "solves":
        row.solves += count
    elif fact == "first_response_business":
        row.first_response_business_hist[bucket] += count
    elif fact == "resolution_business":
        row.resolution_business_hist[bucket] += count
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
    elif fact == "csat_okay":
        row.csat_okay += count


def _trim(hist: list[int]) -> list[int]:
    """Without trailing zeros (most rows of one agent's day count a few buckets)."""
    end = len(hist)
    while end and not hist[end - 1]:
        end -= 1
    return hist[:end]


def mark_days_dirty(*, days: list[datetime.date]) -> int:
    """Note that the current tenant's rollups of `days` are out of date (the debounced
    recompute picks them up); returns how many were not noted already."""
    wanted = sorted(set(days))
    if not wanted:
        return 0
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO automation_reportdirtyday (id, tenant_id, created_at, updated_at, day,
                                                   marked_at)
            SELECT id, %(tenant)s, %(now)s, %(now)s, day, %(now)s
            FROM unnest(%(ids)s::uuid[], %(days)s::date[]) AS d(id, day)
            ON CONFLICT (tenant_id, day) DO NOTHING
            """,
            {
                "tenant": require_tenant_id(),
                "now": now,
                "ids": [new_id() for _ in wanted],
                "days": wanted,
            },
        )
        return int(cursor.rowcount)


def recompute_dirty_days() -> int:
    """Recompute every day of the current tenant marked dirty, and unmark them in the same
    transaction (a failure leaves them marked for the next run or the sweeper); returns
    the day rows written. Changes marked while this runs wait for the next run."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM automation_reportdirtyday WHERE tenant_id = %s RETURNING day",
                [require_tenant_id()],
            )
            days = [row[0] for row in cursor.fetchall()]
        return recompute_days(days=days)


def wants_weekly_report(member: Membership) -> bool:
    """Whether the member gets the weekly summary mail (admins, unless they opted out)."""
    return (
        permissions.can(member, permissions.Capability.VIEW_TEAM_REPORTS)
        and not ReportMailOptOut.objects.filter(member=member).exists()
    )


@transaction.atomic
def set_weekly_report(*, member: Membership, wanted: bool) -> None:
    """Turn the member's weekly summary mail on or off. Raises PermissionDenied for a
    member who may not see the team's reports."""
    permissions.require(member, permissions.Capability.VIEW_TEAM_REPORTS)
    if wanted:
        ReportMailOptOut.objects.filter(member=member).delete()
    else:
        ReportMailOptOut.objects.get_or_create(member=member)


def last_whole_week(now: datetime.datetime) -> tuple[datetime.date, datetime.date]:
    """Monday and Sunday of the last whole week before `now`, in the tenant's zone."""
    today = now.astimezone(selectors.tenant_zone()).date()
    sunday = today - datetime.timedelta(days=today.weekday() + 1)
    return sunday - datetime.timedelta(days=6), sunday


def send_weekly_reports(*, now: datetime.datetime | None = None) -> int:
    """Queue the last whole week's summary for each admin of the current tenant who has
    not opted out; returns how many were queued now. Once per week and admin: the outbox
    key `weekly-report:<monday>:<member id>` makes a second run queue nothing."""
    start, end = last_whole_week(now or timezone.now())
    admins = [
        member
        for member in permissions.who_may(
            Membership.objects.in_current_tenant()
            .filter(is_active=True)
            .select_related("user", "tenant"),
            permissions.Capability.VIEW_TEAM_REPORTS,
        )
        if not ReportMailOptOut.objects.filter(member=member).exists()
    ]
    keys = {member.id: f"weekly-report:{start.isoformat()}:{member.id}" for member in admins}
    sent = set(OutboundEmail.objects.filter(key__in=keys.values()).values_list("key", flat=True))
    waiting = [member for member in admins if keys[member.id] not in sent]
    if not waiting:
        return 0
    payload = selectors.report_payload(selectors.read_report(start, end))
    before = selectors.read_report(
        start - datetime.timedelta(days=7), end - datetime.timedelta(days=7)
    ).total
    tenant = waiting[0].tenant
    base = tenancy_selectors.tenant_base_url(tenant)
    query = urlencode({"from": start.isoformat(), "to": end.isoformat()})
    context = {
        "tenant_name": tenant.name,
        "start": start,
        "end": end,
        "report": payload,
        "before": {"created": before.created, "solved": before.solved},
        "first_response": format_minutes(payload["first_response_median_minutes"]),
        "first_response_business": format_minutes(
            payload["first_response_business_median_minutes"]
        ),
        "resolution": format_minutes(payload["resolution_median_minutes"]),
        "resolution_business": format_minutes(payload["resolution_business_median_minutes"]),
        "backlog": payload["daily"][-1]["backlog"] if payload["daily"] else None,
        "agents": payload["by_agent"][:10],
        "report_url": f"{base}{reverse('automation:reports')}?{query}",
    }
    queued = 0
    with mail.batched_delivery():
        for member in waiting:
            email = mail.build(
                kind=OutboundEmailKind.NOTIFICATION,
                key=keys[member.id],
                template="weekly_report",
                context={**context, "member_name": member.user.display_name},
                to=[member.user.email],
                automatic="auto-generated",
                tags=["weekly-report"],
            )
            mail.queue_email(email)
            queued += 1
    return queued
