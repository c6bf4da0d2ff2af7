"""Reads for tickets: one ticket, the inbox list, a thread, a customer's history."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import F, Prefetch, QuerySet

from departments.models import Mailbox
from tickets.errors import (
    AttachmentNotFound,
    InboundEmailNotFound,
    MessageNotFound,
    TicketNotFound,
)
from tickets.models import (
    Attachment,
    Contact,
    EmailTemplate,
    InboundEmail,
    Message,
    Tag,
    Ticket,
    TicketStatus,
)

OPEN_STATUSES = (TicketStatus.OPEN, TicketStatus.WAITING, TicketStatus.ON_HOLD)


@dataclass(frozen=True)
class TicketFilters:
    status: str | None = None
    assignee_id: UUID | None = None
    unassigned: bool = False
    department_id: UUID | None = None
    tag: str | None = None
    q: str | None = None


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


def list_tickets(filters: TicketFilters, *, language: str = "en") -> QuerySet[Ticket]:
    """Tickets matching the filters with what lists show already loaded."""
    tickets = Ticket.objects.select_related("contact", "department", "assignee__user")
    if filters.status:
        tickets = tickets.filter(status=filters.status)
    if filters.assignee_id:
        tickets = tickets.filter(assignee_id=filters.assignee_id)
    if filters.unassigned:
        tickets = tickets.filter(assignee__isnull=True)
    if filters.department_id:
        tickets = tickets.filter(department_id=filters.department_id)
    if filters.tag:
        tickets = tickets.filter(tags__name=filters.tag.strip().lower())
    if filters.q:
        query = SearchQuery(filters.q, search_type="websearch", config=search_config(language))
        tickets = tickets.filter(search_vector=query).annotate(
            rank=SearchRank(F("search_vector"), query)
        )
    return tickets.prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name")))


def list_thread(ticket: Ticket) -> QuerySet[Message]:
    """The ticket's messages, oldest first, with authors and attachments."""
    return (
        Message.objects.filter(ticket=ticket)
        .select_related("author_member__user", "author_contact")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("filename")))
        .order_by("created_at", "id")
    )


def get_attachment(attachment_id: UUID) -> Attachment:
    attachment = Attachment.objects.filter(id=attachment_id).first()
    if attachment is None:
        raise AttachmentNotFound(attachment_id=str(attachment_id))
    return attachment


def list_inbound_emails(*, status: str | None = None) -> QuerySet[InboundEmail]:
    """The inbound log, newest first, without the raw bytes."""
    emails = InboundEmail.objects.select_related("mailbox", "ticket").defer("raw")
    if status:
        emails = emails.filter(status=status)
    return emails.order_by("-created_at")


def get_inbound_email(email_id: UUID) -> InboundEmail:
    email = InboundEmail.objects.select_related("mailbox", "ticket").filter(id=email_id).first()
    if email is None:
        raise InboundEmailNotFound(email_id=str(email_id))
    return email


def list_contact_tickets(
    contact: Contact, *, exclude_id: UUID | None = None, limit: int = 10
) -> list[Ticket]:
    """The customer's other tickets, newest first (sidebar)."""
    tickets = Ticket.objects.filter(contact=contact).order_by("-created_at")
    if exclude_id:
        tickets = tickets.exclude(id=exclude_id)
    return list(tickets[:limit])


def count_by_status() -> dict[str, int]:
    from django.db.models import Count

    rows = Ticket.objects.values("status").annotate(total=Count("id"))
    counts = dict.fromkeys(TicketStatus.values, 0)
    counts.update({row["status"]: row["total"] for row in rows})
    return counts


def find_contact_by_email(email: str) -> Contact | None:
    return Contact.objects.filter(email__iexact=email.strip()).first()


def get_reply_mailbox(ticket: Ticket) -> Mailbox | None:
    """The mailbox a ticket's mail goes out from: its own, its department's, the default."""
    if ticket.mailbox_id:
        return ticket.mailbox
    return (
        Mailbox.objects.filter(department_id=ticket.department_id, is_active=True)
        .order_by("-is_default", "created_at")
        .first()
        or Mailbox.objects.filter(is_default=True).first()
    )


def get_message(message_id: UUID) -> Message:
    message = Message.objects.select_related("ticket").filter(id=message_id).first()
    if message is None:
        raise MessageNotFound(message_id=str(message_id))
    return message


def list_custom_templates() -> set[tuple[str, UUID | None]]:
    """(kind, department id or None) of every template the tenant wrote."""
    return set(EmailTemplate.objects.values_list("kind", "department_id"))


def get_public_ticket(ticket_id: UUID) -> Ticket | None:
    return Ticket.objects.select_related("contact").filter(id=ticket_id).first()


def list_public_thread(ticket: Ticket) -> list[Message]:
    """What the customer sees: their messages and public replies, oldest first."""
    return list(
        Message.objects.filter(ticket=ticket, kind__in=["customer", "reply"])
        .select_related("author_member__user", "author_contact")
        .order_by("created_at", "id")
    )
