"""Readable chips for the inbox's active filters ("Reopened 1 Mar - 31 Mar 2026",
"First response SLA missed", "Department: Billing"), each with the query string of the
same inbox without it. The one place that knows how each filter of
tickets.inbox.services.FILTER_KEYS reads; the template only loops over the chips.

Names come from lists the inbox already loaded (agents) and one query for the rest
(departments, types, mailboxes, statuses, customers, companies), however many chips.
Times are shown in the active (agent's) time zone, as the inbox's rows are."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db.models import CharField, F, QuerySet, Value
from django.utils.http import urlencode
from django.utils.timezone import localtime

from departments.models import Department, Mailbox
from helpdesk.tenancy.models import Membership
from tickets.inbox import services as inbox
from tickets.models import (
    Company,
    Contact,
    CustomStatus,
    SlaMetric,
    TicketChannel,
    TicketPriority,
    TicketStatus,
    TicketType,
)
from tickets.sla import selectors as sla


@dataclass(frozen=True)
class FilterChip:
    label: str
    keys: tuple[str, ...]  # the query-string keys the chip stands for
    remove_query: str  # the current query string without them (and without the page)


DASH = "\u2013"  # an en dash, between the ends of a range
WEEKDAYS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")

# Filters shown as one chip together (a range, an SLA result with its dates, a heat-map
# cell). The first key of each group names the chip's label.
GROUPS: tuple[tuple[str, ...], ...] = (
    ("created_after", "created_before"),
    ("updated_after", "updated_before"),
    ("solved_after", "solved_before"),
    ("reopened_after", "reopened_before"),
    ("sla_result", "sla_after", "sla_before"),
    ("created_weekday", "created_hour"),
)
RANGE_NAMES = {
    "created_after": "Created",
    "updated_after": "Updated",
    "solved_after": "Solved",
    "reopened_after": "Reopened",
}
# Filters whose value is an id, with the model and the field naming it (assignee comes from
# the agents already loaded).
NAMED_BY_ID: dict[str, tuple[str, Any, str]] = {
    "department": ("Department", Department, "name"),
    "type": ("Type", TicketType, "name"),
    "mailbox": ("Mailbox", Mailbox, "address"),
    "custom_status": ("Status", CustomStatus, "name"),
    "contact": ("Customer", Contact, "email"),
    "company": ("Company", Company, "name"),
}


def filter_chips(
    params: Mapping[str, str],
    *,
    agents: Iterable[Membership],
    reader: Membership,
    field_labels: Mapping[str, str] | None = None,
) -> list[FilterChip]:
    """Chips for the filters in `params` (a request's query string), in FILTER_KEYS order,
    custom fields last (named by `field_labels`, key to label). Values are taken as given:
    call after the filters parsed."""
    active = inbox.filter_params(params)
    names = _names({key: active[key] for key in NAMED_BY_ID if key in active})
    names.update({(key, ""): label for key, label in (field_labels or {}).items()})
    agent_names = {str(agent.id): agent.user.display_name for agent in agents}
    grouped = {key: group for group in GROUPS for key in group}
    chips: list[FilterChip] = []
    seen: set[str] = set()
    for key in [*inbox.FILTER_KEYS, *sorted(k for k in active if k not in inbox.FILTER_KEYS)]:
        if key not in active or key in seen:
            continue
        group = grouped.get(key, (key,))
        seen.update(group)
        values = {k: active[k] for k in group if k in active}
        label = label_for(group[0], values, names=names, agents=agent_names, reader=reader)
        kept = {k: v for k, v in params.items() if k not in group and k != "page" and v}
        chips.append(FilterChip(label, group, urlencode(kept)))
    return chips


def clear_query(params: Mapping[str, str]) -> str:
    """The query string without any filter (the view and the sort kept)."""
    return urlencode({k: v for k, v in params.items() if k in {"view", "saved", "sort"} and v})


def label_for(
    key: str,
    values: Mapping[str, str],
    *,
    names: Mapping[tuple[str, str], str] | None = None,
    agents: Mapping[str, str] | None = None,
    reader: Membership | None = None,
) -> str:
    """The label of one filter (or group, by its first key) from its raw values."""
    if key.startswith(inbox.CUSTOM_PREFIX):
        field = key[len(inbox.CUSTOM_PREFIX) :]
        return f"{(names or {}).get((field, ''), field)}: {values[key]}"
    return LABELS[key](key, values, names or {}, agents or {}, reader)


Labeller = Callable[
    [str, Mapping[str, str], Mapping[tuple[str, str], str], Mapping[str, str], Any], str
]


def _choices(title: str, labels: Mapping[str, str]) -> Labeller:
    def label(key: str, values: Mapping[str, str], *_: Any) -> str:
        raw = [part.strip() for part in values[key].split(",") if part.strip()]
        if key == "status" and set(raw) == set(inbox.UNSOLVED):
            return f"{title}: Unsolved"
        if key == "status" and set(raw) == set(TicketStatus.values):
            return "Any status"  # the reports' drill-downs: solved ones too
        return f"{title}: " + ", ".join(labels.get(part, part) for part in raw)

    return label


def _named(
    key: str, values: Mapping[str, str], names: Mapping[tuple[str, str], str], *_: Any
) -> str:
    title = NAMED_BY_ID[key][0]
    if values[key] == "none":
        return f"No {title.lower()}"
    return f"{title}: {names.get((key, values[key]), 'unknown')}"


def _assignee(
    key: str, values: Mapping[str, str], _n: Any, agents: Mapping[str, str], reader: Any
) -> str:
    value = values[key]
    if value == "me" or (reader is not None and value == str(reader.id)):
        return "Assigned to me"
    if value == "none":
        return "Unassigned"
    return f"Assigned to {agents.get(value, 'an unknown agent')}"


def _local(key: str, raw: str) -> datetime.datetime:
    return localtime(inbox.parse_moment(key, raw))


def _day(day: datetime.date, *, year: bool = True) -> str:
    return f"{day.day} {day:%b %Y}" if year else f"{day.day} {day:%b}"


def _exact(moment: datetime.datetime) -> str:
    return f"{_day(moment.date())} {moment:%H:%M}"


def _range(title: str, after_key: str, before_key: str, values: Mapping[str, str]) -> str:
    """A range, "Reopened 1 Mar - 31 Mar 2026": whole days in the agent's zone read as dates (the
    end is exclusive, so midnight ends the day before), other bounds with their time."""
    after = _local(after_key, values[after_key]) if values.get(after_key) else None
    before = _local(before_key, values[before_key]) if values.get(before_key) else None
    midnight = datetime.time()
    if after and before and after.time() == midnight and before.time() == midnight:
        last = before.date() - datetime.timedelta(days=1)
        if last <= after.date():
            return f"{title} {_day(after.date())}"
        return f"{title} {_day(after.date(), year=after.year != last.year)} {DASH} {_day(last)}"
    if after and before:
        return f"{title} {_exact(after)} {DASH} {_exact(before)}"
    if after:
        shown = _day(after.date()) if after.time() == midnight else _exact(after)
        return f"{title} from {shown}"
    if before is None:
        return title
    shown = _day(before.date()) if before.time() == midnight else _exact(before)
    return f"{title} before {shown}"


def _date_range(key: str, values: Mapping[str, str], *_: Any) -> str:
    prefix = key.removesuffix("_after")
    return _range(RANGE_NAMES[key], key, f"{prefix}_before", values)


def _sla_result(key: str, values: Mapping[str, str], *_: Any) -> str:
    metric, _sep, result = values.get("sla_result", "").partition(":")
    metric_label = dict(SlaMetric.choices).get(metric, metric)
    label = f"{metric_label} SLA {result}" if metric else "SLA"
    if values.get("sla_after") or values.get("sla_before"):
        label = _range(label, "sla_after", "sla_before", values)
    return label


def _created_in_week(key: str, values: Mapping[str, str], *_: Any) -> str:
    parts = []
    if values.get("created_weekday"):
        parts.append(f"on {WEEKDAYS[int(values['created_weekday'])]}")
    if values.get("created_hour"):
        hour = int(values["created_hour"])
        parts.append(f"{hour:02d}:00{DASH}{(hour + 1) % 24:02d}:00")
    return "Created " + ", ".join(parts)


def _fixed(text: str) -> Labeller:
    return lambda *_: text


LABELS: dict[str, Labeller] = {
    "status": _choices("Status", dict(TicketStatus.choices)),
    "priority": _choices("Priority", dict(TicketPriority.choices)),
    "channel": _choices("Channel", dict(TicketChannel.choices)),
    "assignee": _assignee,
    **dict.fromkeys(NAMED_BY_ID, _named),
    "tag": lambda key, values, *_: f"Tag: {values[key].strip().lower()}",
    **dict.fromkeys(RANGE_NAMES, _date_range),
    "sla_result": _sla_result,
    "open_at": lambda key, values, *_: f"Unsolved at {_exact(_local(key, values[key]))}",
    "created_weekday": _created_in_week,
    "untagged": _fixed("No tags"),
    "due": lambda key, values, *_: inbox.DUE_STATES.get(values[key], values[key]),
    "sla": lambda key, values, *_: f"SLA: {sla.SLA_STATES.get(values[key], values[key])}",
    "spam": _fixed("Spam"),
    "q": lambda key, values, *_: f"Search: “{values[key]}”",
}


def _names(ids: Mapping[str, str]) -> dict[tuple[str, str], str]:
    """(filter key, id) → name for the id filters present, in one query (a UNION over the
    tables, each through its scoped manager: another tenant's id finds nothing)."""
    parts: list[QuerySet[Any]] = []
    for key, raw in ids.items():
        try:
            object_id = UUID(raw)
        except ValueError:
            continue
        _title, model, field = NAMED_BY_ID[key]
        parts.append(
            model.objects.filter(id=object_id)
            .annotate(filter_key=Value(key, output_field=CharField()), label=F(field))
            .values_list("filter_key", "id", "label")
        )
    if not parts:
        return {}
    query = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    return {(key, str(object_id)): label for key, object_id, label in query}
