"""The rules admin page (/settings/rules/): the rules in running order (drag, or move up
and down with the buttons, to reorder; enable and disable), the rule builder, and the dry
run against a ticket. The builder posts rows (`conditions-<n>-field`, `-operator`,
`-value`; `actions-<n>-action`, `-value`, `-key`) that `rule_from_post` turns into the
API's form, so the page and the API are checked by the same vocabulary. Without
JavaScript, "Add condition" and "Remove" are form buttons the page answers itself; with
it (static/js/rules.js) the rows change in place."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from automation.errors import RuleNotFound
from automation.models import Rule, RuleMatch, RuleTrigger
from automation.rules import selectors, services, vocabulary
from automation.webhooks import selectors as webhook_selectors
from departments import selectors as department_selectors
from helpdesk.core.errors import DomainError
from helpdesk.core.views import not_found_page
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.decorators import member_required
from helpdesk.tenancy.http import MemberHttpRequest
from helpdesk.tenancy.permissions import Capability
from tickets.configuration import services as configuration
from tickets.contacts import selectors as contact_selectors
from tickets.errors import TicketNotFound
from tickets.models import CustomFieldTarget, SlaMetric, TicketChannel, TicketStatus
from tickets.ticket import selectors as ticket_selectors

ROW = re.compile(r"^(conditions|actions)-(\d{1,3})-(field|operator|value|action|key)$")
MAX_COMPANIES = 500
SPLIT = re.compile(r"[,\n]")
# Kinds of value shown as a select (the others are typed).
SELECT_KINDS = {
    "channel",
    "priority",
    "status",
    "sla_metric",
    "mailbox",
    "department",
    "department_or_own",
    "company",
    "type",
    "business_hours",
    "assignee",
    "member",
    "template",
    "webhook",
}


# --- From the form to the API's form ------------------------------------------------------


def _split(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in SPLIT.split(value) if part.strip()]


def _rows(post: QueryDict) -> dict[str, list[dict[str, list[str]]]]:
    found: dict[str, dict[int, dict[str, list[str]]]] = {"conditions": {}, "actions": {}}
    for name in post:
        match = ROW.match(name)
        if match:
            group, index, part = match.group(1), int(match.group(2)), match.group(3)
            found[group].setdefault(index, {})[part] = post.getlist(name)
    return {group: [row for _, row in sorted(rows.items())] for group, rows in found.items()}


def _first(row: dict[str, list[str]], part: str) -> str:
    return (row.get(part) or [""])[0].strip()


def rule_from_post(post: QueryDict) -> dict[str, Any]:
    """The builder's rows in the API's form (rows without a field or action dropped). A
    list (in / not_in, tags, addresses) may be typed comma-separated; the service checks
    every value."""
    rows = _rows(post)
    conditions = [
        {
            "field": _first(row, "field"),
            "operator": _first(row, "operator"),
            "value": _condition_value(_first(row, "field"), _first(row, "operator"), row),
        }
        for row in rows["conditions"]
        if _first(row, "field")
    ]
    actions = [
        {"action": _first(row, "action"), "value": _action_value(_first(row, "action"), row)}
        for row in rows["actions"]
        if _first(row, "action")
    ]
    return {
        "name": post.get("name", ""),
        "trigger": post.get("trigger", RuleTrigger.TICKET_CREATED),
        "match": post.get("match", RuleMatch.ALL),
        "conditions": conditions,
        "actions": actions,
        "stop_processing": post.get("stop_processing") == "on",
        "is_active": post.get("is_active") == "on",
    }


def _condition_value(name: str, operator: str, row: dict[str, list[str]]) -> Any:
    values = [value for value in row.get("value", []) if value.strip()]
    spec = vocabulary.condition_spec(name)
    if operator in {"in", "not_in"}:
        return _split(values)
    if operator in {"is_set", "not_set"}:
        return None
    if not values:
        return None if spec and spec.value in {"company", "type", "business_hours"} else ""
    return values[0].strip()


def _action_value(name: str, row: dict[str, list[str]]) -> Any:
    spec = vocabulary.ACTIONS.get(name)
    kind = spec.value if spec else ""
    values = [value for value in row.get("value", []) if value.strip()]
    if kind in {"tags", "emails"}:
        return _split(values)
    if kind == "none":
        return None
    if kind == "custom":
        return {"key": _first(row, "key"), "value": values[0].strip() if values else ""}
    if not values:
        return None if kind in {"type", "department_or_own"} else ""
    return values[0] if kind == "note" else values[0].strip()


# --- What the page shows --------------------------------------------------------------------


def _choices() -> dict[str, list[tuple[str, str]]]:
    """The options of every select the builder shows, by kind of value."""
    departments = [(str(d.id), d.name) for d in department_selectors.list_departments()]
    return {
        "channel": list(TicketChannel.choices),
        "priority": [(level.value, level.label) for level in configuration.priority_levels()],
        "status": list(TicketStatus.choices),
        "sla_metric": [*SlaMetric.choices, ("any", "Any target")],
        "mailbox": [(str(m.id), m.address) for m in department_selectors.list_mailboxes()],
        "department": departments,
        "department_or_own": [("", "The ticket's department"), *departments],
        "company": [("", "No company")]
        + [
            (str(c.id), c.name)
            for c in contact_selectors.list_companies().only("id", "name")[:MAX_COMPANIES]
        ],
        "type": [("", "No type")]
        + [(str(t.id), t.name) for t in configuration.list_ticket_types()],
        "business_hours": [("", "The SLA policy's hours")]
        + [(str(h.id), h.name) for h in department_selectors.list_business_hours()],
        "assignee": [(str(m.id), m.user.display_name) for m in tenancy_selectors.list_agents()],
        "member": [(str(m.id), m.user.display_name) for m in tenancy_selectors.list_members()],
        "template": [(str(r.id), r.title) for r in selectors.list_shared_canned_responses()],
        "webhook": [
            (str(w.id), w.description or w.url)
            for w in webhook_selectors.list_webhooks().filter(is_active=True)
        ],
        "custom_key": [
            (f.key, f.label) for f in configuration.list_custom_fields(CustomFieldTarget.TICKET)
        ],
    }


@dataclass
class Option:
    value: str
    label: str
    selected: bool = False


@dataclass
class Row:
    """One condition or action row of the builder, with its controls filled in."""

    index: int
    name: str = ""  # the field or the action
    operator: str = ""
    operators: list[Option] = field(default_factory=list)
    kind: str = "text"  # select, text, note, custom, none
    multiple: bool = False
    options: list[Option] = field(default_factory=list)
    text: str = ""
    key_options: list[Option] = field(default_factory=list)


def _as_strings(value: Any) -> list[str]:
    if value is None:
        return [""]
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    return [str(value)]


def _options(choices: list[tuple[str, str]], chosen: list[str]) -> list[Option]:
    return [Option(value, str(label), value in chosen) for value, label in choices]


def _condition_row(
    index: int, condition: dict[str, Any], choices: dict[str, list[tuple[str, str]]]
) -> Row:
    name, operator = condition.get("field", ""), condition.get("operator", "")
    spec = vocabulary.condition_spec(name) if name else None
    operators = spec.operators if spec else tuple(vocabulary.OPERATOR_LABELS)
    row = Row(
        index=index,
        name=name,
        operator=operator,
        operators=[Option(op, vocabulary.OPERATOR_LABELS[op], op == operator) for op in operators],
    )
    values = _as_strings(condition.get("value"))
    kind = spec.value if spec else "text"
    if operator in {"is_set", "not_set"}:
        row.kind = "none"
    elif kind in SELECT_KINDS:
        row.kind = "select"
        row.multiple = operator in {"in", "not_in"}
        row.options = _options(choices[kind], values)
    else:
        row.kind = "text"
        row.text = ", ".join(v for v in values if v)
    return row


def _action_row(
    index: int, action: dict[str, Any], choices: dict[str, list[tuple[str, str]]]
) -> Row:
    name = action.get("action", "")
    spec = vocabulary.ACTIONS.get(name)
    row = Row(index=index, name=name)
    kind = spec.value if spec else "text"
    value = action.get("value")
    if kind in SELECT_KINDS:
        row.kind = "select"
        row.options = _options(choices[kind], _as_strings(value))
    elif kind == "none":
        row.kind = "none"
    elif kind == "note":
        row.kind = "note"
        row.text = "" if value is None else str(value)
    elif kind == "custom":
        row.kind = "custom"
        held = value if isinstance(value, dict) else {}
        row.key_options = _options(choices["custom_key"], [str(held.get("key", ""))])
        row.text = "" if held.get("value") is None else str(held.get("value"))
    else:
        row.kind = "text"
        row.text = ", ".join(v for v in _as_strings(value) if v)
    return row


def _summaries(rules: list[Rule]) -> list[dict[str, Any]]:
    names = services.describe_names(rules)
    return [
        {
            "rule": rule,
            "conditions": [services.describe_condition(c, names) for c in rule.conditions],
            "actions": [services.describe_action(a, names) for a in rule.actions],
        }
        for rule in rules
    ]


def _vocabulary(choices: dict[str, list[tuple[str, str]]]) -> dict[str, Any]:
    data = vocabulary.vocabulary_data()
    data["custom_fields"] = [{"key": key, "label": label} for key, label in choices["custom_key"]]
    data["select_kinds"] = sorted(SELECT_KINDS)
    return data


def _page(
    request: MemberHttpRequest,
    *,
    editing: Rule | None,
    values: dict[str, Any],
    error: str = "",
    dry_run: services.DryRunResult | None = None,
    dry_run_number: int | None = None,
    dry_run_error: str = "",
    status: int = 200,
) -> HttpResponse:
    choices = _choices()
    conditions = list(values.get("conditions") or [])
    actions = list(values.get("actions") or [])
    context = {
        "editing": editing,
        "values": values,
        "error": error,
        "rules": _summaries(list(selectors.list_rules())),
        "triggers": RuleTrigger.choices,
        "matches": RuleMatch.choices,
        "condition_fields": [
            (spec.name, spec.label) for spec in vocabulary.CONDITION_FIELDS.values()
        ]
        + [
            (vocabulary.CUSTOM_FIELD_PREFIX + key, f"Custom field: {label}")
            for key, label in choices["custom_key"]
        ],
        "action_names": [(spec.name, spec.label) for spec in vocabulary.ACTIONS.values()],
        "condition_rows": [_condition_row(i, c, choices) for i, c in enumerate([*conditions, {}])],
        "action_rows": [_action_row(i, a, choices) for i, a in enumerate([*actions, {}])],
        "choices": choices,
        "vocabulary": _vocabulary(choices),
        "dry_run": dry_run,
        "dry_run_number": dry_run_number,
        "dry_run_error": dry_run_error,
    }
    response = render(request, "automation/rules.html", context, status=status)
    response["Vary"] = "HX-Request"
    return response


def _values_of(rule: Rule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "trigger": rule.trigger,
        "match": rule.match,
        "conditions": rule.conditions,
        "actions": rule.actions,
        "stop_processing": rule.stop_processing,
        "is_active": rule.is_active,
    }


NEW_RULE = {
    "name": "",
    "trigger": RuleTrigger.TICKET_CREATED,
    "match": RuleMatch.ALL,
    "conditions": [],
    "actions": [],
    "stop_processing": False,
    "is_active": True,
}


def _builder_buttons(post: QueryDict, values: dict[str, Any]) -> bool:
    """ "Add condition", "Add action" and "Remove" without JavaScript: change the rows and
    show the form again (True), saving nothing."""
    if "add" not in post and "remove" not in post:
        return False
    rows = _rows(post)
    conditions = [
        {
            "field": _first(row, "field"),
            "operator": _first(row, "operator"),
            "value": _condition_value(_first(row, "field"), _first(row, "operator"), row),
        }
        for row in rows["conditions"]
    ]
    actions = [
        {"action": _first(row, "action"), "value": _action_value(_first(row, "action"), row)}
        for row in rows["actions"]
    ]
    remove = post.get("remove", "")
    if remove.startswith("conditions-") and remove[11:].isascii() and remove[11:].isdigit():
        index = int(remove[11:])
        conditions = [c for i, c in enumerate(conditions) if i != index]
    if remove.startswith("actions-") and remove[8:].isascii() and remove[8:].isdigit():
        index = int(remove[8:])
        actions = [a for i, a in enumerate(actions) if i != index]
    # The blank last row was posted too; keep the filled ones (the page adds a blank one).
    values["conditions"] = [c for c in conditions if c["field"]]
    values["actions"] = [a for a in actions if a["action"]]
    return True


@member_required(may=Capability.MANAGE_SETTINGS)
def rules(request: MemberHttpRequest, rule_id: UUID | None = None) -> HttpResponse:
    """Admin: the rules in running order; create one, or edit the one in the URL."""
    editing = None
    if rule_id is not None:
        try:
            editing = selectors.get_rule(rule_id)
        except RuleNotFound:
            return not_found_page(request, "That rule")
    if request.method != "POST":
        return _page(request, editing=editing, values=_values_of(editing) if editing else NEW_RULE)
    values = rule_from_post(request.POST)
    if _builder_buttons(request.POST, values):
        return _page(request, editing=editing, values=values)
    try:
        if editing is not None:
            rule = services.update_rule(rule=editing, actor=request.membership, **values)
        else:
            rule = services.create_rule(actor=request.membership, **values)
    except DomainError as error:
        return _page(request, editing=editing, values=values, error=str(error), status=400)
    messages.success(request, f"Rule “{rule.name}” saved.")
    return redirect("rules:rule-edit", rule_id=rule.id)


def _get_or_404(request: MemberHttpRequest, rule_id: UUID) -> Rule | HttpResponse:
    try:
        return selectors.get_rule(rule_id)
    except RuleNotFound:
        return not_found_page(request, "That rule")


@member_required(may=Capability.MANAGE_SETTINGS)
@require_POST
def rule_delete(request: MemberHttpRequest, rule_id: UUID) -> HttpResponse:
    rule = _get_or_404(request, rule_id)
    if isinstance(rule, HttpResponse):
        return rule
    services.delete_rule(rule=rule, actor=request.membership)
    messages.success(request, f"Rule “{rule.name}” deleted.")
    return redirect("rules:rules")


@member_required(may=Capability.MANAGE_SETTINGS)
@require_POST
def rule_toggle(request: MemberHttpRequest, rule_id: UUID) -> HttpResponse:
    """Enable or disable (the button says which)."""
    rule = _get_or_404(request, rule_id)
    if isinstance(rule, HttpResponse):
        return rule
    active = request.POST.get("is_active") == "1"
    services.set_rule_active(rule=rule, actor=request.membership, is_active=active)
    messages.success(request, f"Rule “{rule.name}” {'enabled' if active else 'disabled'}.")
    if request.POST.get("next") == "edit":
        return redirect("rules:rule-edit", rule_id=rule.id)
    return redirect(f"{reverse('rules:rules')}#rule-{rule.id}")


@member_required(may=Capability.MANAGE_SETTINGS)
@require_POST
def rule_move(request: MemberHttpRequest, rule_id: UUID) -> HttpResponse:
    """Up or down one place: the keyboard's way to reorder."""
    rule = _get_or_404(request, rule_id)
    if isinstance(rule, HttpResponse):
        return rule
    ids = [str(r.id) for r in selectors.list_rules()]
    at = ids.index(str(rule.id))
    to = at - 1 if request.POST.get("direction") == "up" else at + 1
    if 0 <= to < len(ids):
        ids[at], ids[to] = ids[to], ids[at]
        services.reorder_rules(actor=request.membership, rule_ids=ids)
    return redirect(f"{reverse('rules:rules')}#rule-{rule.id}")


@member_required(may=Capability.MANAGE_SETTINGS)
@require_POST
def rules_reorder(request: MemberHttpRequest) -> HttpResponse:
    """The order after a drag (static/js/rules.js posts every id); answers the list."""
    try:
        services.reorder_rules(actor=request.membership, rule_ids=request.POST.getlist("ids"))
    except DomainError as error:
        if request.htmx:
            return HttpResponse(str(error), status=400)
        messages.error(request, str(error))
        return redirect("rules:rules")
    if not request.htmx:
        messages.success(request, "Rules reordered.")
        return redirect("rules:rules")
    response = render(
        request,
        "automation/rules.html#rule_list",
        {"rules": _summaries(list(selectors.list_rules()))},
    )
    response["Vary"] = "HX-Request"
    return response


@member_required(may=Capability.MANAGE_SETTINGS)
@require_POST
def rule_dry_run(request: MemberHttpRequest, rule_id: UUID) -> HttpResponse:
    """What the rule would do to a ticket now (nothing is written): the result panel for
    htmx, else the page with it."""
    rule = _get_or_404(request, rule_id)
    if isinstance(rule, HttpResponse):
        return rule
    result, error, number = None, "", None
    raw = request.POST.get("ticket", "").strip().lstrip("#")
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) < 2**31:
        error = "Type a ticket number, such as 123."
    else:
        number = int(raw)
        try:
            ticket = ticket_selectors.get_ticket_by_number(number)
            result = services.dry_run(rule=rule, ticket=ticket, actor=request.membership)
        except TicketNotFound:
            error = f"There is no ticket #{number}."
    status = 400 if error and not request.htmx else 200
    if request.htmx:
        response = render(
            request,
            "automation/rules.html#dry_run",
            {"dry_run": result, "dry_run_number": number, "dry_run_error": error, "editing": rule},
        )
        response["Vary"] = "HX-Request"
        return response
    return _page(
        request,
        editing=rule,
        values=_values_of(rule),
        dry_run=result,
        dry_run_number=number,
        dry_run_error=error,
        status=status,
    )
