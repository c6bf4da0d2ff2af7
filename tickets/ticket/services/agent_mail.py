"""Mail an agent starts: a ticket opened by writing to a customer (or logging their call),
a message forwarded to someone outside the ticket, and the followers copied on replies."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, linebreaks

from departments.models import Department
from helpdesk.tenancy import permissions
from helpdesk.tenancy.models import Membership
from helpdesk.tenancy.permissions import Capability
from tickets.errors import (
    AddressInvalid,
    EmptyMessage,
    FollowerNotFound,
    ReplyNotAllowed,
    TicketClosed,
)
from tickets.models import (
    Contact,
    Message,
    MessageKind,
    Ticket,
    TicketChannel,
    TicketFollower,
    TicketPriority,
)
from tickets.signals import send_ticket_changed
from tickets.ticket.services.base import (
    next_ticket_number,
    record_event,
    refresh_search_vector,
    set_tags,
    snippet,
)
from tickets.ticket.services.conversation import add_message
from tickets.ticket.services.lifecycle import check_ticket_by_a_person
from tickets.ticket.services.messages import NewAttachment, queue_email_message
from tickets.ticket.services.outgoing import (
    BodyFormat,
    check_not_ours,
    formatted_body,
    parse_addresses,
)
from tickets.ticket.services.people import get_or_create_contact

FORWARD_SEPARATOR = "---------- Forwarded message ----------"


@transaction.atomic
def start_outbound_ticket(
    *,
    subject: str,
    body: str,
    contact: Contact,
    department: Department,
    actor: Membership,
    priority: str = TicketPriority.NORMAL,
    tags: Iterable[str] = (),
    language: str = "en",
    body_format: str = BodyFormat.TEXT,
    attachments: Iterable[NewAttachment] = (),
    inline_images: Iterable[NewAttachment] = (),
    cc: Iterable[str] = (),
    bcc: Iterable[str] = (),
) -> Ticket:
    """A ticket the agent opens by emailing the customer: its first message is the agent's
    public reply (queued to be mailed, so the customer's answer threads back), and it waits
    on the customer. The agent owns it. Raises EmptyMessage, ReplyNotAllowed (light agents),
    ConfigurationInvalid (a priority not on the tenant's scale), ContactInvalid (one of our
    own mailboxes), AddressInvalid (Cc/Bcc)."""
    if not body.strip():
        raise EmptyMessage()
    check_ticket_by_a_person(actor=actor, priority=priority, contact=contact)
    now = timezone.now()
    ticket = Ticket.objects.create(
        number=next_ticket_number(),
        subject=subject.strip()[:250] or "(no subject)",
        contact=contact,
        department=department,
        channel=TicketChannel.EMAIL,
        priority=priority,
        last_message_at=now,
        last_message_snippet=snippet(body),
    )
    tag_names = set_tags(ticket, tags) if tags else []
    refresh_search_vector(ticket=ticket, language=language, bodies=[body], tag_names=tag_names)
    send_ticket_changed(ticket, "created")
    add_message(
        ticket=ticket,
        kind=MessageKind.REPLY,
        body=body,
        actor=actor,
        language=language,
        body_format=body_format,
        attachments=attachments,
        inline_images=inline_images,
        cc=cc,
        bcc=bcc,
    )
    return ticket


@transaction.atomic
def forward_message(
    *,
    ticket: Ticket,
    message: Message,
    to: str | Iterable[str],
    note: str,
    actor: Membership,
    body_format: str = BodyFormat.TEXT,
) -> Message:
    """Email one message of the ticket (with its attachments) to people outside it, with
    the agent's note on top. It stays in the thread as an internal entry: the requester
    never sees it. Answers come back to the ticket's address and are kept as internal notes
    (they are from neither the requester nor a follower). Raises ReplyNotAllowed (light
    agents: it leaves the help desk), TicketClosed, AddressInvalid, EmptyMessage (a
    system event is not a message)."""
    permissions.require(actor, Capability.REPLY_PUBLICLY, ReplyNotAllowed())
    if ticket.is_closed:
        raise TicketClosed(number=ticket.number)
    if message.ticket_id != ticket.id or message.kind == MessageKind.EVENT:
        raise EmptyMessage("Forward one of this ticket's messages.")
    recipients = parse_addresses(to, field="to")
    if not recipients:
        raise AddressInvalid("Say whom to forward it to.", field="to")
    check_not_ours(recipients, "to")
    author = (
        message.author_member.user.display_name
        if message.author_member
        else message.author_contact.display_name
        if message.author_contact
        else ticket.contact.display_name
    )
    header = (
        f"{FORWARD_SEPARATOR}\nFrom: {author}\n"
        f"Date: {message.created_at:%Y-%m-%d %H:%M} UTC\nSubject: {ticket.subject}\n\n"
    )
    note_text, note_html, _ = formatted_body(note, body_format, ())
    text = f"{note_text.strip()}\n\n{header}{message.body_text}".strip()
    copies = []
    original = message.body_html or linebreaks(message.body_text)
    for item in message.attachments.all():
        with item.file.open("rb") as handle:
            copy = NewAttachment(
                filename=item.filename,
                content_type=item.content_type,
                payload=handle.read(),
                content_id=item.content_id,
                is_inline=item.is_inline,
            )
        copies.append(copy)
        # The copy's own address, which the mail builder turns into its cid: picture.
        original = original.replace(
            reverse("tickets:attachment", args=[item.id]),
            reverse("tickets:attachment", args=[copy.id]),
        )
    html = (
        (note_html or linebreaks(note_text))
        + "<p>"
        + escape(header).strip().replace("\n", "<br>")
        + f"</p><blockquote>{original}</blockquote>"
    )
    forward = queue_email_message(
        ticket=ticket,
        body=text,
        author=actor,
        body_html=html,
        kind=MessageKind.FORWARD,
        to=recipients,
        attachments=copies,
    )
    return forward


@transaction.atomic
def follow_ticket(
    *, ticket: Ticket, emails: str | Iterable[str], actor: Membership
) -> list[Contact]:
    """Copy people on every public reply from now on (followers), by address; each becomes
    a contact. Already copied, or the requester: nothing to do. Raises ReplyNotAllowed
    (light agents), AddressInvalid."""
    permissions.require(actor, Capability.REPLY_PUBLICLY, ReplyNotAllowed())
    addresses = parse_addresses(emails, field="followers")
    check_not_ours(addresses, "followers")
    added = []
    for address in addresses:
        contact = get_or_create_contact(email=address)
        if contact.id == ticket.contact_id:
            continue
        _, created = TicketFollower.objects.get_or_create(ticket=ticket, contact=contact)
        if created:
            added.append(contact)
            record_event(ticket=ticket, actor=actor, field="followers", old=None, new=address)
    return added


@transaction.atomic
def unfollow_ticket(*, ticket: Ticket, contact_id: UUID, actor: Membership) -> Contact:
    """Stop copying this follower on replies. Raises ReplyNotAllowed (light agents),
    FollowerNotFound (not a follower of this ticket, or another tenant's)."""
    permissions.require(actor, Capability.REPLY_PUBLICLY, ReplyNotAllowed())
    follower = (
        TicketFollower.objects.select_related("contact")
        .filter(ticket=ticket, contact_id=contact_id)
        .first()
    )
    if follower is None:
        raise FollowerNotFound()
    follower.delete()
    record_event(
        ticket=ticket, actor=actor, field="followers", old=follower.contact.email, new=None
    )
    return follower.contact


__all__ = [
    "FORWARD_SEPARATOR",
    "follow_ticket",
    "forward_message",
    "start_outbound_ticket",
    "unfollow_ticket",
]
