"""Building blocks of the ticket services: numbers, events, tags, the search document and
the last-activity snippet."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import connection

from helpdesk.core.ids import new_id
from helpdesk.tenancy.context import require_tenant_id
from helpdesk.tenancy.models import Membership
from tickets.attribution import rule_marker
from tickets.errors import TicketNotFound
from tickets.models import (
    Contact,
    Message,
    MessageKind,
    Tag,
    Ticket,
    TicketStatus,
    TicketTag,
)
from tickets.ticket import selectors

S = TicketStatus


TICKET_TRANSITIONS: dict[str, frozenset[str]] = {
    S.OPEN: frozenset({S.WAITING, S.ON_HOLD, S.SOLVED, S.CLOSED}),
    S.WAITING: frozenset({S.OPEN, S.ON_HOLD, S.SOLVED, S.CLOSED}),
    S.ON_HOLD: frozenset({S.OPEN, S.WAITING, S.SOLVED, S.CLOSED}),
    S.SOLVED: frozenset({S.OPEN, S.CLOSED}),
    S.CLOSED: frozenset(),
}


MAX_TAG_LENGTH = 60

# Every column, under the name the instance holds it by (assignee_id, not assignee).
_TICKET_COLUMNS = tuple(field.attname for field in Ticket._meta.concrete_fields)


def lock_ticket(ticket: Ticket) -> None:
    """Lock the ticket's row until this transaction ends, then bring the instance up to
    date: the caller read it without a lock, and another agent or a task may have closed,
    merged, assigned or changed it since. Each service that changes a ticket calls this
    first, so two changes to one ticket run one after the other and the second sees what
    the first did (a reply racing a close was sent, and reopened the closed ticket; an
    agent's edit racing automatic assignment took the ticket back). A relation whose id
    changed is read again when next used. Raises TicketNotFound (deleted meanwhile)."""
    current = (
        Ticket.objects.select_for_update(of=("self",))
        .filter(id=ticket.id)
        .values(*_TICKET_COLUMNS)
        .first()
    )
    if current is None:
        raise TicketNotFound(number=ticket.number)
    for name, value in current.items():
        if ticket.__dict__.get(name) != value:
            setattr(ticket, name, value)


def next_ticket_number() -> int:
    """Take the tenant's next number. The row lock serialises concurrent creators."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tickets_ticketcounter (id, tenant_id, last_number, created_at, updated_at)"
            " VALUES (%s, %s, 1, now(), now())"
            " ON CONFLICT (tenant_id) DO UPDATE"
            " SET last_number = tickets_ticketcounter.last_number + 1, updated_at = now()"
            " RETURNING last_number",
            [new_id(), require_tenant_id()],
        )
        return int(cursor.fetchone()[0])


def normalize_tag(name: str) -> str:
    return " ".join(name.strip().lower().split())[:MAX_TAG_LENGTH]


def record_event(
    *,
    ticket: Ticket,
    actor: Membership | None,
    field: str,
    old: Any,
    new: Any,
    author_contact: Contact | None = None,
    via: str = "",
) -> Message:
    """A system-event message: who changed which field from what to what (`author_contact`
    when the customer did, as with a satisfaction rating), and `via` what when the system
    did it on its own (round_robin, went_offline, …; the ticket page words it), and the
    workflow rule that did it while one acts (tickets.attribution)."""
    event: dict[str, Any] = {"field": field, "from": old, "to": new, **rule_marker()}
    if via:
        event["via"] = via
    return Message.objects.create(
        ticket=ticket,
        kind=MessageKind.EVENT,
        author_member=actor,
        author_contact=author_contact,
        event=event,
    )


def refresh_search_vector(
    *,
    ticket: Ticket,
    language: str = "en",
    bodies: list[str] | None = None,
    tag_names: list[str] | None = None,
) -> None:
    """Rebuild the ticket's full-text document: subject, customer, tags and message text.

    A caller that already knows the bodies and tags (a new ticket) passes them.
    """
    config = selectors.search_config(language)
    if bodies is None:
        bodies = list(
            Message.objects.filter(
                ticket=ticket,
                kind__in=[MessageKind.CUSTOMER, MessageKind.REPLY, MessageKind.NOTE],
            )
            .order_by("-created_at")
            .values_list("body_text", flat=True)[:50]
        )
    contact = ticket.contact
    people = " ".join(
        filter(None, [contact.name, contact.email, contact.company.name if contact.company else ""])
    )
    if tag_names is None:
        tag_names = list(ticket.tags.values_list("name", flat=True))
    tags = " ".join(tag_names)
    # One upsert, under the table's policy: the tenant written is the ticket's own, the
    # current one.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tickets_ticketsearch (ticket_id, tenant_id, indexed_at, document)"
            " VALUES (%s, %s, now(),"
            " setweight(to_tsvector(%s::regconfig, %s), 'A')"
            " || setweight(to_tsvector(%s::regconfig, %s), 'B')"
            " || setweight(to_tsvector(%s::regconfig, %s), 'C'))"
            " ON CONFLICT (ticket_id) DO UPDATE"
            " SET document = EXCLUDED.document, indexed_at = EXCLUDED.indexed_at",
            [
                ticket.id,
                ticket.tenant_id,
                config,
                ticket.subject,
                config,
                f"{people} {tags}",
                config,
                " ".join(bodies)[:200_000],
            ],
        )


def snippet(text: str) -> str:
    """The start of a message on one line, for the inbox."""
    return " ".join(text.split())[:200]


def refresh_last_message(ticket: Ticket) -> None:
    """Recompute the ticket's last activity and snippet from its thread (after messages
    moved in or out: merge, split). Automatic mail (acknowledgements, surveys) counts as
    neither, as when it is sent."""
    conversation = Message.objects.filter(ticket=ticket, is_automatic=False).exclude(
        kind=MessageKind.EVENT
    )
    latest = conversation.order_by("-created_at", "-id").values_list("created_at", flat=True)
    public = (
        conversation.filter(kind__in=[MessageKind.CUSTOMER, MessageKind.REPLY])
        .order_by("-created_at", "-id")
        .values_list("body_text", flat=True)
    )
    ticket.last_message_at = latest.first()
    text = public.first()
    ticket.last_message_snippet = snippet(text) if text else ""
    ticket.save(update_fields=["last_message_at", "last_message_snippet", "updated_at"])


def set_tags(ticket: Ticket, names: Iterable[str]) -> list[str]:
    wanted = sorted({normalize_tag(n) for n in names if normalize_tag(n)})
    existing = {tag.name: tag for tag in Tag.objects.filter(name__in=wanted)}
    for name in wanted:
        if name not in existing:
            existing[name] = Tag.objects.create(name=name)
    TicketTag.objects.filter(ticket=ticket).exclude(tag__name__in=wanted).delete()
    present = set(TicketTag.objects.filter(ticket=ticket).values_list("tag__name", flat=True))
    TicketTag.objects.bulk_create(
        [
            TicketTag(ticket=ticket, tag=existing[n], tenant_id=ticket.tenant_id)
            for n in wanted
            if n not in present
        ]
    )
    return wanted
