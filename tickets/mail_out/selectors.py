"""Reads for outgoing mail: the mailbox a reply goes out from, customised templates."""

from __future__ import annotations

from uuid import UUID

from departments.models import Mailbox
from tickets.models import (
    EmailTemplate,
    Ticket,
)


def get_reply_mailbox(ticket: Ticket) -> Mailbox | None:
    """The mailbox a ticket's mail goes out from: its own, its department's, the default."""
    if ticket.mailbox_id:
        return ticket.mailbox
    return (
        Mailbox.objects.filter(department_id=ticket.department_id, is_active=True)
        .order_by("-is_default", "created_at")
        .first()
        or Mailbox.objects.filter(is_default=True).first()
    )


def list_custom_templates() -> set[tuple[str, UUID | None]]:
    """(kind, department id or None) of every template the tenant wrote."""
    return set(EmailTemplate.objects.values_list("kind", "department_id"))
