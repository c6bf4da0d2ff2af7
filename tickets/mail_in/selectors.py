"""Reads of received emails."""

from __future__ import annotations

from uuid import UUID

from django.db.models import (
    QuerySet,
)

from tickets.errors import (
    InboundEmailNotFound,
)
from tickets.models import (
    InboundEmail,
)


def list_inbound_emails(*, status: str | None = None) -> QuerySet[InboundEmail]:
    """The inbound log, newest first, without the raw bytes."""
    emails = InboundEmail.objects.select_related("mailbox", "ticket").defer("raw")
    if status:
        emails = emails.filter(status=status)
    return emails.order_by("-created_at")


def get_inbound_email(email_id: UUID) -> InboundEmail:
    email = InboundEmail.objects.select_related("mailbox", "ticket").filter(id=email_id).first()
    if email is None:
        raise InboundEmailNotFound(email_id=str(email_id))
    return email
