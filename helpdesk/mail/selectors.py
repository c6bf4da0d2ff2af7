"""Reads of the outbox."""

from __future__ import annotations

from uuid import UUID

from helpdesk.mail.models import OutboundEmail


def get_outbound_email(outbound_email_id: UUID | str) -> OutboundEmail | None:
    """An email of the current tenant, or None (another tenant's is missing too)."""
    return OutboundEmail.objects.filter(id=outbound_email_id).first()
