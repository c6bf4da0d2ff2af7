"""Tickets: numbers are sequential per tenant and never reused; every change of a field is
recorded as an event message; status changes follow TICKET_TRANSITIONS; light agents write
internal notes only; messages are never added to closed tickets."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone

from departments.models import Department, Mailbox
from helpdesk.core.ids import new_id
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.context import require_tenant_id
from helpdesk.tenancy.models import Membership, MembershipRole
from tickets import configuration, notifications, selectors, tasks
from tickets.errors import (
    AssigneeNotAgent,
    ConfigurationInvalid,
    EmptyMessage,
    ReplyNotAllowed,
    StaleReply,
    TicketClosed,
    TicketTransitionNotAllowed,
)
from tickets.mail import templates as mail_templates
from tickets.models import (
    Attachment,
    Company,
    Contact,
    CustomFieldTarget,
    CustomStatus,
    DeliveryStatus,
    EmailTemplateKind,
    Message,
    MessageKind,
    NotificationKind,
    Tag,
    Ticket,
    TicketChannel,
    TicketFollower,
    TicketPriority,
    TicketStatus,
    TicketTag,
)

S = TicketStatus
TICKET_TRANSITIONS: dict[str, frozenset[str]] = {
    S.OPEN: frozenset({S.WAITING, S.ON_HOLD, S.SOLVED, S.CLOSED}),
    S.WAITING: frozenset({S.OPEN, S.ON_HOLD, S.SOLVED, S.CLOSED}),
    S.ON_HOLD: frozenset({S.OPEN, S.WAITING, S.SOLVED, S.CLOSED}),
    S.SOLVED: frozenset({S.OPEN, S.CLOSED}),
    S.CLOSED: frozenset(),
}
MAX_TAG_LENGTH = 60


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


@transaction.atomic
def get_or_create_contact(*, email: str, name: str = "") -> Contact:
    """The contact with this address (case-insensitive); created with its company if new."""
    email = email.strip()
    contact = selectors.find_contact_by_email(email)
    if contact is not None:
        if name and not contact.name:
            contact.name = name
            contact.save(update_fields=["name", "updated_at"])
        return contact
    domain = email.rsplit("@", 1)[-1].lower()
    company = Company.objects.filter(domains__contains=[domain]).first()
    return Contact.objects.create(email=email, name=name.strip(), company=company)


def record_event(
    *, ticket: Ticket, actor: Membership | None, field: str, old: Any, new: Any
) -> Message:
    """A system-event message: who changed which field from what to what."""
    return Message.objects.create(
        ticket=ticket,
        kind=MessageKind.EVENT,
        author_member=actor,
        event={"field": field, "from": old, "to": new},
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
    # One upsert. The search table is outside row-level security (see TicketSearch): the
    # tenant written is always the ticket's own.
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
    moved in or out: merge, split)."""
    conversation = Message.objects.filter(ticket=ticket).exclude(kind=MessageKind.EVENT)
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


def _set_tags(ticket: Ticket, names: Iterable[str]) -> list[str]:
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


@transaction.atomic
def create_ticket(
    *,
    subject: str,
    body: str,
    contact: Contact,
    department: Department,
    channel: str = TicketChannel.WEB,
    priority: str = TicketPriority.NORMAL,
    tags: Iterable[str] = (),
    actor: Membership | None = None,
    language: str = "en",
    content: MessageContent | None = None,
    follow_up_of: Ticket | None = None,
    mailbox: Mailbox | None = None,
) -> Ticket:
    """A new open ticket with the customer's first message. Raises EmptyMessage.

    `content` carries what an email adds to the body (HTML, quoted history, attachments,
    Message-ID); `follow_up_of` links a ticket opened by a reply to a closed one.
    """
    if not body.strip():
        raise EmptyMessage()
    now = timezone.now()
    ticket = Ticket.objects.create(
        number=next_ticket_number(),
        last_message_snippet=snippet(body),
        subject=subject.strip()[:250] or "(no subject)",
        contact=contact,
        department=department,
        channel=channel,
        priority=priority,
        last_message_at=now,
        follow_up_of=follow_up_of,
        mailbox=mailbox,
    )
    # Callers (the inbound pipeline) need the first message; spare them a query.
    ticket.first_message = _create_customer_message(  # type: ignore[attr-defined]
        ticket, contact, body, content or MessageContent()
    )
    if follow_up_of is not None:
        record_event(
            ticket=follow_up_of, actor=None, field="follow_up", old=None, new=ticket.number
        )
    tag_names = _set_tags(ticket, tags) if tags else []
    refresh_search_vector(ticket=ticket, language=language, bodies=[body], tag_names=tag_names)
    return ticket


@dataclass
class NewAttachment:
    filename: str
    content_type: str
    payload: bytes
    content_id: str = ""
    is_inline: bool = False
    id: UUID = dataclasses.field(default_factory=new_id)


@dataclass
class MessageContent:
    """What an email adds to a customer message besides its text."""

    html: str = ""
    quoted_text: str = ""
    email_message_id: str = ""
    attachments: list[NewAttachment] = dataclasses.field(default_factory=list)


def _create_customer_message(
    ticket: Ticket, contact: Contact, body: str, content: MessageContent
) -> Message:
    message = Message.objects.create(
        ticket=ticket,
        kind=MessageKind.CUSTOMER,
        body_text=body,
        author_contact=contact,
        body_html=content.html,
        quoted_text=content.quoted_text,
        email_message_id=content.email_message_id,
    )
    store_attachments(message=message, attachments=content.attachments)
    ticket.last_message_snippet = snippet(body)
    return message


def attachments_from_uploads(files: Iterable[Any]) -> list[NewAttachment]:
    """Uploaded files (a form's or the API's) as attachments to store."""
    return [
        NewAttachment(
            filename=upload.name,
            payload=upload.read(),
            content_type=upload.content_type or "application/octet-stream",
        )
        for upload in files
    ]


def store_attachments(*, message: Message, attachments: Iterable[NewAttachment]) -> None:
    """Save files in storage (paths by id, never by the sender's file name) and their rows."""
    for item in attachments:
        attachment = Attachment(
            id=item.id,
            message=message,
            filename=item.filename[:255],
            content_type=item.content_type[:255],
            size=len(item.payload),
            content_id=item.content_id[:255],
            is_inline=item.is_inline,
        )
        attachment.file.save(item.filename, ContentFile(item.payload), save=False)
        attachment.save()


@transaction.atomic
def add_followers(*, ticket: Ticket, emails: Iterable[str]) -> list[Contact]:
    """Copy these addresses on the ticket (Cc): each becomes a contact and a follower."""
    added = []
    for email in emails:
        contact = get_or_create_contact(email=email)
        if contact.id == ticket.contact_id:
            continue
        _, created = TicketFollower.objects.get_or_create(ticket=ticket, contact=contact)
        if created:
            added.append(contact)
    return added


def _check_transition(ticket: Ticket, status: str) -> None:
    if status not in TICKET_TRANSITIONS.get(ticket.status, frozenset()):
        if ticket.status == TicketStatus.CLOSED:
            raise TicketClosed(number=ticket.number)
        raise TicketTransitionNotAllowed(frm=ticket.status, to=status)


STATUS_EMAILS = {
    TicketStatus.WAITING: EmailTemplateKind.STATUS_WAITING,
    TicketStatus.SOLVED: EmailTemplateKind.STATUS_SOLVED,
}


@transaction.atomic
def change_status(
    *, ticket: Ticket, status: str, actor: Membership | None, notify_customer: bool = False
) -> Ticket:
    """Move the ticket along TICKET_TRANSITIONS. Raises TicketClosed, TicketTransitionNotAllowed.

    With `notify_customer` (an agent changing the status by itself, not with a reply), a
    move to waiting or solved emails the customer the tenant's status template.
    """
    if status == ticket.status:
        return ticket
    _check_transition(ticket, status)
    old = ticket.status
    ticket.status = status
    ticket.solved_at = timezone.now() if status == TicketStatus.SOLVED else ticket.solved_at
    ticket.save(update_fields=["status", "solved_at", "updated_at"])
    record_event(ticket=ticket, actor=actor, field="status", old=old, new=status)
    if ticket.custom_status_id and ticket.custom_status.base_status != status:
        _set_custom_status(ticket, None, actor)  # the finer status no longer holds
    if notify_customer and status in STATUS_EMAILS and ticket.contact.email_bounced_at is None:
        _queue_status_email(ticket=ticket, kind=STATUS_EMAILS[TicketStatus(status)], actor=actor)
    return ticket


def _queue_status_email(*, ticket: Ticket, kind: str, actor: Membership | None) -> Message:
    values = mail_templates.placeholder_values(
        ticket,
        selectors.get_reply_mailbox(ticket),
        ticket.tenant.name,
        agent_name=actor.user.display_name if actor else "",
    )
    subject, body = mail_templates.compose(
        kind=kind, department_id=ticket.department_id, values=values
    )
    return queue_email_message(ticket=ticket, body=body, is_automatic=True, subject=subject)


@transaction.atomic
def assign_ticket(
    *, ticket: Ticket, assignee: Membership | None, actor: Membership | None
) -> Ticket:
    """Give the ticket to an agent or admin of this tenant (None unassigns)."""
    if assignee is not None:
        if assignee.tenant_id != ticket.tenant_id:
            raise AssigneeNotAgent(member_id=str(assignee.id))
        if assignee.role == MembershipRole.LIGHT_AGENT or not assignee.is_active:
            raise AssigneeNotAgent(member_id=str(assignee.id))
    old = ticket.assignee_id
    new = assignee.id if assignee else None
    if old == new:
        return ticket
    if ticket.is_closed:
        raise TicketClosed(number=ticket.number)
    ticket.assignee = assignee
    ticket.save(update_fields=["assignee", "updated_at"])
    record_event(
        ticket=ticket,
        actor=actor,
        field="assignee",
        old=str(old) if old else None,
        new=str(new) if new else None,
    )
    if assignee is not None:
        notifications.notify_on_commit(
            kind=NotificationKind.ASSIGNED, members=[assignee], ticket=ticket, actor=actor
        )
    return ticket


def _unchanged(ticket: Ticket, field: str, value: Any) -> bool:
    """Is `value` what the ticket already holds? (Forms send every field on each save.)"""
    if field in {"assignee", "department", "type", "custom_status"}:
        return (value.id if value is not None else None) == getattr(ticket, f"{field}_id")
    if field == "custom_fields":
        return False  # merged and compared after validation
    if field == "tags":
        wanted = sorted({normalize_tag(n) for n in value if normalize_tag(n)})
        return wanted == sorted(ticket.tags.values_list("name", flat=True))
    return getattr(ticket, field) == value


@transaction.atomic
def update_ticket(
    *, ticket: Ticket, actor: Membership | None, language: str = "en", **changes: Any
) -> Ticket:
    """Apply field changes (status, custom_status, priority, type, department, assignee,
    subject, tags, due_at, custom_fields), each one through its rule and recorded as an
    event. A custom status also sets the status it maps onto. Values equal to the current
    ones are not changes; the status moves last, so a ticket can be edited and closed in
    one go. Raises ReplyNotAllowed (light agents), TicketClosed, ConfigurationInvalid."""
    if actor is not None and not actor.can_reply:
        raise ReplyNotAllowed("Light agents read tickets and write internal notes only.")
    if changes.get("custom_status") is not None:
        changes["status"] = changes["custom_status"].base_status
    changes = {k: v for k, v in changes.items() if not _unchanged(ticket, k, v)}
    status = changes.pop("status", None)
    has_custom = "custom_status" in changes
    custom = changes.pop("custom_status", None)
    if ticket.is_closed and (changes or has_custom):
        raise TicketClosed(number=ticket.number)
    if "assignee" in changes:
        assign_ticket(ticket=ticket, assignee=changes["assignee"], actor=actor)
    if "priority" in changes:
        allowed = [level.value for level in configuration.priority_levels()]
        if changes["priority"] not in allowed:
            raise ConfigurationInvalid(f"Priority is one of {', '.join(allowed)}.")
    for field in ("priority", "subject"):
        if field in changes:
            old = getattr(ticket, field)
            setattr(ticket, field, changes[field])
            ticket.save(update_fields=[field, "updated_at"])
            record_event(ticket=ticket, actor=actor, field=field, old=old, new=changes[field])
    if "department" in changes:
        old_name = ticket.department.name
        ticket.department = changes["department"]
        ticket.save(update_fields=["department", "updated_at"])
        record_event(
            ticket=ticket, actor=actor, field="department", old=old_name, new=ticket.department.name
        )
    if "type" in changes:
        old_type = ticket.type.name if ticket.type else None
        ticket.type = changes["type"]
        ticket.save(update_fields=["type", "updated_at"])
        new_type = ticket.type.name if ticket.type else None
        record_event(ticket=ticket, actor=actor, field="type", old=old_type, new=new_type)
    if "due_at" in changes:
        old_due = ticket.due_at.isoformat() if ticket.due_at else None
        ticket.due_at = changes["due_at"]
        ticket.save(update_fields=["due_at", "updated_at"])
        new_due = ticket.due_at.isoformat() if ticket.due_at else None
        record_event(ticket=ticket, actor=actor, field="due_at", old=old_due, new=new_due)
    if "custom_fields" in changes:
        before_fields = dict(ticket.custom_fields)
        after_fields = configuration.clean_custom_values(
            CustomFieldTarget.TICKET, changes["custom_fields"], current=before_fields
        )
        if after_fields != before_fields:
            if ticket.is_closed:
                raise TicketClosed(number=ticket.number)
            ticket.custom_fields = after_fields
            ticket.save(update_fields=["custom_fields", "updated_at"])
            for key in sorted(set(before_fields) | set(after_fields)):
                if before_fields.get(key) != after_fields.get(key):
                    record_event(
                        ticket=ticket,
                        actor=actor,
                        field=f"custom_fields.{key}",
                        old=before_fields.get(key),
                        new=after_fields.get(key),
                    )
    if "tags" in changes:
        before = sorted(ticket.tags.values_list("name", flat=True))
        after = _set_tags(ticket, changes["tags"])
        if before != after:
            record_event(ticket=ticket, actor=actor, field="tags", old=before, new=after)
            ticket.save(update_fields=["updated_at"])
    if {"subject", "tags"} & set(changes):
        refresh_search_vector(ticket=ticket, language=language)
    if status is not None:
        change_status(ticket=ticket, status=status, actor=actor, notify_customer=True)
    if has_custom:
        _set_custom_status(ticket, custom, actor)
    return ticket


def _set_custom_status(
    ticket: Ticket, custom: CustomStatus | None, actor: Membership | None
) -> None:
    if (custom.id if custom else None) == ticket.custom_status_id:
        return
    old = ticket.custom_status.name if ticket.custom_status else None
    ticket.custom_status = custom
    ticket.save(update_fields=["custom_status", "updated_at"])
    record_event(
        ticket=ticket,
        actor=actor,
        field="custom_status",
        old=old,
        new=custom.name if custom else None,
    )


@transaction.atomic
def mark_spam(*, ticket: Ticket, actor: Membership, is_spam: bool = True) -> Ticket:
    """Move the ticket to the spam view (out of every other view), or back."""
    if ticket.is_spam == is_spam:
        return ticket
    ticket.is_spam = is_spam
    ticket.save(update_fields=["is_spam", "updated_at"])
    record_event(ticket=ticket, actor=actor, field="spam", old=not is_spam, new=is_spam)
    return ticket


def mark_read(*, ticket: Ticket, member: Membership, at: Any = None) -> None:
    """The member has seen the ticket up to now (or `at`), and with it the notifications
    about it."""
    _read_and_claim(ticket=ticket, member=member, at=at or timezone.now(), claim=False)


def _read_and_claim(*, ticket: Ticket, member: Membership, at: Any, claim: bool) -> bool:
    """Mark read, read the notifications and, with `claim`, take the ticket if nobody has:
    one statement, since every page view does it. True when the ticket was taken."""
    sql = (
        "WITH marked AS ("
        " INSERT INTO tickets_ticketread"
        " (id, tenant_id, ticket_id, member_id, read_at, created_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (tenant_id, member_id, ticket_id)"
        " DO UPDATE SET read_at = EXCLUDED.read_at, updated_at = EXCLUDED.updated_at"
        " RETURNING 1),"
        " notified AS ("
        " UPDATE tickets_notification SET read_at = %s, updated_at = %s"
        " WHERE tenant_id = %s AND member_id = %s AND ticket_id = %s AND read_at IS NULL"
        " RETURNING 1)"
    )
    params: list[Any] = [new_id(), ticket.tenant_id, ticket.id, member.id, at, at, at]
    params += [at, at, ticket.tenant_id, member.id, ticket.id]
    if claim:
        sql += (
            ", claimed AS ("
            " UPDATE tickets_ticket SET assignee_id = %s, updated_at = %s"
            " WHERE tenant_id = %s AND id = %s AND assignee_id IS NULL RETURNING 1)"
            " SELECT count(*) FROM claimed"
        )
        params += [member.id, at, ticket.tenant_id, ticket.id]
    else:
        sql += " SELECT 0"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return bool(cursor.fetchone()[0])


def open_ticket(*, ticket: Ticket, member: Membership) -> bool:
    """An agent opens the ticket page: it is read, and with "open it and you own it" on, an
    unassigned ticket becomes theirs (recorded in the history). True when it was assigned.
    Two agents opening it at once: the conditional update gives it to one of them."""
    claim = (
        ticket.assignee_id is None
        and member.can_reply
        and not ticket.is_closed
        and not ticket.is_spam
        and not ticket.merged_into_id
        and configuration.get_settings().auto_assign_on_open
    )
    if not _read_and_claim(ticket=ticket, member=member, at=timezone.now(), claim=claim):
        if claim:  # another agent opened it a moment earlier
            ticket.refresh_from_db(fields=["assignee", "updated_at"])
        return False
    ticket.assignee = member
    Message.objects.create(
        ticket=ticket,
        kind=MessageKind.EVENT,
        author_member=member,
        event={"field": "assignee", "from": None, "to": str(member.id), "via": "opened"},
    )
    return True


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
) -> Message:
    """An agent's public reply or internal note (with attachments), optionally setting the
    status.

    A reply to an open ticket with no status given sets it to waiting on customer.
    `seen_up_to` is the last message the agent had on screen when they started writing: a
    public reply is refused with StaleReply when someone else's message came after it
    (collision guard); the agent reads it, then sends again with the newer id.
    Raises EmptyMessage, ReplyNotAllowed (light agents), TicketClosed, StaleReply.
    """
    if kind == MessageKind.REPLY and seen_up_to is not None:
        # The lock makes two replies sent at the same moment check one after the other.
        Ticket.objects.select_for_update(of=("self",)).filter(id=ticket.id).first()
        newer = selectors.list_messages_after(ticket, seen_up_to, exclude_author=actor)
        if newer:
            raise StaleReply(
                messages=[str(m.id) for m in newer], latest=str(newer[-1].id), count=len(newer)
            )
    if not body.strip():
        raise EmptyMessage()
    if kind not in {MessageKind.REPLY, MessageKind.NOTE}:
        raise EmptyMessage("Agents write replies or notes.")
    if kind == MessageKind.REPLY and not actor.can_reply:
        raise ReplyNotAllowed()
    if ticket.is_closed:
        raise TicketClosed(number=ticket.number)
    if kind == MessageKind.REPLY:
        message = queue_email_message(
            ticket=ticket, body=body, author=actor, attachments=attachments
        )
    else:
        message = Message.objects.create(
            ticket=ticket, kind=kind, body_text=body, author_member=actor
        )
        store_attachments(message=message, attachments=attachments)
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
    if kind == MessageKind.REPLY and status is None and ticket.status == TicketStatus.OPEN:
        status = TicketStatus.WAITING
    if status:
        change_status(ticket=ticket, status=status, actor=actor)
    refresh_search_vector(ticket=ticket, language=language)
    return message


@transaction.atomic
def queue_email_message(
    *,
    ticket: Ticket,
    body: str,
    author: Membership | None = None,
    email_message_id: str = "",
    is_automatic: bool = False,
    attachments: Iterable[NewAttachment] = (),
    subject: str = "",
) -> Message:
    """A public reply that goes out by email: stored queued with our own Message-ID, then
    sent by `deliver_message_email` after the commit."""
    message_id = new_id()
    if not email_message_id:
        mailbox = selectors.get_reply_mailbox(ticket)
        domain = mailbox.address.rpartition("@")[2] if mailbox else settings.HELPDESK_BASE_DOMAIN
        email_message_id = f"<reply-{message_id}@{domain}>"
    message = Message.objects.create(
        id=message_id,
        ticket=ticket,
        kind=MessageKind.REPLY,
        body_text=body,
        author_member=author,
        email_message_id=email_message_id,
        is_automatic=is_automatic,
        email_subject=subject[:250],
        delivery_status=DeliveryStatus.QUEUED,
    )
    store_attachments(message=message, attachments=attachments)
    tasks.deliver_message_email.delay_on_commit(
        tenant_id=str(ticket.tenant_id), message_id=str(message.id)
    )
    return message


@transaction.atomic
def record_delivery_status(
    *, message: Message, status: str, reason: str = "", hard_bounce: bool = False
) -> Message:
    """A delivery-status event from the ESP: delivered, or failed with the reason.

    A hard bounce also flags the contact's address as not working.
    """
    if status == DeliveryStatus.FAILED:
        record_delivery_failure(message=message, reason=reason or "rejected by the provider")
    elif message.delivery_status != DeliveryStatus.FAILED:
        message.delivery_status = status
        message.save(update_fields=["delivery_status", "updated_at"])
    if hard_bounce:
        Contact.objects.filter(id=message.ticket.contact_id, email_bounced_at__isnull=True).update(
            email_bounced_at=timezone.now()
        )
    return message


@transaction.atomic
def record_delivery_failure(*, message: Message, reason: str) -> Message:
    """A bounce for one of our emails: mark it failed and say so in the thread."""
    message.delivery_status = DeliveryStatus.FAILED
    message.delivery_error = reason[:2000]
    message.save(update_fields=["delivery_status", "delivery_error", "updated_at"])
    record_event(
        ticket=message.ticket, actor=None, field="delivery", old=None, new=f"failed: {reason[:200]}"
    )
    return message


@transaction.atomic
def add_customer_message(
    *,
    ticket: Ticket,
    contact: Contact,
    body: str,
    content: MessageContent | None = None,
    language: str = "en",
) -> Message:
    """A message from the customer. Reopens a waiting, on-hold or solved ticket.

    Raises TicketClosed: a closed ticket takes no more messages (callers open a new one).
    """
    if ticket.is_closed:
        raise TicketClosed(number=ticket.number)
    message = _create_customer_message(ticket, contact, body, content or MessageContent())
    ticket.last_message_at = message.created_at
    ticket.save(update_fields=["last_message_at", "last_message_snippet", "updated_at"])
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
