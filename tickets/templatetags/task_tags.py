"""`{% ticket_tasks_panel ticket %}`: the ticket's tasks panel (tickets.reminders), drawn
with the ticket page, which may not import the reminders feature; the panel's forms then
post to its own URL and get it back from the same context."""

from __future__ import annotations

from typing import Any

from django import template

from tickets.models import Ticket
from tickets.reminders import views

register = template.Library()


@register.inclusion_tag("tickets/ticket_tasks.html", takes_context=True)
def ticket_tasks_panel(context: template.Context, ticket: Ticket) -> dict[str, Any]:
    return {**views.tasks_panel(ticket), "request": context["request"]}
