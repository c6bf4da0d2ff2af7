"""Mail the help desk sends: public replies and automatic acknowledgements.

Every outgoing email is a `Message` row first (queued, with our own Message-ID, so a
customer's answer threads even before the mail leaves), then the Celery task
`deliver_message_email` builds and sends it through Django's mail API (an anymail ESP,
SMTP, or the development outbox), retrying with backoff; the final failure is stored on
the message with its reason. Headers thread in every mail client: In-Reply-To and
References chain the conversation, From is the mailbox, Reply-To carries the ticket's
plus-address token, the subject carries `[#123]`, automatic mail says
`Auto-Submitted: auto-replied`.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from email.utils import formataddr
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from departments.models import Mailbox
from helpdesk.core import placeholders
from helpdesk.core.errors import TransientError
from tickets import selectors, services
from tickets.mail import templates
from tickets.models import DeliveryStatus, EmailTemplateKind, InboundEmail, Message, Ticket

logger = logging.getLogger(__name__)
MAX_REFERENCES = 20


def reply_address(mailbox_address: str, reply_token: str) -> str:
    local, _, domain = mailbox_address.partition("@")
    return f"{local}+t-{reply_token}@{domain}"


def new_message_id(kind: str, key: UUID, mailbox: Mailbox | None) -> str:
    domain = mailbox.address.rpartition("@")[2] if mailbox else settings.HELPDESK_BASE_DOMAIN
    return f"<{kind}-{key}@{domain}>"


def _thread_headers(message: Message) -> dict[str, str]:
    """In-Reply-To the latest mail before this one; References the chain (first + recent)."""
    earlier = list(
        Message.objects.filter(ticket_id=message.ticket_id, created_at__lte=message.created_at)
        .exclude(id=message.id)
        .exclude(email_message_id="")
        .order_by("created_at", "id")
        .values_list("email_message_id", flat=True)
    )
    if not earlier:
        return {}
    chain = earlier if len(earlier) <= MAX_REFERENCES else [earlier[0], *earlier[-19:]]
    return {"In-Reply-To": earlier[-1], "References": " ".join(chain)}


def build_email(
    message: Message, *, tenant_name: str, language: str = "en"
) -> EmailMultiAlternatives:
    """The email for a public reply (agent or automatic), ready to send."""
    ticket = message.ticket
    mailbox = selectors.get_reply_mailbox(ticket)
    author = message.author_member.user.display_name if message.author_member else ""
    if message.is_automatic:
        text = message.body_text  # composed with its template and layout when queued
    else:
        values = templates.placeholder_values(ticket, mailbox, tenant_name, agent_name=author)
        values["reply.body"] = message.body_text
        try:
            _, text = templates.compose(
                kind=EmailTemplateKind.REPLY, department_id=ticket.department_id, values=values
            )
        except placeholders.UnknownPlaceholder:
            text = message.body_text  # a template broken after it was saved: send the reply
    context = {
        "ticket": ticket,
        "text": text,
        "language": language,
        "subject_has_re": ticket.subject.lower().startswith(("re:", "aw:")),
    }
    subject = message.email_subject or render_to_string("emails/reply.subject.txt", context)
    subject = " ".join(subject.split())
    recipients = [ticket.contact.email]
    cc = (
        []  # automatic mail goes to the customer alone
        if message.is_automatic
        else [
            f.contact.email
            for f in ticket.followers.select_related("contact")
            if f.contact.email_bounced_at is None
        ]
    )
    from_address = mailbox.address if mailbox else settings.DEFAULT_FROM_EMAIL
    display = mailbox.display_name if mailbox and mailbox.display_name else tenant_name
    headers: dict[str, Any] = {
        "Message-ID": message.email_message_id,
        "X-Helpdesk-Ticket": str(ticket.number),
        **_thread_headers(message),
    }
    if message.is_automatic:
        headers["Auto-Submitted"] = "auto-replied"
        headers["X-Auto-Response-Suppress"] = "All"
    email = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("emails/reply.txt", context),
        from_email=formataddr((display, from_address)),
        to=recipients,
        cc=cc,
        reply_to=[reply_address(from_address, ticket.reply_token)],
        headers=headers,
    )
    email.attach_alternative(render_to_string("emails/reply.html", context), "text/html")
    for attachment in message.attachments.all():
        with attachment.file.open("rb") as handle:
            email.attach(attachment.filename, handle.read(), attachment.content_type)
    # anymail: ESPs that support them send these back with delivery-status events.
    email.metadata = {"tenant_id": str(ticket.tenant_id), "message_id": str(message.id)}  # type: ignore[attr-defined]
    email.tags = ["auto-reply" if message.is_automatic else "reply"]  # type: ignore[attr-defined]
    return email


@transaction.atomic(savepoint=False)
def deliver_message_email(
    *, message_id: UUID, tenant_name: str, language: str = "en", final_attempt: bool = False
) -> Message | None:
    """Send one queued message. Read under a row lock: a second run waits, then does nothing.

    A send failure raises TransientError (the task retries with backoff); on the final
    attempt the message is marked failed with the reason instead.
    """
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related(
            "ticket__contact", "ticket__department", "ticket__mailbox", "author_member__user"
        )
        .filter(id=message_id)
        .first()
    )
    if message is None or message.delivery_status != DeliveryStatus.QUEUED:
        return None
    try:
        email = build_email(message, tenant_name=tenant_name, language=language)
        sent = email.send()
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"[:2000]
        if not final_attempt:
            raise TransientError(reason) from error
        logger.warning("giving up on message %s: %s", message_id, reason)
        message.delivery_status = DeliveryStatus.FAILED
        message.delivery_error = reason
        message.save(update_fields=["delivery_status", "delivery_error", "updated_at"])
        return message
    status = getattr(email, "anymail_status", None)
    message.provider_message_id = (getattr(status, "message_id", None) or "")[:255]
    message.delivery_status = DeliveryStatus.SENT if sent else DeliveryStatus.FAILED
    message.delivery_error = "" if sent else "the mail backend sent nothing"
    message.save(
        update_fields=["delivery_status", "delivery_error", "provider_message_id", "updated_at"]
    )
    return message


def recent_auto_replies(contact_id: UUID) -> int:
    since = timezone.now() - timedelta(hours=1)
    return Message.objects.filter(
        is_automatic=True, ticket__contact_id=contact_id, created_at__gte=since
    ).count()


@transaction.atomic(savepoint=False)
def queue_auto_acknowledgement(*, email_id: UUID, tenant_name: str) -> Message | None:
    """Queue the acknowledgement of a processed mail that opened a ticket, unless it exists
    (the inbound pipeline calls `acknowledge` itself, with what it holds)."""
    email = (
        InboundEmail.objects.select_for_update(of=("self",))
        .select_related("mailbox", "ticket__contact", "ticket__department")
        .defer("raw")
        .filter(id=email_id)
        .first()
    )
    if email is None or email.ticket is None or email.mailbox is None:
        return None
    if Message.objects.filter(email_message_id=acknowledgement_id(email)).exists():
        return None
    return acknowledge(email=email, ticket=email.ticket, tenant_name=tenant_name)


def acknowledgement_id(email: InboundEmail) -> str:
    """The acknowledgement's own Message-ID: one per inbound mail."""
    return new_message_id("ack", email.id, email.mailbox)


def acknowledge(*, email: InboundEmail, ticket: Ticket, tenant_name: str) -> Message | None:
    """Queue the acknowledgement of `email` (from a mailbox), which opened `ticket`, in the
    caller's transaction; skipped when the sender already got the hourly maximum of
    automatic replies."""
    mailbox = email.mailbox
    if mailbox is None:
        return None
    ack_id = acknowledgement_id(email)
    if recent_auto_replies(ticket.contact_id) >= int(settings.HELPDESK_AUTO_REPLY_LIMIT_PER_HOUR):
        return None
    values = templates.placeholder_values(ticket, mailbox, tenant_name)
    try:
        subject, body = templates.compose(
            kind=EmailTemplateKind.ACKNOWLEDGEMENT,
            department_id=ticket.department_id,
            values=values,
        )
        # The mailbox's own wording (Admin → mailbox), where it has one, wins field by field.
        if mailbox.auto_ack_subject:
            subject = templates.tidy_subject(placeholders.render(mailbox.auto_ack_subject, values))
        if mailbox.auto_ack_body:
            layout = templates.render(
                templates.effective_template(EmailTemplateKind.LAYOUT, ticket.department_id), values
            )
            body = "\n\n".join(
                p
                for p in (
                    layout.header,
                    placeholders.render(mailbox.auto_ack_body, values),
                    layout.footer,
                )
                if p.strip()
            )
    except placeholders.UnknownPlaceholder as error:
        subject = templates.tidy_subject(f"Re: {ticket.subject} [#{ticket.number}]")
        body = f"We received your message and opened request #{ticket.number}."
        services.record_event(
            ticket=ticket,
            actor=None,
            field="auto_acknowledgement",
            old=None,
            new=f"template error: {error}",
        )
    return services.queue_email_message(
        ticket=ticket, body=body, email_message_id=ack_id, is_automatic=True, subject=subject
    )
