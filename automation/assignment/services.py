"""Automatic assignment: new tickets, the backlog, tickets handed back.

A department in round-robin gives each ticket to the eligible agent whose turn it is (the
seat assigned longest ago, never-assigned seats first, then by member id); in
load-balanced mode to the eligible agent with the fewest unsolved tickets of the
department (ties by the same turn). An agent at the department's cap gets none. Tickets
nobody can take stay unassigned: the department's backlog, handed out most urgent and
oldest first when someone can take them.

Everything that hands tickets out locks the department row first and keeps the lock to
the commit (see the package docstring), then writes in bulk: one UPDATE for the tickets
(only those still nobody's), one insert for their history events, one for the agents'
notifications (helpdesk.core.queries.insert_rows: bulk_create costs several times the
Python, inside the department's lock), one UPDATE for the seats' turns. Assigning is not
a ticket change rules or SLA clocks follow (no ticket_changed): neither depends on the
assignee.
"""

from __future__ import annotations

import datetime
import heapq
import json
from collections.abc import Collection, Sequence
from uuid import UUID

from django.db import connection, transaction
from django.utils import timezone

from automation.assignment import selectors
from automation.assignment.selectors import Agent
from departments.models import AssignmentMode, Department, DepartmentMember
from helpdesk.core.ids import new_id
from helpdesk.core.queries import insert_rows
from helpdesk.tenancy.context import require_tenant_id
from helpdesk.tenancy.models import Availability, Membership
from tickets.attribution import rule_marker
from tickets.models import Message, MessageKind, NotificationKind, Ticket
from tickets.notifications import services as notifications

DRAIN_BATCH = 500
"""Tickets one drain hands out in one transaction; the task goes on with the next batch."""

VIA = {
    AssignmentMode.ROUND_ROBIN: "round_robin",
    AssignmentMode.LOAD_BALANCED: "load_balanced",
}
# Why tickets went back to the backlog (the `via` of their history event).
LEFT_DEPARTMENT = "left_department"
WENT_OFFLINE = "went_offline"

_TURN_STEP = datetime.timedelta(microseconds=1)


def assign_new_tickets(*, ticket_ids: Sequence[UUID]) -> int:
    """Assign those of the tickets that are unsolved, nobody's and not spam, in a
    department that assigns automatically, by its mode; returns how many were assigned.
    The rest stay unassigned (a manual department's queue, or an automatic one's backlog).
    The ticket-event pipeline calls it for each batch of new and changed tickets, after
    the rules; a tenant without an automatic department pays no query. Safe to repeat: a
    ticket someone has is never assigned again."""
    auto = selectors.auto_assign_departments()
    if not auto or not ticket_ids:
        return 0
    # The caller's transaction when there is one (the pipeline's), without a savepoint.
    with transaction.atomic(savepoint=False):
        by_department: dict[UUID, list[UUID]] = {}
        # By primary key alone; whether each is still nobody's is asked under the lock.
        for ticket_id, department_id in Ticket.objects.filter(
            id__in=list(dict.fromkeys(ticket_ids))
        ).values_list("id", "department_id"):
            if department_id in auto:
                by_department.setdefault(department_id, []).append(ticket_id)
        assigned = 0
        # One department after another, in one order in every worker.
        for department_id, ids in sorted(by_department.items()):
            department = _lock_department(department_id)
            if department is not None:
                assigned += len(_assign(department, ticket_ids=ids, limit=len(ids)))
    return assigned


@transaction.atomic
def assign_by_department_mode(*, ticket: Ticket) -> Membership | None:
    """The rule action "assign by the department's mode": give this ticket, if it is
    unsolved, nobody's and not spam, to the agent its department's mode picks, the cap
    applying; returns that agent, or None (a manual department, nobody eligible below the
    cap: the ticket waits in the backlog; or the ticket already has someone). Run in the
    caller's transaction, which may hold the ticket already."""
    if ticket.assignee_id is not None:
        return None
    department = _lock_department(ticket.department_id)
    if department is None:
        return None
    done = _assign(department, ticket_ids=[ticket.id], limit=1)
    if not done:
        return None
    _, member = done[0]
    ticket.assignee = member
    return member


@transaction.atomic
def drain_backlog(*, department_id: UUID, limit: int = DRAIN_BATCH) -> int:
    """Hand out up to `limit` of the department's backlog, most urgent then oldest first,
    while someone eligible is below the cap; returns how many were assigned (the caller
    goes on while that is `limit`). Nothing in a manual department."""
    department = _lock_department(department_id)
    if department is None:
        return 0
    return len(_assign(department, ticket_ids=None, limit=limit))


@transaction.atomic
def hand_back_tickets(*, department_id: UUID, membership_ids: Collection[UUID], via: str) -> int:
    """The members' unsolved tickets in this automatic department go back to its backlog
    (one history event each, by the system, saying why: `via`), and the backlog is handed
    out again by the department's rules, to anyone but them. Returns how many went back.
    Nothing in a manual department, whose agents keep their tickets; for WENT_OFFLINE only
    where the department says so (hand_back_when_offline); only for members still
    offline, or still not seated (one who is back by now keeps their tickets). Call it in
    a transaction of its own: it waits for the tickets before it locks the department."""
    members = sorted(set(membership_ids))
    if via == WENT_OFFLINE:
        members = sorted(
            Membership.objects.in_current_tenant()
            .filter(id__in=members, availability=Availability.OFFLINE)
            .values_list("id", flat=True)
        )
    elif via == LEFT_DEPARTMENT:
        seated = DepartmentMember.objects.filter(department_id=department_id)
        members = sorted(set(members) - set(seated.values_list("membership_id", flat=True)))
    if not members:
        return 0
    department = Department.objects.filter(id=department_id).first()
    if department is None or not _hands_back(department, via):
        return 0
    # The tickets are waited for before the department is locked, never after it.
    tickets = list(
        Ticket.objects.filter(department_id=department_id, assignee_id__in=members)
        .filter(is_unsolved=True)
        .order_by("id")
        .select_for_update(no_key=True)
        .values_list("id", "assignee_id")
    )
    department = _lock_department(department_id)
    if department is None or not _hands_back(department, via):
        return 0
    returned = _unassign(department, tickets, via=via) if tickets else 0
    _assign(department, ticket_ids=None, limit=DRAIN_BATCH, exclude=members)
    return returned


def _hands_back(department: Department, via: str) -> bool:
    if department.assignment_mode == AssignmentMode.MANUAL:
        return False
    return via != WENT_OFFLINE or department.hand_back_when_offline


def _lock_department(department_id: UUID) -> Department | None:
    """The department, locked to the end of the transaction against everyone else handing
    out its tickets (new tickets' foreign-key checks take a key-share lock, which this
    one lets through)."""
    return Department.objects.select_for_update(no_key=True).filter(id=department_id).first()


def _assign(
    department: Department,
    *,
    ticket_ids: list[UUID] | None,
    limit: int,
    exclude: Collection[UUID] = (),
) -> list[tuple[UUID, Membership]]:
    """With the department locked: hand out its backlog (only `ticket_ids` of it when
    given), up to `limit`, to its eligible agents by its mode."""
    if department.assignment_mode == AssignmentMode.MANUAL or limit <= 0:
        return []
    agents = selectors.list_eligible_agents(department=department, exclude=exclude)
    cap = department.max_open_per_agent
    capacity = limit if cap is None else sum(max(cap - agent.open_count, 0) for agent in agents)
    if not agents or capacity <= 0:
        return []
    # Rows someone else holds (a person editing the ticket, another batch) are left to the
    # next drain rather than waited for. NO KEY UPDATE, as the UPDATE itself takes: a reply
    # being stored meanwhile (its foreign-key check takes KEY SHARE) neither waits nor is
    # skipped.
    if ticket_ids is None:
        ids = list(
            selectors.list_backlog(department.id)
            .select_for_update(no_key=True, skip_locked=True)
            .values_list("id", flat=True)[: min(capacity, limit)]
        )
    else:
        # A batch is found by its ids (primary key), then put in hand-out order here: with
        # ORDER BY … LIMIT the planner may walk the department's whole backlog in the
        # backlog index's order instead.
        rows = (
            selectors.filter_backlog(
                Ticket.objects.filter(id__in=ticket_ids, department_id=department.id)
            )
            .select_for_update(no_key=True, skip_locked=True)
            .values_list("id", "priority_rank", "created_at")
        )
        ordered = sorted(rows, key=lambda row: (-row[1], row[2], row[0]))
        ids = [row[0] for row in ordered[: min(capacity, limit)]]
    if not ids:
        return []
    now = timezone.now()
    plan = _plan(department, agents, len(ids), now)
    return _write(department, list(zip(ids, plan, strict=False)), now)


def _plan(
    department: Department, agents: list[Agent], count: int, now: datetime.datetime
) -> list[tuple[Agent, datetime.datetime]]:
    """Who gets each of `count` tickets, in order, and the turn stamp each assignment
    leaves on the seat: later than every stamp so far, one microsecond apart, so the next
    batch (in any worker, after this commit) continues the same rotation. Shorter than
    `count` when everyone reaches the cap."""
    cap = department.max_open_per_agent
    balanced = department.assignment_mode == AssignmentMode.LOAD_BALANCED
    latest = max((a.last_assigned_at for a in agents if a.last_assigned_at), default=None)
    stamp = now if latest is None or latest < now else latest + _TURN_STEP

    def key(agent: Agent) -> tuple[int, bool, datetime.datetime, UUID]:
        # Never assigned first, then the oldest turn; load balancing puts the load first.
        return (
            agent.open_count if balanced else 0,
            agent.last_assigned_at is not None,
            agent.last_assigned_at or stamp,
            agent.membership.id,
        )

    queue = [
        (key(agent), index)
        for index, agent in enumerate(agents)
        if cap is None or agent.open_count < cap
    ]
    heapq.heapify(queue)
    plan: list[tuple[Agent, datetime.datetime]] = []
    while queue and len(plan) < count:
        _, index = heapq.heappop(queue)
        agent = agents[index]
        agent.open_count += 1
        agent.last_assigned_at = stamp
        plan.append((agent, stamp))
        stamp += _TURN_STEP
        if cap is None or agent.open_count < cap:
            heapq.heappush(queue, (key(agent), index))
    return plan


def _write(
    department: Department,
    pairs: list[tuple[UUID, tuple[Agent, datetime.datetime]]],
    now: datetime.datetime,
) -> list[tuple[UUID, Membership]]:
    """Assign in bulk; the UPDATE's guard (still nobody's, unsolved, in this department)
    is what makes a ticket assigned once whatever else runs."""
    tenant_id = require_tenant_id()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE tickets_ticket AS t SET assignee_id = v.assignee_id, updated_at = %s"
            " FROM unnest(%s::uuid[], %s::uuid[]) AS v(id, assignee_id)"
            " WHERE t.tenant_id = %s AND t.id = v.id AND t.department_id = %s"
            " AND t.assignee_id IS NULL AND t.is_unsolved"
            " RETURNING t.id",
            [
                now,
                [ticket_id for ticket_id, _ in pairs],
                [agent.membership.id for _, (agent, _) in pairs],
                tenant_id,
                department.id,
            ],
        )
        done = {row[0] for row in cursor.fetchall()}
    assigned = [(ticket_id, turn) for ticket_id, turn in pairs if ticket_id in done]
    if not assigned:
        return []
    via = VIA[AssignmentMode(department.assignment_mode)]
    _record_events(
        tenant_id,
        now,
        [
            (ticket_id, {"field": "assignee", "from": None, "to": str(agent.membership.id)})
            for ticket_id, (agent, _) in assigned
        ],
        via=via,
    )
    turns: dict[UUID, datetime.datetime] = {}
    for _, (agent, stamp) in assigned:
        turns[agent.membership.id] = max(stamp, turns.get(agent.membership.id, stamp))
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE departments_departmentmember AS s"
            " SET last_assigned_at = v.at, updated_at = %s"
            " FROM unnest(%s::uuid[], %s::timestamptz[]) AS v(membership_id, at)"
            " WHERE s.tenant_id = %s AND s.department_id = %s"
            " AND s.membership_id = v.membership_id",
            [now, list(turns), list(turns.values()), tenant_id, department.id],
        )
    notifications.notify_many_on_commit(
        kind=NotificationKind.ASSIGNED,
        entries=[(ticket_id, agent.membership) for ticket_id, (agent, _) in assigned],
    )
    return [(ticket_id, agent.membership) for ticket_id, (agent, _) in assigned]


def _unassign(department: Department, tickets: list[tuple[UUID, UUID]], *, via: str) -> int:
    """Back to the backlog: the locked tickets (id, assignee), each with its event."""
    tenant_id = require_tenant_id()
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE tickets_ticket SET assignee_id = NULL, updated_at = %s"
            " WHERE tenant_id = %s AND id = ANY(%s::uuid[]) AND department_id = %s"
            " AND assignee_id = ANY(%s::uuid[]) AND is_unsolved"
            " RETURNING id",
            [
                now,
                tenant_id,
                [ticket_id for ticket_id, _ in tickets],
                department.id,
                list({assignee for _, assignee in tickets}),
            ],
        )
        done = {row[0] for row in cursor.fetchall()}
    _record_events(
        tenant_id,
        now,
        [
            (ticket_id, {"field": "assignee", "from": str(assignee), "to": None})
            for ticket_id, assignee in tickets
            if ticket_id in done
        ],
        via=via,
    )
    return len(done)


def _record_events(
    tenant_id: UUID,
    now: datetime.datetime,
    events: list[tuple[UUID, dict[str, str | None]]],
    *,
    via: str,
) -> None:
    """The history events of many tickets in one insert (record_event's shape: an event
    message by the system, saying `via` what, and naming the workflow rule that acts, as
    with "assign by the department's mode")."""
    marker = rule_marker()
    insert_rows(
        Message,
        {
            "id": [str(new_id()) for _ in events],
            "ticket_id": [str(ticket_id) for ticket_id, _ in events],
            "event": [json.dumps({**event, "via": via, **marker}) for _, event in events],
        },
        {"tenant_id": tenant_id, "kind": MessageKind.EVENT, "created_at": now, "updated_at": now},
    )
