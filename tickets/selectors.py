"""Reads for tickets: one ticket, the inbox list, a thread, a customer's history."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.contrib.postgres.aggregates import ArrayAgg, JSONBAgg
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import (
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import JSONObject
from django.utils import timezone

from departments.models import Mailbox
from helpdesk.tenancy.context import require_tenant_id
from helpdesk.tenancy.models import Membership
from tickets.errors import (
    AttachmentNotFound,
    InboundEmailNotFound,
    MessageNotFound,
    TicketNotFound,
)
from tickets.models import (
    SEARCH_VIEW,
    SLA_DUE_SOON,
    Attachment,
    Contact,
    EmailTemplate,
    InboundEmail,
    Message,
    MessageKind,
    Tag,
    Ticket,
    TicketFieldValue,
    TicketFollower,
    TicketRead,
    TicketSearch,
    TicketStatus,
    TicketTag,
    field_value_digest,
)

OPEN_STATUSES = (TicketStatus.OPEN, TicketStatus.WAITING, TicketStatus.ON_HOLD)


# Each ends with the id (ties in time), as the list indexes on Ticket do.
SORTS = {
    "-updated": ("-updated_at", "-id"),
    "updated": ("updated_at", "id"),
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
    "due": (F("due_at").asc(nulls_last=True), "id"),
    "sla": (F("sla_due_at").asc(nulls_last=True), "id"),
    "-priority": ("-priority_rank", "-updated_at", "-id"),
}


@dataclass(frozen=True)
class TicketFilters:
    """What an inbox view, a saved view or an API query asks for. Empty means any."""

    statuses: tuple[str, ...] = ()
    assignee_id: UUID | None = None
    unassigned: bool = False
    department_id: UUID | None = None
    tag: str | None = None
    priorities: tuple[str, ...] = ()
    type_id: UUID | None = None
    custom_status_id: UUID | None = None
    channel: str | None = None
    contact_id: UUID | None = None
    company_id: UUID | None = None
    created_after: datetime.datetime | None = None
    created_before: datetime.datetime | None = None
    updated_after: datetime.datetime | None = None
    updated_before: datetime.datetime | None = None
    due: str | None = None  # overdue, due_today, scheduled, none
    sla: str | None = None  # breached, due_soon, on_track, paused, none
    custom_fields: tuple[tuple[str, Any], ...] = ()
    spam: bool = False
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


def list_tickets(
    filters: TicketFilters,
    *,
    language: str = "en",
    sort: str = "-updated",
    reader: Membership | None = None,
    now: datetime.datetime | None = None,
) -> QuerySet[Ticket]:
    """Tickets matching the filters, sorted, with what lists show already loaded.

    With `reader`, each ticket carries `is_unread`: a message came after the reader last
    opened it. A search (`q`) sorts by rank first.
    """
    tickets = Ticket.objects.select_related(
        "contact", "department", "assignee__user", "custom_status", "type"
    ).filter(is_spam=filters.spam, merged_into__isnull=True)
    if set(filters.statuses) == set(OPEN_STATUSES):
        tickets = tickets.filter(is_unsolved=True)  # one index range, not three
    elif filters.statuses:
        tickets = tickets.filter(status__in=filters.statuses)
    if filters.assignee_id:
        tickets = tickets.filter(assignee_id=filters.assignee_id)
    if filters.unassigned:
        tickets = tickets.filter(assignee__isnull=True)
    if filters.department_id:
        tickets = tickets.filter(department_id=filters.department_id)
    if filters.tag:
        # The tag's id first (one small query): as a constant, the planner knows from its
        # statistics how common the tag is and picks the plan for it.
        tag_id = (
            Tag.objects.filter(name=filters.tag.strip().lower())
            .values_list("id", flat=True)
            .first()
        )
        if tag_id is None:
            return Ticket.objects.none()
        tickets = tickets.filter(
            Exists(TicketTag.objects.filter(ticket_id=OuterRef("id"), tag_id=tag_id))
        )
    if filters.priorities:
        tickets = tickets.filter(priority__in=filters.priorities)
    if filters.type_id:
        tickets = tickets.filter(type_id=filters.type_id)
    if filters.custom_status_id:
        tickets = tickets.filter(custom_status_id=filters.custom_status_id)
    if filters.channel:
        tickets = tickets.filter(channel=filters.channel)
    if filters.contact_id:
        tickets = tickets.filter(contact_id=filters.contact_id)
    if filters.company_id:
        tickets = tickets.filter(contact__company_id=filters.company_id)
    for field, bound in (
        ("created_at__gte", filters.created_after),
        ("created_at__lt", filters.created_before),
        ("updated_at__gte", filters.updated_after),
        ("updated_at__lt", filters.updated_before),
    ):
        if bound is not None:
            tickets = tickets.filter(**{field: bound})
    if filters.due:
        tickets = _filter_due(tickets, filters.due, now or timezone.now())
    if filters.sla:
        tickets = _filter_sla(tickets, filters.sla, now or timezone.now())
    for key, value in filters.custom_fields:
        # TicketFieldValue, not a jsonb `@>` on the ticket: under row-level security that
        # operator cannot use an index (it is not LEAKPROOF); `=` on these rows can.
        tickets = tickets.filter(
            Exists(
                TicketFieldValue.objects.filter(
                    ticket_id=OuterRef("id"), key=key, digest=field_value_digest(value)
                )
            )
        )
    ordering: tuple[Any, ...] = SORTS.get(sort, SORTS["-updated"])
    if filters.q:
        query = SearchQuery(filters.q, search_type="websearch", config=search_config(language))
        rank = (
            TicketSearch.objects.filter(ticket_id=OuterRef("id"))
            .annotate(value=SearchRank(F("document"), query))
            .values("value")[:1]
        )
        tickets = tickets.filter(
            id__in=search_ticket_ids(filters.q, config=search_config(language))
        ).annotate(rank=Subquery(rank))
        ordering = ("-rank", *ordering)
    if reader is not None:
        tickets = tickets.annotate(
            is_read=Exists(
                TicketRead.objects.filter(
                    ticket_id=OuterRef("id"),
                    member_id=reader.id,
                    read_at__gte=OuterRef("last_message_at"),
                )
            )
        )
    return tickets.order_by(*ordering).prefetch_related(
        Prefetch("tags", queryset=Tag.objects.order_by("name"))
    )


SEARCH_CANDIDATES = 1000


def search_ticket_ids(text: str, *, config: str) -> RawSQL:
    """Ids of the tickets whose document matches the words (websearch syntax), at most the
    SEARCH_CANDIDATES most recently active: a rare word comes straight from the full-text
    index, a common one from the tenant's newest documents, so no search reads a whole
    tenant. The lists then rank these by relevance.

    Reads SEARCH_VIEW, not the table: the view filters by the current tenant as the
    table's policy does, and leaves the GIN index usable (see TicketSearch). The ids are
    loaded through the scoped manager and RLS afterwards.
    """
    require_tenant_id()
    return RawSQL(  # noqa: S611 - the words and config are parameters
        f"SELECT ticket_id FROM {SEARCH_VIEW}"  # noqa: S608 - a constant, not input
        " WHERE document @@ websearch_to_tsquery(%s::regconfig, %s)"
        " ORDER BY indexed_at DESC LIMIT %s",
        [config, text, SEARCH_CANDIDATES],
    )


def _filter_due(tickets: QuerySet[Ticket], due: str, now: datetime.datetime) -> QuerySet[Ticket]:
    """Due-date states: overdue, due within the day, due later, no due date."""
    if due == "overdue":
        return tickets.filter(due_at__lt=now)
    if due == "due_today":
        return tickets.filter(due_at__gte=now, due_at__lt=now + datetime.timedelta(days=1))
    if due == "scheduled":
        return tickets.filter(due_at__gte=now)
    return tickets.filter(due_at__isnull=True)


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


def count_by_status() -> dict[str, int]:
    from django.db.models import Count

    rows = Ticket.objects.values("status").annotate(total=Count("id"))
    counts = dict.fromkeys(TicketStatus.values, 0)
    counts.update({row["status"]: row["total"] for row in rows})
    return counts


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
        messages.select_related("author_member__user", "author_contact").order_by(
            "created_at", "id"
        )
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


def _filter_sla(tickets: QuerySet[Ticket], sla: str, now: datetime.datetime) -> QuerySet[Ticket]:
    """SLA states (automation keeps the ticket's sla_* columns): a running target already
    missed, due within the hour, due later, paused while waiting, or no SLA at all."""
    if sla == "breached":
        return tickets.filter(sla_due_at__lte=now)
    if sla == "due_soon":
        return tickets.filter(sla_due_at__gt=now, sla_due_at__lte=now + SLA_DUE_SOON)
    if sla == "on_track":
        return tickets.filter(sla_due_at__gt=now + SLA_DUE_SOON)
    if sla == "paused":
        return tickets.filter(sla_paused=True)
    return tickets.filter(sla_due_at__isnull=True, sla_paused=False)


def list_sla_timeline(ticket: Ticket) -> list[tuple[datetime.datetime, str, str]]:
    """What SLA clocks are measured from, oldest first: (when, what, new status), what
    being "customer" (a customer message), "reply" (an agent's public reply; automatic
    mail does not count) or "status" (a status change to the third value)."""
    rows = (
        Message.objects.filter(ticket=ticket)
        .filter(
            Q(kind=MessageKind.CUSTOMER)
            | Q(kind=MessageKind.REPLY, is_automatic=False)
            | (Q(kind=MessageKind.EVENT, event__field="status") & ~Q(event__has_key="merged_from"))
        )
        .order_by("created_at", "id")
        .values_list("created_at", "kind", "event")
    )
    return [
        (at, "status" if kind == MessageKind.EVENT else kind, (event or {}).get("to", ""))
        for at, kind, event in rows
    ]


def lock_ticket_for_sla(ticket_id: UUID) -> Ticket | None:
    """The ticket, locked for its SLA recomputation (two runs for one ticket queue up)."""
    return (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("assignee")
        .filter(id=ticket_id)
        .first()
    )


def list_unsolved_ticket_ids(*, after: UUID | None = None, limit: int = 200) -> list[UUID]:
    """Ids of unsolved tickets in id order, from after `after` (a batch of a long walk)."""
    tickets = Ticket.objects.filter(is_unsolved=True)
    if after is not None:
        tickets = tickets.filter(id__gt=after)
    return list(tickets.order_by("id").values_list("id", flat=True)[:limit])


# --- Satisfaction ratings --------------------------------------------------------------
