"""The reports page (/reports/) and its CSV (/reports/export.csv): the same figures as
the summary API, read from the rollups. The numbers link to the inbox filtered the same
way (tickets.inbox's query-string filters): created, solved and reopened by their dates
in the tenant's zone, each breakdown's value ("none" and "untagged" included), SLA targets
met or missed per metric, the backlog at the end of a day (unsolved at that moment), and
each heat-map cell (weekday and hour in the tenant's zone).

Admins see the whole team, and one agent's figures with `?agent=<id>`; agents see their
own figures only (selectors.report_agent)."""

from __future__ import annotations

import csv
import datetime
from typing import Any
from urllib.parse import urlencode

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from automation.errors import InvalidReportRange, ReportAgentNotFound, ReportOfOthers
from automation.reports import charts, selectors, services
from automation.reports.buckets import EDGES, format_minutes
from helpdesk.core.errors import DomainError
from helpdesk.tenancy import permissions
from helpdesk.tenancy.decorators import member_required
from helpdesk.tenancy.http import MemberHttpRequest
from tickets.models import TicketStatus

# The inbox's query-string filter for each breakdown.
INBOX_FILTER = {
    "channel": "channel",
    "department": "department",
    "agent": "assignee",
    "type": "type",
    "priority": "priority",
    "mailbox": "mailbox",
    "tag": "tag",
    "company": "company",
}
# Breakdowns whose "none" the inbox can filter too (assignee=none, type=none, …).
FILTERS_NONE = frozenset({"agent", "type", "mailbox", "company"})
# The inbox's date filters that select the tickets behind a count.
MEASURE_FILTERS = {
    "created": ("created_after", "created_before"),
    "solved": ("solved_after", "solved_before"),
    "reopened": ("reopened_after", "reopened_before"),
    "sla": ("sla_after", "sla_before"),
}
DIMENSION_TITLES = {
    "channel": "Channel",
    "department": "Department",
    "agent": "Agent",
    "type": "Type",
    "priority": "Priority",
    "mailbox": "Mailbox",
    "tag": "Tag",
    "company": "Company",
}
# A breakdown on the page shows its largest rows; the CSV and the API have them all.
PAGE_ROWS = 25
DEFINITIONS = [
    ("Created", "Tickets created on the day (spam and merged tickets never count)."),
    ("Solved", "Tickets whose latest solve fell on the day."),
    ("Reopened", "Changes from solved or closed back to an unsolved status."),
    (
        "Backlog",
        "Unsolved tickets at the end of the day: today's unsolved tickets, counted back "
        "through each later day's new, reopened and solved tickets.",
    ),
    (
        "First response",
        "From creation to the first public reply written by an agent (automatic mails do "
        "not count); counted on the day of that reply.",
    ),
    ("Resolution", "From creation to the solve; counted on the day solved."),
    (
        "Calendar and business time",
        "Calendar time counts every hour. Business time counts only the working hours of "
        "the business hours the ticket's SLA policy uses (the help desk's only business "
        "hours when its policy has none or it has no policy; every hour when there is "
        "no schedule at all), holidays left out.",
    ),
    ("Median, 90th percentile", "Half (nine tenths) of the times are at most this long."),
    ("Replies per ticket", "Agents' public replies on the tickets solved, per ticket solved."),
    (
        "SLA met",
        "Targets (first response, next response, resolution) completed in time, of those "
        "completed or missed; counted on the day of completion or miss.",
    ),
    (
        "Satisfaction",
        "Good answers of all answers to the survey: good ÷ (good + okay + bad). Okay is "
        "neither good nor bad, and it is not good.",
    ),
    (
        "Deflections",
        "Help-center visitors who opened an article the request form suggested and did "
        "not send their request after all.",
    ),
    (
        "Open now",
        "An agent's unsolved tickets at this moment, whatever the dates (their load).",
    ),
    (
        "Breakdowns",
        "By the ticket's current channel, department, agent (assignee), type, priority, "
        "mailbox, tags (a ticket counts under each of its tags) and its customer's company.",
    ),
    (
        "Heat map",
        "Tickets created in each hour of each weekday, in the help desk's time zone.",
    ),
    (
        "Links",
        "Every number opens the inbox with the same filter. Reopens and SLA targets are "
        "counted as they happen, so a ticket reopened twice (or with two next-response "
        "targets missed) counts twice and is listed once.",
    ),
]


def _inbox_url(
    report: selectors.Report,
    zone: Any,
    dimension: str = "",
    key: str = "",
    *,
    measure: str | None = "created",
    extra: dict[str, str] | None = None,
) -> str:
    """The inbox listing the tickets behind a count: created (or last solved, reopened, an
    SLA target's outcome: `measure`) in the report's days, of the breakdown's value and
    the report's agent; `extra` filters more (None `measure`: no dates)."""
    params = {"status": ",".join(TicketStatus.values)}
    if measure is not None:
        lo, hi = selectors.day_bounds(report.start, report.end, zone)
        after, before = MEASURE_FILTERS[measure]
        params.update({after: lo.isoformat(), before: hi.isoformat()})
    if report.agent_id:
        params["assignee"] = report.agent_id
    if dimension == "tag" and not key:
        params["untagged"] = "1"  # a tag may be called "none"
    elif dimension:
        params[INBOX_FILTER[dimension]] = key or "none"
    params.update(extra or {})
    return f"{reverse('tickets:inbox')}?{urlencode(params)}"


def _backlog_url(report: selectors.Report, zone: Any, day: datetime.date) -> str:
    """The inbox listing the tickets unsolved at the end of `day` (the backlog's count)."""
    _, end_of_day = selectors.day_bounds(day, day, zone)
    return _inbox_url(report, zone, measure=None, extra={"open_at": end_of_day.isoformat()})


def _scope(request: MemberHttpRequest) -> tuple[datetime.date, datetime.date, str | None]:
    """The range and whose figures. Raises InvalidReportRange, ReportOfOthers,
    ReportAgentNotFound."""
    start, end = selectors.parse_range(request.GET)
    return start, end, selectors.report_agent(request.membership, request.GET.get("agent", ""))


@member_required
def reports(request: MemberHttpRequest) -> HttpResponse:
    try:
        start, end, agent_id = _scope(request)
    except (InvalidReportRange, ReportOfOthers, ReportAgentNotFound) as error:
        today = datetime.datetime.now(selectors.tenant_zone()).date()
        return render(
            request,
            "automation/reports.html",
            {"error": str(error), "start": today, "end": today},
            status=error.status,
        )
    report = selectors.read_report(start, end, agent_id=agent_id)
    zone = selectors.tenant_zone()
    payload = selectors.report_payload(report)
    breakdowns = []
    for dimension in selectors.BREAKDOWNS:
        if agent_id and dimension != selectors.BY_AGENT:
            continue
        rows = []
        all_rows = payload[f"by_{dimension}"]
        for row in all_rows[:PAGE_ROWS]:
            linkable = dimension in INBOX_FILTER and (
                row["key"] or dimension in FILTERS_NONE or dimension == "tag"
            )
            rows.append(
                {
                    **row,
                    "url": _inbox_url(report, zone, dimension, row["key"]) if linkable else "",
                    "solved_url": (
                        _inbox_url(report, zone, dimension, row["key"], measure="solved")
                        if linkable
                        else ""
                    ),
                    "first_response": format_minutes(row["first_response_median_minutes"]),
                    "first_response_business": format_minutes(
                        row["first_response_business_median_minutes"]
                    ),
                    "resolution": format_minutes(row["resolution_median_minutes"]),
                    "resolution_business": format_minutes(
                        row["resolution_business_median_minutes"]
                    ),
                    "agent_url": (
                        f"?{urlencode({'from': start, 'to': end, 'agent': row['key']})}"
                        if dimension == selectors.BY_AGENT and row["key"] and not agent_id
                        else ""
                    ),
                }
            )
        breakdowns.append(
            {
                "key": dimension,
                "title": DIMENSION_TITLES[dimension],
                "is_agents": dimension == selectors.BY_AGENT,
                "rows": rows,
                "more": max(0, len(all_rows) - PAGE_ROWS) + report.more.get(dimension, 0),
            }
        )
    total = payload
    backlog_day, backlog_now = next(
        ((day, value) for day, value in reversed(report.backlog) if value is not None),
        (None, None),
    )
    agent_label = ""
    if agent_id:
        agent_label = next(
            (row["label"] for row in payload["by_agent"] if row["key"] == agent_id), "this agent"
        )
    may_see_team = permissions.can(request.membership, permissions.Capability.VIEW_TEAM_REPORTS)
    return render(
        request,
        "automation/reports.html",
        {
            "start": start,
            "end": end,
            "agent_id": agent_id or "",
            "agent_label": agent_label,
            "may_see_team": may_see_team,
            "total": total,
            "total_url": _inbox_url(report, zone),
            "solved_url": _inbox_url(report, zone, measure="solved"),
            "reopened_url": _inbox_url(report, zone, measure="reopened"),
            "backlog_end": backlog_now,
            "backlog_url": _backlog_url(report, zone, backlog_day) if backlog_day else "",
            "first_response": format_minutes(total["first_response_median_minutes"]),
            "first_response_p90": format_minutes(total["first_response_p90_minutes"]),
            "first_response_business": format_minutes(
                total["first_response_business_median_minutes"]
            ),
            "first_response_business_p90": format_minutes(
                total["first_response_business_p90_minutes"]
            ),
            "resolution": format_minutes(total["resolution_median_minutes"]),
            "resolution_p90": format_minutes(total["resolution_p90_minutes"]),
            "resolution_business": format_minutes(total["resolution_business_median_minutes"]),
            "resolution_business_p90": format_minutes(total["resolution_business_p90_minutes"]),
            "sla_rows": [
                {
                    "metric": metric.replace("_", " ").capitalize(),
                    "met": counts["met"],
                    "missed": counts["missed"],
                    "percent": round(100 * counts["met"] / (counts["met"] + counts["missed"]), 1)
                    if counts["met"] + counts["missed"]
                    else None,
                    "met_url": _inbox_url(
                        report, zone, measure="sla", extra={"sla_result": f"{metric}:met"}
                    ),
                    "missed_url": _inbox_url(
                        report, zone, measure="sla", extra={"sla_result": f"{metric}:missed"}
                    ),
                }
                for metric, counts in total["sla_by_metric"].items()
            ],
            "breakdowns": breakdowns,
            "chart": charts.created_vs_solved(report.daily),
            "backlog_chart": charts.line(
                report.backlog,
                title=f"Unsolved tickets at the end of each day, {start} to {end}",
                element_id="backlog-title",
            ),
            "weekly_first_response_chart": charts.bars(
                [
                    (week.start.strftime("%d %b"), week.first_response_median)
                    for week in report.weekly
                ],
                title="First response median per week (calendar time)",
                element_id="weekly-first-response-title",
                value_label=format_minutes,
            ),
            "weekly_csat_chart": charts.bars(
                [(week.start.strftime("%d %b"), week.csat_percent) for week in report.weekly],
                title="Satisfaction per week (percentage good)",
                element_id="weekly-csat-title",
                value_label=lambda value: f"{value:g}%",
                peak=100,
            ),
            "distribution_chart": charts.bars(
                _distribution(report.total.first_response_hist),
                title="First responses by how long they took (calendar time)",
                element_id="distribution-title",
            ),
            "heat_map": charts.heat_map(
                report.heat_map,
                title="Tickets created by weekday and hour",
                element_id="heat-map-title",
                link=lambda weekday, hour: _inbox_url(
                    report,
                    zone,
                    extra={"created_weekday": str(weekday), "created_hour": str(hour)},
                ),
            ),
            "heat_rows": [
                (charts.DAYS_SHORT[day], row, sum(row)) for day, row in enumerate(report.heat_map)
            ],
            "weekly": [
                {
                    "start": week.start,
                    "created": week.created,
                    "solved": week.solved,
                    "first_response": format_minutes(week.first_response_median),
                    "csat_percent": week.csat_percent,
                    "backlog": backlog,
                    "backlog_url": _backlog_url(report, zone, day) if day else "",
                }
                for week, (day, backlog) in zip(report.weekly, _week_ends(report), strict=True)
            ],
            "definitions": DEFINITIONS,
            "export_query": urlencode(
                {"from": start.isoformat(), "to": end.isoformat()}
                | ({"agent": agent_id} if agent_id and may_see_team else {})
            ),
            "weekly_mail": (
                services.wants_weekly_report(request.membership) if may_see_team else None
            ),
        },
    )


def _week_ends(report: selectors.Report) -> list[tuple[datetime.date | None, int | None]]:
    """Each week's last day with a backlog (in the range, not after today) and that
    backlog; (None, None) for a week wholly to come."""
    backlog = dict(report.backlog)
    ends: list[tuple[datetime.date | None, int | None]] = []
    for week in report.weekly:
        day = min(report.end, week.start + datetime.timedelta(days=6 - week.start.weekday()))
        while day >= week.start and backlog.get(day) is None:
            day -= datetime.timedelta(days=1)
        ends.append((day, backlog[day]) if day >= week.start else (None, None))
    return ends


# The distribution's bars: coarse ranges of minutes, each the sum of its buckets.
DISTRIBUTION = (
    ("<5m", 0),
    ("5-15m", 5),
    ("15-30m", 15),
    ("30-60m", 30),
    ("1-2h", 60),
    ("2-4h", 120),
    ("4-8h", 240),
    ("8-24h", 480),
    ("1-3d", 1440),
    ("3d+", 4320),
)


def _distribution(hist: list[int]) -> list[tuple[str, float | None]]:
    counts = [0] * len(DISTRIBUTION)
    for index, count in enumerate(hist):
        edge = EDGES[index]
        slot = max(n for n, (_, lower) in enumerate(DISTRIBUTION) if edge >= lower)
        counts[slot] += count
    if not any(counts):
        return []
    return [(label, float(count)) for (label, _), count in zip(DISTRIBUTION, counts, strict=True)]


@require_POST
@member_required(may=permissions.Capability.VIEW_TEAM_REPORTS)
def reports_weekly_mail(request: MemberHttpRequest) -> HttpResponse:
    """Turn the weekly summary mail on or off for the admin asking."""
    services.set_weekly_report(member=request.membership, wanted=request.POST.get("wanted") == "1")
    return redirect(f"{reverse('automation:reports')}?{request.GET.urlencode()}")


CSV_COLUMNS = [
    "tickets_created",
    "tickets_solved",
    "tickets_reopened",
    "first_response_median_minutes",
    "first_response_p90_minutes",
    "first_response_business_median_minutes",
    "first_response_business_p90_minutes",
    "resolution_median_minutes",
    "resolution_p90_minutes",
    "resolution_business_median_minutes",
    "resolution_business_p90_minutes",
    "replies_per_ticket",
    "sla_met",
    "sla_missed",
    "sla_met_percent",
    "csat_good",
    "csat_okay",
    "csat_bad",
    "csat_percent",
]


CSV_TABLES = ("summary", "daily", "weekly", "heat_map")


@member_required
def reports_export(request: MemberHttpRequest) -> HttpResponse:
    """One table of the page as CSV (`table`): the summary with a row per breakdown value
    (the default), the days with the backlog, the weeks, or the heat map."""
    table = request.GET.get("table", "summary")
    if table not in CSV_TABLES:
        return HttpResponse(
            f"table is one of {', '.join(CSV_TABLES)}.",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    try:
        start, end, agent_id = _scope(request)
    except DomainError as error:
        return HttpResponse(
            str(error), status=error.status, content_type="text/plain; charset=utf-8"
        )
    report = selectors.read_report(start, end, agent_id=agent_id, top=None)
    payload = selectors.report_payload(report)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    suffix = "" if table == "summary" else f"-{table}"
    response["Content-Disposition"] = (
        f'attachment; filename="report-{start.isoformat()}-{end.isoformat()}{suffix}.csv"'
    )
    writer = csv.writer(response)
    if table == "daily":
        writer.writerow(["day", "created", "solved", "backlog"])
        for day in payload["daily"]:
            writer.writerow([day["day"], day["created"], day["solved"], _cell(day["backlog"])])
    elif table == "weekly":
        writer.writerow(
            ["week", "created", "solved", "first_response_median_minutes", "csat_percent"]
        )
        for week in payload["weekly"]:
            writer.writerow(
                [
                    week["week"],
                    week["created"],
                    week["solved"],
                    _cell(week["first_response_median_minutes"]),
                    _cell(week["csat_percent"]),
                ]
            )
    elif table == "heat_map":
        writer.writerow(["weekday", *(f"{hour:02d}" for hour in range(24))])
        for day, row in enumerate(payload["created_by_weekday_hour"]):
            writer.writerow([charts.DAYS_SHORT[day], *row])
    else:
        _write_summary(writer, payload, agent_id)
    return response


def _write_summary(writer: Any, payload: dict[str, Any], agent_id: str | None) -> None:
    writer.writerow(
        [
            "from",
            "to",
            "dimension",
            "key",
            "label",
            *CSV_COLUMNS,
            "open_now",
            "deflections",
            "deflection_rate_percent",
        ]
    )
    writer.writerow(
        [payload["from"], payload["to"], "all", "", "Own tickets" if agent_id else "All tickets"]
        + [_cell(payload[column]) for column in CSV_COLUMNS]
        + ["", _cell(payload["deflections"]), _cell(payload["deflection_rate_percent"])]
    )
    for dimension in selectors.BREAKDOWNS:
        for row in payload[f"by_{dimension}"]:
            writer.writerow(
                [payload["from"], payload["to"], dimension, _safe(row["key"]), _safe(row["label"])]
                + [_cell(row[column]) for column in CSV_COLUMNS]
                + [_cell(row.get("open_now")), ""]
            )


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _safe(value: Any) -> str:
    """No formula injection when a spreadsheet opens the file: a cell of people's text (a
    tag is a breakdown's key too) starting as a formula would (OWASP's list) is quoted."""
    text = _cell(value)
    return f"'{text}" if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text
