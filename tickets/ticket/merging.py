"""Merging tickets (one conversation the customer opened twice) and splitting a message out
into a ticket of its own.

A merged ticket keeps its number and points to the survivor (`merged_into`); its messages,
followers, tags and history move there, and mail threaded to it later (by Message-ID,
subject tag or reply address) lands on the survivor.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F, JSONField, Value
from django.db.models.expressions import CombinedExpression

from helpdesk.tenancy.models import Membership
from tickets.errors import MergeNotAllowed, TicketClosed
from tickets.models import (
    InboundEmail,
    Message,
    MessageKind,
    Notification,
    Ticket,
    TicketFollower,
    TicketRead,
    TicketStatus,
)
from tickets.signals import send_ticket_changed
from tickets.ticket import services


def resolve_merged(ticket: Ticket) -> Ticket:
    """The ticket a merged one lives on (following chains), or the ticket itself."""
    seen = {ticket.id}
    while ticket.merged_into_id:
        ticket = Ticket.objects.select_related("contact").get(id=ticket.merged_into_id)
        if ticket.id in seen:  # a cycle cannot be made through merge_tickets; stop anyway
            break
        seen.add(ticket.id)
    return ticket


@transaction.atomic
def merge_tickets(
    *, survivor: Ticket, others: list[Ticket], actor: Membership | None, language: str = "en"
) -> Ticket:
    """Merge `others` into `survivor`. Raises MergeNotAllowed, TicketClosed."""
    others = [t for t in others if t.id != survivor.id]
    if not others:
        raise MergeNotAllowed("Choose at least one other ticket to merge.")
    locked = {
        t.id: t
        for t in Ticket.objects.select_for_update(of=("self",)).filter(
            id__in=[survivor.id, *(t.id for t in others)]
        )
    }
    survivor = locked[survivor.id]
    others = [locked[t.id] for t in others]
    if survivor.is_closed or survivor.merged_into_id:
        raise TicketClosed(number=survivor.number)
    merged_already = [t.number for t in others if t.merged_into_id]
    if merged_already:
        raise MergeNotAllowed(f"#{merged_already[0]} is already merged into another ticket.")
    other_ids = [t.id for t in others]

    # Requesters of the merged tickets and their followers follow the survivor.
    followers = set(
        TicketFollower.objects.filter(ticket_id__in=other_ids).values_list("contact_id", flat=True)
    )
    followers |= {t.contact_id for t in others}
    followers -= {survivor.contact_id}
    followers -= set(
        TicketFollower.objects.filter(ticket=survivor).values_list("contact_id", flat=True)
    )
    TicketFollower.objects.bulk_create(
        [
            TicketFollower(ticket=survivor, contact_id=c, tenant_id=survivor.tenant_id)
            for c in followers
        ]
    )
    TicketFollower.objects.filter(ticket_id__in=other_ids).delete()

    tags = {tag.name for t in [survivor, *others] for tag in t.tags.all()}
    for other in others:
        # The merged tickets' status changes stay in the history but are not the
        # survivor's own: SLA clocks (tickets.sla.selectors.list_sla_timeline) skip them.
        Message.objects.filter(ticket=other, kind=MessageKind.EVENT).update(
            event=CombinedExpression(
                F("event"), "||", Value({"merged_from": other.number}, output_field=JSONField())
            )
        )
    Message.objects.filter(ticket_id__in=other_ids).update(ticket=survivor)
    InboundEmail.objects.filter(ticket_id__in=other_ids).update(ticket=survivor)
    Notification.objects.filter(ticket_id__in=other_ids).update(ticket=survivor)
    TicketRead.objects.filter(ticket_id__in=other_ids).delete()

    for other in others:
        old_status = other.status
        other.merged_into = survivor
        other.status = TicketStatus.CLOSED
        other.custom_status = None
        other.last_message_snippet = f"Merged into #{survivor.number}"
        other.save(
            update_fields=[
                "merged_into",
                "status",
                "custom_status",
                "last_message_snippet",
                "updated_at",
            ]
        )
        if old_status != TicketStatus.CLOSED:
            services.record_event(
                ticket=other, actor=actor, field="status", old=old_status, new=other.status
            )
        services.record_event(
            ticket=other, actor=actor, field="merged_into", old=None, new=survivor.number
        )
        services.record_event(
            ticket=survivor, actor=actor, field="merged", old=None, new=other.number
        )

    services.refresh_last_message(survivor)
    services.update_ticket(ticket=survivor, actor=actor, language=language, tags=sorted(tags))
    services.refresh_search_vector(ticket=survivor, language=language)
    for ticket in [survivor, *others]:
        send_ticket_changed(ticket, "merged")
    return survivor


@transaction.atomic
def split_message(*, message: Message, actor: Membership, language: str = "en") -> Ticket:
    """Move one customer message out into a new ticket of the same customer and department.

    Raises MergeNotAllowed for anything but a customer message, or the ticket's only one.
    """
    ticket = Ticket.objects.select_for_update(of=("self",)).get(id=message.ticket_id)
    if ticket.is_closed:
        raise TicketClosed(number=ticket.number)
    if message.kind != MessageKind.CUSTOMER:
        raise MergeNotAllowed("Only a customer's message can become a ticket of its own.")
    remaining = (
        Message.objects.filter(ticket=ticket, kind=MessageKind.CUSTOMER)
        .exclude(id=message.id)
        .exists()
    )
    if not remaining:
        raise MergeNotAllowed("That is the ticket's only customer message.")
    new = Ticket.objects.create(
        number=services.next_ticket_number(),
        subject=ticket.subject,
        contact=message.author_contact or ticket.contact,
        department=ticket.department,
        channel=ticket.channel,
        priority=ticket.priority,
        mailbox=ticket.mailbox,
        last_message_at=message.created_at,
        last_message_snippet=services.snippet(message.body_text),
    )
    Message.objects.filter(id=message.id).update(ticket=new)
    InboundEmail.objects.filter(ticket_message_id=message.id).update(ticket=new)
    services.record_event(ticket=ticket, actor=actor, field="split", old=None, new=new.number)
    services.record_event(ticket=new, actor=actor, field="split_from", old=None, new=ticket.number)
    services.refresh_last_message(ticket)
    services.refresh_search_vector(ticket=new, language=language)
    services.refresh_search_vector(ticket=ticket, language=language)
    send_ticket_changed(new, "created")
    send_ticket_changed(ticket, "split")
    return new
