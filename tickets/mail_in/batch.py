"""A claimed batch of inbound mail, processed set-based (issue 17, point 2).

The per-mail path (services._process) costs about twenty statements a mail: a contact
lookup, five threading queries, a ticket number, single-row inserts, a search document, a
savepoint. Here the batch is cut into segments, each processed in one savepoint:

1. **Read**: every sender's contact (created in bulk when new), then the threading
   candidates of every mail at once (Message-IDs, reply tokens, `[#123]` tags, with the
   tickets' first messages and followers): a handful of statements for the segment.
2. **Decide**, in arrival order and in memory, exactly as services.find_thread and
   services._process would: a mail that answers one earlier in the batch finds the ticket
   that one opened (its Message-ID, ticket number and reply token are known before any
   row is written), and mails for one ticket keep their order.
3. **Write** in bulk (tickets.ticket.ticket_batch.store_email_batch): ticket numbers taken
   once, tickets, messages and attachments inserted together, the updated tickets in one
   statement, search documents in one, the InboundEmail rows in one; then the
   acknowledgements (sent later by one delivery task for the batch, helpdesk.mail).

What the set-based path does not take on, it hands to the per-mail path in order: a
delivery report, mail to a merged or closed ticket (a follow-up), mail from an outsider
found by the `[#123]` tag (an internal note). The segment ends before such a mail, which is
processed alone (its own savepoint), and the next segment reads again what it needs. A
segment also ends before a mail whose threading depends on followers an earlier mail of
the segment adds.

A mail that cannot be parsed ends `failed` with its reason. An error in a segment's writes
(a bug, bad data) rolls that segment back and the rest of the batch goes through the
per-mail path, one savepoint each, so one bad mail fails alone; an outage (database,
Redis) fails the whole batch, which stays queued for the retry and the sweeper.

Locks, in this order for every batch a drain claims (services.process_batch): the
tenant's claim lock (only while claiming), the claimed InboundEmail rows (oldest first),
the rows of the batches claimed before it (waited for, never held by a later claim), the
tenant's batch lock, the ticket counter, then the updated tickets by id. A direct call
with `email_ids` takes the batch lock first and then only rows no one holds (SKIP LOCKED),
so it never waits on a row while holding the batch lock.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from departments import selectors as department_selectors
from departments.models import Department
from helpdesk.core.errors import is_temporary
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.context import require_tenant_id
from tickets.mail_in import intake
from tickets.mail_in import services as inbound
from tickets.mail_in.parsing import ParsedEmail
from tickets.mail_out import services as outbound
from tickets.models import (
    Contact,
    InboundEmail,
    InboundEmailStatus,
    Message,
    MessageKind,
    Ticket,
    TicketChannel,
    TicketFollower,
    TicketStatus,
)
from tickets.ticket import services
from tickets.ticket.services import batch as ticket_batch

logger = logging.getLogger(__name__)

ProcessOne = Callable[[InboundEmail, ParsedEmail | None], InboundEmail]


@dataclass
class _Mail:
    email: InboundEmail
    parsed: ParsedEmail | None = None
    error: str = ""
    sender: str = ""
    copied: list[str] = field(default_factory=list)
    attempts: int = 0
    # The body and content made before the serial part (services.prepare); used once.
    content: tuple[str, services.MessageContent] | None = None

    def __post_init__(self) -> None:
        self.attempts = self.email.attempts

    def forget(self) -> None:
        """Back to the row as claimed (a rolled-back segment's decisions are undone)."""
        email = self.email
        email.attempts = self.attempts
        email.status = InboundEmailStatus.QUEUED
        email.reason = ""
        email.ticket = None
        email.ticket_message = None
        email.processed_at = None

    @property
    def recipients(self) -> list[str]:
        return [*self.email.envelope_to, *self.email.header_recipients]


class _Next(enum.Enum):
    DONE = "done"  # decided here; written with the segment
    ALONE = "alone"  # the per-mail path, after the segment
    NEW_SEGMENT = "new_segment"  # decided by a new segment, after this one is written


@dataclass
class _Known:
    """A message the threading lookup knows: from the database or written by this batch."""

    ticket_id: UUID
    kind: str
    order: tuple[Any, ...]  # newest is greatest


@dataclass
class _Segment:
    mails: list[_Mail]
    language: str
    tenant_name: str
    write: ticket_batch.EmailBatch = field(default_factory=ticket_batch.EmailBatch)
    numbers: ticket_batch.TicketNumbers = field(default_factory=ticket_batch.TicketNumbers)
    contacts: dict[str, Contact] = field(default_factory=dict)
    tickets: dict[UUID, Ticket] = field(default_factory=dict)
    by_message_id: dict[str, list[_Known]] = field(default_factory=dict)
    by_token: dict[str, UUID] = field(default_factory=dict)
    by_number: dict[int, UUID] = field(default_factory=dict)
    first_message_id: dict[UUID, str] = field(default_factory=dict)
    followers: set[tuple[UUID, UUID]] = field(default_factory=set)
    adding_followers: set[UUID] = field(default_factory=set)
    new_followers: list[tuple[Ticket, list[str]]] = field(default_factory=list)
    marks: list[InboundEmail] = field(default_factory=list)
    acknowledge: list[tuple[InboundEmail, Ticket]] = field(default_factory=list)
    default_department: Department | None = None
    own: frozenset[str] = frozenset()
    help_desk: set[str] = field(default_factory=set)
    sequence: int = 0

    # --- 1. Read -----------------------------------------------------------------------

    def read(self) -> None:
        self.own = own = department_selectors.own_addresses()
        people: dict[str, str] = {}
        copied: set[str] = set()
        for mail in self.mails:
            parsed = mail.parsed
            if parsed is None or parsed.bounce is not None:
                continue
            mail.sender = parsed.from_address or intake.normalize_address(mail.email.envelope_from)
            if _rejection(mail.sender, own) is None and mail.sender not in people:
                people[mail.sender] = parsed.from_name
            mail.copied = inbound._copied_addresses(parsed, mail.sender, own)
            copied.update(mail.copied)
        self.contacts = ticket_batch.get_or_create_contacts(people) if people else {}
        # Which copied addresses are help desk mailboxes (never followers): one lookup.
        self.help_desk = intake.help_desk_addresses(copied) if copied else set()
        self._read_threads()

    def _read_threads(self) -> None:
        ids: set[str] = set()
        tokens: set[str] = set()
        numbers: set[int] = set()
        for mail in self.mails:
            if mail.parsed is None:
                continue
            ids.update(mail.parsed.thread_ids[:100])
            for address in mail.recipients:
                token = inbound.PLUS_TOKEN.match(address)
                if token:
                    tokens.add(token.group(1).lower())
            tag = inbound.SUBJECT_TAG.search(mail.parsed.subject)
            if tag:
                numbers.add(int(tag.group(1)))
        ticket_ids: set[UUID] = set()
        if ids:
            for row in Message.objects.filter(
                email_message_id__in=sorted(ids),
                kind__in=[MessageKind.CUSTOMER, MessageKind.REPLY],
            ).values("email_message_id", "ticket_id", "kind", "created_at", "id"):
                self.by_message_id.setdefault(row["email_message_id"], []).append(
                    _Known(row["ticket_id"], row["kind"], (0, row["created_at"], row["id"]))
                )
                ticket_ids.add(row["ticket_id"])
        if not (ticket_ids or tokens or numbers):
            return
        found = (
            Ticket.objects.select_related("contact__company", "assignee")
            .filter(
                Q(id__in=sorted(ticket_ids))
                | Q(reply_token__in=sorted(tokens))
                | Q(number__in=sorted(numbers))
            )
            .order_by("id")
        )
        for ticket in found:
            self.tickets[ticket.id] = ticket
            self.by_token[ticket.reply_token] = ticket.id
            self.by_number[ticket.number] = ticket.id
        if not self.tickets:
            return
        candidates = sorted(self.tickets)
        for ticket_id, message_id in (
            Message.objects.filter(ticket_id__in=candidates, kind=MessageKind.CUSTOMER)
            .order_by("ticket_id", "created_at", "id")
            .distinct("ticket_id")
            .values_list("ticket_id", "email_message_id")
        ):
            self.first_message_id[ticket_id] = message_id
        self.followers = set(
            TicketFollower.objects.filter(ticket_id__in=candidates).values_list(
                "ticket_id", "contact_id"
            )
        )

    # --- 2. Decide ---------------------------------------------------------------------

    def decide(self, mail: _Mail) -> _Next:
        email, parsed = mail.email, mail.parsed
        if parsed is None:
            self._mark(email, InboundEmailStatus.FAILED, mail.error)
            return _Next.DONE
        if parsed.bounce is not None:
            return _Next.ALONE
        rejection = _rejection(mail.sender, self.own)
        if rejection is not None:
            self._mark(email, InboundEmailStatus.REJECTED, rejection)
            return _Next.DONE
        contact = self.contacts[mail.sender]
        found = self._find_thread(parsed, mail.recipients, contact)
        if isinstance(found, _Next):
            return found
        ticket = found.ticket if found is not None else None
        if found is not None and (
            found.ticket.merged_into_id
            or found.ticket.status == TicketStatus.CLOSED
            or found.outsider
        ):
            return _Next.ALONE
        may_add_followers = found is None or found.may_add_followers
        if ticket is not None and ticket.id in self.adding_followers:
            # The per-mail path would read the followers this segment is about to add.
            return _Next.NEW_SEGMENT
        body, content = mail.content or inbound._content(parsed)
        mail.content = None  # decided again (a new segment): made again, as the first time
        content.email_cc = list(mail.copied)
        now = timezone.now()
        opened = ticket is None
        if ticket is None:
            ticket = self._new_ticket(email, parsed, contact, body, now)
            acknowledge = inbound._should_acknowledge(email, parsed)
        else:
            acknowledge = False
            ticket.last_message_at = now
            if ticket.id not in self.write.first_messages:
                self.write.updated[ticket.id] = ticket
                if ticket.status != TicketStatus.OPEN:
                    self.write.reopen[ticket.id] = ticket
        message = Message(
            ticket=ticket,
            kind=MessageKind.CUSTOMER,
            body_text=body,
            author_contact=contact,
            body_html=content.html,
            quoted_text=content.quoted_text,
            email_message_id=content.email_message_id,
            email_cc=content.email_cc,
            created_at=now,
        )
        ticket.last_message_snippet = services.snippet(body)
        self.write.messages.append(message)
        if opened:
            self.write.first_messages[ticket.id] = message.id
        if content.attachments:
            self.write.attachments[message.id] = content.attachments
        if content.email_message_id:
            self.sequence += 1
            self.by_message_id.setdefault(content.email_message_id, []).append(
                _Known(ticket.id, MessageKind.CUSTOMER, (1, self.sequence))
            )
        if content.email_cc and may_add_followers and self._on_ticket(ticket, contact):
            followers = [a for a in content.email_cc if a not in self.help_desk]
            if followers:
                self.new_followers.append((ticket, followers))
                self.adding_followers.add(ticket.id)
        note = "; ".join(parsed.problems)[:2000]
        self._mark(email, InboundEmailStatus.PROCESSED, note, ticket=ticket, message=message)
        if acknowledge:
            self.acknowledge.append((email, ticket))
        return _Next.DONE

    def _new_ticket(
        self, email: InboundEmail, parsed: ParsedEmail, contact: Contact, body: str, now: Any
    ) -> Ticket:
        if email.mailbox is not None:
            department = email.mailbox.department
        else:
            if self.default_department is None:
                self.default_department = department_selectors.get_default_department()
            department = self.default_department
        subject = (
            inbound.SUBJECT_TAG.sub("", parsed.subject).strip() or parsed.subject or "(no subject)"
        )
        ticket = Ticket(
            number=self.numbers.take(),
            last_message_snippet=services.snippet(body),
            subject=subject.strip()[:250] or "(no subject)",
            contact=contact,
            department=department,
            channel=TicketChannel.EMAIL,
            last_message_at=now,
            mailbox=email.mailbox,
            created_at=now,
        )
        self.write.new_tickets.append(ticket)
        self.tickets[ticket.id] = ticket
        self.by_token[ticket.reply_token] = ticket.id
        self.by_number[ticket.number] = ticket.id
        self.first_message_id[ticket.id] = parsed.message_id
        return ticket

    def _find_thread(
        self, parsed: ParsedEmail, recipients: list[str], sender: Contact
    ) -> inbound.Thread | _Next | None:
        """services._find_thread over what `read` found and this batch wrote."""
        by_token = None
        for address in recipients:
            token = inbound.PLUS_TOKEN.match(address)
            if token and token.group(1).lower() in self.by_token:
                by_token = self.tickets[self.by_token[token.group(1).lower()]]
                break
        ids = parsed.thread_ids[:100]
        known = [k for i in ids for k in self.by_message_id.get(i, ())]
        if known:
            ticket = self.tickets[max(known, key=lambda k: k.order).ticket_id]
            if self._answers_our_mail(ticket, ids):
                return inbound.Thread(ticket, inbound.FoundBy.MESSAGE_ID)
            if by_token is not None and by_token.id == ticket.id:
                return inbound.Thread(ticket, inbound.FoundBy.REPLY_ADDRESS)
            return inbound.Thread(ticket, inbound.FoundBy.CUSTOMER_MESSAGE_ID)
        by_tag = None
        tag = inbound.SUBJECT_TAG.search(parsed.subject)
        if tag and int(tag.group(1)) in self.by_number:
            ticket = self.tickets[self.by_number[int(tag.group(1))]]
            if by_token is not None and by_token.id == ticket.id:
                return inbound.Thread(ticket, inbound.FoundBy.REPLY_ADDRESS)
            if ticket.id in self.adding_followers:
                return _Next.NEW_SEGMENT
            by_tag = inbound.Thread(
                ticket, inbound.FoundBy.SUBJECT_TAG, outsider=not self._on_ticket(ticket, sender)
            )
            if not by_tag.outsider:
                return by_tag
        if by_token is not None:
            return inbound.Thread(by_token, inbound.FoundBy.REPLY_ADDRESS)
        return by_tag

    def _answers_our_mail(self, ticket: Ticket, ids: list[str]) -> bool:
        for message_id in ids:
            for known in self.by_message_id.get(message_id, ()):
                if known.ticket_id == ticket.id and known.kind == MessageKind.REPLY:
                    return True
        if ticket.follow_up_of_id is not None:
            return False
        first = self.first_message_id.get(ticket.id, "")
        return bool(first) and first in ids

    def _on_ticket(self, ticket: Ticket, contact: Contact) -> bool:
        return ticket.contact_id == contact.id or (ticket.id, contact.id) in self.followers

    def _mark(
        self,
        email: InboundEmail,
        status: str,
        reason: str = "",
        ticket: Ticket | None = None,
        message: Message | None = None,
    ) -> None:
        email.set_outcome(status, reason, ticket=ticket, message=message)
        self.marks.append(email)

    # --- 3. Write ----------------------------------------------------------------------

    def write_all(self) -> None:
        self.numbers.save()
        ticket_batch.store_email_batch(batch=self.write, language=self.language)
        ticket_batch.add_followers_many(self.new_followers)
        _save_marks(self.marks)
        if self.acknowledge:
            thread: dict[UUID, list[str]] = {}
            for message in self.write.messages:
                if message.email_message_id:
                    thread.setdefault(message.ticket_id, []).append(message.email_message_id)
            outbound.acknowledge_many(
                acknowledgements=self.acknowledge,
                tenant_name=self.tenant_name
                or tenancy_selectors.get_tenant(require_tenant_id()).name,
                language=self.language,
                thread=thread,
            )


_SAVE_MARKS = """
UPDATE tickets_inboundemail AS e
SET attempts = v.attempts, status = v.status, reason = v.reason, ticket_id = v.ticket_id,
    ticket_message_id = v.message_id, processed_at = v.processed_at, updated_at = v.processed_at
FROM unnest(%s::uuid[], %s::int[], %s::text[], %s::text[], %s::uuid[], %s::uuid[],
    %s::timestamptz[]) AS v(id, attempts, status, reason, ticket_id, message_id, processed_at)
WHERE e.tenant_id = %s AND e.id = v.id
"""


def _save_marks(emails: list[InboundEmail]) -> None:
    """The decided rows' outcome in one statement (Django's bulk_update builds a CASE per
    row and field: a hundred rows cost more Python than the rest of the batch)."""
    if not emails:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            _SAVE_MARKS,
            [
                [e.id for e in emails],
                [e.attempts for e in emails],
                [e.status for e in emails],
                [e.reason for e in emails],
                [e.ticket_id for e in emails],
                [e.ticket_message_id for e in emails],
                [e.processed_at for e in emails],
                require_tenant_id(),
            ],
        )


def _rejection(sender: str, own: frozenset[str]) -> str | None:
    if "@" not in sender or len(sender) > inbound.MAX_ADDRESS_LENGTH:
        return "no sender address"
    if sender in own or intake.base_address(sender) in own:
        return "sent from one of our own mailboxes"
    return None


def _mail(email: InboundEmail, prepared: inbound.Prepared) -> _Mail:
    return _Mail(email, prepared.parsed, error=prepared.error, content=prepared.content)


def process_claimed(
    emails: list[InboundEmail],
    parsed: dict[UUID, inbound.Prepared],
    *,
    language: str,
    tenant_name: str,
    one: ProcessOne,
) -> list[InboundEmail]:
    """Process claimed rows, oldest first, set-based (see the module); `parsed`: each row
    parsed (services.prepare); `one` is the per-mail path, in its own savepoint.
    Returns the rows as they ended, in claimed order."""
    mails = [_mail(email, parsed[email.id]) for email in emails]
    start = 0
    while start < len(mails):
        segment = _Segment(mails[start:], language=language, tenant_name=tenant_name)
        decided = 0
        following = _Next.DONE
        try:
            with transaction.atomic():
                segment.read()
                for mail in segment.mails:
                    following = segment.decide(mail)
                    if following is not _Next.DONE:
                        break
                    decided += 1
                segment.write_all()
        except Exception as error:
            if is_temporary(error):
                raise
            logger.exception("set-based inbound batch failed: its mail goes one by one")
            for mail in mails[start:]:
                mail.forget()
                one(mail.email, mail.parsed)
            break
        start += decided
        if start < len(mails) and (following is _Next.ALONE or decided == 0):
            one(mails[start].email, mails[start].parsed)
            start += 1
    return [mail.email for mail in mails]
