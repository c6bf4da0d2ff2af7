"""Reads: what a ticket's resolution said, and the articles a ticket used."""

from __future__ import annotations

from functools import cached_property

from django.db.models import QuerySet

from helpdesk.tenancy import permissions
from helpdesk.tenancy.models import Membership
from helpdesk.tenancy.permissions import Capability
from tickets.errors import TicketNotFound
from tickets.models import (
    RESOLVED_STATUSES,
    Message,
    MessageKind,
    Ticket,
    TicketArticle,
)


def get_ticket(number: int) -> Ticket:
    ticket = Ticket.objects.filter(number=number).first()
    if ticket is None:
        raise TicketNotFound(number=number)
    return ticket


def final_public_reply(ticket: Ticket) -> Message | None:
    """The last reply an agent wrote to the customer (automatic mails left out)."""
    return (
        Message.objects.filter(
            ticket=ticket, kind=MessageKind.REPLY, is_automatic=False, author_member__isnull=False
        )
        .order_by("-created_at")
        .first()
    )


def resolution_note(ticket: Ticket) -> Message | None:
    """The internal note an agent wrote last (the resolution, when there is one)."""
    return (
        Message.objects.filter(ticket=ticket, kind=MessageKind.NOTE, author_member__isnull=False)
        .order_by("-created_at")
        .first()
    )


def list_ticket_articles(ticket: Ticket) -> QuerySet[TicketArticle]:
    """The articles written from the ticket and sent in its replies, oldest first."""
    return (
        TicketArticle.objects.filter(ticket=ticket)
        .select_related("article", "created_by__user")
        .order_by("created_at")
    )


class KnowledgePanel:
    """The ticket page's knowledge-base panel, read when the page draws it (a conversation
    fragment never does): the articles written from the ticket and sent in its replies, and
    whether the member may write one from it now (once it is solved)."""

    def __init__(self, ticket: Ticket, member: Membership) -> None:
        self.ticket = ticket
        self.member = member

    @cached_property
    def links(self) -> list[TicketArticle]:
        return list(list_ticket_articles(self.ticket))

    @cached_property
    def may_create(self) -> bool:
        return (
            permissions.can(self.member, Capability.WRITE_ARTICLES)
            and self.ticket.status in RESOLVED_STATUSES
        )

    @cached_property
    def has_note(self) -> bool:
        return resolution_note(self.ticket) is not None
