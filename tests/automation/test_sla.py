"""SLA policies and timers: matching, the clocks measured from the ticket's history
(first response, next response, resolution; paused while waiting; business hours), the
ticket's SLA state, misses recorded once, and policy changes measuring tickets afresh."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine
from pytest_django import DjangoCaptureOnCommitCallbacks

from automation import selectors, services, sla, tasks
from automation.errors import InvalidSlaPolicy, SlaPolicyNameTaken
from automation.models import ReportRollup, SlaPolicy, SlaTimer
from automation.reports import tasks as report_tasks
from departments import services as department_services
from departments.business_time import Schedule
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Membership, MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_contact, make_ticket
from tickets.models import Message, MessageKind, Notification, NotificationKind, Ticket
from tickets.sla import selectors as sla_selectors
from tickets.ticket import services as ticket_services

UTC = datetime.UTC
T0 = datetime.datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday


def minutes(n: float) -> datetime.timedelta:
    return datetime.timedelta(minutes=n)


def measured(
    timeline: list[tuple[datetime.datetime, str, str]],
    *,
    targets: dict[str, int | None] | None = None,
    schedule: Schedule | None = None,
    now: datetime.datetime | None = None,
) -> dict[tuple[str, datetime.datetime], sla.Measured]:
    targets = targets or {"first_response": 60, "next_response": 30, "resolution": 480}
    return {
        (m.metric, m.started_at): m
        for m in sla.measure(
            created_at=T0,
            timeline=timeline,
            targets=targets,
            schedule=schedule,
            now=now or T0 + minutes(600),
        )
    }


# -- the clocks, without the database ------------------------------------------------


def test_first_reply_in_time_meets_first_response() -> None:
    timers = measured([(T0, "customer", ""), (T0 + minutes(20), "reply", "")], now=T0 + minutes(30))
    first = timers[("first_response", T0)]
    assert first.completed_at == T0 + minutes(20)
    assert first.breached_at is None
    assert first.remaining_seconds == 40 * 60
    resolution = timers[("resolution", T0)]
    assert resolution.due_at == T0 + minutes(480)
    assert resolution.completed_at is None


def test_late_first_reply_is_breached_at_the_due_time() -> None:
    timers = measured([(T0 + minutes(90), "reply", "")])
    first = timers[("first_response", T0)]
    assert first.breached_at == T0 + minutes(60)
    assert first.completed_at == T0 + minutes(90)


def test_running_timer_past_due_is_breached_now() -> None:
    first = measured([], now=T0 + minutes(61))[("first_response", T0)]
    assert first.due_at == T0 + minutes(60)
    assert first.breached_at == T0 + minutes(60)


def test_waiting_on_customer_pauses_and_reopening_resumes() -> None:
    timeline = [
        (T0 + minutes(10), "reply", ""),
        (T0 + minutes(10), "status", "waiting"),
        (T0 + minutes(300), "customer", ""),
        (T0 + minutes(300), "status", "open"),
    ]
    timers = measured(timeline, now=T0 + minutes(301))
    resolution = timers[("resolution", T0)]
    # 10 minutes ran before the pause: 470 left from the reopening.
    assert resolution.due_at == T0 + minutes(300 + 470)
    cycle = timers[("next_response", T0 + minutes(300))]
    assert cycle.due_at == T0 + minutes(330)
    paused = measured(timeline[:2], now=T0 + minutes(100))[("resolution", T0)]
    assert paused.due_at is None
    assert paused.completed_at is None
    assert paused.remaining_seconds == 470 * 60


def test_each_customer_message_after_a_reply_starts_one_next_response_cycle() -> None:
    timeline = [
        (T0 + minutes(5), "reply", ""),
        (T0 + minutes(10), "customer", ""),
        (T0 + minutes(12), "customer", ""),  # same cycle
        (T0 + minutes(50), "reply", ""),  # 40 minutes: late
        (T0 + minutes(60), "customer", ""),
    ]
    timers = measured(timeline, now=T0 + minutes(70))
    cycles = sorted(
        (m for m in timers.values() if m.metric == "next_response"), key=lambda m: m.started_at
    )
    assert [c.started_at for c in cycles] == [T0 + minutes(10), T0 + minutes(60)]
    assert cycles[0].breached_at == T0 + minutes(40)
    assert cycles[1].due_at == T0 + minutes(90)


def test_solving_completes_every_clock_and_reopening_resumes_resolution() -> None:
    timeline = [
        (T0 + minutes(30), "reply", ""),
        (T0 + minutes(30), "status", "solved"),
        (T0 + minutes(1000), "customer", ""),
        (T0 + minutes(1000), "status", "open"),
    ]
    timers = measured(timeline, now=T0 + minutes(1001))
    resolution = timers[("resolution", T0)]
    assert resolution.completed_at is None
    assert resolution.due_at == T0 + minutes(1000 + 450)
    solved = measured(timeline[:2])[("resolution", T0)]
    assert solved.completed_at == T0 + minutes(30)
    assert solved.breached_at is None


def test_clocks_count_business_hours_only() -> None:
    schedule = Schedule.from_intervals(
        timezone="UTC", intervals=[{"day": d, "start": "09:00", "end": "17:00"} for d in range(5)]
    )
    friday_4pm = datetime.datetime(2026, 1, 9, 16, tzinfo=UTC)
    timers = {
        m.metric: m
        for m in sla.measure(
            created_at=friday_4pm,
            timeline=[],
            targets={"first_response": 120},
            schedule=schedule,
            now=friday_4pm,
        )
    }
    assert timers["first_response"].due_at == datetime.datetime(2026, 1, 12, 10, tzinfo=UTC)


def test_targets_left_empty_are_not_measured() -> None:
    timers = measured([], targets={"resolution": 60})
    assert {metric for metric, _ in timers} == {"resolution"}


# -- policies and the stored state ---------------------------------------------------


@pytest.fixture
def agent(tenant: TenantSetup) -> Membership:
    return make_member(tenant.tenant, MembershipRole.AGENT, name="Ana Agent")


def make_policy(tenant: TenantSetup, **values: Any) -> SlaPolicy:
    defaults: dict[str, Any] = {
        "name": "Standard",
        "first_response_minutes": 60,
        "next_response_minutes": 30,
        "resolution_minutes": 480,
    }
    return services.save_sla_policy(actor=tenant.admin, **{**defaults, **values})


def test_policy_needs_a_target_valid_values_and_a_unique_name(tenant: TenantSetup) -> None:
    with pytest.raises(InvalidSlaPolicy, match="at least one target"):
        services.save_sla_policy(actor=tenant.admin, name="Empty")
    with pytest.raises(InvalidSlaPolicy, match="Priority"):
        make_policy(tenant, priorities=["whenever"])
    with pytest.raises(InvalidSlaPolicy, match="1 minute"):
        make_policy(tenant, first_response_minutes=0)
    make_policy(tenant)
    with pytest.raises(SlaPolicyNameTaken):
        make_policy(tenant, name="standard")


def test_first_matching_policy_by_position_applies(tenant: TenantSetup) -> None:
    billing = department_services.create_department(name="Billing")
    urgent = make_policy(tenant, name="Urgent", position=1, priorities=["urgent"])
    billing_policy = make_policy(tenant, name="Billing", position=2, department=billing)
    catch_all = make_policy(tenant, name="Everything", position=3)
    policies = list(SlaPolicy.objects.order_by("position"))
    ticket = Ticket(priority="urgent", department=billing, channel="email")
    assert sla.match_policy(ticket, policies) == urgent
    ticket.priority = "normal"
    assert sla.match_policy(ticket, policies) == billing_policy
    ticket.department = tenant.department
    assert sla.match_policy(ticket, policies) == catch_all


def test_new_ticket_gets_timers_and_an_sla_state(
    tenant: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        make_policy(tenant, first_response_minutes=120)
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket()
    ticket.refresh_from_db()
    assert ticket.sla_due_at == T0 + minutes(120)
    assert ticket.sla_metric == "first_response"
    assert sla_selectors.sla_state(ticket, T0) == "on_track"
    assert sla_selectors.sla_state(ticket, T0 + minutes(90)) == "due_soon"
    assert sla_selectors.sla_state(ticket, T0 + minutes(121)) == "breached"
    assert set(SlaTimer.objects.filter(ticket=ticket).values_list("metric", flat=True)) == {
        "first_response",
        "resolution",
    }


def test_reply_waiting_and_customer_answer_move_the_state(
    tenant: TenantSetup,
    agent: Membership,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        make_policy(tenant)
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket()
    with (
        time_machine.travel(T0 + minutes(20), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        ticket_services.add_message(ticket=ticket, kind="reply", body="On it", actor=agent)
    ticket.refresh_from_db()
    assert ticket.status == "waiting"
    assert (ticket.sla_due_at, ticket.sla_paused) == (None, True)
    assert sla_selectors.sla_state(ticket, T0) == "paused"
    with (
        time_machine.travel(T0 + minutes(200), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        ticket_services.add_customer_message(ticket=ticket, contact=ticket.contact, body="Still?")
    ticket.refresh_from_db()
    assert ticket.sla_metric == "next_response"
    assert ticket.sla_due_at == T0 + minutes(230)
    first = SlaTimer.objects.get(ticket=ticket, metric="first_response")
    assert first.completed_at == T0 + minutes(20)
    assert first.state(T0 + minutes(300)) == "met"


def test_missed_target_is_recorded_once_and_told_to_the_assignee(
    tenant: TenantSetup,
    agent: Membership,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        make_policy(tenant)
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket()
        ticket_services.assign_ticket(ticket=ticket, assignee=agent, actor=tenant.admin)
    with (
        time_machine.travel(T0 + minutes(61), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert selectors.list_overdue_ticket_ids() == [ticket.id]
        tasks.record_sla_breaches.delay(tenant_id=str(tenant.id))
        tasks.record_sla_breaches.delay(tenant_id=str(tenant.id))  # a second sweep: nothing new
    events = Message.objects.filter(
        ticket=ticket, kind=MessageKind.EVENT, event__field="sla_breach"
    )
    assert [e.event["to"] for e in events] == ["first_response"]
    assert (
        Notification.objects.filter(member=agent, kind=NotificationKind.SLA_BREACHED).count() == 1
    )
    timer = SlaTimer.objects.get(ticket=ticket, metric="first_response")
    assert timer.breached_at == T0 + minutes(60)
    assert timer.breach_recorded
    with time_machine.travel(T0 + minutes(62), tick=False):
        assert selectors.list_overdue_ticket_ids() == []


def test_unassigned_miss_goes_to_the_admins(
    tenant: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        make_policy(tenant)
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket()
    with time_machine.travel(T0 + minutes(61), tick=False):
        sla.apply_sla(ticket_id=ticket.id)
    assert Notification.objects.filter(member=tenant.admin, kind="sla_breached").exists()


def test_policy_change_measures_open_tickets_afresh_without_announcing(
    tenant: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with time_machine.travel(T0, tick=False):
        ticket = make_ticket(priority="urgent")
    with (
        time_machine.travel(T0 + minutes(120), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        policy = make_policy(tenant, priorities=["urgent"])
    ticket.refresh_from_db()
    assert ticket.sla_due_at == T0 + minutes(60)  # measured from its creation: overdue
    assert not Message.objects.filter(ticket=ticket, event__field="sla_breach").exists()
    with (
        time_machine.travel(T0 + minutes(121), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.save_sla_policy(actor=tenant.admin, policy=policy, first_response_minutes=240)
    ticket.refresh_from_db()
    assert ticket.sla_due_at == T0 + minutes(240)
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_sla_policy(policy=policy, actor=tenant.admin)
    ticket = Ticket.objects.get(id=ticket.id)  # afresh: mypy keeps sla_due_at narrowed
    assert (ticket.sla_due_at, ticket.sla_paused, ticket.sla_metric) == (None, False, "")
    assert not SlaTimer.objects.filter(ticket=ticket).exists()


def test_priority_change_moves_the_ticket_to_another_policy(
    tenant: TenantSetup,
    agent: Membership,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        make_policy(
            tenant, name="Urgent", position=1, priorities=["urgent"], first_response_minutes=15
        )
        make_policy(tenant, name="Normal", position=2)
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket()
    assert Ticket.objects.get(id=ticket.id).sla_due_at == T0 + minutes(60)
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        ticket_services.update_ticket(ticket=ticket, actor=agent, priority="urgent")
    ticket.refresh_from_db()
    assert ticket.sla_due_at == T0 + minutes(15)


def test_business_hours_change_moves_due_times(
    tenant: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    hours = department_services.save_business_hours(
        name="Office",
        timezone="UTC",
        intervals=[{"day": d, "start": "09:00", "end": "17:00"} for d in range(5)],
        holidays=[],
    )
    with django_capture_on_commit_callbacks(execute=True):
        make_policy(tenant, business_hours=hours, first_response_minutes=120)
    friday_4pm = datetime.datetime(2026, 1, 9, 16, tzinfo=UTC)
    with (
        time_machine.travel(friday_4pm, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        ticket = make_ticket()
    ticket.refresh_from_db()
    assert ticket.sla_due_at == datetime.datetime(2026, 1, 12, 10, tzinfo=UTC)
    with (
        time_machine.travel(friday_4pm, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        department_services.save_business_hours(
            business_hours=hours,
            name="Office",
            timezone="UTC",
            intervals=[{"day": d, "start": "09:00", "end": "17:00"} for d in range(5)],
            holidays=[department_services.NewHoliday(datetime.date(2026, 1, 12), "Closed")],
        )
    ticket.refresh_from_db()
    assert ticket.sla_due_at == datetime.datetime(2026, 1, 13, 10, tzinfo=UTC)


def test_spam_tickets_have_no_sla(
    tenant: TenantSetup,
    agent: Membership,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        make_policy(tenant)
        ticket = make_ticket()
        ticket_services.mark_spam(ticket=ticket, actor=agent)
    ticket.refresh_from_db()
    assert sla_selectors.sla_state(ticket, T0) == "none"


def test_tenants_without_policies_enqueue_nothing(
    tenant: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        make_ticket(contact=make_contact())
    assert not any("apply_sla" in repr(c) for c in callbacks)


@pytest.mark.django_db(transaction=True, databases=["default", "ops"])
def test_sweeper_finds_only_tenants_with_overdue_timers(
    acme: TenantSetup,
    globex: TenantSetup,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    for setup, created in ((acme, T0), (globex, T0 + minutes(100))):
        with (
            time_machine.travel(created, tick=False),
            tenant_context(setup.id),
            django_capture_on_commit_callbacks(execute=True),
        ):
            make_policy(setup)
            make_ticket()
    with time_machine.travel(T0 + minutes(61), tick=False):
        assert tasks.sweep_sla_breaches() == 1
    for setup, recorded in ((acme, 1), (globex, 0)):
        with tenant_context(setup.id):
            assert Message.objects.filter(event__field="sla_breach").count() == recorded


def test_a_transactions_tickets_are_measured_by_one_task(
    tenant: TenantSetup,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    """An inbound batch creates many tickets in one transaction: SLA is one task for all."""
    queued: list[dict[str, Any]] = []
    monkeypatch.setattr(tasks.apply_sla, "delay", lambda **kwargs: queued.append(kwargs))
    make_policy(tenant)
    with django_capture_on_commit_callbacks(execute=True):
        first = make_ticket(contact=make_contact())
        second = make_ticket(contact=make_contact())
    assert len(queued) == 1
    assert queued[0]["ticket_ids"] == sorted({str(first.id), str(second.id)})


def test_the_batched_task_measures_every_ticket_it_names(tenant: TenantSetup) -> None:
    make_policy(tenant)
    first = make_ticket(contact=make_contact())
    second = make_ticket(contact=make_contact())
    SlaTimer.objects.all().delete()
    tasks.apply_sla(tenant_id=str(tenant.tenant.id), ticket_ids=[str(first.id), str(second.id)])
    measured_ids = set(SlaTimer.objects.values_list("ticket_id", flat=True))
    assert measured_ids == {first.id, second.id}


def test_a_target_missed_or_met_reaches_the_reports_of_its_day(
    tenant: TenantSetup,
    agent: Membership,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The breach sweeper changes no ticket field, so nothing else would tell the report
    rollups: a miss (or a met target) counts on its day once the timer says so."""
    with django_capture_on_commit_callbacks(execute=True):
        make_policy(tenant)
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket()

    def missed_on_t0() -> dict[str, int]:
        row = ReportRollup.objects.filter(span="day", day=T0.date(), dimension="all").first()
        return row.sla_missed if row else {}

    assert missed_on_t0() == {}
    with (
        time_machine.travel(T0 + minutes(61), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        tasks.record_sla_breaches.delay(tenant_id=str(tenant.id))
    assert missed_on_t0() == {"first_response": 1}

    refreshed: list[str] = []
    monkeypatch.setattr(
        report_tasks, "refresh_on_commit", lambda **kwargs: refreshed.append(kwargs["ticket_id"])
    )
    with time_machine.travel(T0 + minutes(62), tick=False):
        sla.apply_sla(ticket_id=ticket.id)  # measured again, nothing met or missed anew
    assert refreshed == []
    with time_machine.travel(T0 + minutes(63), tick=False):
        ticket_services.add_message(ticket=ticket, kind="reply", body="On it", actor=agent)
        refreshed.clear()  # the reply's own refresh (automation.receivers)
        sla.apply_sla(ticket_id=ticket.id)  # the first response is in: late, but complete
    assert refreshed == [str(ticket.id)]


def test_an_answer_in_the_closed_hours_after_the_due_time_is_a_miss(
    tenant: TenantSetup,
    agent: Membership,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    """60 minutes from Friday 16:00 fill the day to 17:00: due then, and the sweeper says
    so. A reply on Saturday added no working time, but it came after the due time: it
    stays a miss (it counted as met, taking back the miss already announced)."""
    hours = department_services.save_business_hours(
        name="Office",
        timezone="Europe/Berlin",
        intervals=[{"day": day, "start": "09:00", "end": "17:00"} for day in range(5)],
        holidays=[],
    )
    with django_capture_on_commit_callbacks(execute=True):
        make_policy(tenant, business_hours=hours, first_response_minutes=60)
    friday = datetime.datetime(2026, 1, 9, 15, tzinfo=UTC)  # 16:00 in Berlin
    with time_machine.travel(friday, tick=False), django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket()
    with (
        time_machine.travel(friday + minutes(61), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        tasks.record_sla_breaches.delay(tenant_id=str(tenant.id))
    saturday = datetime.datetime(2026, 1, 10, 9, tzinfo=UTC)
    with (
        time_machine.travel(saturday, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        ticket_services.add_message(ticket=ticket, kind="reply", body="On it", actor=agent)
    timer = SlaTimer.objects.get(ticket=ticket, metric="first_response")
    assert timer.completed_at == saturday
    assert timer.breached_at == friday + minutes(60)


def test_a_miss_undone_by_a_relaxed_target_is_found_again_when_it_happens(
    tenant: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    """Announced at T0+61, undone by the admin's 240 minutes at T0+70: the sweeper must
    look for the timer again (it skipped it for good) and announce the real miss."""
    with django_capture_on_commit_callbacks(execute=True):
        policy = make_policy(tenant)  # first response 60
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket()
    with (
        time_machine.travel(T0 + minutes(61), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        tasks.record_sla_breaches.delay(tenant_id=str(tenant.id))
    with (
        time_machine.travel(T0 + minutes(70), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.save_sla_policy(actor=tenant.admin, policy=policy, first_response_minutes=240)
    timer = SlaTimer.objects.get(ticket=ticket, metric="first_response")
    assert (timer.breached_at, timer.breach_recorded) == (None, False)
    with (
        time_machine.travel(T0 + minutes(300), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert selectors.list_overdue_ticket_ids() == [ticket.id]
        tasks.record_sla_breaches.delay(tenant_id=str(tenant.id))
    timer.refresh_from_db()
    assert timer.breached_at == T0 + minutes(240)
    breaches = Message.objects.filter(ticket=ticket, event__field="sla_breach").count()
    assert breaches == 2
