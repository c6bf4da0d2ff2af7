"""What the ticket's SLA columns mean, in one place.

automation.sla is the only writer of `Ticket.sla_due_at`, `sla_metric` and `sla_paused`
(through `tickets.ticket.services.set_sla_state`): the earliest running target and its
metric, or paused while the ticket waits, or nothing when no policy applies. Every reader
asks this module what that means as of a moment: the state of one ticket, the tickets in a
state, the SLA sort, and the history the clocks are measured from. Nothing else compares
`sla_due_at` with a time (tests/test_structure.py fails if something does).
"""

from __future__ import annotations

import datetime
from typing import Any
from uuid import UUID

from django.db import models
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import RawSQL

from helpdesk.tenancy.context import require_tenant_id
from tickets.models import Message, MessageKind, Ticket


class SlaState(models.TextChoices):
    """The SLA state of a ticket as of a moment (the inbox filter, the API's `sla_state`)."""

    BREACHED = "breached", "Overdue"
    DUE_SOON = "due_soon", "Due within an hour"
    ON_TRACK = "on_track", "On track"
    PAUSED = "paused", "Paused"
    NONE = "none", "No SLA"


# A running target due within this window is "due soon".
SLA_DUE_SOON = datetime.timedelta(hours=1)

# The states with their labels, in the order the inbox's filter offers them.
SLA_STATES: dict[str, str] = dict(SlaState.choices)

# Tickets by their running target, the first one due first; those without one last.
SLA_ORDERING: tuple[Any, ...] = (F("sla_due_at").asc(nulls_last=True), "id")
# The same order for cursor pages (field names only), over with_running_sla's tickets.
SLA_CURSOR_ORDERING = ("sla_due_at", "id")


def state_at(due_at: datetime.datetime | None, *, paused: bool, now: datetime.datetime) -> SlaState:
    """The state of a target due at `due_at` (None: none running) as of `now`."""
    if due_at is not None:
        if due_at <= now:
            return SlaState.BREACHED
        return SlaState.DUE_SOON if due_at <= now + SLA_DUE_SOON else SlaState.ON_TRACK
    return SlaState.PAUSED if paused else SlaState.NONE


def sla_state(ticket: Ticket, now: datetime.datetime) -> SlaState:
    """The ticket's SLA state as of `now`, from the columns automation keeps."""
    return state_at(ticket.sla_due_at, paused=ticket.sla_paused, now=now)


def sla_state_condition(state: str, now: datetime.datetime) -> Q:
    """The tickets in `state` as of `now`, as a condition (the same meaning as state_at)."""
    if state == SlaState.BREACHED:
        return Q(sla_due_at__lte=now)
    if state == SlaState.DUE_SOON:
        return Q(sla_due_at__gt=now, sla_due_at__lte=now + SLA_DUE_SOON)
    if state == SlaState.ON_TRACK:
        return Q(sla_due_at__gt=now + SLA_DUE_SOON)
    if state == SlaState.PAUSED:
        return Q(sla_paused=True)  # automation writes no due time while paused
    return Q(sla_due_at__isnull=True, sla_paused=False)


def filter_by_sla_state(
    tickets: QuerySet[Ticket], state: str, now: datetime.datetime
) -> QuerySet[Ticket]:
    """The tickets in `state` (one of SlaState) as of `now`."""
    return tickets.filter(sla_state_condition(state, now))


def with_running_sla(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """The tickets with a running SLA target (the API's `sla` sort pages through these)."""
    return tickets.filter(sla_due_at__isnull=False)


def list_sla_timeline(ticket: Ticket) -> list[tuple[datetime.datetime, str, str]]:
    """What SLA clocks are measured from, oldest first: (when, what, new status), what
    being "customer" (a customer message), "reply" (an agent's public reply; automatic
    mail does not count) or "status" (a status change to the third value)."""
    rows = (
        Message.objects.filter(ticket=ticket)
        .filter(
            Q(kind=MessageKind.CUSTOMER)
            | Q(kind=MessageKind.REPLY, is_automatic=False)
            | (Q(kind=MessageKind.EVENT, event__field="status") & ~Q(event__has_key="merged_from"))
        )
        .order_by("created_at", "id")
        .values_list("created_at", "kind", "event")
    )
    return [
        (at, "status" if kind == MessageKind.EVENT else kind, (event or {}).get("to", ""))
        for at, kind, event in rows
    ]


def lock_ticket_for_sla(ticket_id: UUID) -> Ticket | None:
    """The ticket, locked for its SLA recomputation (two runs for one ticket queue up)."""
    return (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("assignee")
        .filter(id=ticket_id)
        .first()
    )


def ticket_ids_with_result(
    metric: str,
    result: str,
    after: datetime.datetime | None,
    before: datetime.datetime | None,
) -> RawSQL:
    """Ids of the tickets with an SLA target of `metric` met (completed, never breached) or
    missed (breached), dated by its completion or else its breach, as the reports count
    them (the inbox's `sla_result` filter). The targets are automation's SlaTimer rows,
    read by table name: tickets may not import automation (the layers), and this is the
    one read of them here."""
    return RawSQL(
        "SELECT s.ticket_id FROM automation_slatimer s"
        " WHERE s.tenant_id = %s AND s.metric = %s"
        " AND (s.breached_at IS NULL) = %s"
        " AND (s.breached_at IS NOT NULL OR s.completed_at IS NOT NULL)"
        " AND (%s::timestamptz IS NULL OR coalesce(s.completed_at, s.breached_at) >= %s)"
        " AND (%s::timestamptz IS NULL OR coalesce(s.completed_at, s.breached_at) < %s)",
        [require_tenant_id(), metric, result == "met", after, after, before, before],
    )
