"""Messages as stored: customer content with its attachments, public replies queued to be
emailed, and what the ESP reports about their delivery."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from helpdesk.core.ids import new_id
from helpdesk.mail import services as mail
from helpdesk.mail.models import OutboundEmailStatus
from helpdesk.tenancy.context import require_tenant_id
from helpdesk.tenancy.models import Membership
from tickets.attribution import rule_marker
from tickets.mail_out import selectors as mail_out_selectors
from tickets.mail_out import services as mail_out_services
from tickets.models import (
    Attachment,
    Contact,
    DeliveryStatus,
    Message,
    MessageKind,
    Ticket,
    attachment_folder,
)
from tickets.ticket.services.base import record_event, snippet

ORPHAN_CHECK_BATCH = 1000


@dataclass
class NewAttachment:
    """A file to store with a message. Its content type is what the sender's client said,
    kept only when it is a MIME type (type/subtype of RFC 6838's characters, parameters
    dropped): anything else, a NUL byte that PostgreSQL cannot store included, becomes
    application/octet-stream."""

    filename: str
    content_type: str
    payload: bytes
    content_id: str = ""
    is_inline: bool = False
    id: UUID = dataclasses.field(default_factory=new_id)

    def __post_init__(self) -> None:
        kind = (self.content_type or "").split(";", 1)[0].strip().lower()
        self.content_type = kind if _MIME_TYPE.fullmatch(kind) else "application/octet-stream"


_MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")


@dataclass
class MessageContent:
    """What an email adds to a customer message besides its text."""

    html: str = ""
    quoted_text: str = ""
    email_message_id: str = ""
    attachments: list[NewAttachment] = dataclasses.field(default_factory=list)
    # The mail's other To and Cc addresses, kept on the message whether or not they
    # become followers (see tickets.mail_in.services).
    email_cc: list[str] = dataclasses.field(default_factory=list)


def create_customer_message(
    ticket: Ticket,
    contact: Contact,
    body: str,
    content: MessageContent,
    kind: str = MessageKind.CUSTOMER,
) -> Message:
    message = Message.objects.create(
        ticket=ticket,
        kind=kind,
        body_text=body,
        author_contact=contact,
        body_html=content.html,
        quoted_text=content.quoted_text,
        email_message_id=content.email_message_id,
        email_cc=content.email_cc,
    )
    store_attachments(message=message, attachments=content.attachments)
    if kind == MessageKind.CUSTOMER:
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
            tenant_id=message.tenant_id,  # the storage path names it: set before the file
            message=message,
            filename=item.filename[:255],
            content_type=item.content_type[:255],
            size=len(item.payload),
            content_id=item.content_id[:255],
            is_inline=item.is_inline,
        )
        attachment.file.save(item.filename, ContentFile(item.payload), save=False)
        attachment.save()


def delete_orphaned_attachment_files(*, older_than: timedelta) -> int:
    """Delete the tenant's attachment files that no Attachment row names, once older than
    `older_than`; returns how many. Files are written before the transaction that adds their
    rows commits (storage is not transactional), so a rolled-back transaction (a failed
    processing that will run again) leaves its files behind. The grace period keeps a file
    whose transaction is still running; files not named by an id are not ours and stay."""
    storage = Attachment._meta.get_field("file").storage
    folder = attachment_folder(require_tenant_id())
    try:
        _, names = storage.listdir(folder)
    except FileNotFoundError:
        return 0
    cutoff = timezone.now() - older_than
    deleted = 0
    for start in range(0, len(names), ORPHAN_CHECK_BATCH):
        ids = {}
        for name in names[start : start + ORPHAN_CHECK_BATCH]:
            try:
                ids[UUID(name)] = name
            except ValueError:
                continue
        known = set(Attachment.objects.filter(id__in=list(ids)).values_list("id", flat=True))
        for attachment_id, name in ids.items():
            path = f"{folder}/{name}"
            if attachment_id in known or storage.get_modified_time(path) > cutoff:
                continue
            storage.delete(path)
            deleted += 1
    return deleted


@transaction.atomic(savepoint=False)
def queue_email_message(
    *,
    ticket: Ticket,
    body: str,
    author: Membership | None = None,
    email_message_id: str = "",
    is_automatic: bool = False,
    attachments: Iterable[NewAttachment] = (),
    subject: str = "",
    body_html: str = "",
    cc: Iterable[str] = (),
    bcc: Iterable[str] = (),
    kind: str = MessageKind.REPLY,
    to: Iterable[str] = (),
) -> Message:
    """A public reply that goes out by email: stored with our own Message-ID and its email
    queued in the outbox (helpdesk.mail), sent by the outbox's delivery task after the
    commit. `kind` forward: an agent's forward, mailed `to` others instead of the
    requester."""
    message_id = new_id()
    if not email_message_id:
        mailbox = mail_out_selectors.get_reply_mailbox(ticket)
        domain = mailbox.address.rpartition("@")[2] if mailbox else settings.HELPDESK_BASE_DOMAIN
        email_message_id = f"<reply-{message_id}@{domain}>"
    message = Message.objects.create(
        id=message_id,
        ticket=ticket,
        kind=kind,
        body_text=body,
        body_html=body_html,
        author_member=author,
        email_message_id=email_message_id,
        is_automatic=is_automatic,
        email_cc=list(cc),
        email_bcc=list(bcc),
        email_to=list(to),
        email_subject=subject[:250],
        event=rule_marker(),  # a reply from a workflow rule's template names the rule
    )
    store_attachments(message=message, attachments=attachments)
    mail_out_services.queue_message_email(message=message)
    return message


@transaction.atomic
def record_delivery_status(
    *,
    message: Message,
    status: str,
    reason: str = "",
    hard_bounce: bool = False,
    recipient: str = "",
) -> Message:
    """A delivery-status event from the ESP for the message's email, about one of its
    recipients (the requester when the event names none): delivered, or failed with the
    reason (said in the thread too).

    A mail copied to followers or forwarded reaches others than the requester: a failure
    for one of them is said in the thread without failing the message, which reached the
    requester. A hard bounce flags the address of the recipient it names as not working.
    """
    requester = message.ticket.contact.email
    address = recipient.strip() or requester
    if status == DeliveryStatus.FAILED and address.lower() != requester.lower():
        why = reason.removeprefix(address).strip() or "rejected by the provider"
        record_event(
            ticket=message.ticket,
            actor=None,
            field="delivery",
            old=None,
            new=f"not delivered to {address[:254]}: {why}"[:500],
        )
    elif status == DeliveryStatus.FAILED:
        record_delivery_failure(message=message, reason=reason or "rejected by the provider")
    elif message.outbound_email is not None:
        mail.record_delivery_event(outbound=message.outbound_email, status=status)
    if hard_bounce:
        Contact.objects.filter(email__iexact=address, email_bounced_at__isnull=True).update(
            email_bounced_at=timezone.now()
        )
    return message


@transaction.atomic
def record_delivery_failure(*, message: Message, reason: str) -> Message:
    """A bounce for one of our emails: mark its outbox email failed and say so in the
    thread."""
    if message.outbound_email is not None:
        mail.record_delivery_event(
            outbound=message.outbound_email, status=OutboundEmailStatus.FAILED, reason=reason
        )
    record_event(
        ticket=message.ticket, actor=None, field="delivery", old=None, new=f"failed: {reason[:200]}"
    )
    return message
