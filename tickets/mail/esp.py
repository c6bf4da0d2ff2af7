"""ESP inbound webhooks (django-anymail): every ESP anymail supports posts to
/anymail/<esp>/inbound/; anymail checks the ESP's signature and basic auth, then sends its
`inbound` signal, which lands here and goes into the same durable intake as SMTP."""

from __future__ import annotations

import logging
from typing import Any

from anymail.signals import AnymailInboundEvent, inbound
from django.db import close_old_connections

from tickets.mail import intake

logger = logging.getLogger(__name__)


def receive_inbound(sender: Any, event: AnymailInboundEvent, esp_name: str, **kwargs: Any) -> None:
    """Store one ESP-delivered mail. Errors propagate so the ESP retries (5xx)."""
    message = event.message
    if message is None:
        logger.warning("%s inbound event without a message", esp_name)
        return
    close_old_connections()
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
