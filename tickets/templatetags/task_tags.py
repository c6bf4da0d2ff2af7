"""`{% ticket_tasks_panel ticket %}`: the ticket's tasks panel (tickets.reminders), drawn
with the ticket page, which may not import the reminders feature; the panel's forms then
post to its own URL and get it back from the same context."""

from __future__ import annotations

from typing import Any

from django import template

from helpdesk.tenancy.models import Membership
from tickets.models import Ticket
from tickets.reminders import views

register = template.Library()


@register.inclusion_tag("tickets/ticket_tasks.html", takes_context=True)
def ticket_tasks_panel(
    context: template.Context, ticket: Ticket, members: list[Membership] | None = None
) -> dict[str, Any]:
    """`members`: the tenant's members where the page has read them already."""
    return {**views.tasks_panel(ticket, members=members), "request": context["request"]}
