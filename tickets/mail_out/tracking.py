"""Customer tracking links: a signed, unguessable URL per ticket showing its status and the
public conversation (no internal notes, no events), for the `{{ ticket.tracking_link }}`
placeholder."""

from __future__ import annotations

from uuid import UUID

from django.core import signing
from django.urls import reverse

from helpdesk.tenancy import selectors as tenancy_selectors

SALT = "helpdesk.tickets.tracking"


def tracking_token(ticket_id: UUID) -> str:
    return signing.dumps(str(ticket_id), salt=SALT, compress=True)


def ticket_id_from_token(token: str) -> UUID | None:
    try:
        return UUID(signing.loads(token, salt=SALT))
    except (signing.BadSignature, ValueError):
        return None


def tracking_link(ticket: object) -> str:
    """Absolute URL of the ticket's tracking page on its tenant's host."""
    tenant = tenancy_selectors.get_tenant(ticket.tenant_id)  # type: ignore[attr-defined]
    base = tenancy_selectors.tenant_base_url(tenant)
    return base + reverse("tickets:tracking", args=[tracking_token(ticket.id)])  # type: ignore[attr-defined]
