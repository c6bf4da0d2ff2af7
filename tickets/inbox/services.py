"""The unified inbox: built-in views, filters read from a query string (the page, the API and
saved views share one format), saved views, and bulk actions on many tickets at once."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from departments import selectors as department_selectors
from helpdesk.core import moments
from helpdesk.core.errors import DomainError
from helpdesk.tenancy import permissions
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.models import Membership
from helpdesk.tenancy.permissions import Capability
from tickets.configuration import services as configuration
from tickets.errors import InvalidFilter, ReplyNotAllowed, SavedViewNotFound, SavedViewNotYours
from tickets.inbox import selectors as inbox_selectors
from tickets.models import (
    CustomFieldTarget,
    SavedView,
    SlaMetric,
    Ticket,
    TicketChannel,
    TicketPriority,
    TicketStatus,
)
from tickets.sla import selectors as sla
from tickets.ticket import merging, services

UNSOLVED = (TicketStatus.OPEN, TicketStatus.WAITING, TicketStatus.ON_HOLD)


@dataclass(frozen=True)
class BuiltInView:
    key: str
    title: str
    params: dict[str, str]


BUILT_IN_VIEWS = [
    BuiltInView("mine", "Mine", {"assignee": "me", "status": ",".join(UNSOLVED)}),
    BuiltInView("unassigned", "Unassigned", {"assignee": "none", "status": TicketStatus.OPEN}),
    BuiltInView("open", "All open", {"status": TicketStatus.OPEN}),
    BuiltInView("waiting", "Waiting on customer", {"status": TicketStatus.WAITING}),
    BuiltInView("on_hold", "On hold", {"status": TicketStatus.ON_HOLD}),
    BuiltInView("solved", "Solved", {"status": TicketStatus.SOLVED}),
    BuiltInView("closed", "Closed", {"status": TicketStatus.CLOSED}),
    BuiltInView("spam", "Spam", {"spam": "1"}),
]
VIEWS_BY_KEY = {view.key: view for view in BUILT_IN_VIEWS}
DEFAULT_VIEW = "open"
FILTER_KEYS = (
    "status",
    "assignee",
    "department",
    "tag",
    "priority",
    "type",
    "mailbox",
    "custom_status",
    "channel",
    "contact",
    "company",
    "created_after",
    "created_before",
    "updated_after",
    "updated_before",
    "solved_after",
    "solved_before",
    "reopened_after",
    "reopened_before",
    "sla_result",
    "sla_after",
    "sla_before",
    "open_at",
    "created_weekday",
    "created_hour",
    "untagged",
    "due",
    "sla",
    "spam",
    "q",
)
SLA_RESULTS = ("met", "missed")
DUE_STATES = {
    "overdue": "Overdue",
    "due_today": "Due within a day",
    "scheduled": "Due later",
    "none": "No due date",
}
SORT_LABELS = {
    "sla": "SLA due",
    "-updated": "Last update",
    "-created": "Newest",
    "created": "Oldest",
    "due": "Due date",
    "-priority": "Priority",
}
CUSTOM_PREFIX = "cf_"


def filter_params(params: Mapping[str, Any]) -> dict[str, str]:
    """The filter keys of a query string (and cf_<key> custom fields), blanks dropped."""
    return {
        key: str(value).strip()
        for key, value in params.items()
        if (key in FILTER_KEYS or key.startswith(CUSTOM_PREFIX)) and str(value).strip()
    }


def parse_filters(
    params: Mapping[str, str], *, reader: Membership
) -> inbox_selectors.TicketFilters:
    """Filters from query-string values. Raises InvalidFilter naming the bad parameter."""
    values: dict[str, Any] = {}
    if params.get("status"):
        values["statuses"] = _choices("status", params["status"], TicketStatus.values)
    if params.get("priority"):
        values["priorities"] = _choices("priority", params["priority"], TicketPriority.values)
    assignee = params.get("assignee", "")
    if assignee == "me":
        values["assignee_id"] = reader.id
    elif assignee == "none":
        values["unassigned"] = True
    elif assignee:
        values["assignee_id"] = _uuid("assignee", assignee)
    for key, field, none in (
        ("department", "department_id", ""),
        ("type", "type_id", "no_type"),
        ("mailbox", "mailbox_id", "no_mailbox"),
        ("custom_status", "custom_status_id", ""),
        ("contact", "contact_id", ""),
        ("company", "company_id", "no_company"),
    ):
        if none and params.get(key) == "none":
            values[none] = True
        elif params.get(key):
            values[field] = _uuid(key, params[key], none=bool(none))
    if params.get("channel"):
        values["channel"] = _choices("channel", params["channel"], TicketChannel.values)[0]
    if params.get("tag"):
        values["tag"] = params["tag"][:60]
    for key in (
        "created_after",
        "created_before",
        "updated_after",
        "updated_before",
        "solved_after",
        "solved_before",
        "reopened_after",
        "reopened_before",
        "sla_after",
        "sla_before",
        "open_at",
    ):
        if params.get(key):
            values[key] = parse_moment(key, params[key])
    if params.get("sla_result"):
        metric, _, result = params["sla_result"].partition(":")
        if metric not in SlaMetric.values or result not in SLA_RESULTS:
            raise InvalidFilter(
                f"sla_result is <metric>:met or <metric>:missed, the metric one of"
                f" {', '.join(SlaMetric.values)}.",
                parameter="sla_result",
            )
        values["sla_result"] = (metric, result)
    for key, top in (("created_weekday", 6), ("created_hour", 23)):
        if params.get(key):
            raw = params[key]
            if not (raw.isascii() and raw.isdigit() and 0 <= int(raw) <= top):
                raise InvalidFilter(f"{key} is a number from 0 to {top}.", parameter=key)
            values[key] = int(raw)
    if params.get("untagged") in {"1", "true", "on"}:
        values["untagged"] = True
    if params.get("due"):
        if params["due"] not in DUE_STATES:
            raise InvalidFilter(f"due is one of {', '.join(DUE_STATES)}.", parameter="due")
        values["due"] = params["due"]
    if params.get("sla"):
        if params["sla"] not in sla.SLA_STATES:
            raise InvalidFilter(f"sla is one of {', '.join(sla.SLA_STATES)}.", parameter="sla")
        values["sla"] = params["sla"]
    if params.get("spam") in {"1", "true", "on"}:
        values["spam"] = True
    if params.get("q"):
        values["q"] = params["q"][:500]
    custom = {
        k[len(CUSTOM_PREFIX) :]: v
        for k, v in params.items()
        if k.startswith(CUSTOM_PREFIX) and str(v).strip()  # blank: any value (not "no")
    }
    if custom:
        values["custom_fields"] = _custom_field_filters(custom)
    return inbox_selectors.TicketFilters(**values)


def _choices(name: str, raw: str, allowed: list[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    wrong = [value for value in chosen if value not in allowed]
    if wrong:
        raise InvalidFilter(
            f"{name} {wrong[0]!r} is not one of {', '.join(allowed)}.", parameter=name
        )
    return chosen


def _uuid(name: str, raw: str, *, none: bool = False) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        also = ' or "none"' if none else ""
        raise InvalidFilter(f"{name} takes an id{also}.", parameter=name) from None


def parse_moment(name: str, raw: str) -> datetime.datetime:
    """A date (midnight UTC) or an ISO datetime (UTC when naive)."""
    try:
        moment = parse_datetime(raw)
        day = parse_date(raw) if moment is None and len(raw) == 10 else None
    except ValueError:  # well formed but impossible, like 2024-02-30
        moment, day = None, None
    if moment is None:
        if day is None:
            raise InvalidFilter(f"{name} takes a date (YYYY-MM-DD).", parameter=name)
        moment = datetime.datetime.combine(day, datetime.time())
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=datetime.UTC)
    if not moments.in_range(moment):
        raise InvalidFilter(f"{name} takes a date {moments.RANGE_TEXT}.", parameter=name)
    return moment


def _custom_field_filters(raw: Mapping[str, str]) -> tuple[tuple[str, Any], ...]:
    fields = {f.key: f for f in configuration.list_custom_fields(CustomFieldTarget.TICKET)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise InvalidFilter(
            f"No ticket field {unknown[0]!r}.", parameter=CUSTOM_PREFIX + unknown[0]
        )
    try:
        cleaned = configuration.clean_custom_values(
            CustomFieldTarget.TICKET, raw, fields=list(fields.values())
        )
    except DomainError as error:
        raise InvalidFilter(str(error)) from None
    return tuple(sorted(cleaned.items()))


ALL_TICKETS = BuiltInView("all", "Tickets", {})


def _filters_submitted(params: Mapping[str, str]) -> bool:
    """Filters chosen, or the filter form sent with every one on Any: every ticket, not
    the default view."""
    return any(key in FILTER_KEYS or key.startswith(CUSTOM_PREFIX) for key in params)


def resolve_view(
    params: Mapping[str, str], *, reader: Membership, default: str | None = DEFAULT_VIEW
) -> tuple[str, str, dict[str, str], str]:
    """(view key, title, filter params, sort) for a request: a saved view (`saved=<id>`), a
    built-in view (`view=`), or the default (None: every ticket); explicit filters in
    `params` refine it. Filters without a view apply to every ticket."""
    sort = params.get("sort", "")
    if params.get("saved"):
        saved = get_saved_view(_uuid("saved", params["saved"]), reader=reader)
        base, key, title = dict(saved.filters), f"saved:{saved.id}", saved.name
        sort = sort or saved.sort
    else:
        if params.get("view") in VIEWS_BY_KEY:
            view = VIEWS_BY_KEY[params["view"]]
        elif default is None or _filters_submitted(params):
            view = ALL_TICKETS
        else:
            view = VIEWS_BY_KEY[default]
        base, key, title = dict(view.params), view.key, view.title
    base.update(filter_params(params))
    if sort not in SORT_LABELS:
        sort = "-updated"
    return key, title, base, sort


def inbox_tickets(
    params: Mapping[str, str],
    *,
    reader: Membership,
    language: str,
    default: str | None = DEFAULT_VIEW,
) -> tuple[str, str, dict[str, str], str, QuerySet[Ticket]]:
    key, title, filters, sort = resolve_view(params, reader=reader, default=default)
    tickets = inbox_selectors.list_tickets(
        parse_filters(filters, reader=reader), language=language, sort=sort, reader=reader
    )
    return key, title, filters, sort, tickets


# --- Saved views -----------------------------------------------------------------------


def list_saved_views(reader: Membership) -> QuerySet[SavedView]:
    """The reader's own views and every shared one."""
    return SavedView.objects.filter(Q(owner=reader) | Q(is_shared=True)).select_related(
        "owner__user"
    )


def get_saved_view(view_id: UUID, *, reader: Membership) -> SavedView:
    view = list_saved_views(reader).filter(id=view_id).first()
    if view is None:
        raise SavedViewNotFound(view_id=str(view_id))
    return view


@transaction.atomic
def save_view(
    *,
    owner: Membership,
    name: str,
    filters: Mapping[str, str],
    sort: str = "-updated",
    is_shared: bool = False,
    view: SavedView | None = None,
) -> SavedView:
    """Create or change a saved view. Only its owner or an admin may change it; sharing with
    the team needs a full agent or admin (light agents keep personal views)."""
    name = " ".join(name.split())[:80]
    if not name:
        raise InvalidFilter("A view needs a name.", parameter="name")
    cleaned = filter_params(filters)
    parse_filters(cleaned, reader=owner)  # refuses what would fail when the view opens
    if sort not in SORT_LABELS:
        raise InvalidFilter(f"sort is one of {', '.join(SORT_LABELS)}.", parameter="sort")
    if (
        view is not None
        and view.owner_id != owner.id
        and not permissions.can_manage_others_views(owner)
    ):
        raise SavedViewNotYours()  # a shared view the reader sees; a private one is a 404
    if is_shared:
        permissions.require(
            owner,
            Capability.SHARE_VIEWS,
            ReplyNotAllowed("Light agents keep personal views; sharing one needs an agent."),
        )
    view = view or SavedView(owner=owner)
    view.name, view.filters, view.sort = name, cleaned, sort
    view.is_shared = is_shared
    view.save()
    return view


@transaction.atomic
def delete_view(*, view: SavedView, actor: Membership) -> None:
    if view.owner_id != actor.id and not permissions.can_manage_others_views(actor):
        raise SavedViewNotYours()
    view.delete()


# --- Bulk actions ----------------------------------------------------------------------

MAX_BULK = 500
BULK_ACTIONS = ("assign", "status", "priority", "department", "tag", "merge", "spam", "not_spam")


@dataclass
class BulkResult:
    done: list[int] = dataclasses.field(default_factory=list)
    failed: list[tuple[int, str]] = dataclasses.field(default_factory=list)


def bulk_value(action: str, raw: str, actor: Membership) -> Any:
    """What a bulk action applies, from its form or API value, loaded through the tenant
    scope: a member (`me`, an id, or empty for nobody), a department, or the text itself."""
    if action == "assign":
        if raw == "me":
            return actor
        try:
            return tenancy_selectors.get_member(UUID(raw)) if raw else None
        except ValueError:
            raise InvalidFilter("Choose an agent.", parameter="value") from None
    if action == "department":
        try:
            return department_selectors.get_department(UUID(raw))
        except ValueError:
            raise InvalidFilter("Choose a department.", parameter="value") from None
    if action in {"status", "priority", "tag"} and not raw:
        raise InvalidFilter(f"Choose a {action}.", parameter="value")
    if action == "status" and raw not in TicketStatus.values:
        raise InvalidFilter(
            f"status is one of {', '.join(TicketStatus.values)}.", parameter="value"
        )
    if action == "priority" and raw not in TicketPriority.values:
        raise InvalidFilter(
            f"priority is one of {', '.join(TicketPriority.values)}.", parameter="value"
        )
    return raw


def bulk_update(
    *, numbers: list[int], action: str, value: Any, actor: Membership, language: str = "en"
) -> BulkResult:
    """Apply one action to many tickets. Each ticket succeeds or fails on its own: a closed
    ticket refusing a change does not undo the others. `merge` merges every ticket into the
    first number given."""
    if action not in BULK_ACTIONS:
        raise InvalidFilter(f"action is one of {', '.join(BULK_ACTIONS)}.", parameter="action")
    permissions.require(
        actor,
        Capability.CHANGE_TICKETS,
        ReplyNotAllowed("Light agents cannot change tickets in bulk."),
    )
    if len(numbers) > MAX_BULK:
        raise InvalidFilter(f"Choose at most {MAX_BULK} tickets at a time.", parameter="tickets")
    tickets = {t.number: t for t in Ticket.objects.filter(number__in=numbers)}
    result = BulkResult()
    missing = [n for n in numbers if n not in tickets]
    result.failed.extend((n, "No such ticket.") for n in missing)
    ordered = [tickets[n] for n in dict.fromkeys(numbers) if n in tickets]
    if action == "merge":
        return _bulk_merge(ordered, actor, result)
    for ticket in ordered:
        try:
            with transaction.atomic():
                _apply(ticket, action, value, actor, language)
            result.done.append(ticket.number)
        except DomainError as error:
            result.failed.append((ticket.number, str(error)))
    return result


def _apply(ticket: Ticket, action: str, value: Any, actor: Membership, language: str) -> None:
    if action == "assign":
        services.update_ticket(ticket=ticket, actor=actor, language=language, assignee=value)
    elif action == "tag":
        names = [t.name for t in ticket.tags.all()]
        services.update_ticket(
            ticket=ticket, actor=actor, language=language, tags=[*names, str(value)]
        )
    elif action in {"spam", "not_spam"}:
        services.mark_spam(ticket=ticket, actor=actor, is_spam=action == "spam")
    else:
        services.update_ticket(ticket=ticket, actor=actor, language=language, **{action: value})


def _bulk_merge(tickets: list[Ticket], actor: Membership, result: BulkResult) -> BulkResult:
    if len(tickets) < 2:
        result.failed.extend((t.number, "Choose at least two tickets to merge.") for t in tickets)
        return result
    survivor, others = tickets[0], tickets[1:]
    try:
        merging.merge_tickets(survivor=survivor, others=others, actor=actor)
        result.done.extend(t.number for t in tickets)
    except DomainError as error:
        result.failed.extend((t.number, str(error)) for t in tickets)
    return result
