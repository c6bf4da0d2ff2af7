"""Ticket background work: processing inbound mail."""

from __future__ import annotations

from uuid import UUID

from helpdesk.core.tasks import tenant_task
from tickets.mail import inbound


@tenant_task
def process_inbound_email(*, tenant_id: str, email_id: str) -> None:
    """Turn one stored InboundEmail into a ticket message; a second run changes nothing."""
    inbound.process_inbound_email(email_id=UUID(email_id))
