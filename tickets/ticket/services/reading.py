"""What opening a ticket does: it is read (with the notifications about it) and, with
"open it and you own it", an unassigned ticket becomes the agent's."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.utils import timezone

from helpdesk.core.ids import new_id
from helpdesk.tenancy import permissions
from helpdesk.tenancy.models import Membership
from tickets.configuration import services as configuration
from tickets.models import (
    Message,
    MessageKind,
    Ticket,
)


def mark_read(*, ticket: Ticket, member: Membership, at: Any = None) -> None:
    """The member has seen the ticket up to now (or `at`), and with it the notifications
    about it."""
    _read_and_claim(ticket=ticket, member=member, at=at or timezone.now(), claim=False)


def _read_and_claim(*, ticket: Ticket, member: Membership, at: Any, claim: bool) -> bool:
    """Mark read, read the notifications and, with `claim`, take the ticket if nobody has:
    one statement, since every page view does it. True when the ticket was taken."""
    sql = (
        "WITH marked AS ("
        " INSERT INTO tickets_ticketread"
        " (id, tenant_id, ticket_id, member_id, read_at, created_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (tenant_id, member_id, ticket_id)"
        " DO UPDATE SET read_at = EXCLUDED.read_at, updated_at = EXCLUDED.updated_at"
        " RETURNING 1),"
        " notified AS ("
        " UPDATE tickets_notification SET read_at = %s, updated_at = %s"
        " WHERE tenant_id = %s AND member_id = %s AND ticket_id = %s AND read_at IS NULL"
        " RETURNING 1)"
    )
    params: list[Any] = [new_id(), ticket.tenant_id, ticket.id, member.id, at, at, at]
    params += [at, at, ticket.tenant_id, member.id, ticket.id]
    if claim:
        sql += (
            ", claimed AS ("
            " UPDATE tickets_ticket SET assignee_id = %s, updated_at = %s"
            " WHERE tenant_id = %s AND id = %s AND assignee_id IS NULL RETURNING 1)"
            " SELECT count(*) FROM claimed"
        )
        params += [member.id, at, ticket.tenant_id, ticket.id]
    else:
        sql += " SELECT 0"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return bool(cursor.fetchone()[0])


def open_ticket(*, ticket: Ticket, member: Membership) -> bool:
    """An agent opens the ticket page: it is read, and with "open it and you own it" on, an
    unassigned ticket becomes theirs (recorded in the history). True when it was assigned.
    Two agents opening it at once: the conditional update gives it to one of them."""
    claim = (
        ticket.assignee_id is None
        and permissions.can_take_tickets(member)
        and not ticket.is_closed
        and not ticket.is_spam
        and not ticket.merged_into_id
        and configuration.get_settings().auto_assign_on_open
    )
    if not _read_and_claim(ticket=ticket, member=member, at=timezone.now(), claim=claim):
        if claim:  # another agent opened it a moment earlier
            ticket.refresh_from_db(fields=["assignee", "updated_at"])
        return False
    ticket.assignee = member
    Message.objects.create(
        ticket=ticket,
        kind=MessageKind.EVENT,
        author_member=member,
        event={"field": "assignee", "from": None, "to": str(member.id), "via": "opened"},
    )
    return True
