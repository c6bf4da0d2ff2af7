"""Reads of the inbox: query-string filters, the ticket list and full-text search."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import (
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.expressions import RawSQL
from django.utils import timezone

from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.context import require_tenant_id
from helpdesk.tenancy.models import Membership
from tickets.models import (
    RESOLVED_STATUSES,
    SEARCH_VIEW,
    Message,
    MessageKind,
    Tag,
    Ticket,
    TicketFieldValue,
    TicketRead,
    TicketSearch,
    TicketStatus,
    TicketTag,
    TicketTask,
    field_value_digest,
)
from tickets.sla import selectors as sla
from tickets.ticket.selectors import search_config


@dataclass(frozen=True)
class TicketFilters:
    """What an inbox view, a saved view or an API query asks for. Empty means any."""

    statuses: tuple[str, ...] = ()
    assignee_id: UUID | None = None
    unassigned: bool = False
    department_id: UUID | None = None
    tag: str | None = None
    priorities: tuple[str, ...] = ()
    type_id: UUID | None = None
    no_type: bool = False
    mailbox_id: UUID | None = None
    no_mailbox: bool = False
    custom_status_id: UUID | None = None
    channel: str | None = None
    contact_id: UUID | None = None
    company_id: UUID | None = None
    no_company: bool = False
    created_after: datetime.datetime | None = None
    created_before: datetime.datetime | None = None
    updated_after: datetime.datetime | None = None
    updated_before: datetime.datetime | None = None
    # The latest solve (solved_at): the reports' "solved" in a range.
    solved_after: datetime.datetime | None = None
    solved_before: datetime.datetime | None = None
    # A change from solved or closed back to an unsolved status in [after, before).
    reopened_after: datetime.datetime | None = None
    reopened_before: datetime.datetime | None = None
    # An SLA target's outcome: (metric, "met" or "missed"), completed (met) or missed in
    # [sla_after, sla_before): the reports' SLA counts.
    sla_result: tuple[str, str] | None = None
    sla_after: datetime.datetime | None = None
    sla_before: datetime.datetime | None = None
    # Unsolved at this moment (created before it, and not solved or closed then).
    open_at: datetime.datetime | None = None
    # Created on this weekday (0 Monday) and in this hour, in the help desk's time zone.
    created_weekday: int | None = None
    created_hour: int | None = None
    untagged: bool = False
    due: str | None = None  # overdue, due_today, scheduled, none
    sla: str | None = None  # one of tickets.sla.selectors.SLA_STATES
    custom_fields: tuple[tuple[str, Any], ...] = ()
    spam: bool = False
    q: str | None = None


def list_tickets(
    filters: TicketFilters,
    *,
    language: str = "en",
    sort: str = "-updated",
    reader: Membership | None = None,
    now: datetime.datetime | None = None,
) -> QuerySet[Ticket]:
    """Tickets matching the filters, sorted, with what lists show already loaded.

    With `reader`, each ticket carries `is_unread`: a message came after the reader last
    opened it, and `has_overdue_task`: a task on it is past its due time. A search (`q`)
    sorts by rank first.
    """
    tickets = Ticket.objects.select_related(
        "contact", "department", "assignee__user", "custom_status", "type"
    ).filter(is_spam=filters.spam, merged_into__isnull=True)
    if set(filters.statuses) == set(OPEN_STATUSES):
        tickets = tickets.filter(is_unsolved=True)  # one index range, not three
    elif filters.statuses:
        tickets = tickets.filter(status__in=filters.statuses)
    if filters.assignee_id:
        tickets = tickets.filter(assignee_id=filters.assignee_id)
    if filters.unassigned:
        tickets = tickets.filter(assignee__isnull=True)
    if filters.department_id:
        tickets = tickets.filter(department_id=filters.department_id)
    if filters.tag:
        # The tag's id first (one small query): as a constant, the planner knows from its
        # statistics how common the tag is and picks the plan for it.
        tag_id = (
            Tag.objects.filter(name=filters.tag.strip().lower())
            .values_list("id", flat=True)
            .first()
        )
        if tag_id is None:
            return Ticket.objects.none()
        tickets = tickets.filter(
            Exists(TicketTag.objects.filter(ticket_id=OuterRef("id"), tag_id=tag_id))
        )
    if filters.priorities:
        tickets = tickets.filter(priority__in=filters.priorities)
    if filters.type_id:
        tickets = tickets.filter(type_id=filters.type_id)
    if filters.no_type:
        tickets = tickets.filter(type__isnull=True)
    if filters.mailbox_id:
        tickets = tickets.filter(mailbox_id=filters.mailbox_id)
    if filters.no_mailbox:
        tickets = tickets.filter(mailbox__isnull=True)
    if filters.custom_status_id:
        tickets = tickets.filter(custom_status_id=filters.custom_status_id)
    if filters.channel:
        tickets = tickets.filter(channel=filters.channel)
    if filters.contact_id:
        tickets = tickets.filter(contact_id=filters.contact_id)
    if filters.company_id:
        tickets = tickets.filter(contact__company_id=filters.company_id)
    if filters.no_company:
        tickets = tickets.filter(contact__company__isnull=True)
    for field, bound in (
        ("created_at__gte", filters.created_after),
        ("created_at__lt", filters.created_before),
        ("updated_at__gte", filters.updated_after),
        ("updated_at__lt", filters.updated_before),
        ("solved_at__gte", filters.solved_after),
        ("solved_at__lt", filters.solved_before),
    ):
        if bound is not None:
            tickets = tickets.filter(**{field: bound})
    if filters.untagged:
        tickets = tickets.filter(~Exists(TicketTag.objects.filter(ticket_id=OuterRef("id"))))
    if filters.reopened_after is not None or filters.reopened_before is not None:
        tickets = tickets.filter(
            Exists(
                _status_events(filters.reopened_after, filters.reopened_before)
                .filter(event__from__in=RESOLVED_STATUSES)
                .exclude(event__to__in=RESOLVED_STATUSES)
            )
        )
    if filters.sla_result is not None:
        tickets = tickets.filter(
            id__in=sla.ticket_ids_with_result(
                *filters.sla_result, filters.sla_after, filters.sla_before
            )
        )
    if filters.open_at is not None:
        tickets = _filter_open_at(tickets, filters.open_at)
    if filters.created_weekday is not None or filters.created_hour is not None:
        tickets = _filter_created_in_week(tickets, filters.created_weekday, filters.created_hour)
    if filters.due:
        tickets = _filter_due(tickets, filters.due, now or timezone.now())
    if filters.sla:
        tickets = sla.filter_by_sla_state(tickets, filters.sla, now or timezone.now())
    for key, value in filters.custom_fields:
        # TicketFieldValue, not a jsonb `@>` on the ticket: under row-level security that
        # operator cannot use an index (it is not LEAKPROOF); `=` on these rows can.
        tickets = tickets.filter(
            Exists(
                TicketFieldValue.objects.filter(
                    ticket_id=OuterRef("id"), key=key, digest=field_value_digest(value)
                )
            )
        )
    ordering: tuple[Any, ...] = SORTS.get(sort, SORTS["-updated"])
    if filters.q:
        query = SearchQuery(filters.q, search_type="websearch", config=search_config(language))
        rank = (
            TicketSearch.objects.filter(ticket_id=OuterRef("id"))
            .annotate(value=SearchRank(F("document"), query))
            .values("value")[:1]
        )
        tickets = tickets.filter(
            id__in=search_ticket_ids(filters.q, config=search_config(language))
        ).annotate(rank=Subquery(rank))
        ordering = ("-rank", *ordering)
    if reader is not None:
        tickets = tickets.annotate(
            is_read=Exists(
                TicketRead.objects.filter(
                    ticket_id=OuterRef("id"),
                    member_id=reader.id,
                    read_at__gte=OuterRef("last_message_at"),
                )
            ),
            # A task on the ticket past its due time (tickets_task_ticket_idx).
            has_overdue_task=Exists(
                TicketTask.objects.filter(
                    ticket_id=OuterRef("id"), done=False, due_at__lt=now or timezone.now()
                )
            ),
        )
    return tickets.order_by(*ordering).prefetch_related(
        Prefetch("tags", queryset=Tag.objects.order_by("name"))
    )


def search_ticket_ids(text: str, *, config: str) -> RawSQL:
    """Ids of the tickets whose document matches the words (websearch syntax), at most the
    SEARCH_CANDIDATES most recently active: a rare word comes straight from the full-text
    index, a common one from the tenant's newest documents, so no search reads a whole
    tenant. The lists then rank these by relevance.

    Reads SEARCH_VIEW, not the table: the view filters by the current tenant as the
    table's policy does, and leaves the GIN index usable (see TicketSearch). The ids are
    loaded through the scoped manager and RLS afterwards.
    """
    require_tenant_id()
    return RawSQL(  # noqa: S611 - the words and config are parameters
        f"SELECT ticket_id FROM {SEARCH_VIEW}"  # noqa: S608 - a constant, not input
        " WHERE document @@ websearch_to_tsquery(%s::regconfig, %s)"
        " ORDER BY indexed_at DESC LIMIT %s",
        [config, text, SEARCH_CANDIDATES],
    )


def _status_events(
    after: datetime.datetime | None, before: datetime.datetime | None
) -> QuerySet[Message]:
    """The ticket's (OuterRef) changes of status in [after, before)."""
    events = Message.objects.filter(
        ticket_id=OuterRef("id"), kind=MessageKind.EVENT, event__field="status"
    )
    if after is not None:
        events = events.filter(created_at__gte=after)
    if before is not None:
        events = events.filter(created_at__lt=before)
    return events


def _filter_open_at(tickets: QuerySet[Ticket], moment: datetime.datetime) -> QuerySet[Ticket]:
    """Tickets unsolved at `moment`: created before it, and either unsolved now with no
    change of status since, or the first change of status since was from an unsolved
    status. The reports' backlog counts the same way (back from today's unsolved tickets
    through the later creations, reopens and solves)."""
    changed_since = RawSQL(
        "SELECT ticket_id FROM ("
        " SELECT DISTINCT ON (m.ticket_id) m.ticket_id, m.event ->> 'from' AS status"
        " FROM tickets_message m"
        " WHERE m.tenant_id = %s AND m.kind = 'event' AND m.created_at >= %s"
        " AND m.event ->> 'field' = 'status'"
        " ORDER BY m.ticket_id, m.created_at, m.id"
        ") first_change WHERE status NOT IN ('solved', 'closed')",
        [require_tenant_id(), moment],
    )
    return tickets.filter(created_at__lt=moment).filter(
        (Q(is_unsolved=True) & ~Exists(_status_events(moment, None))) | Q(id__in=changed_since)
    )


def _filter_created_in_week(
    tickets: QuerySet[Ticket], weekday: int | None, hour: int | None
) -> QuerySet[Ticket]:
    """Tickets created on `weekday` (0 Monday) and in `hour` of the help desk's zone (the
    reports' heat map)."""
    zone = tenancy_selectors.get_tenant(require_tenant_id()).time_zone or "UTC"
    try:
        ZoneInfo(zone)
    except (ValueError, KeyError):
        zone = "UTC"
    if weekday is not None:
        tickets = tickets.alias(
            created_isodow=RawSQL(
                "extract(isodow FROM tickets_ticket.created_at AT TIME ZONE %s)::int",
                [zone],
                output_field=IntegerField(),
            )
        ).filter(created_isodow=weekday + 1)
    if hour is not None:
        tickets = tickets.alias(
            created_local_hour=RawSQL(
                "extract(hour FROM tickets_ticket.created_at AT TIME ZONE %s)::int",
                [zone],
                output_field=IntegerField(),
            )
        ).filter(created_local_hour=hour)
    return tickets


def _filter_due(tickets: QuerySet[Ticket], due: str, now: datetime.datetime) -> QuerySet[Ticket]:
    """Due-date states: overdue, due within the day, due later, no due date."""
    if due == "overdue":
        return tickets.filter(due_at__lt=now)
    if due == "due_today":
        return tickets.filter(due_at__gte=now, due_at__lt=now + datetime.timedelta(days=1))
    if due == "scheduled":
        return tickets.filter(due_at__gte=now)
    return tickets.filter(due_at__isnull=True)


def count_by_status() -> dict[str, int]:
    from django.db.models import Count

    rows = Ticket.objects.values("status").annotate(total=Count("id"))
    counts = dict.fromkeys(TicketStatus.values, 0)
    counts.update({row["status"]: row["total"] for row in rows})
    return counts


OPEN_STATUSES = (TicketStatus.OPEN, TicketStatus.WAITING, TicketStatus.ON_HOLD)


# Each ends with the id (ties in time), as the list indexes on Ticket do.
SORTS = {
    "-updated": ("-updated_at", "-id"),
    "updated": ("updated_at", "id"),
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
    "due": (F("due_at").asc(nulls_last=True), "id"),
    "sla": sla.SLA_ORDERING,
    "-priority": ("-priority_rank", "-updated_at", "-id"),
}


SEARCH_CANDIDATES = 1000
