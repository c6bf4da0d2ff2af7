"""The conversation: agents' replies and notes (with the stale-reply guard) and the
customer's messages."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from django.db import transaction

from helpdesk.core import placeholders
from helpdesk.tenancy import permissions
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.models import Membership
from helpdesk.tenancy.permissions import Capability
from tickets.attribution import rule_marker
from tickets.errors import (
    EmptyMessage,
    ReplyNotAllowed,
    StaleReply,
    TicketClosed,
)
from tickets.mail_out import templates
from tickets.models import (
    Contact,
    Message,
    MessageKind,
    NotificationKind,
    Ticket,
    TicketStatus,
)
from tickets.notifications import services as notifications
from tickets.signals import send_ticket_changed
from tickets.ticket import selectors
from tickets.ticket.services.base import lock_ticket, refresh_search_vector, snippet
from tickets.ticket.services.lifecycle import change_status, take_if_unassigned
from tickets.ticket.services.messages import (
    MessageContent,
    NewAttachment,
    create_customer_message,
    queue_email_message,
    store_attachments,
)
from tickets.ticket.services.outgoing import (
    AddressInvalid,
    BodyFormat,
    copied_addresses,
    formatted_body,
)
from tickets.ticket.services.reading import mark_read


@transaction.atomic
def add_message(
    *,
    ticket: Ticket,
    kind: str,
    body: str,
    actor: Membership,
    status: str | None = None,
    language: str = "en",
    attachments: Iterable[NewAttachment] = (),
    seen_up_to: UUID | None = None,
    body_format: str = BodyFormat.TEXT,
    inline_images: Iterable[NewAttachment] = (),
    cc: Iterable[str] = (),
    bcc: Iterable[str] = (),
) -> Message:
    """An agent's public reply or internal note (with attachments), optionally setting the
    status.

    `body_format` "markdown" (the reply editor): the body is Markdown, stored with its
    sanitized HTML (tickets.ticket.formatting), and `inline_images` are the pictures it
    shows by `cid:` token. `cc` and `bcc` copy this one reply to more addresses (followers
    are copied on every reply anyway).

    A reply to an open ticket with no status given sets it to waiting on customer.
    `seen_up_to` is the last message the agent had on screen when they started writing: a
    public reply is refused with StaleReply when someone else's message came after it
    (collision guard); the agent reads it, then sends again with the newer id.
    Raises EmptyMessage, ReplyNotAllowed (light agents), TicketClosed, StaleReply.
    """
    # Two replies sent at the same moment check one after the other; a close or merge
    # that came first is seen (lock_ticket).
    lock_ticket(ticket)
    if kind == MessageKind.REPLY and seen_up_to is not None:
        newer = selectors.list_messages_after(ticket, seen_up_to, exclude_author=actor)
        if newer:
            raise StaleReply(
                messages=[str(m.id) for m in newer], latest=str(newer[-1].id), count=len(newer)
            )
    if not body.strip():
        raise EmptyMessage()
    if kind not in {MessageKind.REPLY, MessageKind.NOTE}:
        raise EmptyMessage("Agents write replies or notes.")
    if kind == MessageKind.REPLY or status:
        # A light agent's note changes nothing else either.
        permissions.require(actor, Capability.REPLY_PUBLICLY, ReplyNotAllowed())
    if ticket.is_closed:
        raise TicketClosed(number=ticket.number)
    cc_list, bcc_list = copied_addresses(ticket=ticket, cc=cc, bcc=bcc)
    if (cc_list or bcc_list) and kind != MessageKind.REPLY:
        raise AddressInvalid("Only a public reply is copied to other people.", field="cc")
    if kind == MessageKind.REPLY:
        body = _fill_placeholders(body, ticket=ticket, actor=actor)
    text, html, pictures = formatted_body(body, body_format, inline_images)
    if kind == MessageKind.REPLY:
        message = queue_email_message(
            ticket=ticket,
            body=text,
            author=actor,
            attachments=[*attachments, *pictures],
            body_html=html,
            cc=cc_list,
            bcc=bcc_list,
        )
    else:
        message = Message.objects.create(
            ticket=ticket, kind=kind, body_text=text, body_html=html, author_member=actor
        )
        store_attachments(message=message, attachments=[*attachments, *pictures])
        mentioned = notifications.find_mentions(body, tenancy_selectors.list_members())
        notifications.notify_on_commit(
            kind=NotificationKind.MENTIONED,
            members=mentioned,
            ticket=ticket,
            actor=actor,
            message=message,
        )
    ticket.last_message_at = message.created_at
    if kind == MessageKind.REPLY:
        ticket.last_message_snippet = snippet(body)
    ticket.save(update_fields=["last_message_at", "last_message_snippet", "updated_at"])
    mark_read(ticket=ticket, member=actor, at=message.created_at)
    if kind == MessageKind.REPLY:
        take_if_unassigned(ticket=ticket, actor=actor)
        send_ticket_changed(ticket, "replied")
    if kind == MessageKind.REPLY and status is None and ticket.status == TicketStatus.OPEN:
        status = TicketStatus.WAITING
    if status:
        change_status(ticket=ticket, status=status, actor=actor)
    refresh_search_vector(ticket=ticket, language=language)
    return message


@transaction.atomic
def add_system_note(*, ticket: Ticket, body: str) -> Message:
    """An internal note by the help desk itself (no author), such as a workflow rule's: the
    rule acting is named on it (tickets.attribution). Mentions nobody; the caller notifies
    whom it means. Raises EmptyMessage, TicketClosed."""
    if not body.strip():
        raise EmptyMessage()
    lock_ticket(ticket)
    if ticket.is_closed:
        raise TicketClosed(number=ticket.number)
    message = Message.objects.create(
        ticket=ticket, kind=MessageKind.NOTE, body_text=body, event=rule_marker()
    )
    ticket.last_message_at = message.created_at
    ticket.save(update_fields=["last_message_at", "updated_at"])
    return message


def _fill_placeholders(body: str, *, ticket: Ticket, actor: Membership) -> str:
    """`{{ contact.first_name }}` typed into a reply reaches the customer as their name, as
    it would from a canned response."""
    if "{{" not in body:
        return body
    values = templates.placeholder_values(
        ticket,
        ticket.mailbox,
        tenancy_selectors.get_tenant(ticket.tenant_id).name,
        agent_name=actor.user.display_name,
    )
    return placeholders.fill_typed(body, values)


def add_customer_message(
    *,
    ticket: Ticket,
    contact: Contact,
    body: str,
    content: MessageContent | None = None,
    language: str = "en",
    internal: bool = False,
) -> Message:
    """A message from the customer. Reopens a waiting, on-hold or solved ticket.

    `internal`: mail that names the ticket by its number only, from someone who is neither
    its requester nor a follower (a colleague, or anyone who guessed the number). It is
    kept as an internal note by that contact for the agents to judge: out of the
    requester's conversation, and it does not reopen the ticket.

    Raises TicketClosed: a closed ticket takes no more messages (callers open a new one).
    """
    if ticket.is_closed:
        raise TicketClosed(number=ticket.number)
    kind = MessageKind.NOTE if internal else MessageKind.CUSTOMER
    with transaction.atomic(savepoint=False):  # checked first: see create_ticket
        message = create_customer_message(
            ticket, contact, body, content or MessageContent(), kind=kind
        )
        ticket.last_message_at = message.created_at
        ticket.save(update_fields=["last_message_at", "last_message_snippet", "updated_at"])
        if not internal:
            send_ticket_changed(ticket, "customer_message")
            if ticket.status != TicketStatus.OPEN:
                change_status(ticket=ticket, status=TicketStatus.OPEN, actor=None)
        refresh_search_vector(ticket=ticket, language=language)
        notifications.notify_on_commit(
            kind=NotificationKind.CUSTOMER_REPLIED,
            members=[ticket.assignee],
            ticket=ticket,
            actor=None,
            message=message,
        )
    return message
