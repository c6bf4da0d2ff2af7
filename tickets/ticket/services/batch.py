"""Set-based writes for a batch of inbound mail (tickets.mail_in.batch): ticket numbers
taken once, tickets, messages and attachments inserted in bulk, the touched tickets'
search documents rebuilt in one statement. Each does what create_ticket and
add_customer_message do for one mail, for many: the same rows, the same signals.

Locks, always in this order (as in the per-mail path): the tenant's ticket counter, then
the tickets a batch updates, by id."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from uuid import UUID

from django.core.files.base import ContentFile
from django.db import connection
from django.utils import timezone

from helpdesk.core.ids import new_id
from helpdesk.tenancy.context import require_tenant_id
from helpdesk.tenancy.models import Membership
from tickets.models import (
    Attachment,
    CompanyDomain,
    Contact,
    Message,
    MessageKind,
    NotificationKind,
    Ticket,
    TicketFollower,
    TicketStatus,
)
from tickets.notifications import services as notifications
from tickets.signals import send_ticket_changed
from tickets.ticket import selectors
from tickets.ticket.services.lifecycle import change_status
from tickets.ticket.services.messages import NewAttachment


def get_or_create_contacts(people: dict[str, str]) -> dict[str, Contact]:
    """The contacts of these addresses (address → display name), by lowercase address,
    as get_or_create_contact finds or makes each, in three statements for any number: one
    read, one read of the new addresses' company domains, one insert.

    A contact created meanwhile by another transaction (the unique (tenant, email_key)
    index) is taken as it is: the insert's `ON CONFLICT` returns its id."""
    wanted: dict[str, tuple[str, str]] = {}
    for email, name in people.items():
        key = email.strip().lower()
        if key and key not in wanted:
            wanted[key] = (email.strip(), name)
    found: dict[str, Contact] = {}
    for contact in Contact.objects.select_related("merged_into").filter(email_key__in=list(wanted)):
        found[contact.email_key] = contact
    missing = [key for key in wanted if key not in found]
    if missing:
        domains = {key.rsplit("@", 1)[-1] for key in missing}
        companies = {
            row.domain: row.company
            for row in CompanyDomain.objects.select_related("company").filter(
                domain__in=sorted(domains)
            )
        }
        tenant_id = require_tenant_id()
        new = [
            Contact(
                tenant_id=tenant_id,
                email=wanted[key][0],
                name=wanted[key][1].strip(),
                company=companies.get(key.rsplit("@", 1)[-1]),
            )
            for key in missing
        ]
        Contact.objects.bulk_create(
            new,
            update_conflicts=True,
            unique_fields=["tenant", "email_key"],
            update_fields=["updated_at"],
        )
        found.update(zip(missing, new, strict=True))
    contacts: dict[str, Contact] = {}
    for key, contact in found.items():
        if contact.merged_into_id:
            contact = contact.merged_into or contact
        name = wanted[key][1]
        if name and not contact.name:
            contact.name = name
            contact.save(update_fields=["name", "updated_at"])
        contacts[key] = contact
    return contacts


def add_followers_many(entries: Sequence[tuple[Ticket, list[str]]]) -> int:
    """add_followers for a batch's tickets at once: every address's contact found or made
    by get_or_create_contacts (three statements), then the followers inserted in one
    (a follower already there is left as it is; the ticket's own contact is skipped).
    Returns how many follower rows were new."""
    addresses = {email: "" for _, emails in entries for email in emails if email.strip()}
    if not addresses:
        return 0
    contacts = get_or_create_contacts(addresses)
    tenant_id = require_tenant_id()
    rows: dict[tuple[UUID, UUID], TicketFollower] = {}
    for ticket, emails in entries:
        for email in emails:
            contact = contacts.get(email.strip().lower())
            if contact is None or contact.id == ticket.contact_id:
                continue
            rows.setdefault(
                (ticket.id, contact.id),
                TicketFollower(tenant_id=tenant_id, ticket=ticket, contact=contact),
            )
    if not rows:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tickets_ticketfollower (id, tenant_id, ticket_id, contact_id,"
            " created_at, updated_at)"
            " SELECT v.id, %s, v.ticket_id, v.contact_id, now(), now()"
            " FROM unnest(%s::uuid[], %s::uuid[], %s::uuid[]) AS v(id, ticket_id, contact_id)"
            " ON CONFLICT DO NOTHING",
            [
                tenant_id,
                [row.id for row in rows.values()],
                [row.ticket_id for row in rows.values()],
                [row.contact_id for row in rows.values()],
            ],
        )
        return int(cursor.rowcount)


class TicketNumbers:
    """The tenant's next ticket numbers, for a batch: the counter row is locked and read on
    the first `take()` and written once by `save()`, so a batch of fifty new tickets costs
    two statements, not fifty. Numbers stay sequential with no gap: a batch rolled back
    rolls its counter back with it."""

    def __init__(self) -> None:
        self.last: int | None = None
        self.taken = 0

    def take(self) -> int:
        if self.last is None:
            with connection.cursor() as cursor:
                # A no-op update takes the row lock (the counter serialises every creator
                # of tickets in the tenant) and returns the last number handed out.
                cursor.execute(
                    "INSERT INTO tickets_ticketcounter"
                    " (id, tenant_id, last_number, created_at, updated_at)"
                    " VALUES (%s, %s, 0, now(), now())"
                    " ON CONFLICT (tenant_id) DO UPDATE"
                    " SET last_number = tickets_ticketcounter.last_number"
                    " RETURNING last_number",
                    [new_id(), require_tenant_id()],
                )
                self.last = int(cursor.fetchone()[0])
        self.taken += 1
        return self.last + self.taken

    def save(self) -> None:
        if self.last is None or not self.taken:
            return
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE tickets_ticketcounter SET last_number = %s, updated_at = now()"
                " WHERE tenant_id = %s",
                [self.last + self.taken, require_tenant_id()],
            )


@dataclass
class EmailBatch:
    """What a batch of mail writes: new tickets (with their first message among
    `messages`), customer messages on existing tickets, attachments by message id, the
    existing tickets whose last activity moved, those to reopen; `first_messages`: each
    new ticket's first message, by ticket id."""

    new_tickets: list[Ticket] = field(default_factory=list)
    first_messages: dict[UUID, UUID] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    attachments: dict[UUID, list[NewAttachment]] = field(default_factory=dict)
    updated: dict[UUID, Ticket] = field(default_factory=dict)
    reopen: dict[UUID, Ticket] = field(default_factory=dict)


def store_email_batch(*, batch: EmailBatch, language: str) -> None:
    """Insert the batch's tickets, messages and attachments in bulk, move the updated
    tickets' last activity in one statement, reopen those waiting, on hold or solved,
    rebuild every touched ticket's search document in one statement, and report each
    creation and customer message (tickets.signals: SLA, rules, assignment and reports
    collect them once per transaction). Call inside the tenant's transaction."""
    tenant_id = require_tenant_id()
    for ticket in batch.new_tickets:
        ticket.tenant_id = tenant_id
    for message in batch.messages:
        message.tenant_id = tenant_id
    Ticket.objects.bulk_create(batch.new_tickets)
    Message.objects.bulk_create(batch.messages)
    _store_attachments(batch.messages, batch.attachments)
    if batch.updated:
        now = timezone.now()
        updated = sorted(batch.updated.values(), key=lambda t: t.id)
        for ticket in updated:
            ticket.updated_at = now
        with connection.cursor() as cursor:
            # One statement (Django's bulk_update builds a CASE per row and field).
            cursor.execute(
                "UPDATE tickets_ticket AS t SET last_message_at = v.at,"
                " last_message_snippet = v.snippet, updated_at = %s"
                " FROM unnest(%s::uuid[], %s::timestamptz[], %s::text[]) AS v(id, at, snippet)"
                " WHERE t.tenant_id = %s AND t.id = v.id",
                [
                    now,
                    [t.id for t in updated],
                    [t.last_message_at for t in updated],
                    [t.last_message_snippet for t in updated],
                    tenant_id,
                ],
            )
    created = {ticket.id for ticket in batch.new_tickets}
    for ticket in batch.new_tickets:
        send_ticket_changed(ticket, "created")
    first = set(batch.first_messages.values())
    for message in batch.messages:
        if message.id not in first:  # as add_customer_message reports a later one
            send_ticket_changed(message.ticket, "customer_message")
    for ticket in sorted(batch.reopen.values(), key=lambda t: t.id):
        change_status(ticket=ticket, status=TicketStatus.OPEN, actor=None)
    refresh_search_vectors(
        ticket_ids=[*created, *(t for t in batch.updated if t not in created)], language=language
    )
    # The assignees of tickets a customer answered: one notification per ticket and
    # assignee (about its latest message), inserted at once, mailed by one task per hundred.
    replied: dict[UUID, tuple[Membership, UUID]] = {}
    for message in batch.messages:
        assignee = message.ticket.assignee if message.ticket.assignee_id else None
        if message.ticket_id not in created and assignee is not None:
            replied[message.ticket_id] = (assignee, message.id)
    if replied:
        notifications.notify_many_on_commit(
            kind=NotificationKind.CUSTOMER_REPLIED,
            entries=[(ticket_id, member) for ticket_id, (member, _) in replied.items()],
            messages={ticket_id: message_id for ticket_id, (_, message_id) in replied.items()},
        )


def _store_attachments(
    messages: Sequence[Message], attachments: dict[UUID, list[NewAttachment]]
) -> None:
    """Files in storage (paths by id, as store_attachments), rows in one insert."""
    rows = []
    for message in messages:
        for item in attachments.get(message.id, ()):
            attachment = Attachment(
                id=item.id,
                tenant_id=message.tenant_id,
                message=message,
                filename=item.filename[:255],
                content_type=item.content_type[:255],
                size=len(item.payload),
                content_id=item.content_id[:255],
                is_inline=item.is_inline,
            )
            attachment.file.save(item.filename, ContentFile(item.payload), save=False)
            rows.append(attachment)
    if rows:
        Attachment.objects.bulk_create(rows)


_SEARCH_DOCUMENTS = """
INSERT INTO tickets_ticketsearch (ticket_id, tenant_id, indexed_at, document)
SELECT t.id, t.tenant_id, now(),
    setweight(to_tsvector(%(config)s::regconfig, t.subject), 'A')
    || setweight(to_tsvector(%(config)s::regconfig,
        concat_ws(' ', nullif(c.name, ''), nullif(c.email, ''), nullif(co.name, ''))
        || ' ' || coalesce(tags.names, '')), 'B')
    || setweight(to_tsvector(%(config)s::regconfig,
        left(coalesce(bodies.text, ''), 200000)), 'C')
FROM tickets_ticket t
JOIN tickets_contact c ON c.id = t.contact_id
LEFT JOIN tickets_company co ON co.id = c.company_id
LEFT JOIN LATERAL (
    SELECT string_agg(g.name, ' ' ORDER BY g.name) AS names
    FROM tickets_tickettag tt JOIN tickets_tag g ON g.id = tt.tag_id
    WHERE tt.ticket_id = t.id
) tags ON true
LEFT JOIN LATERAL (
    SELECT string_agg(m.body_text, ' ' ORDER BY m.created_at DESC) AS text
    FROM (
        SELECT body_text, created_at FROM tickets_message
        WHERE ticket_id = t.id AND kind = ANY(%(kinds)s)
        ORDER BY created_at DESC LIMIT 50
    ) m
) bodies ON true
WHERE t.tenant_id = %(tenant)s AND t.id = ANY(%(ids)s)
ON CONFLICT (ticket_id) DO UPDATE
SET document = EXCLUDED.document, indexed_at = EXCLUDED.indexed_at
"""


def refresh_search_vectors(*, ticket_ids: Iterable[UUID], language: str = "en") -> None:
    """Rebuild these tickets' full-text documents in one statement, exactly as
    refresh_search_vector builds one: subject (A); customer name, address, company and tags
    (B); the latest fifty customer messages, replies and notes, newest first (C)."""
    ids = list(dict.fromkeys(ticket_ids))
    if not ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            _SEARCH_DOCUMENTS,
            {
                "config": selectors.search_config(language),
                "kinds": [MessageKind.CUSTOMER, MessageKind.REPLY, MessageKind.NOTE],
                "tenant": require_tenant_id(),
                "ids": ids,
            },
        )
