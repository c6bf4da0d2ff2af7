"""Mail the help desk sends. For now: the auto-acknowledgement of a new ticket, threaded on
the customer's message and marked `Auto-Submitted: auto-replied`, through Django's mail API."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from helpdesk.core import placeholders
from helpdesk.core.errors import TransientError
from tickets import services
from tickets.mail.inbound import auto_reply_limit
from tickets.models import DeliveryStatus, InboundEmail, Message, MessageKind


def _message_domain() -> str:
    return settings.HELPDESK_BASE_DOMAIN


def reply_address(mailbox_address: str, reply_token: str) -> str:
    local, _, domain = mailbox_address.partition("@")
    return f"{local}+t-{reply_token}@{domain}"


def placeholder_values(ticket: object, mailbox: object, tenant_name: str) -> dict[str, str]:
    contact = ticket.contact  # type: ignore[attr-defined]
    name = contact.name or contact.email.split("@", 1)[0]
    return {
        "contact.name": name,
        "contact.first_name": name.split()[0] if name.split() else name,
        "contact.email": contact.email,
        "ticket.number": str(ticket.number),  # type: ignore[attr-defined]
        "ticket.subject": ticket.subject,  # type: ignore[attr-defined]
        "ticket.status": ticket.get_status_display(),  # type: ignore[attr-defined]
        "ticket.priority": ticket.get_priority_display(),  # type: ignore[attr-defined]
        "department.name": ticket.department.name,  # type: ignore[attr-defined]
        "tenant.name": tenant_name,
        "mailbox.address": mailbox.address,  # type: ignore[attr-defined]
    }


def recent_auto_replies(contact_id: UUID) -> int:
    since = timezone.now() - timedelta(hours=1)
    return Message.objects.filter(
        is_automatic=True, ticket__contact_id=contact_id, created_at__gte=since
    ).count()


@transaction.atomic
def send_auto_acknowledgement(*, email_id: UUID, tenant_name: str) -> Message | None:
    """Acknowledge the mail that opened a ticket. Idempotent per inbound mail; skipped when
    the sender already got the hourly maximum of automatic replies."""
    email = (
        InboundEmail.objects.select_for_update(of=("self",))
        .select_related("mailbox", "ticket__contact", "ticket__department")
        .filter(id=email_id)
        .first()
    )
    if email is None or email.ticket is None or email.mailbox is None:
        return None
    ack_id = f"<ack-{email.id}@{_message_domain()}>"
    if Message.objects.filter(email_message_id=ack_id).exists():
        return None
    ticket, mailbox = email.ticket, email.mailbox
    if recent_auto_replies(ticket.contact_id) >= auto_reply_limit():
        return None
    values = placeholder_values(ticket, mailbox, tenant_name)
    try:
        subject = placeholders.render(mailbox.auto_ack_subject, values)
        body = placeholders.render(mailbox.auto_ack_body, values)
    except placeholders.UnknownPlaceholder as error:
        subject = f"Re: {ticket.subject} [#{ticket.number}]"
        body = f"We received your message and opened request #{ticket.number}."
        services.record_event(
            ticket=ticket,
            actor=None,
            field="auto_acknowledgement",
            old=None,
            new=f"template error: {error}",
        )
    message = Message.objects.create(
        ticket=ticket,
        kind=MessageKind.REPLY,
        body_text=body,
        is_automatic=True,
        email_message_id=ack_id,
        delivery_status=DeliveryStatus.QUEUED,
    )
    references = " ".join(filter(None, [email.message_id]))
    mail = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=body,
        from_email=mailbox.from_header,
        to=[ticket.contact.email],
        reply_to=[reply_address(mailbox.address, ticket.reply_token)],
        headers={
            "Message-ID": ack_id,
            "Auto-Submitted": "auto-replied",
            "X-Auto-Response-Suppress": "All",
            **(
                {"In-Reply-To": email.message_id, "References": references}
                if email.message_id
                else {}
            ),
        },
    )
    try:
        mail.send()
    except OSError as error:  # SMTP peer down: roll back and let the task retry
        raise TransientError(f"sending the acknowledgement failed: {error}") from error
    message.delivery_status = DeliveryStatus.SENT
    message.save(update_fields=["delivery_status", "updated_at"])
    return message
