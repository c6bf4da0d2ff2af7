"""The reports page (/reports/) and its CSV (/reports/export.csv): the same figures as
the summary API, read from the rollups. Every "created" number links to the inbox filtered
the same way (creation dates in the tenant's zone, and the breakdown's value)."""

from __future__ import annotations

import csv
import datetime
from typing import Any
from urllib.parse import urlencode

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse

from automation.errors import InvalidReportRange
from automation.reports import charts, selectors
from helpdesk.tenancy.decorators import member_required
from helpdesk.tenancy.http import MemberHttpRequest
from tickets.models import TicketStatus

# The inbox's query-string filter for each breakdown (the mailbox has none).
INBOX_FILTER = {
    "channel": "channel",
    "department": "department",
    "agent": "assignee",
    "type": "type",
    "priority": "priority",
}
# Breakdowns whose "none" the inbox can filter too (assignee=none).
FILTERS_NONE = frozenset({"agent"})
DIMENSION_TITLES = {
    "channel": "Channel",
    "department": "Department",
    "agent": "Agent",
    "type": "Type",
    "priority": "Priority",
    "mailbox": "Mailbox",
}
DEFINITIONS = [
    ("Created", "Tickets created on the day (spam and merged tickets never count)."),
    ("Solved", "Tickets whose latest solve fell on the day."),
    ("Reopened", "Changes from solved or closed back to an unsolved status."),
    (
        "First response",
        "From creation to the first public reply written by an agent (automatic mails do "
        "not count), calendar time; counted on the day of that reply.",
    ),
    ("Resolution", "From creation to the solve, calendar time; counted on the day solved."),
    ("Median, 90th percentile", "Half (nine tenths) of the times are at most this long."),
    ("Replies per ticket", "Agents' public replies on the tickets solved, per ticket solved."),
    (
        "SLA met",
        "Targets (first response, next response, resolution) completed in time, of those "
        "completed or missed; counted on the day of completion or miss.",
    ),
    ("Satisfaction", "Good answers of all answers to the survey (good ÷ (good + bad))."),
]


def _inbox_url(report: selectors.Report, zone: Any, dimension: str = "", key: str = "") -> str:
    lo, hi = selectors.day_bounds(report.start, report.end, zone)
    params = {
        "status": ",".join(TicketStatus.values),
        "created_after": lo.isoformat(),
        "created_before": hi.isoformat(),
    }
    if dimension:
        name = INBOX_FILTER[dimension]
        params[name] = key or "none"
    return f"{reverse('tickets:inbox')}?{urlencode(params)}"


def _minutes(value: int | None) -> str:
    if value is None:
        return "—"
    if value < 60:
        return f"{value} min"
    if value < 1440:
        hours, minutes = divmod(value, 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, rest = divmod(value, 1440)
    return f"{days} d {rest // 60} h" if rest // 60 else f"{days} d"


@member_required
def reports(request: MemberHttpRequest) -> HttpResponse:
    try:
        start, end = selectors.parse_range(request.GET)
    except InvalidReportRange as error:
        today = datetime.datetime.now(selectors.tenant_zone()).date()
        return render(
            request,
            "automation/reports.html",
            {"error": str(error), "start": today, "end": today},
            status=400,
        )
    report = selectors.read_report(start, end)
    zone = selectors.tenant_zone()
    payload = selectors.report_payload(report)
    breakdowns = []
    for dimension in (*selectors.BREAKDOWNS, "priority", "mailbox"):
        rows = []
        for row in payload[f"by_{dimension}"]:
            linkable = dimension in INBOX_FILTER and (row["key"] or dimension in FILTERS_NONE)
            rows.append(
                {
                    **row,
                    "url": _inbox_url(report, zone, dimension, row["key"]) if linkable else "",
                    "first_response": _minutes(row["first_response_median_minutes"]),
                    "resolution": _minutes(row["resolution_median_minutes"]),
                }
            )
        breakdowns.append({"key": dimension, "title": DIMENSION_TITLES[dimension], "rows": rows})
    total = payload
    return render(
        request,
        "automation/reports.html",
        {
            "start": start,
            "end": end,
            "total": total,
            "total_url": _inbox_url(report, zone),
            "first_response": _minutes(total["first_response_median_minutes"]),
            "first_response_p90": _minutes(total["first_response_p90_minutes"]),
            "resolution": _minutes(total["resolution_median_minutes"]),
            "resolution_p90": _minutes(total["resolution_p90_minutes"]),
            "breakdowns": breakdowns,
            "chart": charts.created_vs_solved(report.daily),
            "definitions": DEFINITIONS,
            "export_query": urlencode({"from": start.isoformat(), "to": end.isoformat()}),
        },
    )


CSV_COLUMNS = [
    "tickets_created",
    "tickets_solved",
    "tickets_reopened",
    "first_response_median_minutes",
    "first_response_p90_minutes",
    "resolution_median_minutes",
    "resolution_p90_minutes",
    "replies_per_ticket",
    "sla_met",
    "sla_missed",
    "sla_met_percent",
    "csat_good",
    "csat_bad",
    "csat_percent",
]


@member_required
def reports_export(request: MemberHttpRequest) -> HttpResponse:
    """The summary as CSV: one row for the whole range, then one per breakdown value."""
    try:
        start, end = selectors.parse_range(request.GET)
    except InvalidReportRange as error:
        return HttpResponse(str(error), status=400, content_type="text/plain; charset=utf-8")
    payload = selectors.report_payload(selectors.read_report(start, end))
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="report-{start.isoformat()}-{end.isoformat()}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(["from", "to", "dimension", "key", "label", *CSV_COLUMNS])
    writer.writerow(
        [payload["from"], payload["to"], "all", "", "All tickets"]
        + [_cell(payload[column]) for column in CSV_COLUMNS]
    )
    for dimension in (*selectors.BREAKDOWNS, "priority", "mailbox"):
        for row in payload[f"by_{dimension}"]:
            writer.writerow(
                [payload["from"], payload["to"], dimension, row["key"], _safe(row["label"])]
                + [_cell(row[column]) for column in CSV_COLUMNS]
            )
    return response


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _safe(text: str) -> str:
    """No formula injection when a spreadsheet opens the file."""
    return f"'{text}" if text[:1] in {"=", "+", "-", "@"} else text
