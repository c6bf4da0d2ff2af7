"""The ticket sidebar's panels that automation owns, drawn with the page that includes
them: `{% ticket_sla_panel ticket %}` and `{% ticket_integrations_panel ticket %}`.

The ticket page (tickets.ticket) may not import automation, which sits above it; its
template names these tags as it names automation's URLs. Each panel then refreshes itself
by its own URL (the SLA every minute, the integrations while a task is being created),
rendered from the same context."""

from __future__ import annotations

from typing import Any

from django import template

from automation import views
from automation.integrations import views as integration_views
from tickets.models import Ticket

register = template.Library()


@register.inclusion_tag("automation/ticket_sla.html")
def ticket_sla_panel(ticket: Ticket) -> dict[str, Any]:
    return views.sla_panel(ticket)


@register.inclusion_tag("automation/ticket_integrations.html", takes_context=True)
def ticket_integrations_panel(context: template.Context, ticket: Ticket) -> dict[str, Any]:
    return integration_views.integrations_panel(ticket, context["request"].membership)
