"""ESP webhooks (django-anymail). Inbound mail: every ESP anymail supports posts to
/anymail/<esp>/inbound/; anymail checks the ESP's signature and basic auth, then sends its
`inbound` signal, which lands here and goes into the same durable intake as SMTP. Without
ANYMAIL_WEBHOOK_SECRET no post gets this far (helpdesk.core.middleware answers 403).
Delivery status: /anymail/<esp>/tracking/ events update the outbox email they concern, only in
the tenant their metadata names and only when the ESP's id is the one the mail was sent as."""

from __future__ import annotations

import logging
from typing import Any

from anymail.signals import (
    AnymailInboundEvent,
    AnymailTrackingEvent,
    EventType,
    inbound,
    tracking,
)
from django.core.exceptions import ValidationError

from helpdesk.mail import selectors as mail_selectors
from helpdesk.mail import services as mail
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.errors import TenantSwitchError
from tickets.mail_in import intake
from tickets.models import DeliveryStatus, Message
from tickets.ticket import services

logger = logging.getLogger(__name__)


def receive_inbound(sender: Any, event: AnymailInboundEvent, esp_name: str, **kwargs: Any) -> None:
    """Store one ESP-delivered mail. Errors propagate so the ESP retries (5xx)."""
    message = event.message
    if message is None:
        logger.warning("%s inbound event without a message", esp_name)
        return
    raw = message.as_bytes()
    recipient = getattr(message, "envelope_recipient", None)
    accepted = intake.accept(
        raw=raw,
        envelope_to=[recipient] if recipient else [],
        envelope_from=getattr(message, "envelope_sender", None) or "",
        channel=f"esp:{esp_name.lower()}"[:16],
    )
    if accepted is None:
        logger.warning(
            "%s inbound mail for %s: no tenant owns it; kept as unrouted", esp_name, recipient
        )


def connect() -> None:
    inbound.connect(receive_inbound, dispatch_uid="helpdesk-anymail-inbound")
    tracking.connect(receive_tracking, dispatch_uid="helpdesk-anymail-tracking")


def receive_tracking(
    sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any
) -> None:
    """Delivery status from the ESP: find our email by the metadata we sent with it (the
    tenant, and the ticket message or the outbox email), within that tenant only, and check
    that the ESP's id is the one it was sent as."""
    metadata = event.metadata or {}
    tenant_id = metadata.get("tenant_id")
    message_id, outbound_email_id = metadata.get("message_id"), metadata.get("outbound_email_id")
    if not (tenant_id and (message_id or outbound_email_id)):
        return  # not one of ours (or an ESP that drops metadata): nothing to update
    status = TRACKING_STATUS.get(event.event_type)
    if status is None:
        return
    reason = " ".join(filter(None, [event.recipient, event.description, event.mta_response]))
    try:
        with tenant_context(tenant_id):
            # The scoped managers find only an email of the tenant the event names.
            message = (
                Message.objects.select_related("ticket", "outbound_email")
                .filter(id=message_id)
                .first()
                if message_id
                else None
            )
            outbound = (
                message.outbound_email
                if message is not None
                else mail_selectors.get_outbound_email(outbound_email_id)
                if outbound_email_id and not message_id
                else None
            )
            if outbound is None:
                logger.warning(
                    "%s tracking event for message %s, which tenant %s does not have: ignored",
                    esp_name,
                    message_id or outbound_email_id,
                    tenant_id,
                )
                return
            provider_id = (event.message_id or "")[:255]
            if outbound.provider_message_id and provider_id != outbound.provider_message_id:
                # Metadata names one of our emails, the ESP's id another mail: trust neither.
                logger.warning(
                    "%s tracking event for %s names message %s, sent as %s: ignored",
                    esp_name,
                    provider_id or "no provider id",
                    message_id or outbound_email_id,
                    outbound.provider_message_id,
                )
                return
            if message is None:
                if event.event_type != EventType.COMPLAINED:
                    mail.record_delivery_event(outbound=outbound, status=status, reason=reason)
                return
            if event.event_type == EventType.COMPLAINED:
                services.record_event(
                    ticket=message.ticket,
                    actor=None,
                    field="delivery",
                    old=None,
                    new=f"marked as spam by {event.recipient}",
                )
                return
            services.record_delivery_status(
                message=message,
                status=status,
                reason=reason,
                hard_bounce=event.event_type == EventType.BOUNCED,
                recipient=str(event.recipient or ""),
            )
    except (ValueError, ValidationError, TenantSwitchError):
        logger.warning("%s tracking event with unusable metadata %r", esp_name, metadata)


TRACKING_STATUS = {
    EventType.DELIVERED: DeliveryStatus.DELIVERED,
    EventType.BOUNCED: DeliveryStatus.FAILED,
    EventType.REJECTED: DeliveryStatus.FAILED,
    EventType.FAILED: DeliveryStatus.FAILED,
    EventType.COMPLAINED: DeliveryStatus.DELIVERED,
}
