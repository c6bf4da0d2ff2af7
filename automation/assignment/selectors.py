"""Reads for automatic assignment: which departments assign, who is eligible and how many
unsolved tickets each holds, the backlog, and the department page's load panel."""

from __future__ import annotations

import datetime
from collections.abc import Collection
from dataclasses import dataclass
from uuid import UUID

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from departments import selectors as department_selectors
from departments.models import AssignmentMode, Department, DepartmentMember
from helpdesk.tenancy import permissions
from helpdesk.tenancy.models import Availability, Membership
from helpdesk.tenancy.permissions import Capability
from tickets.models import Ticket


def auto_assign_departments() -> dict[UUID, Department]:
    """The tenant's departments that assign new tickets themselves, by id. Read for every
    batch of new tickets, so it comes from the cached department list (dropped by the
    department services on any change): a tenant without one pays no query."""
    return {
        department.id: department
        for department in department_selectors.cached_departments()
        if department.assignment_mode != AssignmentMode.MANUAL
    }


def needs_load(department: Department) -> bool:
    """Whether assigning in this department needs each agent's unsolved count."""
    return (
        department.max_open_per_agent is not None
        or department.assignment_mode == AssignmentMode.LOAD_BALANCED
    )


@dataclass
class Agent:
    """An eligible agent of a department: their seat's turn and their load there."""

    membership: Membership
    last_assigned_at: datetime.datetime | None
    open_count: int


def _open_count(department_id: UUID) -> Coalesce:
    """Unsolved tickets of the department per seat's member (tickets_ticket_dept_load_idx)."""
    per_agent = (
        Ticket.objects.filter(
            department_id=department_id, assignee_id=OuterRef("membership_id"), is_unsolved=True
        )
        .order_by()
        .values("assignee_id")
        .annotate(count=Count("*"))
        .values("count")
    )
    return Coalesce(Subquery(per_agent, output_field=IntegerField()), Value(0))


def list_eligible_agents(*, department: Department, exclude: Collection[UUID] = ()) -> list[Agent]:
    """Who may get the department's tickets now, in one query: seated here, active, a role
    that takes tickets, on shift, and online (or any availability when the department
    gives offline agents tickets), with their unsolved tickets here when the cap or load
    balancing needs them (else 0). `exclude`: members handing their tickets back."""
    seats = DepartmentMember.objects.filter(
        department_id=department.id,
        membership__is_active=True,
        membership__role__in=permissions.roles_with(Capability.TAKE_TICKETS),
        membership__on_shift=True,
    ).select_related("membership")
    if not department.assign_offline_agents:
        seats = seats.filter(membership__availability=Availability.ONLINE)
    if exclude:
        seats = seats.exclude(membership_id__in=list(exclude))
    if needs_load(department):
        seats = seats.annotate(open_count=_open_count(department.id))
    else:
        seats = seats.annotate(open_count=Value(0, output_field=IntegerField()))
    return [
        Agent(
            membership=seat.membership,
            last_assigned_at=seat.last_assigned_at,
            open_count=seat.open_count,
        )
        for seat in seats
    ]


def filter_backlog(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Tickets waiting for an agent: unsolved, nobody's, not spam (the partial index
    tickets_ticket_backlog_idx; closed covers merged ones). Also used, on every tenant's
    rows, by the sweeper that finds the departments with a backlog."""
    return tickets.filter(is_unsolved=True, assignee__isnull=True, is_spam=False)


def list_backlog(department_id: UUID) -> QuerySet[Ticket]:
    """The department's backlog in the order it is handed out: most urgent, then oldest."""
    return filter_backlog(Ticket.objects.filter(department_id=department_id)).order_by(
        "-priority_rank", "created_at", "id"
    )


def list_backlog_department_ids() -> list[UUID]:
    """The tenant's automatically assigning departments that have a backlog."""
    auto = auto_assign_departments()
    if not auto:
        return []
    return [
        department_id
        for department_id in auto
        if filter_backlog(Ticket.objects.filter(department_id=department_id)).exists()
    ]


@dataclass
class AgentLoad:
    """One seated agent on the department page: their load here and why they do or do not
    get tickets now."""

    membership: Membership
    open_count: int
    eligible: bool
    reason: str
    at_cap: bool


@dataclass
class DepartmentLoad:
    department: Department
    backlog: int
    agents: list[AgentLoad]


def get_department_load(department: Department) -> DepartmentLoad:
    """The backlog size and every seated agent's unsolved tickets here against the cap,
    with whether automatic assignment would give them one now (and why not)."""
    seats = (
        DepartmentMember.objects.filter(department_id=department.id)
        .select_related("membership__user")
        .annotate(open_count=_open_count(department.id))
        .order_by("membership__user__name", "membership__user__email")
    )
    cap = department.max_open_per_agent
    agents = []
    for seat in seats:
        member = seat.membership
        count: int = seat.open_count
        reason = _ineligible_because(member, department)
        at_cap = cap is not None and count >= cap
        agents.append(
            AgentLoad(
                membership=member,
                open_count=count,
                eligible=not reason and not at_cap,
                reason=reason or ("at the limit" if at_cap else ""),
                at_cap=at_cap,
            )
        )
    backlog = filter_backlog(Ticket.objects.filter(department_id=department.id)).count()
    return DepartmentLoad(department=department, backlog=backlog, agents=agents)


def _ineligible_because(member: Membership, department: Department) -> str:
    if not member.is_active:
        return "deactivated"
    if not permissions.can_take_tickets(member):
        return "cannot take tickets"
    if not member.on_shift:
        return "off shift"
    if not department.assign_offline_agents and member.availability != Availability.ONLINE:
        return str(Availability(member.availability).label).lower()
    return ""


def list_member_department_ids(membership_id: UUID) -> list[UUID]:
    """The automatically assigning departments the member is seated in."""
    auto = auto_assign_departments()
    if not auto:
        return []
    return sorted(
        DepartmentMember.objects.filter(
            membership_id=membership_id, department_id__in=list(auto)
        ).values_list("department_id", flat=True)
    )


def list_department_ids_of_tickets(ticket_ids: Collection[UUID]) -> list[UUID]:
    """The automatically assigning departments the tickets are in."""
    auto = auto_assign_departments()
    if not auto or not ticket_ids:
        return []
    return sorted(
        Ticket.objects.filter(id__in=list(ticket_ids), department_id__in=list(auto))
        .values_list("department_id", flat=True)
        .distinct()
    )


def list_hand_back_department_ids() -> list[UUID]:
    """The automatically assigning departments where going offline hands tickets back."""
    return sorted(
        department.id
        for department in auto_assign_departments().values()
        if department.hand_back_when_offline
    )
