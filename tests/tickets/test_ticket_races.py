"""Two changes to one ticket at once, in real parallel transactions: each service that
changes a ticket locks its row first and reads it again (tickets.ticket.services.base.
lock_ticket), so the second change sees what the first one did instead of undoing it."""

from __future__ import annotations

from uuid import UUID

import pytest

from automation.assignment import services as assignment
from departments import services as department_services
from departments.models import AssignmentMode
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Availability, Membership, MembershipRole
from tests.concurrency import second_behind_first
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_ticket
from tickets.errors import TicketClosed
from tickets.models import (
    Message,
    MessageKind,
    Notification,
    NotificationKind,
    Ticket,
    TicketStatus,
)
from tickets.ticket import merging, selectors, services

pytestmark = pytest.mark.django_db(transaction=True)


def _newest_message_id(ticket: Ticket) -> UUID:
    return Message.objects.filter(ticket_id=ticket.id).order_by("-created_at", "-id")[0].id


def test_a_reply_racing_a_close_is_refused_and_the_ticket_stays_closed(
    acme: TenantSetup,
) -> None:
    with tenant_context(acme.id):
        agent = make_member(acme.tenant, MembershipRole.AGENT)
        ticket = make_ticket()
        seen = _newest_message_id(ticket)

    def close() -> None:
        services.change_status(
            ticket=selectors.get_ticket_by_number(ticket.number),
            status=TicketStatus.CLOSED,
            actor=acme.admin,
        )

    def reply() -> object:
        with tenant_context(acme.id):
            stale = selectors.get_ticket_by_number(ticket.number)  # read before the close
            return services.add_message(
                ticket=stale,
                kind=MessageKind.REPLY,
                body="Here you go",
                actor=agent,
                seen_up_to=seen,
            )

    _, result = second_behind_first(acme.id, close, reply)
    assert isinstance(result, TicketClosed)
    with tenant_context(acme.id):
        ticket.refresh_from_db()
        assert ticket.status == TicketStatus.CLOSED
        assert not Message.objects.filter(ticket=ticket, kind=MessageKind.REPLY).exists()


def test_a_reply_racing_a_merge_does_not_land_on_the_merged_ticket(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        agent = make_member(acme.tenant, MembershipRole.AGENT)
        merged = make_ticket(subject="Merged away")
        survivor = make_ticket(subject="Survivor", contact=merged.contact)
        seen = _newest_message_id(merged)

    def merge() -> None:
        merging.merge_tickets(
            survivor=selectors.get_ticket_by_number(survivor.number),
            others=[selectors.get_ticket_by_number(merged.number)],
            actor=acme.admin,
        )

    def reply() -> object:
        with tenant_context(acme.id):
            stale = selectors.get_ticket_by_number(merged.number)
            return services.add_message(
                ticket=stale, kind=MessageKind.REPLY, body="Reply", actor=agent, seen_up_to=seen
            )

    _, result = second_behind_first(acme.id, merge, reply)
    assert isinstance(result, TicketClosed)
    with tenant_context(acme.id):
        merged.refresh_from_db()
        assert merged.status == TicketStatus.CLOSED
        assert merged.merged_into_id == survivor.id
        assert not Message.objects.filter(ticket=merged).exclude(kind=MessageKind.EVENT).exists()


def test_an_agents_edit_racing_automatic_assignment_keeps_the_assignee(
    acme: TenantSetup,
) -> None:
    """The backlog drain gives the ticket to Xavier while Ana changes its priority: it
    stays Xavier's (Ana's save used to take it, after Xavier was told it was his)."""
    with tenant_context(acme.id):
        xavier = make_member(acme.tenant, MembershipRole.AGENT, name="Xavier")  # offline
        ana = make_member(acme.tenant, MembershipRole.AGENT, name="Ana")
        department = department_services.update_department(
            department=department_services.create_department(name="Round robin"),
            members=[xavier],
            assignment_mode=AssignmentMode.ROUND_ROBIN,
        )
        ticket = make_ticket(department=department)  # nobody can take it: the backlog
    Membership.objects.filter(id=xavier.id).update(availability=Availability.ONLINE)

    def drain() -> int:
        return assignment.drain_backlog(department_id=department.id)

    def edit() -> object:
        with tenant_context(acme.id):
            stale = selectors.get_ticket_by_number(ticket.number)
            return services.update_ticket(ticket=stale, actor=ana, priority="high")

    drained, result = second_behind_first(acme.id, drain, edit)
    assert drained == 1
    assert isinstance(result, Ticket)
    with tenant_context(acme.id):
        ticket.refresh_from_db()
        assert (ticket.assignee_id, ticket.priority) == (xavier.id, "high")
        events = [
            event
            for event in Message.objects.filter(ticket=ticket, kind=MessageKind.EVENT).values_list(
                "event", flat=True
            )
            if event.get("field") == "assignee"
        ]
        assert [event["to"] for event in events] == [str(xavier.id)]
        assert not Notification.objects.filter(
            ticket=ticket, member_id=ana.id, kind=NotificationKind.ASSIGNED
        ).exists()
