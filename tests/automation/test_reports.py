"""Reports: the rollups against a direct computation from the tickets, the summary API,
the CSV, the page and its drill-down links, tenants kept apart, bad dates refused."""

from __future__ import annotations

import csv
import datetime
import io
import random
import re
from collections import Counter
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks

from automation.models import ReportRollup, SlaTimer
from automation.reports import buckets, selectors, services
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Tenant
from tests.conftest import TenantSetup
from tests.factories.tickets import make_ticket
from tickets.models import (
    Company,
    Contact,
    Message,
    MessageKind,
    SatisfactionRating,
    Ticket,
    TicketChannel,
    TicketPriority,
    TicketStatus,
    TicketType,
)
from tickets.satisfaction import services as satisfaction
from tickets.ticket.services.base import set_tags

ZONE = "Europe/Berlin"
START = datetime.date(2026, 3, 1)
DAYS = 10


def _at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=ZoneInfo(ZONE))


def _small_tenant(
    setup: TenantSetup,
    *,
    seed: int = 7,
    count: int = 40,
    start: datetime.date = START,
    days: int = DAYS,
) -> list[Ticket]:
    """Tickets spread over ten days (some across midnight in the tenant's zone), with
    replies, solves, a reopen, SLA targets and survey answers; inside the tenant's context."""
    Tenant.objects.filter(id=setup.tenant.id).update(time_zone=ZONE)
    rng = random.Random(seed)
    tickets = []
    for n in range(count):
        day = start + datetime.timedelta(days=rng.randrange(days))
        created = _at(day, rng.randrange(24), rng.randrange(60))
        ticket = make_ticket(
            subject=f"Ticket {n}",
            channel=rng.choice(TicketChannel.values),
        )
        fields: dict[str, Any] = {
            "created_at": created,
            "priority": rng.choice([TicketPriority.NORMAL, TicketPriority.HIGH]),
            "assignee": setup.admin if n % 3 else None,
        }
        Message.objects.filter(ticket=ticket).update(created_at=created)
        if n % 4 != 3:  # answered
            first = created + datetime.timedelta(minutes=rng.choice([3, 14, 47, 130, 900, 3000]))
            for k in range(1 + n % 3):
                Message.objects.create(
                    ticket=ticket,
                    kind=MessageKind.REPLY,
                    author_member=setup.admin,
                    body_text="Hello",
                    created_at=first + datetime.timedelta(minutes=30 * k),
                )
            Message.objects.create(  # an acknowledgement: not a first response
                ticket=ticket,
                kind=MessageKind.REPLY,
                body_text="We got it",
                is_automatic=True,
                created_at=created,
            )
            if n % 2 == 0:
                solved = first + datetime.timedelta(minutes=rng.choice([60, 200, 1500, 6000]))
                fields.update(status=TicketStatus.SOLVED, solved_at=solved)
                SlaTimer.objects.create(
                    ticket=ticket,
                    metric="resolution",
                    started_at=created,
                    target_minutes=1440,
                    completed_at=solved,
                    breached_at=(
                        created + datetime.timedelta(minutes=1440)
                        if solved - created > datetime.timedelta(minutes=1440)
                        else None
                    ),
                )
                if n % 8 == 0:
                    SatisfactionRating.objects.create(
                        ticket=ticket,
                        contact=ticket.contact,
                        send_after=solved,
                        sent_at=solved,
                        score=("bad", "good", "okay")[(n // 8) % 3],
                        rated_at=solved + datetime.timedelta(hours=2),
                    )
            SlaTimer.objects.create(
                ticket=ticket,
                metric="first_response",
                started_at=created,
                target_minutes=60,
                completed_at=first,
                breached_at=(
                    created + datetime.timedelta(minutes=60)
                    if first - created > datetime.timedelta(minutes=60)
                    else None
                ),
            )
        if n == 5:  # reopened after a solve
            Message.objects.create(
                ticket=ticket,
                kind=MessageKind.EVENT,
                event={"field": "status", "from": "solved", "to": "open"},
                created_at=created + datetime.timedelta(hours=5),
            )
        Ticket.objects.filter(id=ticket.id).update(**fields)
        tickets.append(ticket)
    spam = make_ticket(subject="Spam")  # counts nowhere
    Ticket.objects.filter(id=spam.id).update(is_spam=True, created_at=_at(START, 12))
    return tickets


def _direct(start: datetime.date, end: datetime.date, **match: Any) -> dict[str, Any]:
    """The report's figures straight from the rows, in Python (the definitions of
    automation.reports.selectors), for the tickets matching `match`."""
    zone = ZoneInfo(ZONE)

    def day(moment: datetime.datetime | None) -> datetime.date | None:
        return moment.astimezone(zone).date() if moment else None

    def inside(moment: datetime.datetime | None) -> bool:
        found = day(moment)
        return found is not None and start <= found <= end

    tickets = list(Ticket.objects.filter(is_spam=False, merged_into__isnull=True, **match))
    ids = {ticket.id for ticket in tickets}
    replies = [
        m
        for m in Message.objects.filter(ticket_id__in=ids, kind=MessageKind.REPLY)
        if not m.is_automatic and m.author_member_id
    ]
    first: dict[Any, datetime.datetime] = {}
    count: Counter[Any] = Counter()
    for m in replies:
        count[m.ticket_id] += 1
        if m.ticket_id not in first or m.created_at < first[m.ticket_id]:
            first[m.ticket_id] = m.created_at
    by_id = {t.id: t for t in tickets}
    first_times = [
        (at - by_id[tid].created_at).total_seconds() / 60 for tid, at in first.items() if inside(at)
    ]
    solved = [t for t in tickets if inside(t.solved_at)]
    resolution = [(t.solved_at - t.created_at).total_seconds() / 60 for t in solved if t.solved_at]
    timers = [
        s
        for s in SlaTimer.objects.filter(ticket_id__in=ids)
        if inside(s.completed_at or s.breached_at)
    ]
    met = sum(1 for s in timers if s.breached_at is None)
    ratings = [
        r for r in SatisfactionRating.objects.filter(ticket_id__in=ids) if inside(r.rated_at)
    ]
    good = sum(1 for r in ratings if r.score == "good")
    okay = sum(1 for r in ratings if r.score == "okay")
    reopened = [
        m
        for m in Message.objects.filter(ticket_id__in=ids, kind=MessageKind.EVENT)
        if m.event.get("field") == "status"
        and m.event.get("from") in {"solved", "closed"}
        and inside(m.created_at)
    ]
    return {
        "tickets_created": sum(1 for t in tickets if inside(t.created_at)),
        "tickets_solved": len(solved),
        "tickets_reopened": len(reopened),
        "first_response_median_minutes": buckets.exact_percentile(first_times, 0.5),
        "first_response_p90_minutes": buckets.exact_percentile(first_times, 0.9),
        "resolution_median_minutes": buckets.exact_percentile(resolution, 0.5),
        "resolution_p90_minutes": buckets.exact_percentile(resolution, 0.9),
        "replies_per_ticket": (
            round(sum(count[t.id] for t in solved) / len(solved), 2) if solved else None
        ),
        "sla_met": met,
        "sla_missed": len(timers) - met,
        "csat_good": good,
        "csat_okay": okay,
        "csat_bad": len(ratings) - good - okay,
        # Okay is neither good nor bad, but an answer: it is in the total.
        "csat_percent": round(100 * good / len(ratings), 1) if ratings else None,
    }


def _figures(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        key: payload[key]
        for key in (
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
            "csat_good",
            "csat_okay",
            "csat_bad",
            "csat_percent",
        )
    }


def test_rollups_agree_with_a_direct_computation(tenant: TenantSetup) -> None:
    _small_tenant(tenant)
    services.rebuild(
        start=START - datetime.timedelta(days=1), end=START + datetime.timedelta(days=DAYS + 6)
    )
    for start, end in [
        (START, START + datetime.timedelta(days=DAYS + 5)),
        (START + datetime.timedelta(days=2), START + datetime.timedelta(days=5)),
        (START + datetime.timedelta(days=4), START + datetime.timedelta(days=4)),
        # Whole months are read from month rows, the days around them from day rows.
        (datetime.date(2026, 3, 1), datetime.date(2026, 3, 31)),
        (datetime.date(2026, 2, 20), datetime.date(2026, 4, 10)),
    ]:
        payload = selectors.report_payload(selectors.read_report(start, end))
        assert _figures(payload) == _direct(start, end), (start, end)
        assert payload["tickets_created"] == sum(d["created"] for d in payload["daily"])
        by_channel = {row["key"]: row for row in payload["by_channel"]}
        for channel in TicketChannel.values:
            expected = _direct(start, end, channel=channel)
            if channel in by_channel:
                assert _figures(by_channel[channel]) == expected, channel
            else:
                assert expected["tickets_created"] == expected["tickets_solved"] == 0
        by_agent = {row["key"]: row for row in payload["by_agent"]}
        assert _figures(by_agent[str(tenant.admin.id)]) == _direct(
            start, end, assignee=tenant.admin
        )
        assert _figures(by_agent[""]) == _direct(start, end, assignee__isnull=True)
    whole = selectors.report_payload(
        selectors.read_report(START, START + datetime.timedelta(days=DAYS + 5))
    )
    assert whole["tickets_created"] == 40
    assert whole["tickets_reopened"] == 1
    assert whole["csat_okay"] >= 1  # okay answers are counted, and lower the score


def _agrees(start: datetime.date, end: datetime.date, admin: Any) -> None:
    payload = selectors.report_payload(selectors.read_report(start, end))
    assert _figures(payload) == _direct(start, end), (start, end)
    by_channel = {row["key"]: row for row in payload["by_channel"]}
    for channel in TicketChannel.values:
        expected = _direct(start, end, channel=channel)
        if channel in by_channel:
            assert _figures(by_channel[channel]) == expected, (start, end, channel)
        else:
            assert expected == _direct(datetime.date(1999, 1, 1), datetime.date(1999, 1, 1))
    by_agent = {row["key"]: row for row in payload["by_agent"]}
    assert _figures(by_agent.get(str(admin.id), payload | _EMPTY)) == _direct(
        start, end, assignee=admin
    ), (start, end)


_EMPTY = {
    "tickets_created": 0,
    "tickets_solved": 0,
    "tickets_reopened": 0,
    "first_response_median_minutes": None,
    "first_response_p90_minutes": None,
    "resolution_median_minutes": None,
    "resolution_p90_minutes": None,
    "replies_per_ticket": None,
    "sla_met": 0,
    "sla_missed": 0,
    "csat_good": 0,
    "csat_okay": 0,
    "csat_bad": 0,
    "csat_percent": None,
}


def test_running_totals_give_whole_months_over_any_range(tenant: TenantSetup) -> None:
    """Whole months are read as the difference of two running totals: ranges over several
    months, months rebuilt out of order, and an old ticket changed afterwards."""
    _small_tenant(tenant, count=60, start=datetime.date(2026, 1, 10), days=105)
    # Later months first: the totals of April and May must follow January's rebuild.
    services.rebuild(start=datetime.date(2026, 4, 1), end=datetime.date(2026, 5, 31))
    services.rebuild(start=datetime.date(2026, 1, 1), end=datetime.date(2026, 3, 31))
    totals = ReportRollup.objects.filter(span="total", dimension="all").order_by("day")
    months = ReportRollup.objects.filter(span="month", dimension="all").order_by("day")
    assert [row.day for row in totals] == [row.day for row in months]
    assert len(months) >= 4
    assert totals.last().created == 60  # type: ignore[union-attr]
    ranges = [
        (datetime.date(2026, 2, 1), datetime.date(2026, 4, 30)),  # two totals, no days
        (datetime.date(2026, 1, 15), datetime.date(2026, 4, 20)),  # days on both sides
        (datetime.date(2026, 3, 1), datetime.date(2026, 3, 31)),
        (datetime.date(2026, 1, 1), datetime.date(2026, 5, 31)),  # the first total alone
        (datetime.date(2026, 6, 1), datetime.date(2026, 7, 31)),  # after the last ticket
        (datetime.date(2026, 2, 3), datetime.date(2026, 2, 26)),  # no whole month
    ]
    for start, end in ranges:
        _agrees(start, end, tenant.admin)
    # An old ticket moves to another channel: its January and every later total follow.
    moved = Ticket.objects.filter(
        is_spam=False, created_at__lt=_at(datetime.date(2026, 2, 1), 0), channel=TicketChannel.EMAIL
    ).first()
    assert moved is not None
    Ticket.objects.filter(id=moved.id).update(channel=TicketChannel.PHONE)
    services.recompute_days(days=selectors.ticket_days([str(moved.id)]))
    for start, end in ranges:
        _agrees(start, end, tenant.admin)


def test_recomputing_is_idempotent_and_follows_changes(tenant: TenantSetup) -> None:
    tickets = _small_tenant(tenant, count=12)
    end = START + datetime.timedelta(days=DAYS + 5)
    services.rebuild(start=START, end=end)
    rows = sorted(ReportRollup.objects.values_list("day", "dimension", "key", "created", "solved"))
    services.rebuild(start=START, end=end)
    again = sorted(ReportRollup.objects.values_list("day", "dimension", "key", "created", "solved"))
    assert rows == again
    moved = tickets[0]
    Ticket.objects.filter(id=moved.id).update(channel=TicketChannel.PHONE, priority="urgent")
    services.recompute_days(days=selectors.ticket_days([str(moved.id)]))
    payload = selectors.report_payload(selectors.read_report(START, end))
    assert _figures(payload) == _direct(START, end)
    by_priority = {row["key"]: row for row in payload["by_priority"]}
    assert by_priority["urgent"]["tickets_created"] == 1


def test_a_ticket_change_refreshes_todays_rollup_after_commit(
    tenant: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket(subject="Today")
        make_ticket(subject="Also today")
    today = datetime.datetime.now(selectors.tenant_zone()).date()
    row = ReportRollup.objects.get(span="day", day=today, dimension="all", key="")
    month = ReportRollup.objects.get(span="month", day=today.replace(day=1), dimension="all")
    assert month.created == 2
    assert row.created == 2


def _seed(setup: TenantSetup) -> None:
    with tenant_context(setup.id):
        _small_tenant(setup)
        services.rebuild(start=START, end=START + datetime.timedelta(days=DAYS + 5))


def test_summary_api_follows_the_contract(acme: TenantSetup) -> None:
    _seed(acme)
    api = acme.api_client()
    response = api.get("/api/v1/reports/summary/?from=2026-03-01&to=2026-03-15")
    assert response.status_code == 200
    body = response.json()
    for key in (
        "tickets_created",
        "tickets_solved",
        "first_response_median_minutes",
        "resolution_median_minutes",
        "sla_met_percent",
        "csat_percent",
        "by_channel",
        "by_department",
        "by_agent",
        "by_type",
    ):
        assert key in body, key
    assert body["tickets_created"] == 40
    with tenant_context(acme.id):
        assert _figures(body) == _direct(START, datetime.date(2026, 3, 15))
    assert sum(row["tickets_created"] for row in body["by_channel"]) == 40
    assert body["by_department"][0]["label"] == acme.department.name


def test_summary_is_the_tenants_own(acme: TenantSetup, globex: TenantSetup) -> None:
    _seed(acme)
    with tenant_context(globex.id):
        Tenant.objects.filter(id=globex.tenant.id).update(time_zone=ZONE)
    body = globex.api_client().get("/api/v1/reports/summary/?from=2026-03-01&to=2026-03-15")
    assert body.status_code == 200
    assert body.json()["tickets_created"] == 0
    assert body.json()["by_agent"] == []
    page = globex.client(globex.admin).get("/reports/export.csv?from=2026-03-01&to=2026-03-15")
    rows = list(csv.reader(io.StringIO(page.content.decode())))
    assert rows[1][5] == "0"  # all tickets: created
    assert len(rows) == 2
    # An acme token is no key to globex.
    token = acme.api_client()
    token.defaults["HTTP_HOST"] = globex.host
    assert token.get("/api/v1/reports/summary/").status_code in {401, 403}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-03-01&to=yesterday", "YYYY-MM-DD"),
        ("from=2026-02-30&to=2026-03-01", "YYYY-MM-DD"),
        ("from=2026-03-10&to=2026-03-01", "after"),
        ("from=2020-01-01&to=2026-03-01", "two years"),
        ("to=2026-03-01", "YYYY-MM-DD"),
        ("from=9999-12-30&to=9999-12-31", "between the years 1900 and 2999"),
        ("from=0001-01-01&to=0001-01-02", "between the years 1900 and 2999"),
    ],
)
def test_bad_dates_are_refused(acme: TenantSetup, query: str, message: str) -> None:
    response = acme.api_client().get(f"/api/v1/reports/summary/?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_report_range"
    assert message in response.json()["error"]["message"]
    page = acme.client(acme.admin).get(f"/reports/?{query}")
    assert page.status_code == 400
    assert message in page.content.decode()
    export = acme.client(acme.admin).get(f"/reports/export.csv?{query}")
    assert export.status_code == 400


def test_csv_export_has_the_summary_and_every_breakdown(acme: TenantSetup) -> None:
    _seed(acme)
    response = acme.client(acme.admin).get("/reports/export.csv?from=2026-03-01&to=2026-03-15")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows[0]["dimension"] == "all"
    assert rows[0]["tickets_created"] == "40"
    dimensions = {row["dimension"] for row in rows}
    assert {"channel", "department", "agent", "priority"} <= dimensions
    assert sum(int(r["tickets_created"]) for r in rows if r["dimension"] == "channel") == 40
    assert acme.client().get("/reports/export.csv").status_code == 302  # signed out


def test_page_numbers_link_to_the_same_tickets_in_the_inbox(acme: TenantSetup) -> None:
    _seed(acme)
    client = acme.client(acme.admin)
    page = client.get("/reports/?from=2026-03-03&to=2026-03-06")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html
    assert "Tickets created and solved per day" in html
    assert "What the figures mean" in html
    csat = html[html.index('id="csat-score"') :]
    expected = body_csat = (
        acme.api_client()
        .get("/api/v1/reports/summary/?from=2026-03-03&to=2026-03-06")
        .json()["csat_percent"]
    )
    assert f"<strong>{'—' if expected is None else f'{body_csat}%'}</strong>" in csat
    body = acme.api_client().get("/api/v1/reports/summary/?from=2026-03-03&to=2026-03-06").json()
    row = next(r for r in body["by_channel"] if r["tickets_created"])
    links = re.findall(r'<a href="(/inbox/\?[^"]+)">(\d+)</a>', html)
    channel_link = next(
        (href, n) for href, n in links if f"channel={row['key']}" in href.replace("&amp;", "&")
    )
    inbox = client.get(channel_link[0].replace("&amp;", "&"))
    assert inbox.status_code == 200
    listed = inbox.content.decode().count('class="ticket-row')
    assert int(channel_link[1]) == row["tickets_created"]
    assert listed == row["tickets_created"]


def _link_count(client: Client, href: str) -> int:
    inbox = client.get(href.replace("&amp;", "&"))
    assert inbox.status_code == 200, href
    html = inbox.content.decode()
    assert 'rel="next"' not in html, href  # the whole list on one page
    return html.count('class="ticket-row')


def test_every_created_and_solved_number_lists_its_tickets(acme: TenantSetup) -> None:
    """Each created and solved number on the page (the totals and every breakdown row,
    the rows of "none" included) links to an inbox listing exactly that many tickets."""
    with tenant_context(acme.id):
        tickets = _small_tenant(acme)
        bug = TicketType.objects.create(name="Bug")
        initech = Company.objects.create(name="Initech")
        for n, ticket in enumerate(tickets):
            if n % 3 == 0:
                Ticket.objects.filter(id=ticket.id).update(type=bug)
            if n % 4 == 0:
                Contact.objects.filter(id=ticket.contact_id).update(company=initech)
            if n % 5 == 0:
                Ticket.objects.filter(id=ticket.id).update(mailbox=None)
            else:
                Ticket.objects.filter(id=ticket.id).update(mailbox=acme.mailbox)
        services.rebuild(start=START, end=START + datetime.timedelta(days=DAYS + 5))
    client = acme.client(acme.admin)
    query = "from=2026-03-02&to=2026-03-09"
    body = acme.api_client().get(f"/api/v1/reports/summary/?{query}").json()
    html = client.get(f"/reports/?{query}").content.decode()
    created = html[html.index('id="figure-created"') :]
    solved = html[html.index('id="figure-solved"') :]
    for card, figure in ((created, "tickets_created"), (solved, "tickets_solved")):
        href, shown = re.search(r'<a href="(/inbox/\?[^"]+)">(\d+)</a>', card).groups()  # type: ignore[union-attr]
        assert int(shown) == body[figure] > 0
        assert _link_count(client, href) == body[figure], figure
    checked = set()
    for dimension in ("channel", "agent", "type", "priority", "mailbox", "company", "tag"):
        section = html[html.index(f'id="by-{dimension}"') :]
        section = section[: section.index("</table>")]
        rows = re.findall(r"<tr>.*?</tr>", section, flags=re.S)
        for row in body[f"by_{dimension}"]:
            if dimension == "tag" and row["key"] == "":
                continue  # no inbox filter for "without tags"
            cells = next(r for r in rows if f">{row['label']}<" in r)
            links = re.findall(r'<a href="(/inbox/\?[^"]+)">(\d+)</a>', cells)
            assert [int(n) for _, n in links] == [row["tickets_created"], row["tickets_solved"]]
            for (href, _), figure in zip(links, ("tickets_created", "tickets_solved"), strict=True):
                assert _link_count(client, href) == row[figure], (dimension, row["key"], figure)
            checked.add((dimension, row["key"] == ""))
    assert {("type", True), ("type", False), ("mailbox", True), ("mailbox", False)} <= checked
    assert {("company", True), ("company", False), ("agent", True)} <= checked


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("solved_after=yesterday", "solved_after"),
        ("solved_before=2026-02-30", "solved_before"),
        ("mailbox=nope", "mailbox"),
        ("type=nothing", "type"),
        ("company=0", "company"),
    ],
)
def test_inbox_refuses_bad_drill_down_filters(
    acme: TenantSetup, query: str, parameter: str
) -> None:
    page = acme.client(acme.admin).get(f"/inbox/?{query}")
    assert page.status_code == 400
    assert parameter in page.content.decode()


def test_drill_down_filters_keep_to_the_tenant(acme: TenantSetup, globex: TenantSetup) -> None:
    """Another tenant's mailbox id lists nothing; "none" lists only the tenant's own."""
    with tenant_context(acme.id):
        make_ticket(subject="Acme mailless")
        Ticket.objects.update(mailbox=None)
    with tenant_context(globex.id):
        mine = make_ticket(subject="Globex own")
        Ticket.objects.filter(id=mine.id).update(mailbox=None, solved_at=_at(START, 10))
    client = globex.client(globex.admin)
    everything = ",".join(TicketStatus.values)
    html = client.get(f"/inbox/?status={everything}&mailbox={acme.mailbox.id}").content.decode()
    assert html.count('class="ticket-row') == 0
    html = client.get(f"/inbox/?status={everything}&mailbox=none&type=none").content.decode()
    assert "Globex own" in html
    assert "Acme mailless" not in html
    html = client.get(
        f"/inbox/?status={everything}&solved_after=2026-03-01&solved_before=2026-03-02"
    ).content.decode()
    assert html.count('class="ticket-row') == 1


def test_rebuild_command_recomputes_a_tenant_or_all(acme: TenantSetup, globex: TenantSetup) -> None:
    with tenant_context(acme.id):
        _small_tenant(acme, count=6)
    out = io.StringIO()
    call_command("rebuild_report_rollups", "acme", stdout=out)
    assert out.getvalue().startswith("acme: ")
    with tenant_context(acme.id):
        report = selectors.read_report(START, START + datetime.timedelta(days=DAYS + 5))
        assert report.total.created == 6
    with tenant_context(globex.id):
        assert not ReportRollup.objects.exists()
    out = io.StringIO()
    call_command("rebuild_report_rollups", stdout=out)
    assert "acme: " in out.getvalue()
    assert "globex: " in out.getvalue()
    with pytest.raises(CommandError, match="no tenant"):
        call_command("rebuild_report_rollups", "nobody")


def test_csv_cells_of_peoples_text_never_start_a_formula(acme: TenantSetup) -> None:
    """A tag is the key of its breakdown row as well as its label: the key went out as a
    live formula. A leading tab (OWASP's list) too."""
    day = datetime.date(2026, 3, 3)
    with tenant_context(acme.id):
        ticket = make_ticket(subject="x")
        company = Company.objects.create(name="\t=1+2")
        Contact.objects.filter(id=ticket.contact_id).update(company=company)
        set_tags(ticket, ['=HYPERLINK("http://evil","x")'])
        Ticket.objects.filter(id=ticket.id).update(
            created_at=datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC)
        )
        services.rebuild(start=day, end=day)
    export = acme.client(acme.admin).get("/reports/export.csv?from=2026-03-03&to=2026-03-03")
    rows = [row for row in csv.reader(io.StringIO(export.content.decode())) if row[2] != "all"]
    cells = [cell for row in rows for cell in row[3:5]]
    assert '\'=hyperlink("http://evil","x")' in cells
    assert "'\t=1+2" in cells
    assert not [cell for cell in cells if cell[:1] in {"=", "+", "-", "@", "\t", "\r"}]


def test_a_changed_rating_moves_in_the_reports(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    """Ratings did not refresh the rollups: a new one waited for the nightly job, and a
    changed one counted on both days (good and bad for one ticket)."""
    with tenant_context(acme.id), django_capture_on_commit_callbacks(execute=True):
        now = timezone.now()
        rated_at = now - datetime.timedelta(days=5)
        ticket = make_ticket(subject="rated")
        Ticket.objects.filter(id=ticket.id).update(
            created_at=rated_at - datetime.timedelta(hours=2),
            status="solved",
            solved_at=rated_at - datetime.timedelta(hours=1),
        )
        Message.objects.filter(ticket=ticket).update(
            created_at=rated_at - datetime.timedelta(hours=2)
        )
        survey = SatisfactionRating.objects.create(
            ticket=ticket, contact=ticket.contact, send_after=rated_at, sent_at=rated_at
        )
        satisfaction.record_rating(token=survey.token, score="good", now=rated_at)
        Message.objects.filter(ticket=ticket, kind=MessageKind.EVENT).update(created_at=rated_at)
    with tenant_context(acme.id):
        first, last = (rated_at - datetime.timedelta(days=1)).date(), now.date()
        services.rebuild(start=first, end=last)
        before = selectors.read_report(first, last).total
        assert (before.csat_good, before.csat_bad) == (1, 0)
        with django_capture_on_commit_callbacks(execute=True):
            satisfaction.record_rating(token=survey.token, score="bad")
        services.recompute_dirty_days()
        after = selectors.read_report(first, last).total
        assert (after.csat_good, after.csat_okay, after.csat_bad) == (0, 0, 1)
