"""Reads for tickets: one ticket, the inbox list, a thread, a customer's history."""

from __future__ import annotations

from uuid import UUID

from django.contrib.postgres.aggregates import ArrayAgg, JSONBAgg
from django.db.models import (
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import JSONObject

from helpdesk.tenancy.models import Membership
from tickets.errors import (
    AttachmentNotFound,
    MessageNotFound,
    TicketNotFound,
)
from tickets.models import (
    Attachment,
    Contact,
    Message,
    MessageKind,
    Tag,
    Ticket,
    TicketFollower,
    TicketTag,
)


def search_config(language: str) -> str:
    """PostgreSQL text-search configuration for a tenant language ('simple' if unknown)."""
    return {
        "en": "english",
        "de": "german",
        "fr": "french",
        "es": "spanish",
        "it": "italian",
        "pt": "portuguese",
        "nl": "dutch",
        "sv": "swedish",
        "da": "danish",
        "fi": "finnish",
        "no": "norwegian",
        "ru": "russian",
        "tr": "turkish",
        "hu": "hungarian",
    }.get(language.split("-")[0].lower(), "simple")


def ticket_number_exists(number: int) -> bool:
    return Ticket.objects.filter(number=number).exists()


def get_ticket_by_number(number: int) -> Ticket:
    """The ticket with this number in the current tenant; raises TicketNotFound."""
    ticket = (
        Ticket.objects.select_related("contact", "contact__company", "department", "assignee__user")
        .filter(number=number)
        .first()
    )
    if ticket is None:
        raise TicketNotFound(number=number)
    return ticket


def get_ticket_for_page(number: int) -> Ticket:
    """The ticket with everything its page shows in one query: tag names, and the people
    copied on it as `copied_contacts` (contacts by email)."""
    tag_names = (
        TicketTag.objects.filter(ticket_id=OuterRef("id"))
        .order_by()
        .values("ticket_id")
        .annotate(names=ArrayAgg("tag__name", order_by="tag__name"))
        .values("names")
    )
    follower_rows = (
        TicketFollower.objects.filter(ticket_id=OuterRef("id"))
        .order_by()
        .values("ticket_id")
        .annotate(
            rows=JSONBAgg(
                JSONObject(id="contact_id", name="contact__name", email="contact__email"),
                order_by="contact__email",
            )
        )
        .values("rows")
    )
    ticket = (
        Ticket.objects.select_related(
            "contact", "contact__company", "department", "assignee__user", "custom_status", "type"
        )
        .annotate(tag_names=Subquery(tag_names), follower_rows=Subquery(follower_rows))
        .filter(number=number)
        .first()
    )
    if ticket is None:
        raise TicketNotFound(number=number)
    ticket.copied_contacts = [  # type: ignore[attr-defined]
        Contact(id=row["id"], name=row["name"] or "", email=row["email"])
        for row in ticket.follower_rows or []
    ]
    return ticket


# What a thread reads of a message's outbox email is its delivery status and error; these
# columns (the rendered bodies, headers, attachments) are left in the database.
OUTBOUND_EMAIL_UNREAD = tuple(
    f"outbound_email__{name}"
    for name in (
        "from_email",
        "to",
        "cc",
        "reply_to",
        "subject",
        "body_text",
        "body_html",
        "headers",
        "message_id",
        "attachments",
        "tags",
        "metadata",
    )
)


def list_thread(ticket: Ticket) -> QuerySet[Message]:
    """The ticket's messages, oldest first, with authors and attachments."""
    return (
        Message.objects.filter(ticket=ticket)
        .select_related("author_member__user", "author_contact", "outbound_email")
        .defer(*OUTBOUND_EMAIL_UNREAD)
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("filename")))
        .order_by("created_at", "id")
    )


def get_attachment(attachment_id: UUID) -> Attachment:
    attachment = Attachment.objects.filter(id=attachment_id).first()
    if attachment is None:
        raise AttachmentNotFound(attachment_id=str(attachment_id))
    return attachment


def get_message(message_id: UUID) -> Message:
    message = Message.objects.select_related("ticket").filter(id=message_id).first()
    if message is None:
        raise MessageNotFound(message_id=str(message_id))
    return message


def get_public_ticket(ticket_id: UUID) -> Ticket | None:
    return Ticket.objects.select_related("contact").filter(id=ticket_id).first()


PUBLIC_MESSAGE_KINDS = ("customer", "reply")


def list_public_thread(ticket: Ticket) -> list[Message]:
    """What the customer sees: their messages and public replies, oldest first."""
    return list(
        Message.objects.filter(ticket=ticket, kind__in=PUBLIC_MESSAGE_KINDS)
        .select_related("author_member__user", "author_contact")
        .prefetch_related("attachments")
        .order_by("created_at", "id")
    )


def list_portal_tickets(contact: Contact, *, with_company: bool) -> list[Ticket]:
    """The requests a signed-in customer sees: theirs, and with `with_company` (the tenant
    allows it) those of their company's other contacts; newest first, merged ones left
    out (their conversation goes on in the survivor)."""
    mine = Q(contact=contact)
    if with_company and contact.company_id is not None:
        mine |= Q(contact__company_id=contact.company_id)
    return list(
        Ticket.objects.filter(mine, merged_into__isnull=True)
        .select_related("contact")
        .order_by("-created_at")[:200]
    )


def get_public_attachment(ticket: Ticket, attachment_id: UUID) -> Attachment | None:
    """An attachment of a message the customer sees on `ticket` (their messages and public
    replies), or None: never one of an internal note or of another ticket."""
    return Attachment.objects.filter(
        id=attachment_id, message__ticket=ticket, message__kind__in=PUBLIC_MESSAGE_KINDS
    ).first()


def list_messages_after(
    ticket: Ticket, message_id: UUID, *, exclude_author: Membership | None = None
) -> list[Message]:
    """Customer messages, replies and notes that came after `message_id` (all of them when
    that message is not on this ticket), except those `exclude_author` wrote."""
    anchor = Message.objects.filter(id=message_id, ticket=ticket).values("created_at").first()
    messages = Message.objects.filter(
        ticket=ticket,
        kind__in=[MessageKind.CUSTOMER, MessageKind.REPLY, MessageKind.NOTE],
        is_automatic=False,  # the help desk's own mail (status emails) is nobody's answer
    )
    if anchor is not None:
        # Thread order: by time, then id (UUIDv7) for messages of the same instant.
        moment = anchor["created_at"]
        messages = messages.filter(
            Q(created_at__gt=moment) | Q(created_at=moment, id__gt=message_id)
        )
    if exclude_author is not None:
        messages = messages.exclude(author_member=exclude_author)
    return list(
        messages.select_related("author_member__user", "author_contact", "outbound_email")
        .defer(*OUTBOUND_EMAIL_UNREAD)
        .order_by("created_at", "id")
    )


def latest_message_id(ticket: Ticket) -> UUID | None:
    """The newest customer message, reply or note: what an agent has seen when the page loads."""
    return (
        Message.objects.filter(
            ticket=ticket, kind__in=[MessageKind.CUSTOMER, MessageKind.REPLY, MessageKind.NOTE]
        )
        .order_by("-created_at", "-id")
        .values_list("id", flat=True)
        .first()
    )


def get_ticket(ticket_id: UUID) -> Ticket:
    ticket = Ticket.objects.filter(id=ticket_id).first()
    if ticket is None:
        raise TicketNotFound(ticket_id=str(ticket_id))
    return ticket


# --- Contacts and companies ------------------------------------------------------------


def list_tags(*, limit: int = 30) -> list[Tag]:
    """The tenant's tags by name (the inbox's per-tag views)."""
    return list(Tag.objects.order_by("name")[:limit])


def list_unsolved_ticket_ids(*, after: UUID | None = None, limit: int = 200) -> list[UUID]:
    """Ids of unsolved tickets in id order, from after `after` (a batch of a long walk)."""
    tickets = Ticket.objects.filter(is_unsolved=True)
    if after is not None:
        tickets = tickets.filter(id__gt=after)
    return list(tickets.order_by("id").values_list("id", flat=True)[:limit])


# --- Satisfaction ratings --------------------------------------------------------------
