"""SLA clocks: which policy a ticket falls under, and its timers measured from its history.

Timers are derived, never edited: `apply_sla` recomputes a ticket's timers from its
messages and status changes (tickets.sla.selectors.list_sla_timeline) under the policy that
matches it now, so running it twice, late or out of order gives the same result.

- First response: from the ticket's creation to the first agent reply (automatic mail
  does not count). Solving the ticket before any reply ends it too.
- Next response: after that, from each customer message that finds no cycle running to
  the agent's next public reply (or the solve).
- Resolution: from creation to the solve; a reopened ticket's clock goes on from there.
- Every clock runs only while the ticket is open: waiting on the customer, on hold and
  solved stop it, reopening starts it again. Time counts on the policy's business hours
  (none: around the clock).

A target missed is recorded once in the ticket history and told to the assignee (or the
admins when nobody has the ticket), and the workflow rules on "SLA target missed" run for it
(automation.rules); the beat sweeper finds running timers that pass their due time without
anything happening on the ticket.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from automation import selectors
from automation.models import RuleTrigger, SlaMetric, SlaPolicy, SlaTimer, WebhookEvent
from automation.reports import tasks as report_tasks
from automation.rules import engine as rules_engine
from automation.webhooks import services as webhooks
from departments import business_time
from departments import selectors as department_selectors
from tickets.models import RESOLVED_STATUSES, Ticket, TicketStatus
from tickets.sla import selectors as sla_selectors
from tickets.ticket import services as ticket_services

RESPONSE_METRICS = (SlaMetric.FIRST_RESPONSE, SlaMetric.NEXT_RESPONSE)


@dataclass
class Measured:
    """One timer as measured: running (due_at set), paused, or completed."""

    metric: str
    started_at: datetime.datetime
    target_minutes: int
    due_at: datetime.datetime | None = None
    remaining_seconds: int = 0
    completed_at: datetime.datetime | None = None
    breached_at: datetime.datetime | None = None


class _Clock:
    def __init__(self, metric: str, at: datetime.datetime, minutes: int, running: bool) -> None:
        self.metric, self.started_at, self.minutes = metric, at, minutes
        self.elapsed = 0.0
        self.running_since: datetime.datetime | None = at if running else None
        self.completed_at: datetime.datetime | None = None
        self.breached_at: datetime.datetime | None = None

    def stop(self, at: datetime.datetime, schedule: business_time.Schedule | None) -> None:
        if self.running_since is None:
            return
        worked = business_time.seconds_between(self.running_since, at, schedule)
        left = self.minutes * 60 - self.elapsed
        if self.breached_at is None and worked >= left:
            # The cut-off `result` and the sweeper use: a target that fills a period exactly
            # is due at its end, so an answer in the closed hours after it comes too late
            # although no working time passed. (Less work than the target: not yet due.)
            due = business_time.add_seconds(self.running_since, max(left, 0), schedule)
            if worked > left or at > due:
                self.breached_at = due
        self.elapsed += worked
        self.running_since = None

    def finish(self, at: datetime.datetime, schedule: business_time.Schedule | None) -> None:
        self.stop(at, schedule)
        self.completed_at = at

    def result(self, now: datetime.datetime, schedule: business_time.Schedule | None) -> Measured:
        left = self.minutes * 60 - self.elapsed
        measured = Measured(
            metric=self.metric,
            started_at=self.started_at,
            target_minutes=self.minutes,
            remaining_seconds=round(left),
            completed_at=self.completed_at,
            breached_at=self.breached_at,
        )
        if self.completed_at is None and self.running_since is not None:
            due = (
                business_time.add_seconds(self.running_since, left, schedule)
                if left > 0
                else self.breached_at or self.running_since
            )
            measured.due_at = due
            if measured.breached_at is None and due <= now:
                measured.breached_at = due
        return measured


def measure(
    *,
    created_at: datetime.datetime,
    timeline: Iterable[tuple[datetime.datetime, str, str]],
    targets: Mapping[str, int | None],
    schedule: business_time.Schedule | None,
    now: datetime.datetime,
) -> list[Measured]:
    """The timers of a ticket created at `created_at` with this history (see
    tickets.sla.selectors.list_sla_timeline), for the targets in minutes by metric (None: not
    measured). Pure: no database."""
    status: str = TicketStatus.OPEN
    clocks: list[_Clock] = []

    def start(metric: str, at: datetime.datetime) -> _Clock | None:
        minutes = targets.get(metric)
        if minutes is None:
            return None
        clock = _Clock(metric, at, minutes, running=status == TicketStatus.OPEN)
        clocks.append(clock)
        return clock

    first = start(SlaMetric.FIRST_RESPONSE, created_at)
    resolution = start(SlaMetric.RESOLUTION, created_at)
    first_done = False
    cycle: _Clock | None = None
    for at, what, new_status in timeline:
        if what == "reply":
            if not first_done and first is not None:
                first.finish(at, schedule)
            first_done = True
            if cycle is not None:
                cycle.finish(at, schedule)
                cycle = None
        elif what == "customer":
            if first_done and cycle is None and at > created_at:
                cycle = start(SlaMetric.NEXT_RESPONSE, at)
        elif what == "status" and new_status != status:
            old, status = status, new_status
            if old == TicketStatus.OPEN:
                for clock in clocks:
                    clock.stop(at, schedule)
            if status in RESOLVED_STATUSES:
                for clock in clocks:
                    if clock.completed_at is None:
                        clock.finish(at, schedule)
                first_done, cycle = True, None
            elif old in RESOLVED_STATUSES and resolution is not None:
                resolution.completed_at = None  # reopened: the resolution clock goes on
            if status == TicketStatus.OPEN:
                for clock in clocks:
                    if clock.completed_at is None:
                        clock.running_since = at
    return [clock.result(now, schedule) for clock in clocks]


def match_policy(ticket: Ticket, policies: Iterable[SlaPolicy]) -> SlaPolicy | None:
    """The first policy (by position) whose conditions the ticket meets."""
    for policy in policies:
        if policy.priorities and ticket.priority not in policy.priorities:
            continue
        if policy.channels and ticket.channel not in policy.channels:
            continue
        if policy.department_id and policy.department_id != ticket.department_id:
            continue
        if policy.ticket_type_id and policy.ticket_type_id != ticket.type_id:
            continue
        return policy
    return None


def _schedule(policy: SlaPolicy) -> business_time.Schedule | None:
    if policy.business_hours_id is None:
        return None
    return department_selectors.get_schedule(policy.business_hours_id)


@transaction.atomic
def apply_sla(
    *, ticket_id: UUID, announce: bool = True, now: datetime.datetime | None = None
) -> None:
    """Recompute one ticket's timers and SLA state. With `announce`, targets newly found
    missed are recorded in the ticket history and told to the agent; without (policies
    changed: old tickets measured afresh), they are only marked as known."""
    now = now or timezone.now()
    ticket = sla_selectors.lock_ticket_for_sla(ticket_id)
    if ticket is None:
        return
    policy = None
    if not ticket.is_spam and ticket.merged_into_id is None:
        policy = match_policy(ticket, selectors.list_active_sla_policies())
    measured: list[Measured] = []
    if policy is not None:
        measured = measure(
            created_at=ticket.created_at,
            timeline=sla_selectors.list_sla_timeline(ticket),
            targets={metric: policy.target_minutes(metric) for metric in SlaMetric.values},
            schedule=_schedule(policy),
            now=now,
        )
    stored = list(SlaTimer.objects.filter(ticket=ticket))
    before = _report_facts(stored)  # _store updates these timers in place
    timers = _store(ticket, policy, measured, stored)
    if _report_facts(timers) != before:
        # A target met or missed counts in the reports on the day it happened: their
        # rollups follow (a breach found by the sweeper changes nothing else).
        report_tasks.refresh_on_commit(
            tenant_id=str(ticket.tenant_id), ticket_id=str(ticket.id), reason="sla"
        )
    missed = [t for t in timers if t.breached_at is not None and not t.breach_recorded]
    announced: list[str] = []
    if missed:
        SlaTimer.objects.filter(id__in=[t.id for t in missed]).update(breach_recorded=True)
        if announce:
            for timer in missed:
                ticket_services.record_sla_breach(ticket=ticket, metric=timer.metric)
            announced = [timer.metric for timer in missed]
    running = [t for t in timers if t.due_at is not None]
    first_due = min(running, key=lambda t: t.due_at) if running else None  # type: ignore[arg-type, return-value]
    ticket_services.set_sla_state(
        ticket=ticket,
        due_at=first_due.due_at if first_due else None,
        metric=first_due.metric if first_due else "",
        paused=first_due is None and any(t.completed_at is None for t in timers),
    )
    if announced:
        # "SLA target missed" rules, in this transaction: the miss is recorded with what
        # they did, or (a failure) neither is and the next run announces it again.
        rules_engine.run_rules(
            trigger=RuleTrigger.SLA_MISSED,
            ticket_ids=[ticket.id],
            sla_metrics={ticket.id: announced},
        )
        webhooks.collect_event(
            ticket_id=ticket.id, event=WebhookEvent.SLA_MISSED, metrics=announced
        )


def _report_facts(timers: Iterable[SlaTimer]) -> set[tuple[object, ...]]:
    """What the reports read of a ticket's timers: each target met or missed, and when."""
    return {
        (t.metric, t.started_at, t.completed_at, t.breached_at)
        for t in timers
        if t.completed_at is not None or t.breached_at is not None
    }


FIELDS = ("target_minutes", "due_at", "remaining_seconds", "completed_at", "breached_at")


def _store(
    ticket: Ticket, policy: SlaPolicy | None, measured: list[Measured], stored: list[SlaTimer]
) -> list[SlaTimer]:
    """Make the stored timers (`stored`, the ticket's) match the measured ones (keeping what
    was announced)."""
    existing = {(t.metric, t.started_at): t for t in stored}
    kept: list[SlaTimer] = []
    for item in measured:
        timer = existing.pop((item.metric, item.started_at), None)
        values = {name: getattr(item, name) for name in FIELDS}
        if timer is None:
            timer = SlaTimer.objects.create(
                ticket=ticket,
                policy=policy,
                metric=item.metric,
                started_at=item.started_at,
                **values,
            )
        elif any(getattr(timer, n) != v for n, v in values.items()) or timer.policy_id != (
            policy.id if policy else None
        ):
            for name, value in values.items():
                setattr(timer, name, value)
            timer.policy = policy
            fields = [*FIELDS, "policy", "updated_at"]
            if timer.breached_at is None and timer.breach_recorded:
                # The miss is undone (a target relaxed, a holiday added): the sweeper looks
                # for this timer again, and a later miss is announced.
                timer.breach_recorded = False
                fields.append("breach_recorded")
            timer.save(update_fields=fields)
        kept.append(timer)
    if existing:
        SlaTimer.objects.filter(id__in=[t.id for t in existing.values()]).delete()
    return kept
