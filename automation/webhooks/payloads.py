"""The JSON a webhook receives: an envelope (`id`, `event`, `created_at`, `tenant`) and
the event's `data`: the ticket as it is when the delivery is queued, and the message,
rating or missed SLA target the event is about."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.urls import reverse
from django.utils import timezone

from helpdesk.core.ids import new_id
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.context import require_tenant_id
from tickets.models import Message, SatisfactionRating, Ticket


def _time(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _member(member: Any) -> dict[str, Any] | None:
    if member is None:
        return None
    return {"id": str(member.id), "email": member.user.email, "name": member.user.display_name}


def ticket_data(ticket: Ticket, base_url: str) -> dict[str, Any]:
    """A ticket as webhooks see it."""
    return {
        "id": str(ticket.id),
        "number": ticket.number,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "channel": ticket.channel,
        "department": (
            {"id": str(ticket.department_id), "name": ticket.department.name}
            if ticket.department_id
            else None
        ),
        "assignee": _member(ticket.assignee),
        "contact": {
            "id": str(ticket.contact_id),
            "email": ticket.contact.email,
            "name": ticket.contact.name,
        },
        "tags": sorted(tag.name for tag in ticket.tags.all()),
        "created_at": _time(ticket.created_at),
        "updated_at": _time(ticket.updated_at),
        "solved_at": _time(ticket.solved_at),
        "url": base_url + reverse("tickets:ticket-detail", args=[ticket.number]),
    }


def message_data(message: Message) -> dict[str, Any]:
    return {
        "id": str(message.id),
        "kind": message.kind,
        "body_text": message.body_text,
        "author_member": _member(message.author_member),
        "author_contact": (
            {"id": str(contact.id), "email": contact.email}
            if (contact := message.author_contact) is not None
            else None
        ),
        "created_at": _time(message.created_at),
    }


def rating_data(rating: SatisfactionRating) -> dict[str, Any]:
    return {
        "id": str(rating.id),
        "score": rating.score,
        "comment": rating.comment,
        "rated_at": _time(rating.rated_at),
    }


def envelope(event: str, data: dict[str, Any]) -> dict[str, Any]:
    """The body of one event: the same for every webhook it goes to."""
    tenant = tenancy_selectors.get_tenant(require_tenant_id())
    return {
        "id": str(new_id()),
        "event": event,
        "created_at": _time(timezone.now()),
        "tenant": {"id": str(tenant.id), "slug": tenant.slug},
        "data": data,
    }


def base_url() -> str:
    return tenancy_selectors.tenant_base_url(tenancy_selectors.get_tenant(require_tenant_id()))


def load_tickets(ticket_ids: list[UUID]) -> dict[UUID, Ticket]:
    """The tickets (that still exist) with what their data shows, by id."""
    tickets = (
        Ticket.objects.filter(id__in=ticket_ids)
        .select_related("department", "assignee__user", "contact")
        .prefetch_related("tags")
    )
    return {ticket.id: ticket for ticket in tickets}
