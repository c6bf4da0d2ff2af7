"""Turn a stored InboundEmail into a new ticket or a customer message on an existing one.

Threading order: In-Reply-To / References against Message-IDs we know, then a `[#123]`
tag in the subject; a reply to a solved ticket reopens it, to a closed one opens a new
ticket. Mail from the tenant's own mailboxes never opens a ticket.
"""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr
from uuid import UUID

import nh3
from django.db import transaction
from django.utils import timezone

from departments import selectors as department_selectors
from departments.models import Mailbox
from tickets import services
from tickets.models import (
    InboundEmail,
    InboundEmailStatus,
    Message,
    MessageKind,
    Ticket,
    TicketChannel,
    TicketStatus,
)

SUBJECT_TAG = re.compile(r"\[#(\d{1,9})\]")
_MESSAGE_IDS = re.compile(r"<[^<>\s]+>")


def _header(message: EmailMessage, name: str) -> str:
    try:
        return str(message.get(name, "") or "")
    except Exception:
        return ""


def _text_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, AssertionError, KeyError):
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    if part.get_content_type() == "text/html":
        content = nh3.clean(content, tags=set())
    return content.strip()


def _find_thread(message: EmailMessage) -> Ticket | None:
    ids = _MESSAGE_IDS.findall(
        _header(message, "In-Reply-To") + " " + _header(message, "References")
    )
    if ids:
        known = (
            Message.objects.filter(email_message_id__in=ids[-50:])
            .order_by("-created_at")
            .values_list("ticket_id", flat=True)
            .first()
        )
        if known:
            return Ticket.objects.filter(id=known).first()
    tag = SUBJECT_TAG.search(_header(message, "Subject"))
    if tag:
        return Ticket.objects.filter(number=int(tag.group(1))).first()
    return None


def _mark(
    email: InboundEmail, status: str, reason: str = "", ticket: Ticket | None = None
) -> InboundEmail:
    email.status = status
    email.reason = reason[:2000]
    email.ticket = ticket
    email.processed_at = timezone.now()
    email.save(update_fields=["status", "reason", "ticket", "processed_at", "updated_at"])
    return email


@transaction.atomic
def process_inbound_email(*, email_id: UUID, language: str = "en") -> InboundEmail:
    """Process one queued mail (idempotent: a processed row is left as it is)."""
    email = InboundEmail.objects.select_for_update().get(id=email_id)
    if email.status != InboundEmailStatus.QUEUED:
        return email
    try:
        message = BytesParser(policy=policy.default).parsebytes(bytes(email.raw))
    except Exception as error:
        return _mark(email, InboundEmailStatus.FAILED, f"unparseable: {error}")
    sender_name, sender = parseaddr(_header(message, "From") or email.envelope_from)
    sender = sender.strip().lower()
    if "@" not in sender:
        return _mark(email, InboundEmailStatus.REJECTED, "no sender address")
    own_addresses = {
        address.lower() for address in Mailbox.objects.values_list("address", flat=True)
    }
    if sender in own_addresses:
        return _mark(email, InboundEmailStatus.REJECTED, "sent from one of our own mailboxes")
    body = _text_body(message) or "(no text)"
    subject = " ".join(_header(message, "Subject").split()) or "(no subject)"
    contact = services.get_or_create_contact(email=sender, name=sender_name)
    ticket = _find_thread(message)
    if ticket is not None and ticket.status == TicketStatus.CLOSED:
        ticket = None  # a closed ticket stays closed: the reply opens a new one
    if ticket is None:
        department = (
            email.mailbox.department
            if email.mailbox_id
            else department_selectors.get_default_department()
        )
        ticket = services.create_ticket(
            subject=SUBJECT_TAG.sub("", subject).strip() or subject,
            body=body,
            contact=contact,
            department=department,
            channel=TicketChannel.EMAIL,
            language=language,
        )
        Message.objects.filter(ticket=ticket, kind=MessageKind.CUSTOMER).update(
            email_message_id=email.message_id
        )
    else:
        services.add_customer_message(
            ticket=ticket,
            contact=contact,
            body=body,
            email_message_id=email.message_id,
            language=language,
        )
    return _mark(email, InboundEmailStatus.PROCESSED, ticket=ticket)
