"""Mail the help desk sends: public replies and automatic acknowledgements.

Every outgoing email is a `Message` row first (queued, with our own Message-ID, so a
customer's answer threads even before the mail leaves), then the Celery task
`deliver_message_email` sends it through Django's mail API (an anymail ESP, SMTP, or the
development outbox) in three committed steps: claim it (queued -> sending, a
compare-and-set update, so only one run ever sends it), send it outside any transaction,
record it (sent, with the ESP's id). A temporary failure puts it back to queued and the task
retries with backoff; when the retries run out the outbound sweeper sends it later. A
permanent failure is stored on the message with its reason (failed). A message left in
sending (the worker died during the send) may have gone out: the sweeper marks it unknown,
never sends it twice. Headers thread in every mail client: In-Reply-To and
References chain the conversation, From is the mailbox, Reply-To carries the ticket's
plus-address token, the subject carries `[#123]`, automatic mail says
`Auto-Submitted: auto-replied`.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta
from email.utils import formataddr
from typing import Any
from uuid import UUID

from anymail.exceptions import AnymailAPIError
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from departments.models import Mailbox
from helpdesk.core import placeholders
from helpdesk.core.errors import is_infrastructure_error, is_temporary
from tickets.mail_out import selectors as mail_out_selectors
from tickets.mail_out import templates
from tickets.models import DeliveryStatus, EmailTemplateKind, InboundEmail, Message, Ticket
from tickets.ticket import services

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
    mailbox = mail_out_selectors.get_reply_mailbox(ticket)
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


def claim_message_email(
    *, message_id: UUID, tenant_name: str, language: str = "en"
) -> EmailMultiAlternatives | None:
    """Claim one queued message for sending (queued -> sending) and build its email; None
    when another run claimed it first or it is no longer queued.

    The caller commits the claim before it sends, so that a second run, the sweeper or a
    redelivered task never sends it again. An email that cannot be built (a broken template,
    an attachment gone) marks the message failed; an outage rolls the claim back."""
    claimed = Message.objects.filter(id=message_id, delivery_status=DeliveryStatus.QUEUED).update(
        delivery_status=DeliveryStatus.SENDING, updated_at=timezone.now()
    )
    if not claimed:
        return None  # the compare-and-set lost: another run has it, or it went out
    message = (
        Message.objects.select_related(
            "ticket__contact", "ticket__department", "ticket__mailbox", "author_member__user"
        )
        .filter(id=message_id)
        .get()
    )
    try:
        return build_email(message, tenant_name=tenant_name, language=language)
    except Exception as error:
        if is_infrastructure_error(error):
            raise
        logger.exception("message %s cannot be emailed", message_id)
        _set_status(message_id, DeliveryStatus.SENDING, DeliveryStatus.FAILED, _reason(error))
        return None


def send_email(email: EmailMultiAlternatives) -> bool:
    """Hand the email to the mail backend (ESP, SMTP, outbox); no database work, so it runs
    outside any transaction. True when the backend took it."""
    return bool(email.send())


def is_temporary_send_error(error: BaseException) -> bool:
    """A send failure that a later attempt can get past: an outage (network, DNS), an SMTP
    4xx or lost connection, an ESP that answers 429 or 5xx. Anything else (recipients
    refused, the ESP refusing our request or credentials) fails the message."""
    if is_temporary(error):
        return True
    if isinstance(error, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return True
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    if isinstance(error, AnymailAPIError):
        status = getattr(error, "status_code", None)
        return status is None or status == 429 or status >= 500
    return False


def release_message_email(*, message_id: UUID, error: BaseException) -> str:
    """After a failed send: back to queued for a temporary failure (the task retries, and
    after its last retry the sweeper sends it later), failed with the reason otherwise.
    Returns the new status."""
    status = DeliveryStatus.QUEUED if is_temporary_send_error(error) else DeliveryStatus.FAILED
    reason = _reason(error)
    if status == DeliveryStatus.QUEUED:
        reason = f"not sent yet, will retry: {reason}"[:2000]
    else:
        logger.warning("giving up on message %s: %s", message_id, reason)
    _set_status(message_id, DeliveryStatus.SENDING, status, reason)
    return status


def record_message_sent(*, message_id: UUID, provider_message_id: str) -> bool:
    """The backend took the email: sending -> sent, with the ESP's id for delivery-status
    events. Also settles a message the sweeper already marked unknown."""
    return bool(
        Message.objects.filter(
            id=message_id,
            delivery_status__in=[DeliveryStatus.SENDING, DeliveryStatus.UNKNOWN],
        ).update(
            delivery_status=DeliveryStatus.SENT,
            delivery_error="",
            provider_message_id=provider_message_id[:255],
            updated_at=timezone.now(),
        )
    )


def provider_message_id(email: EmailMultiAlternatives) -> str:
    status = getattr(email, "anymail_status", None)
    return (getattr(status, "message_id", None) or "")[:255]


def mark_interrupted_sends(*, older_than: timedelta) -> int:
    """Messages claimed for sending longer ago than any send takes, never recorded as sent
    or failed: the worker died during the send, which may or may not have reached the
    customer. They become unknown with a note saying so, for an agent to check (the ESP's
    delivery events settle them when they come); sending them again could give the
    customer two copies."""
    stale = Message.objects.filter(
        delivery_status=DeliveryStatus.SENDING, updated_at__lt=timezone.now() - older_than
    )
    return stale.update(
        delivery_status=DeliveryStatus.UNKNOWN,
        delivery_error=(
            "the send was interrupted; the mail may or may not have reached the customer,"
            " so it is not sent again by itself"
        ),
        updated_at=timezone.now(),
    )


def list_stale_queued(*, older_than: timedelta, limit: int = 1000) -> list[UUID]:
    """Queued messages untouched for `older_than` (their task was lost), oldest first;
    touched now so the next sweep does not queue them again while they wait."""
    ids = list(
        Message.objects.filter(
            delivery_status=DeliveryStatus.QUEUED, updated_at__lt=timezone.now() - older_than
        )
        .order_by("updated_at")
        .values_list("id", flat=True)[:limit]
    )
    Message.objects.filter(id__in=ids, delivery_status=DeliveryStatus.QUEUED).update(
        updated_at=timezone.now()
    )
    return ids


def _set_status(message_id: UUID, expected: str, status: str, reason: str) -> None:
    Message.objects.filter(id=message_id, delivery_status=expected).update(
        delivery_status=status, delivery_error=reason, updated_at=timezone.now()
    )


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:2000]


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
