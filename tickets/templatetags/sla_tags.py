"""`{{ ticket|sla_state:now }}`: the ticket's SLA state for templates, as
tickets.sla.selectors answers it (a computation on the row's columns, no query)."""

from __future__ import annotations

import datetime

from django import template

from tickets.models import Ticket
from tickets.sla import selectors as sla

register = template.Library()


@register.filter
def sla_state(ticket: Ticket, now: datetime.datetime) -> str:
    return str(sla.sla_state(ticket, now))
