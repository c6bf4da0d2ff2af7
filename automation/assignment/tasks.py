"""Automatic assignment in the background: a batch of tickets, a department's backlog
(after an agent came online, dropped a ticket, was seated, or the settings changed; and
every minute for departments with a backlog), tickets handed back by an agent who left
a department or went offline. Each department's work is a transaction of its own."""

from __future__ import annotations

from uuid import UUID

from django.db.models import Exists, OuterRef

from automation.assignment import selectors, services
from departments.models import AssignmentMode, Department
from helpdesk.core.tasks import system_task
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.managers import cross_tenant
from helpdesk.tenancy.tasks import tenant_task
from tickets.models import Ticket


@tenant_task(queue="automation")
def assign_tickets(*, tenant_id: str, ticket_ids: list[str]) -> int:
    """Assign a batch of tickets by their departments' modes (see assign_new_tickets)."""
    return services.assign_new_tickets(ticket_ids=[UUID(i) for i in ticket_ids])


def _drain(tenant_id: str, department_id: UUID) -> int:
    """One batch of the department's backlog in its own transaction; the rest in the next
    task when the batch was full."""
    with tenant_context(tenant_id):
        assigned = services.drain_backlog(department_id=department_id)
    if assigned >= services.DRAIN_BATCH:
        drain_department.delay(tenant_id=tenant_id, department_id=str(department_id))
    return assigned


@tenant_task(queue="automation", own_transactions=True)
def drain_department(*, tenant_id: str, department_id: str) -> int:
    """Hand out the department's backlog to whoever is eligible below the cap."""
    return _drain(tenant_id, UUID(department_id))


@tenant_task(queue="automation", own_transactions=True)
def drain_member_departments(*, tenant_id: str, membership_id: str) -> int:
    """A member came online: the backlogs of their automatic departments."""
    with tenant_context(tenant_id):
        department_ids = selectors.list_member_department_ids(UUID(membership_id))
    return sum(_drain(tenant_id, department_id) for department_id in department_ids)


@tenant_task(queue="automation", own_transactions=True)
def drain_ticket_departments(*, tenant_id: str, ticket_ids: list[str]) -> int:
    """Tickets were solved, closed, marked spam or lost their agent: the backlogs of the
    automatic departments they are in."""
    with tenant_context(tenant_id):
        department_ids = selectors.list_department_ids_of_tickets([UUID(i) for i in ticket_ids])
    return sum(_drain(tenant_id, department_id) for department_id in department_ids)


@tenant_task(queue="automation", own_transactions=True)
def drain_tenant_backlogs(*, tenant_id: str) -> int:
    """Every automatic department of the tenant that has a backlog (the safety net)."""
    with tenant_context(tenant_id):
        department_ids = selectors.list_backlog_department_ids()
    return sum(_drain(tenant_id, department_id) for department_id in department_ids)


@tenant_task(queue="automation")
def hand_back_departed(*, tenant_id: str, department_id: str, membership_ids: list[str]) -> int:
    """Members left a department: their unsolved tickets there go back and out again."""
    return services.hand_back_tickets(
        department_id=UUID(department_id),
        membership_ids=[UUID(i) for i in membership_ids],
        via=services.LEFT_DEPARTMENT,
    )


@tenant_task(queue="automation", own_transactions=True)
def hand_back_offline(*, tenant_id: str, membership_id: str) -> int:
    """A member went offline: their unsolved tickets in each department set to hand back
    go back and out again (each department in a transaction of its own)."""
    with tenant_context(tenant_id):
        department_ids = selectors.list_hand_back_department_ids()
    returned = 0
    for department_id in department_ids:
        with tenant_context(tenant_id):
            returned += services.hand_back_tickets(
                department_id=department_id,
                membership_ids=[UUID(membership_id)],
                via=services.WENT_OFFLINE,
            )
    return returned


@system_task
def sweep_assignment_backlogs() -> int:
    """Beat (every minute): the safety net behind the triggers. One query through the ops
    role for tenants with an automatic department whose backlog is not empty (an index
    probe per such department); the draining runs per tenant."""
    with cross_tenant(reason="assignment sweeper: tenants with a backlog to hand out"):
        waiting = selectors.filter_backlog(
            Ticket.all_tenants.filter(tenant_id=OuterRef("tenant_id"), department_id=OuterRef("id"))
        )
        tenant_ids = set(
            Department.all_tenants.exclude(assignment_mode=AssignmentMode.MANUAL)
            .filter(Exists(waiting))
            .values_list("tenant_id", flat=True)
            .distinct()
        )
    for tenant_id in tenant_ids:
        drain_tenant_backlogs.delay(tenant_id=str(tenant_id))
    return len(tenant_ids)
