"""What makes a backlog worth handing out, or tickets go back: each receiver only
enqueues a task (see CONTRIBUTING.md), once per transaction and department or member, and
only in a tenant with an automatically assigning department (the cached department list:
no query for the rest). New tickets are the ticket-event pipeline's (automation.ticket_events
calls services.assign_new_tickets)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from uuid import UUID

from django.dispatch import receiver

from automation.assignment import selectors, tasks
from departments.signals import department_assignment_changed, members_left_department
from helpdesk.accounts.signals import availability_changed
from helpdesk.core.batching import collect_on_commit
from helpdesk.tenancy.context import get_current_tenant_id
from helpdesk.tenancy.models import Availability
from tickets.signals import ticket_assignee_changed, ticket_changed

# A ticket leaving its agent's load: solved or closed (status), merged (closed), spam.
_LOAD_DROPS = frozenset({"status", "merged", "spam"})


def _auto_departments(tenant_id: Any) -> Collection[UUID] | None:
    """The tenant's automatic departments' ids from the cache; None when the sender runs
    outside the tenant's context (a clock across tenants), where the task finds out."""
    if get_current_tenant_id() != UUID(str(tenant_id)):
        return None
    return selectors.auto_assign_departments().keys()


def _may_assign(tenant_id: Any, department_id: Any = None) -> bool:
    auto = _auto_departments(tenant_id)
    if auto is None:
        return True
    return bool(auto) if department_id is None else UUID(str(department_id)) in auto


def _drain_tickets_departments_on_commit(tenant_id: Any, ticket_id: Any) -> None:
    def flush(ticket_ids: list[str]) -> None:
        tasks.drain_ticket_departments.delay(
            tenant_id=str(tenant_id), ticket_ids=list(dict.fromkeys(ticket_ids))
        )

    collect_on_commit(("assignment.drain-tickets", str(tenant_id)), str(ticket_id), flush)


def _may_hand_back(tenant_id: Any) -> bool:
    if _auto_departments(tenant_id) is None:
        return True
    return bool(selectors.list_hand_back_department_ids())


@receiver(ticket_changed, dispatch_uid="automation.assignment.ticket_changed")
def drain_after_ticket_left_load(*, tenant_id: Any, ticket_id: Any, reason: str, **_: Any) -> None:
    """A solved, closed, merged or spam ticket no longer counts against its agent's cap:
    their department's backlog may have a taker (and a reopened one may be in it)."""
    if reason in _LOAD_DROPS and _may_assign(tenant_id):
        _drain_tickets_departments_on_commit(tenant_id, ticket_id)


@receiver(ticket_assignee_changed, dispatch_uid="automation.assignment.assignee_changed")
def drain_after_reassignment(
    *, tenant_id: Any, ticket_id: Any, department_id: Any, previous: Any, assignee: Any, **_: Any
) -> None:
    """Someone dropped a ticket (below the cap again) or a ticket lost its agent (it joins
    the backlog): hand the department's backlog out."""
    if previous is None and assignee is not None:
        return
    if _may_assign(tenant_id, department_id):
        _drain_tickets_departments_on_commit(tenant_id, ticket_id)


@receiver(department_assignment_changed, dispatch_uid="automation.assignment.department_changed")
def drain_after_department_change(*, tenant_id: Any, department_id: Any, **_: Any) -> None:
    """New settings or new seats: the backlog may have takers now."""
    tasks.drain_department.delay_on_commit(
        tenant_id=str(tenant_id), department_id=str(department_id)
    )


@receiver(members_left_department, dispatch_uid="automation.assignment.members_left")
def hand_back_after_leaving(
    *, tenant_id: Any, department_id: Any, membership_ids: Any, **_: Any
) -> None:
    """Agents lost their seat: their unsolved tickets there go back to the backlog."""
    if _may_assign(tenant_id, department_id):
        tasks.hand_back_departed.delay_on_commit(
            tenant_id=str(tenant_id),
            department_id=str(department_id),
            membership_ids=[str(i) for i in membership_ids],
        )


@receiver(availability_changed, dispatch_uid="automation.assignment.availability_changed")
def follow_availability(
    *, tenant_id: Any, membership_id: Any, availability: str, previous: str, **_: Any
) -> None:
    """Online: the backlogs of their departments. Offline: where a department says so,
    their unsolved tickets go back (and out to whoever is online)."""
    if availability == previous or not _may_assign(tenant_id):
        return
    if availability == Availability.ONLINE:
        tasks.drain_member_departments.delay_on_commit(
            tenant_id=str(tenant_id), membership_id=str(membership_id)
        )
    elif availability == Availability.OFFLINE and _may_hand_back(tenant_id):
        tasks.hand_back_offline.delay_on_commit(
            tenant_id=str(tenant_id), membership_id=str(membership_id)
        )
