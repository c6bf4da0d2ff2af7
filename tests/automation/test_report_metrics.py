"""Reports, the figures added for issue 20, each against a direct computation: business
time, the backlog at the end of each day, tags and companies, the heat map, the weeks and
deflections."""

from __future__ import annotations

import datetime
from collections import Counter
from uuid import UUID
from zoneinfo import ZoneInfo

import time_machine
from pytest_django import DjangoCaptureOnCommitCallbacks

from automation.models import SlaPolicy, SlaTimer
from automation.reports import buckets, selectors, services
from departments import business_time
from departments.models import BusinessHours
from helpdesk.tenancy.models import Tenant
from knowledge_base.models import Deflection
from tests.automation.test_reports import DAYS, START, ZONE, _small_tenant
from tests.conftest import TenantSetup
from tests.factories.knowledge_base import make_article, make_category
from tests.factories.tickets import make_contact, make_ticket
from tickets.models import Company, Message, MessageKind, Tag, Ticket, TicketTag
from tickets.ticket import services as ticket_services

END = START + datetime.timedelta(days=DAYS + 5)
WEEKDAYS_9_TO_17 = [{"day": day, "start": "09:00", "end": "17:00"} for day in range(5)]


def _first_replies() -> dict[UUID, datetime.datetime]:
    first: dict[UUID, datetime.datetime] = {}
    for message in Message.objects.filter(kind=MessageKind.REPLY, is_automatic=False).exclude(
        author_member=None
    ):
        if message.ticket_id not in first or message.created_at < first[message.ticket_id]:
            first[message.ticket_id] = message.created_at
    return first


def _inside(moment: datetime.datetime | None) -> bool:
    return moment is not None and START <= moment.astimezone(ZoneInfo(ZONE)).date() <= END


def test_business_time_uses_the_help_desks_only_schedule(tenant: TenantSetup) -> None:
    BusinessHours.objects.create(name="Office", timezone=ZONE, intervals=WEEKDAYS_9_TO_17)
    _small_tenant(tenant)
    services.rebuild(start=START, end=END)
    schedule = business_time.Schedule.from_intervals(timezone=ZONE, intervals=WEEKDAYS_9_TO_17)
    tickets = {t.id: t for t in Ticket.objects.filter(is_spam=False)}
    first = [
        business_time.seconds_between(tickets[tid].created_at, at, schedule) / 60
        for tid, at in _first_replies().items()
        if _inside(at)
    ]
    resolution = [
        business_time.seconds_between(t.created_at, t.solved_at, schedule) / 60
        for t in tickets.values()
        if t.solved_at and _inside(t.solved_at)
    ]
    payload = selectors.report_payload(selectors.read_report(START, END))
    assert payload["first_response_business_median_minutes"] == buckets.exact_percentile(first, 0.5)
    assert payload["first_response_business_p90_minutes"] == buckets.exact_percentile(first, 0.9)
    assert payload["resolution_business_median_minutes"] == buckets.exact_percentile(
        resolution, 0.5
    )
    assert payload["resolution_business_p90_minutes"] == buckets.exact_percentile(resolution, 0.9)
    # Nights and weekends fall out: business time is never longer than calendar time.
    assert payload["resolution_business_median_minutes"] <= payload["resolution_median_minutes"]
    assert sum(row["tickets"] for row in payload["first_response_distribution"]) == len(first)


def test_business_time_without_any_schedule_is_calendar_time(tenant: TenantSetup) -> None:
    _small_tenant(tenant, count=12)
    services.rebuild(start=START, end=END)
    payload = selectors.report_payload(selectors.read_report(START, END))
    assert (
        payload["first_response_business_median_minutes"]
        == (payload["first_response_median_minutes"])
    )
    assert payload["resolution_business_p90_minutes"] == payload["resolution_p90_minutes"]


def test_tags_and_companies_break_the_figures_down(tenant: TenantSetup) -> None:
    tickets = _small_tenant(tenant, count=20)
    billing, urgent = Tag.objects.create(name="billing"), Tag.objects.create(name="vip")
    initech = Company.objects.create(name="Initech")
    for n, ticket in enumerate(tickets):
        if n % 2 == 0:
            TicketTag.objects.create(ticket=ticket, tag=billing)
        if n % 3 == 0:
            TicketTag.objects.create(ticket=ticket, tag=urgent)
        if n % 4 == 0:
            contact = make_contact(company=initech)
            Ticket.objects.filter(id=ticket.id).update(contact=contact)
    services.rebuild(start=START, end=END)
    payload = selectors.report_payload(selectors.read_report(START, END))
    by_tag = {row["key"]: row["tickets_created"] for row in payload["by_tag"]}
    assert by_tag == {
        "billing": 10,
        "vip": 7,
        "": sum(1 for n in range(20) if n % 2 and n % 3),
    }
    by_company = {row["label"]: row["tickets_created"] for row in payload["by_company"]}
    assert by_company == {"Initech": 5, "None": 15}


def test_heat_map_and_weeks_add_up_to_the_tickets_created(tenant: TenantSetup) -> None:
    _small_tenant(tenant)
    services.rebuild(start=START, end=END)
    payload = selectors.report_payload(selectors.read_report(START, END))
    zone = ZoneInfo(ZONE)
    expected: Counter[tuple[int, int]] = Counter()
    for ticket in Ticket.objects.filter(is_spam=False):
        local = ticket.created_at.astimezone(zone)
        if START <= local.date() <= END:
            expected[(local.weekday(), local.hour)] += 1
    grid = payload["created_by_weekday_hour"]
    assert len(grid) == 7
    assert all(len(row) == 24 for row in grid)
    assert {
        (day, hour): count
        for day, row in enumerate(grid)
        for hour, count in enumerate(row)
        if count
    } == dict(expected)
    weeks = payload["weekly"]
    assert weeks[0]["week"] == START.isoformat()  # 1 March 2026 is a Sunday: a week of one day
    assert all(datetime.date.fromisoformat(week["week"]).weekday() == 0 for week in weeks[1:])
    assert sum(week["created"] for week in weeks) == payload["tickets_created"]
    assert sum(week["solved"] for week in weeks) == payload["tickets_solved"]


def test_backlog_follows_creations_solves_and_reopens(
    tenant: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    zone = ZoneInfo(ZONE)
    Tenant.objects.filter(id=tenant.id).update(time_zone=ZONE)
    day = datetime.date(2026, 5, 4)

    def at(offset: int, hour: int) -> datetime.datetime:
        return datetime.datetime.combine(
            day + datetime.timedelta(days=offset), datetime.time(hour), tzinfo=zone
        )

    with time_machine.travel(at(0, 10), tick=False):
        first, second, third = (make_ticket(subject=f"T{n}") for n in range(3))
    with time_machine.travel(at(1, 11), tick=False):
        ticket_services.change_status(ticket=first, status="solved", actor=tenant.admin)
    with time_machine.travel(at(2, 9), tick=False):
        make_ticket(subject="T3")
        ticket_services.change_status(ticket=second, status="solved", actor=tenant.admin)
    with time_machine.travel(at(2, 23), tick=False):
        first.refresh_from_db()
        ticket_services.change_status(ticket=first, status="open", actor=tenant.admin)
    with time_machine.travel(at(4, 12), tick=False):
        ticket_services.change_status(ticket=third, status="solved", actor=tenant.admin)
        services.rebuild(start=day - datetime.timedelta(days=1), end=day + datetime.timedelta(6))
        report = selectors.read_report(
            day - datetime.timedelta(days=1), day + datetime.timedelta(6)
        )
    backlog = dict(report.backlog)
    assert backlog[day - datetime.timedelta(days=1)] == 0
    assert backlog[day] == 3
    assert backlog[day + datetime.timedelta(days=1)] == 2
    assert backlog[day + datetime.timedelta(days=2)] == 3  # one new, one solved, one reopened
    assert backlog[day + datetime.timedelta(days=3)] == 3
    assert backlog[day + datetime.timedelta(days=4)] == 2  # today: the unsolved tickets now
    assert backlog[day + datetime.timedelta(days=5)] is None  # still to come
    assert report.total.solves == 3


def test_deflections_count_the_help_centers_suggestions_in_the_range(
    tenant: TenantSetup,
) -> None:
    Tenant.objects.filter(id=tenant.id).update(time_zone=ZONE)
    article = make_article(make_category("Accounts"), "Reset your password", "Use the link.")
    inside = datetime.datetime(2026, 3, 2, 23, 30, tzinfo=ZoneInfo(ZONE))  # 22:30 UTC
    for n, (moment, asked) in enumerate(
        [
            (inside, False),
            (inside, True),  # sent the request after all: no deflection
            (inside + datetime.timedelta(hours=1), False),  # 3 March in Berlin
        ]
    ):
        Deflection.objects.create(
            article=article, visitor=f"v{n}", asked_anyway=asked, created_at=moment
        )
    report = selectors.read_report(datetime.date(2026, 3, 1), datetime.date(2026, 3, 2))
    assert report.deflections == 1
    assert selectors.report_payload(report)["deflections"] == 1


def test_business_time_follows_the_tickets_sla_policy(tenant: TenantSetup) -> None:
    """With several schedules, a ticket counts on its SLA policy's; one without a policy
    counts every hour."""
    office = BusinessHours.objects.create(name="Office", timezone=ZONE, intervals=WEEKDAYS_9_TO_17)
    BusinessHours.objects.create(
        name="Weekends", timezone=ZONE, intervals=[{"day": 5, "start": "10:00", "end": "12:00"}]
    )
    policy = SlaPolicy.objects.create(name="Office hours", business_hours=office)
    Tenant.objects.filter(id=tenant.id).update(time_zone=ZONE)
    zone = ZoneInfo(ZONE)
    friday_evening = datetime.datetime(2026, 3, 6, 16, 0, tzinfo=zone)
    monday_morning = datetime.datetime(2026, 3, 9, 10, 0, tzinfo=zone)  # 2 business hours
    timed, untimed = make_ticket(subject="Timed"), make_ticket(subject="Untimed")
    for ticket in (timed, untimed):
        Ticket.objects.filter(id=ticket.id).update(created_at=friday_evening)
        Message.objects.create(
            ticket=ticket,
            kind=MessageKind.REPLY,
            author_member=tenant.admin,
            body_text="On it",
            created_at=monday_morning,
        )
    SlaTimer.objects.create(
        ticket=timed,
        policy=policy,
        metric="first_response",
        started_at=friday_evening,
        target_minutes=240,
        completed_at=monday_morning,
    )
    services.rebuild(start=datetime.date(2026, 3, 9), end=datetime.date(2026, 3, 9))
    report = selectors.read_report(datetime.date(2026, 3, 9), datetime.date(2026, 3, 9))
    business = [
        buckets.EDGES[index]
        for index, count in enumerate(report.total.first_response_business_hist)
        for _ in range(count)
    ]
    assert business == [120, 3960]  # two hours; every hour of 66 (a 3 d bucket's edge)
    assert buckets.floor_to_bucket(66 * 60) == 3960


def test_a_summary_keeps_the_largest_tags_and_counts_the_rest(tenant: TenantSetup) -> None:
    tickets = _small_tenant(tenant, count=12)
    for n, ticket in enumerate(tickets):
        TicketTag.objects.create(ticket=ticket, tag=Tag.objects.create(name=f"tag{n:02d}"))
        if n < 3:
            TicketTag.objects.create(ticket=ticket, tag=Tag.objects.get_or_create(name="common")[0])
    services.rebuild(start=START, end=END)
    summary = selectors.report_payload(selectors.read_report(START, END, top=5))
    assert [row["key"] for row in summary["by_tag"]][:1] == ["common"]
    assert len(summary["by_tag"]) == 5
    assert summary["breakdown_values_left_out"] == {"tag": 8}
    everything = selectors.report_payload(selectors.read_report(START, END, top=None))
    assert len(everything["by_tag"]) == 13
    assert everything["breakdown_values_left_out"] == {}
    assert {row["key"]: row for row in everything["by_tag"]}["common"]["tickets_created"] == 3
