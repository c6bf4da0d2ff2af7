"""Turn a stored InboundEmail into a ticket message, a bounce record or a rejection.

Order of decisions: a delivery-status report attaches to the message it concerns; mail
without a sender, or from one of the tenant's own mailboxes, is rejected; then threading:
In-Reply-To / References against every Message-ID we received or sent, the `[#123]` tag
in the subject, the plus-address token of the recipient. A reply to a solved ticket
reopens it; to a closed one it opens a follow-up ticket. Otherwise a new ticket lands in
the mailbox's department.

The mail's other To and Cc addresses are kept on the message. They become followers (copied
on every later public reply) only when the sender is the requester or already a follower,
and the mail either opens a new ticket or was threaded by something only those we wrote to
know: one of our Message-IDs or the reply address token. `From:` is not authenticated and
ticket numbers are sequential, so mail found by the `[#123]` tag alone never widens who
reads the conversation, whoever it claims to be from. A mailbox of any tenant on this
installation never becomes a follower.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple
from uuid import UUID

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet, Subquery
from django.urls import reverse

from departments import selectors as department_selectors
from helpdesk.core import batching
from helpdesk.core.errors import is_infrastructure_error, is_temporary
from helpdesk.mail import services as mail
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.context import require_tenant_id
from tickets.mail_in import html as html_tools
from tickets.mail_in import intake
from tickets.mail_in.parsing import ParsedEmail, parse_email
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
from tickets.ticket import merging, services

MAX_ADDRESS_LENGTH = 254  # RFC 5321; also the width of Contact.email
logger = logging.getLogger(__name__)
SUBJECT_TAG = re.compile(r"\[#(\d{1,9})\]")
PLUS_TOKEN = re.compile(r"^[^+@]+\+t-([0-9a-f]{6,24})@", re.IGNORECASE)


def without_nul(parsed: ParsedEmail) -> ParsedEmail:
    """PostgreSQL text cannot hold NUL; mail can. Drop it from everything we store as text."""
    for name in ("subject", "from_name", "from_address", "text", "html", "message_id"):
        setattr(parsed, name, getattr(parsed, name).replace("\x00", ""))
    parsed.cc = [a.replace("\x00", "") for a in parsed.cc]
    parsed.to = [a.replace("\x00", "") for a in parsed.to]
    parsed.problems = [p.replace("\x00", "") for p in parsed.problems]
    for attachment in parsed.attachments:
        attachment.filename = attachment.filename.replace("\x00", "") or "attachment"
        attachment.content_id = attachment.content_id.replace("\x00", "")
        attachment.content_type = attachment.content_type.replace("\x00", "")
    return parsed


class FoundBy(enum.StrEnum):
    """How a mail was matched to its ticket. Only the first two are known to no one but
    those we wrote to, so only they (or opening a ticket) let the mail add followers."""

    # A Message-ID of mail we sent, or of the mail that opened the ticket.
    MESSAGE_ID = "message_id"
    # The per-ticket `support+t-<token>@` reply address.
    REPLY_ADDRESS = "reply_address"
    # The Message-ID of a later customer mail: its sender chose it, and that mail may itself
    # have been found by the tag alone.
    CUSTOMER_MESSAGE_ID = "customer_message_id"
    # The `[#123]` subject tag: anyone can write it.
    SUBJECT_TAG = "subject_tag"


class Thread(NamedTuple):
    """The ticket a mail answers and how it was found; `outsider`: found by the subject tag
    alone, from someone who is neither its requester nor a follower."""

    ticket: Ticket
    found_by: FoundBy
    outsider: bool = False

    @property
    def may_add_followers(self) -> bool:
        """The mail was threaded by a secret of the conversation, not by a guessable number."""
        return self.found_by in (FoundBy.MESSAGE_ID, FoundBy.REPLY_ADDRESS)


def find_thread(parsed: ParsedEmail, recipients: list[str], sender: Contact) -> Thread | None:
    """The ticket this mail answers and how it was found, or None for a new conversation.
    Mail to a merged ticket lands on the ticket it was merged into."""
    thread = _find_thread(parsed, recipients, sender)
    if thread is not None and thread.ticket.merged_into_id:
        return thread._replace(ticket=merging.resolve_merged(thread.ticket))
    return thread


def _find_thread(parsed: ParsedEmail, recipients: list[str], sender: Contact) -> Thread | None:
    # With the customer and company: a reply refreshes the search document, which holds them.
    tickets = Ticket.objects.select_related("contact__company")
    by_token = None
    for address in recipients:
        token = PLUS_TOKEN.match(address)
        if token:
            by_token = tickets.filter(reply_token=token.group(1).lower()).first()
            if by_token is not None:
                break
    ids = parsed.thread_ids[:100]
    if ids:
        # Only Message-IDs of the conversation's mail (ours, or the requester's and
        # followers'): an outsider's note keeps its sender's own Message-ID, and a reply to
        # it must not make the outsider part of the conversation.
        latest = (
            Message.objects.filter(
                email_message_id__in=ids,
                kind__in=[MessageKind.CUSTOMER, MessageKind.REPLY],
            )
            .order_by("-created_at")
            .values("ticket_id")[:1]
        )
        ticket = tickets.filter(id=Subquery(latest)).first()
        if ticket is not None:
            if _answers_our_mail(ticket, ids):
                return Thread(ticket, FoundBy.MESSAGE_ID)
            if by_token is not None and by_token.id == ticket.id:
                return Thread(ticket, FoundBy.REPLY_ADDRESS)
            return Thread(ticket, FoundBy.CUSTOMER_MESSAGE_ID)
    by_tag = None
    tag = SUBJECT_TAG.search(parsed.subject)
    if tag:
        ticket = tickets.filter(number=int(tag.group(1))).first()
        if ticket is not None:
            if by_token is not None and by_token.id == ticket.id:
                return Thread(ticket, FoundBy.REPLY_ADDRESS)
            # Ticket numbers are sequential, easy to guess; Message-IDs and the reply token
            # are known only to those we wrote to.
            by_tag = Thread(ticket, FoundBy.SUBJECT_TAG, outsider=not _on_ticket(ticket, sender))
            if not by_tag.outsider:
                return by_tag
    if by_token is not None:
        return Thread(by_token, FoundBy.REPLY_ADDRESS)
    return by_tag


def _answers_our_mail(ticket: Ticket, ids: list[str]) -> bool:
    """Whether one of these Message-IDs is of mail we sent on this ticket, or of the mail
    that opened it (its sender chose the followers then). Not a later customer mail's: a
    forged `From:` with the `[#123]` tag puts a Message-ID of the forger's choosing there.
    Nor the opening mail of a follow-up: a tag alone can open one."""
    ours = Message.objects.filter(ticket=ticket, email_message_id__in=ids)
    if ours.filter(kind=MessageKind.REPLY).exists():
        return True
    if ticket.follow_up_of_id is not None:
        return False
    first = (
        Message.objects.filter(ticket=ticket, kind=MessageKind.CUSTOMER)
        .order_by("created_at", "id")
        .values_list("email_message_id", flat=True)
        .first()
    )
    return bool(first) and first in ids


def _on_ticket(ticket: Ticket, contact: Contact) -> bool:
    return (
        ticket.contact_id == contact.id
        or TicketFollower.objects.filter(ticket=ticket, contact=contact).exists()
    )


def _copied_addresses(parsed: ParsedEmail, sender: str, own: frozenset[str]) -> list[str]:
    """The mail's To and Cc addresses other than the sender and the tenant's mailboxes,
    and other than those no mail could be sent to (they become followers)."""
    copied: list[str] = []
    for address in parsed.to + parsed.cc:
        if address in own or intake.base_address(address) in own or address == sender:
            continue
        if not mail.is_sendable_address(address):
            continue
        if address not in copied:
            copied.append(address)
    return copied


def _content(parsed: ParsedEmail) -> tuple[str, services.MessageContent]:
    attachments = [
        services.NewAttachment(
            filename=a.filename,
            content_type=a.content_type,
            payload=a.payload,
            content_id=a.content_id,
            is_inline=a.is_inline,
        )
        for a in parsed.attachments
    ]
    cid_urls = {
        a.content_id: reverse("tickets:attachment", args=[a.id])
        for a in attachments
        if a.content_id
    }
    new_text, quoted = html_tools.split_quoted(parsed.text, html=parsed.html)
    body = new_text or ("(attachments only)" if attachments else "(no text)")
    return body, services.MessageContent(
        html=html_tools.sanitize_html(parsed.html, cid_urls=cid_urls),
        quoted_text=quoted,
        email_message_id=parsed.message_id,
        attachments=attachments,
    )


def _mark(
    email: InboundEmail,
    status: str,
    reason: str = "",
    ticket: Ticket | None = None,
    message: Message | None = None,
) -> InboundEmail:
    email.set_outcome(status, reason, ticket=ticket, message=message)
    email.save(update_fields=InboundEmail.OUTCOME_FIELDS)
    return email


def _handle_bounce(email: InboundEmail, parsed: ParsedEmail) -> InboundEmail:
    bounce = parsed.bounce
    assert bounce is not None  # noqa: S101 - checked by the caller
    original = (
        Message.objects.select_related("ticket")
        .filter(email_message_id=bounce.original_message_id)
        .first()
        if bounce.original_message_id
        else None
    )
    if original is None:
        return _mark(
            email, InboundEmailStatus.REJECTED, "delivery report for a message we did not send"
        )
    reason = " ".join(filter(None, [bounce.recipient, bounce.status, bounce.reason]))
    services.record_delivery_failure(message=original, reason=reason or "bounced")
    return _mark(
        email, InboundEmailStatus.PROCESSED, f"delivery failure: {reason}", ticket=original.ticket
    )


@transaction.atomic
def process_inbound_email(
    *, email_id: UUID, language: str = "en", tenant_name: str = ""
) -> InboundEmail:
    """Process one queued mail. Idempotent: a row that is not queued is left as it is."""
    email = (
        InboundEmail.objects.select_for_update(of=("self",))
        .select_related("mailbox__department")
        .filter(id=email_id)
        .first()
    )
    if email is None:
        raise InboundEmail.DoesNotExist(f"no inbound email {email_id} in this tenant")
    if email.status != InboundEmailStatus.QUEUED:
        return email
    _commit_without_waiting_for_disk()
    return _process(email, language=language, tenant_name=tenant_name)


def _commit_without_waiting_for_disk() -> None:
    # The raw mail is already durable; what processing writes can be redone from it (the
    # row would be queued again), so this commit need not wait for the disk.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")


# Serializes a tenant's batches' processing: a reply in one batch must see the ticket that
# the mail it answers opened in another, so a batch is read, decided and written only after
# the one before it committed.
_BATCH_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('inbound-batch:' || %s, 0))"
# Serializes a drain's claims (a session lock, held only while the rows are claimed): so each
# batch knows the batches claimed before it, which it waits for (see process_batch).
_CLAIM_LOCK = "SELECT pg_advisory_lock(hashtextextended('inbound-claim:' || %s, 0))"
_CLAIM_UNLOCK = "SELECT pg_advisory_unlock(hashtextextended('inbound-claim:' || %s, 0))"


def process_batch(
    *,
    limit: int,
    email_ids: list[UUID] | None = None,
    language: str = "en",
    tenant_name: str = "",
    before_claim: Callable[[], None] | None = None,
) -> list[InboundEmail]:
    """Claim up to `limit` queued mails of the current tenant, oldest first (or those of
    `email_ids`), and process them in the caller's transaction, one savepoint each: a mail
    that fails for a reason retrying will not fix is rolled back alone and ends `failed`
    with the reason while the others go on; an outage (database, Redis) fails the batch,
    which stays queued for the retry and the sweeper. Mail is processed in arrival order, so
    a reply finds the ticket that a mail earlier in the batch opened. Returns the claimed
    rows as they ended (a row another transaction holds is not claimed).

    Several drains work on a tenant's mail at once, as a pipeline: a drain claims the oldest
    rows no one holds (one claim at a time per tenant), parses them while the batches
    claimed before it are processed, waits until those committed, then reads, decides and
    writes under the tenant's batch lock. So batches are processed one at a time and in the
    order they were claimed, and the parsing, about a quarter of a batch's time, is off that
    serial path. A row committed late with an earlier timestamp than the claim's newest
    (two intake transactions committing out of order) joins the batch that waits for it.
    `email_ids` (a direct call, `ingest_email`): the batch lock first, then those rows that
    no drain holds."""
    tenant_id = str(require_tenant_id())
    if email_ids is not None:
        with connection.cursor() as cursor:
            cursor.execute(_BATCH_LOCK, [tenant_id])
        if before_claim is not None:
            before_claim()
        emails = list(
            _queued()
            .select_for_update(of=("self",), skip_locked=True)
            .filter(id__in=email_ids)[:limit]
        )
        parsed = {email.id: prepare(email) for email in emails}
    else:
        emails, earlier = _claim_oldest(tenant_id, limit, before_claim)
        if not emails:
            return []
        parsed = {email.id: prepare(email) for email in emails}
        if earlier:
            # Blocks until the batches claimed before this one end; what is still queued
            # then (a batch rolled back) is this batch's, oldest first.
            joined = list(_queued().select_for_update(of=("self",)).filter(id__in=earlier))
            if joined:
                parsed.update((email.id, prepare(email)) for email in joined)
                emails = sorted([*joined, *emails], key=lambda e: (e.created_at, e.id))
        with connection.cursor() as cursor:
            cursor.execute(_BATCH_LOCK, [tenant_id])
    if not emails:
        return []
    _commit_without_waiting_for_disk()
    # The batch's acknowledgements: one task, one connection; and what its tickets' changes
    # ask of the configuration (any SLA policy, any rule?) asked once.
    with mail.batched_delivery(), batching.answers_remembered():
        return _process_claimed(emails, parsed, language=language, tenant_name=tenant_name)


def _queued() -> QuerySet[InboundEmail]:
    return (
        InboundEmail.objects.select_related("mailbox__department")
        .filter(status=InboundEmailStatus.QUEUED)
        .order_by("created_at", "id")
    )


def _claim_oldest(
    tenant_id: str, limit: int, before_claim: Callable[[], None] | None
) -> tuple[list[InboundEmail], list[UUID]]:
    """The oldest queued rows no one holds, locked, and the queued rows older than the
    newest of them that someone else holds (the batches claimed before: waited for)."""
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_LOCK, [tenant_id])
    try:
        with transaction.atomic():  # a savepoint: an error here leaves the unlock possible
            if before_claim is not None:
                before_claim()  # the drain clears its wake-up: later mail wakes one again
            emails = list(_queued().select_for_update(of=("self",), skip_locked=True)[:limit])
            if not emails:
                return [], []
            newest = emails[-1]
            older = set(
                InboundEmail.objects.filter(status=InboundEmailStatus.QUEUED)
                .filter(
                    Q(created_at__lt=newest.created_at)
                    | Q(created_at=newest.created_at, id__lt=newest.id)
                )
                .exclude(id__in=[email.id for email in emails])
                .values_list("id", flat=True)
            )
            if not older:
                return emails, []
            # Committed since the claim with an earlier timestamp: this batch's (taken under
            # the claim lock, so a later claim cannot take them and wait for this one).
            late = list(
                _queued().select_for_update(of=("self",), skip_locked=True).filter(id__in=older)
            )
            if late:
                emails = sorted([*late, *emails], key=lambda e: (e.created_at, e.id))
            return emails, sorted(older - {email.id for email in late})
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute(_CLAIM_UNLOCK, [tenant_id])
        except Exception:
            # A session lock outlives the transaction: a connection that cannot unlock is
            # closed, which releases it, rather than kept holding every later claim back.
            connection.close()
            raise


def parse_stored(email: InboundEmail) -> ParsedEmail:
    """The stored mail parsed, with NUL taken out of everything kept as text."""
    return without_nul(parse_email(bytes(email.raw)))


@dataclass
class Prepared:
    """What a claimed mail needs that no other mail changes, made before the batch's serial
    part (process_batch): the mail parsed, or the reason it fails with (`error`), and its
    message body and content (None when making them failed: the batch makes them again and
    fails that mail alone)."""

    parsed: ParsedEmail | None
    error: str = ""
    content: tuple[str, services.MessageContent] | None = None


def prepare(email: InboundEmail) -> Prepared:
    """A claimed mail parsed, with its content (an outage raises)."""
    try:
        parsed = parse_stored(email)
    except Exception as error:
        if is_temporary(error):
            raise
        logger.exception("parsing inbound email %s failed", email.id)
        return Prepared(None, error=f"processing failed: {type(error).__name__}: {error}")
    if parsed.bounce is not None:
        return Prepared(parsed)
    try:
        return Prepared(parsed, content=_content(parsed))
    except SoftTimeLimitExceeded:
        raise  # the task's time is up: not a malformed mail, whose content is made again
    except Exception as error:
        if is_temporary(error):
            raise
        return Prepared(parsed)


def _process_claimed(
    emails: list[InboundEmail],
    parsed: dict[UUID, Prepared],
    *,
    language: str,
    tenant_name: str,
) -> list[InboundEmail]:
    # Imported here: the set-based batch builds on this module's threading and content.
    from tickets.mail_in import batch

    def one(email: InboundEmail, parsed: ParsedEmail | None) -> InboundEmail:
        return _process_one(email, parsed, language=language, tenant_name=tenant_name)

    return batch.process_claimed(
        emails, parsed, language=language, tenant_name=tenant_name, one=one
    )


def _process_one(
    email: InboundEmail, parsed: ParsedEmail | None, *, language: str, tenant_name: str
) -> InboundEmail:
    """The per-mail path, in its own savepoint: a mail that fails for a reason retrying
    will not fix is rolled back alone and ends `failed` with the reason; an outage raises
    (the whole batch is retried; every row is still queued)."""
    attempts = email.attempts
    try:
        with transaction.atomic():
            return _process(email, language=language, tenant_name=tenant_name, parsed=parsed)
    except Exception as error:
        if is_temporary(error):
            raise
        logger.exception("processing inbound email %s failed", email.id)
        email.attempts = attempts
        with transaction.atomic():
            return _mark(
                email,
                InboundEmailStatus.FAILED,
                f"processing failed: {type(error).__name__}: {error}",
            )


def _process(
    email: InboundEmail, *, language: str, tenant_name: str, parsed: ParsedEmail | None = None
) -> InboundEmail:
    if parsed is None:
        parsed = parse_stored(email)
    if parsed.bounce is not None:
        return _handle_bounce(email, parsed)
    sender = parsed.from_address or intake.normalize_address(email.envelope_from)
    if "@" not in sender or len(sender) > MAX_ADDRESS_LENGTH:
        return _mark(email, InboundEmailStatus.REJECTED, "no sender address")
    own = department_selectors.own_addresses()
    if sender in own or intake.base_address(sender) in own:
        return _mark(email, InboundEmailStatus.REJECTED, "sent from one of our own mailboxes")
    recipients = [*email.envelope_to, *email.header_recipients]
    body, content = _content(parsed)
    content.email_cc = _copied_addresses(parsed, sender, own)
    contact = services.get_or_create_contact(email=sender, name=parsed.from_name)
    thread = find_thread(parsed, recipients, contact)
    ticket = thread.ticket if thread is not None else None
    if ticket is not None and ticket.status == TicketStatus.CLOSED:
        previous, ticket = ticket, None
    else:
        previous = None
    if ticket is None:
        department = (
            email.mailbox.department
            if email.mailbox is not None
            else department_selectors.get_default_department()
        )
        subject = SUBJECT_TAG.sub("", parsed.subject).strip() or parsed.subject or "(no subject)"
        ticket = services.create_ticket(
            subject=subject,
            body=body,
            contact=contact,
            department=department,
            channel=TicketChannel.EMAIL,
            language=language,
            content=content,
            follow_up_of=previous,
            mailbox=email.mailbox,
        )
        message = ticket.first_message  # type: ignore[attr-defined]  # set by create_ticket
        acknowledge = _should_acknowledge(email, parsed)
    else:
        acknowledge = False
        message = services.add_customer_message(
            ticket=ticket,
            contact=contact,
            body=body,
            content=content,
            language=language,
            internal=thread is not None and thread.outsider,
        )
    # Only the requester (of a new ticket too) and followers copy people in, and only by
    # mail that opens a ticket or that answers ours (Message-ID, reply token). Anyone else
    # (someone found by those because mail was forwarded to them) writes into the
    # conversation without choosing who else reads it, and so does mail found by the
    # `[#123]` tag alone, even from the requester's address: `From:` is not authenticated.
    # Their addresses stay on the message for the agents.
    if (
        content.email_cc
        and (thread is None or thread.may_add_followers)
        and _on_ticket(ticket, contact)
    ):
        mailboxes = intake.help_desk_addresses(content.email_cc)
        followers = [a for a in content.email_cc if a not in mailboxes]
        if followers:
            services.add_followers(ticket=ticket, emails=followers)
    note = "; ".join(parsed.problems)[:2000]
    email = _mark(email, InboundEmailStatus.PROCESSED, note, ticket=ticket, message=message)
    if acknowledge:
        _acknowledge(email, ticket, tenant_name)
    return email


def _acknowledge(email: InboundEmail, ticket: Ticket, tenant_name: str) -> None:
    """Queue the acknowledgement with the ticket, in the same transaction (its sending is one
    task after the commit). A failure to compose it never fails the customer's mail; an
    outage (database, Redis) fails the whole attempt, which is retried."""
    try:
        with transaction.atomic():
            outbound.acknowledge(
                email=email,
                ticket=ticket,
                tenant_name=tenant_name or tenancy_selectors.get_tenant(email.tenant_id).name,
            )
    except Exception as error:
        if is_infrastructure_error(error):
            raise  # the database or Redis is down: process the whole mail again later
        logger.exception("acknowledgement of inbound email %s not queued", email.id)


def _should_acknowledge(email: InboundEmail, parsed: ParsedEmail) -> bool:
    return email.mailbox is not None and email.mailbox.auto_ack_enabled and not parsed.is_automated


def auto_reply_limit() -> int:
    return int(settings.HELPDESK_AUTO_REPLY_LIMIT_PER_HOUR)


@transaction.atomic
def mark_failed(*, email_id: UUID, reason: str) -> None:
    """Record that processing failed for a reason retrying will not fix (a bug, bad data):
    the row leaves the sweeper's queue and shows in the inbound log with *Process again*.
    Never for an outage: the task retries those and the row stays queued for the sweeper."""
    email = InboundEmail.objects.filter(id=email_id, status=InboundEmailStatus.QUEUED).first()
    if email is not None:
        _mark(email, InboundEmailStatus.FAILED, reason)
