"""Reports (issue 20): what a report costs to read, and what keeping it up to date costs, at
the size of the workspace benchmark's big tenant.

Two parts, in the workspace benchmark's database (`bench/workspace.py`: the cached copy
when its migrations still match, else built and loaded; `--tickets` sets the big tenant's
size, 1,000,000 by default):

1. **Keeping the rollups** on the real tickets of the big tenant (`bench`): its busiest
   recent day recomputed as a ticket change does it (`recompute_days` for one day: the
   facts query, business time in Python, the day's rows and its month's), repeated; the
   same facts query with the report indexes dropped (in a transaction rolled back) for
   comparison; `EXPLAIN` of the facts query, flagging any sequential scan of the tickets
   or messages; and a whole month rebuilt (what `rebuild_report_rollups` does per month).
2. **Reading a year**: a tenant of its own (`bench-reports`) given the rollup rows a year
   of a 1,000,000-ticket tenant produces (2,740 tickets a day; 4 channels, 8 departments,
   40 agents, 6 types, 4 priorities, 8 mailboxes, 30 tags, 200 companies; histograms of
   about 40 buckets, calendar and business time), then `read_report` + `report_payload`
   for the whole year, as the summary API and the page run them, inside the tenant's
   context as `helpdesk_app` under row-level security. Target: under 200 ms.

The 1-minute load average is recorded before each measurement: the machine is shared.
"""

from __future__ import annotations

import datetime
import os
import random
import secrets
import statistics
import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.run import Context

DAYS = 365
PER_DAY = 2740
KEYS = {
    "channel": 4,
    "department": 8,
    "agent": 40,
    "type": 6,
    "priority": 4,
    "mailbox": 8,
    "tag": 30,
    "company": 200,
}
# Companies: most days a company has no ticket; a day's rows hold this many of them.
COMPANIES_PER_DAY = 120
TARGET_MS = 200
READS = 20
RECOMPUTES = 10
REPORT_INDEXES = (
    "tickets_ticket_report_new_idx",
    "tickets_ticket_report_solv_idx",
    "tickets_message_report_idx",
    "automation_slatimer_report_idx",
)


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered), 1),
        "p90_ms": round(ordered[max(0, int(len(ordered) * 0.9) - 1)], 1),
        "max_ms": round(ordered[-1], 1),
    }


def measure_upkeep(context: Context) -> dict[str, Any]:
    """Part 1: recomputing days of the big tenant's real tickets."""
    from django.db import connection

    from automation.reports import selectors, services
    from automation.reports.buckets import EDGES
    from helpdesk.tenancy.context import tenant_context
    from helpdesk.tenancy.models import Tenant

    tenant = Tenant.objects.get(slug=context.tenant_slug)
    with tenant_context(tenant.id):
        zone = selectors.tenant_zone()
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT (created_at AT TIME ZONE %s)::date AS day, count(*)
                FROM tickets_ticket WHERE tenant_id = %s AND created_at > now() - interval '60 days'
                GROUP BY 1 ORDER BY 2 DESC LIMIT 1
                """,
                [zone.key, tenant.id],
            )
            busiest = cursor.fetchone()
            cursor.execute(
                "SELECT count(*), min(created_at), max(created_at) FROM tickets_ticket"
                " WHERE tenant_id = %s",
                [tenant.id],
            )
            total, first, last = cursor.fetchone()
    day, day_tickets = busiest
    load_before = _load()
    timings = []
    for _ in range(RECOMPUTES):
        with tenant_context(tenant.id):
            began = time.perf_counter()
            rows = services.recompute_days(days=[day])
            timings.append((time.perf_counter() - began) * 1000)
    with tenant_context(tenant.id):
        zone = selectors.tenant_zone()
        lo, hi = selectors.day_bounds(day, day, zone)
        params = {
            "tenant": tenant.id,
            "lo": lo,
            "hi": hi,
            "zone": zone.key,
            "edges": list(EDGES),
            "days": [day],
        }
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (FORMAT TEXT) " + selectors._GROUPED_SQL, params)
            plan = [row[0] for row in cursor.fetchall()]
    scans = sorted(
        {
            line.strip()
            for line in plan
            if "Seq Scan" in line
            and any(table in line for table in ("tickets_ticket ", "tickets_message "))
        }
    )
    without = _facts_without_indexes(context, params)
    month_start = (day.replace(day=1) - datetime.timedelta(days=1)).replace(day=1)
    month_end = day.replace(day=1) - datetime.timedelta(days=1)
    month_load = _load()
    with tenant_context(tenant.id):
        began = time.perf_counter()
        month_rows = services.rebuild(start=month_start, end=month_end)
        month_seconds = time.perf_counter() - began
    return {
        "tenant_tickets": total,
        "first_ticket": first.isoformat() if first else None,
        "last_ticket": last.isoformat() if last else None,
        "day": day.isoformat(),
        "day_tickets": day_tickets,
        "day_rollup_rows": rows,
        "recompute_day": {**_ms(timings), "runs": len(timings), "load_before": load_before},
        "facts_query_without_report_indexes": without,
        "sequential_scans": scans,
        "month": f"{month_start.isoformat()} to {month_end.isoformat()}",
        "month_rebuild_seconds": round(month_seconds, 1),
        "month_rollup_rows": month_rows,
        "month_load_before": month_load,
    }


def _facts_without_indexes(context: Context, params: dict[str, Any]) -> dict[str, Any]:
    """The facts query of one day with the report indexes dropped, in a transaction rolled
    back (as the admin: dropping needs the owner; no row-level security, the tenant is in
    the query anyway)."""
    from automation.reports import selectors
    from bench.run import DATABASE_NAME

    with context.admin_connection(DATABASE_NAME) as admin:
        admin.autocommit = False
        timings: dict[str, list[float]] = {"with": [], "without": []}
        try:
            for label in ("with", "without"):
                if label == "without":
                    for index in REPORT_INDEXES:
                        admin.execute(f'DROP INDEX IF EXISTS "{index}"')
                for _ in range(3):
                    began = time.perf_counter()
                    admin.execute(selectors._GROUPED_SQL, params).fetchall()
                    timings[label].append((time.perf_counter() - began) * 1000)
        finally:
            admin.rollback()
    return {
        "with_ms_median": round(statistics.median(timings["with"]), 1),
        "without_ms_median": round(statistics.median(timings["without"]), 1),
        "load": _load(),
    }


def measure_year_read(context: Context) -> dict[str, Any]:
    """Part 2: a year's report from rollup rows of the size a 1M-ticket tenant makes."""
    from django.db import transaction

    from automation.models import ReportRollup
    from automation.reports import selectors, services
    from automation.reports.buckets import EDGES
    from helpdesk.ops import services as ops_services
    from helpdesk.tenancy.context import tenant_context
    from helpdesk.tenancy.models import Tenant

    tenant = Tenant.objects.filter(slug="bench-reports").first()
    if tenant is None:
        tenant = ops_services.create_tenant(
            slug="bench-reports",
            name="Bench reports",
            admin_email="admin@bench-reports.test",
            admin_password=secrets.token_urlsafe(16),
            admin_name="Admin",
        ).tenant
    rng = random.Random(5)
    end = datetime.date(2026, 11, 30)
    start = end - datetime.timedelta(days=DAYS - 1)
    assert len(EDGES) >= 40

    def hist(total: int) -> list[int]:
        counts = [0] * 40
        for _ in range(min(total, 200)):
            counts[min(39, int(rng.expovariate(1 / 12)))] += 1
        scale = total / max(1, sum(counts))
        return [round(c * scale) for c in counts]

    loaded = time.perf_counter()
    rows = []
    with tenant_context(tenant.id), transaction.atomic():
        ReportRollup.objects.all().delete()  # the benchmark's own tenant
        for n in range(DAYS):
            day = start + datetime.timedelta(days=n)
            keys = [("all", "", 1)] + [
                (dimension, str(uuid.UUID(int=k + 1000 * i)), count)
                for i, (dimension, count) in enumerate(KEYS.items())
                for k in (
                    rng.sample(range(count), COMPANIES_PER_DAY)
                    if dimension == "company"
                    else range(count)
                )
            ]
            for dimension, key, count in keys:
                created = round(PER_DAY / count)
                rows.append(
                    ReportRollup(
                        tenant_id=tenant.id,
                        day=day,
                        dimension=dimension,
                        key=key,
                        created=created,
                        solved=created,
                        solves=created,
                        reopened=created // 20,
                        replies=created * 2,
                        first_response_count=created,
                        first_response_minutes=created * 14,
                        first_response_hist=hist(created),
                        first_response_business_hist=hist(created),
                        resolution_count=created,
                        resolution_minutes=created * 600,
                        resolution_hist=hist(created),
                        resolution_business_hist=hist(created),
                        created_hours=[created // 24] * 24,
                        sla_met={"first_response": created * 9 // 10, "resolution": created // 2},
                        sla_missed={"first_response": created // 10, "resolution": created // 2},
                        csat_good=created // 10,
                        csat_bad=created // 100,
                    )
                )
        services._insert(rows)  # the services' own fast path
        services.sum_months(
            tenant.id,
            {
                (start.replace(day=1) + datetime.timedelta(days=31 * n)).replace(day=1)
                for n in range(13)
            },
        )
        services.sum_totals(tenant.id, since=start.replace(day=1))
    from bench.run import DATABASE_NAME

    with context.admin_connection(DATABASE_NAME) as admin:  # as autovacuum would, later
        admin.execute("ANALYZE automation_reportrollup")
    loaded_seconds = time.perf_counter() - loaded
    load_before = _load()
    timings = []
    with tenant_context(tenant.id):
        for n in range(READS + 5):
            began = time.perf_counter()
            payload = selectors.report_payload(selectors.read_report(start, end))
            if n >= 5:
                timings.append((time.perf_counter() - began) * 1000)
        compared = _compare_designs(tenant.id, start, end)
    return {
        "rollup_rows": len(rows),
        "load_seconds": round(loaded_seconds, 1),
        "tickets_in_year": payload["tickets_created"],
        "year_report": {**_ms(timings), "runs": len(timings), "load_before": load_before},
        "grouped_queries": compared,
        "target_ms": TARGET_MS,
    }


# The design before running totals (kept here to compare in the same run): a year's whole
# months summed from their twelve month rows per breakdown value.
_OLD_RANGE = """
    r.tenant_id = %(tenant)s AND r.span = 'month' AND r.day >= %(start)s AND r.day <= %(end)s
"""
_OLD_COUNTS = f"""
    SELECT dimension, key, sum(created), sum(solved), sum(reopened), sum(replies),
           sum(csat_good), sum(csat_bad), sum(csat_okay), sum(solves)
    FROM automation_reportrollup r WHERE {_OLD_RANGE} GROUP BY dimension, key
"""  # noqa: S608 (module constants)


def _compare_designs(tenant_id: Any, start: datetime.date, end: datetime.date) -> dict[str, Any]:
    """The year's three grouped statements (counts, histograms, SLA) as read_report runs
    them now (two running totals per breakdown value) and as the month rows were read
    before, alternately, READS runs each, for all breakdown values."""
    from django.db import connection

    from automation.reports import selectors

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT max(day) FROM automation_reportrollup"
            " WHERE tenant_id = %s AND span = 'total' AND day < %s",
            [tenant_id, start],
        )
        fetched = cursor.fetchone()
    new_params = {
        "tenant": tenant_id,
        "start": start,
        "end": end,
        "month_first": start,
        "month_end": end,
        "agent": None,
        "total_hi": end.replace(day=1),
        "total_lo": fetched[0] if fetched else None,
        "kept_dimensions": None,
        "kept_keys": None,
    }
    sign = selectors._SIGN
    new = [
        f"SELECT dimension, key, sum({sign} * created) FROM automation_reportrollup r"  # noqa: S608
        f" WHERE {selectors._RANGE} GROUP BY 1, 2"
        f" HAVING {selectors._COUNTED.format(sign=sign)}",
        selectors._HIST_SQL.format(range=selectors._RANGE + selectors._KEPT, sign=sign),
        selectors._SLA_SQL.format(range=selectors._RANGE + selectors._KEPT, sign=sign),
    ]
    old = [
        _OLD_COUNTS,
        selectors._HIST_SQL.format(range=_OLD_RANGE, sign="1"),
        selectors._SLA_SQL.format(range=_OLD_RANGE, sign="1"),
    ]
    old_params = {"tenant": tenant_id, "start": start, "end": end}
    timings: dict[str, list[float]] = {"new": [], "old": []}
    load_before = _load()
    with connection.cursor() as cursor:
        for n in range(READS + 2):
            for label, statements, params in (
                ("new", new, new_params),
                ("old", old, old_params),
            ):
                began = time.perf_counter()
                for statement in statements:
                    cursor.execute(statement, params)
                    cursor.fetchall()
                if n >= 2:
                    timings[label].append((time.perf_counter() - began) * 1000)
    new_ms, old_ms = statistics.median(timings["new"]), statistics.median(timings["old"])
    return {
        "running_totals_ms_median": round(new_ms, 1),
        "month_rows_ms_median": round(old_ms, 1),
        "ratio": round(old_ms / new_ms, 1) if new_ms else None,
        "load_before": load_before,
    }


def run(context: Context, options: dict[str, Any]) -> dict[str, Any]:
    """Both parts; `options` may set tickets (the big tenant's size) and reload."""
    from bench import workspace

    tickets = int(options.get("tickets") or workspace.TICKETS)
    database = workspace.prepare_database(context, tickets, reload=bool(options.get("reload")))
    return {
        "parameters": {"tickets": tickets, "recomputes": RECOMPUTES, "reads": READS},
        "database": {
            key: database.get(key)
            for key in ("from_cache", "template", "load_seconds", "copy_seconds")
        },
        "upkeep": measure_upkeep(context),
        "year": measure_year_read(context),
        "load_after": _load(),
    }


def markdown(result: dict[str, Any]) -> str:
    """The README section for one result."""
    upkeep, year = result["upkeep"], result["year"]
    day, without = upkeep["recompute_day"], upkeep["facts_query_without_report_indexes"]
    read = year["year_report"]
    verdict = "met" if read["median_ms"] < year["target_ms"] else "**missed**"
    scans = ", ".join(upkeep["sequential_scans"]) or "none"
    return "\n".join(
        [
            "### Reports",
            "",
            f"Keeping the rollups, on the workspace data's big tenant"
            f" ({upkeep['tenant_tickets']:,} tickets from {upkeep['first_ticket'][:10]} to"
            f" {upkeep['last_ticket'][:10]}):",
            "",
            "| measurement | median | p90 | max | load before |",
            "| --- | --- | --- | --- | --- |",
            f"| recompute its busiest recent day, {upkeep['day']} ({upkeep['day_tickets']:,}"
            f" tickets created, {upkeep['day_rollup_rows']} rollup rows), {day['runs']} runs"
            f" | **{day['median_ms']} ms** | {day['p90_ms']} ms | {day['max_ms']} ms"
            f" | {day['load_before']} |",
            f"| that day's facts query alone, with the report indexes / without them"
            f" | {without['with_ms_median']} ms / {without['without_ms_median']} ms | | |"
            f" {without['load']} |",
            f"| rebuild one month ({upkeep['month']}, {upkeep['month_rollup_rows']:,} rows)"
            f" | {upkeep['month_rebuild_seconds']} s | | | {upkeep['month_load_before']} |",
            "",
            f"Sequential scans of tickets or messages in the facts query's plan: {scans}.",
            "",
            f"Reading a year: {year['rollup_rows']:,} day rows (and their month rows) for"
            f" {year['tickets_in_year']:,} tickets; `read_report` + `report_payload` for the"
            f" whole year, {read['runs']} runs: median **{read['median_ms']} ms**, p90"
            f" {read['p90_ms']} ms, max {read['max_ms']} ms (load before {read['load_before']});"
            f" target under {year['target_ms']} ms: {verdict}.",
            *(
                [
                    "",
                    f"The year's three grouped statements (counts, histograms, SLA; every"
                    f" breakdown value), {read['runs']} runs each, alternating: from two running"
                    f" totals per value **{compared['running_totals_ms_median']} ms**, from"
                    f" twelve month rows per value as before {compared['month_rows_ms_median']}"
                    f" ms (median; {compared['ratio']} times; load before"
                    f" {compared['load_before']}).",
                ]
                if (compared := year.get("grouped_queries"))
                else []
            ),
        ]
    )
