"""Managing rules (admins only): create, change, delete, reorder, enable and disable, and
the dry run against a ticket. Every write checks the rule against the vocabulary and the
tenant (each id it names must be this tenant's), keeps names unique (case-insensitive),
and drops the cached active rules now and after the commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Max

from automation.errors import InvalidRule, InvalidRuleOrder, RuleNameTaken
from automation.models import Rule, RuleMatch, RuleTrigger
from automation.rules import engine, selectors, vocabulary
from helpdesk.core.queries import named
from helpdesk.tenancy import audit, permissions
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.models import AuditAction, Membership
from helpdesk.tenancy.permissions import Capability
from tickets.configuration import services as configuration
from tickets.models import CustomFieldTarget, SlaMetric, Ticket, TicketChannel, TicketStatus

RULE_FIELDS = (
    "name",
    "trigger",
    "match",
    "conditions",
    "actions",
    "position",
    "is_active",
    "stop_processing",
)
MAX_POSITION = 2_147_483_647


def _clean_custom_value(key: str, raw: Any) -> Any:
    """A custom field value as the field stores it (CustomFieldInvalid otherwise)."""
    return configuration.clean_custom_values(CustomFieldTarget.TICKET, {key: raw}).get(key)


def _check(rule: Rule) -> None:
    """Raises InvalidRule, RuleNameTaken; leaves the conditions and actions cleaned."""
    rule.name = " ".join(str(rule.name).split())[:120]
    if not rule.name:
        raise InvalidRule("A rule needs a name.")
    if rule.trigger not in RuleTrigger.values:
        raise InvalidRule(f"The trigger is one of {', '.join(RuleTrigger.values)}.")
    if rule.match not in RuleMatch.values:
        raise InvalidRule(f"Match is one of {', '.join(RuleMatch.values)}.")
    if not isinstance(rule.position, int) or not 0 <= rule.position <= MAX_POSITION:
        raise InvalidRule("The position is a whole number from 0.")
    conditions = vocabulary.clean_conditions(rule.conditions)
    actions = vocabulary.clean_actions(rule.actions)
    vocabulary.check_custom_fields(
        conditions,
        actions,
        _clean_custom_value,
        [field.key for field in configuration.list_custom_fields(CustomFieldTarget.TICKET)],
    )
    refs = vocabulary.references(conditions, actions)
    vocabulary.check_references(refs, selectors.load_references(refs.ids))
    rule.conditions, rule.actions = conditions, actions
    if named(Rule.objects.exclude(id=rule.id), rule.name).exists():
        raise RuleNameTaken(f"A rule named “{rule.name}” exists.", name=rule.name)


def _rules_changed() -> None:
    key = selectors.active_rules_key()
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))


def next_position() -> int:
    """A new rule goes last."""
    highest = Rule.objects.aggregate(highest=Max("position"))["highest"]
    return 0 if highest is None else highest + 1


@transaction.atomic
def create_rule(
    *,
    actor: Membership | None,
    name: str,
    actions: Any,
    trigger: str = RuleTrigger.TICKET_CREATED,
    match: str = RuleMatch.ALL,
    conditions: Any = None,
    position: int | None = None,
    is_active: bool = True,
    stop_processing: bool = False,
) -> Rule:
    """A new rule, last unless `position` says otherwise. Raises PermissionDenied,
    InvalidRule (naming the condition or action), RuleNameTaken."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    rule = Rule(
        name=name,
        trigger=trigger,
        match=match,
        conditions=conditions if conditions is not None else [],
        actions=actions,
        position=next_position() if position is None else position,
        is_active=is_active,
        stop_processing=stop_processing,
    )
    _check(rule)
    _save(rule)
    audit.record_audit_event(
        action=AuditAction.RULE_CREATED,
        actor=actor,
        target_type="rule",
        target_id=rule.id,
        target_label=rule.name,
        details=None,
    )
    _rules_changed()
    return rule


def _save(rule: Rule) -> None:
    """Save; a rule of the same name committed meanwhile is RuleNameTaken, not a 500."""
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError:
        raise RuleNameTaken(f"A rule named “{rule.name}” exists.", name=rule.name) from None


@transaction.atomic
def update_rule(*, rule: Rule, actor: Membership | None, **changes: Any) -> Rule:
    """Change any of RULE_FIELDS; the whole rule is checked again. Raises PermissionDenied,
    InvalidRule, RuleNameTaken."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    unknown = set(changes) - set(RULE_FIELDS)
    if unknown:
        raise ValueError(f"not rule fields: {sorted(unknown)}")
    for name, value in changes.items():
        if name == "conditions" and value is None:
            value = []
        setattr(rule, name, value)
    _check(rule)
    _save(rule)
    audit.record_audit_event(
        action=AuditAction.RULE_UPDATED,
        actor=actor,
        target_type="rule",
        target_id=rule.id,
        target_label=rule.name,
        details={"fields": sorted(changes)},
    )
    _rules_changed()
    return rule


@transaction.atomic
def set_rule_active(*, rule: Rule, actor: Membership | None, is_active: bool) -> Rule:
    """Enable or disable a rule (kept, with its place). Raises PermissionDenied."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    if rule.is_active != is_active:
        rule.is_active = is_active
        rule.save(update_fields=["is_active", "updated_at"])
        audit.record_audit_event(
            action=AuditAction.RULE_UPDATED,
            actor=actor,
            target_type="rule",
            target_id=rule.id,
            target_label=rule.name,
            details={"is_active": is_active},
        )
        _rules_changed()
    return rule


@transaction.atomic
def delete_rule(*, rule: Rule, actor: Membership | None) -> None:
    """Raises PermissionDenied."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    audit.record_audit_event(
        action=AuditAction.RULE_DELETED,
        actor=actor,
        target_type="rule",
        target_id=rule.id,
        target_label=rule.name,
        details=None,
    )
    rule.delete()
    _rules_changed()


@transaction.atomic
def reorder_rules(*, actor: Membership | None, rule_ids: Sequence[UUID | str]) -> list[Rule]:
    """Put the rules in this order (positions 0, 1, 2, …). `rule_ids` names every rule of
    the tenant once: a list made before someone added or removed one is refused rather
    than guessed at. Raises PermissionDenied, InvalidRuleOrder."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    rules = {str(rule.id): rule for rule in selectors.list_rules().select_for_update()}
    wanted = [str(rule_id) for rule_id in rule_ids]
    if len(wanted) != len(set(wanted)) or set(wanted) != set(rules):
        raise InvalidRuleOrder(
            "Send the id of every rule once, in the order they should run (the rules may"
            " have changed: reload them)."
        )
    changed = []
    for position, rule_id in enumerate(wanted):
        rule = rules[rule_id]
        if rule.position != position:
            rule.position = position
            changed.append(rule)
    if changed:
        Rule.objects.bulk_update(changed, ["position", "updated_at"])
        audit.record_audit_event(
            action=AuditAction.RULES_REORDERED,
            actor=actor,
            target_type="rule",
            target_label=f"{len(changed)} of {len(wanted)} rules moved",
            details={"order": " > ".join(rules[rule_id].name for rule_id in wanted)[:2000]},
        )
    _rules_changed()
    return [rules[rule_id] for rule_id in wanted]


# --- Dry run -------------------------------------------------------------------------------


@dataclass
class DryRunResult:
    """A dry run in words: whether the rule matches, each condition met or not, and what
    would change (nothing is written)."""

    matched: bool
    conditions: list[dict[str, Any]]
    changes: list[str]


def dry_run(*, rule: Rule, ticket: Ticket, actor: Membership | None) -> DryRunResult:
    """What the rule would do to the ticket now (see engine.dry_run: its writes are rolled
    back, no mail or notification leaves). Raises PermissionDenied."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    outcome = engine.dry_run(rule=rule, ticket=ticket)
    names = describe_names([rule])
    members = {str(m.id): m.user.display_name for m in tenancy_selectors.list_members()}
    return DryRunResult(
        matched=outcome.matched,
        conditions=[
            {"condition": describe_condition(condition, names), "met": met}
            for condition, met in outcome.conditions
        ],
        changes=[_describe_change(change, members) for change in outcome.changes],
    )


def _show(value: Any, field: str, members: dict[str, str]) -> str:
    if value in (None, "", []):
        return "nobody" if field == "assignee" else "none"
    if field == "assignee":
        return members.get(str(value), "a former agent")
    if field == "status":
        return str(dict(TicketStatus.choices).get(value, value))
    if field == "priority":
        return configuration.priority_labels().get(value, str(value))
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _describe_change(change: dict[str, Any], members: dict[str, str]) -> str:
    if change["kind"] == "reply":
        return f"Reply to the customer: “{change['subject']}”"
    if change["kind"] == "note":
        return f"Internal note: {change['body'][:300]}"
    field = str(change["field"])
    if field == "rule_skipped":
        return f"Could not {str(change['from']).replace('_', ' ')}: {change['to']}"
    if field == "followers":
        return f"Copy {_show(change['to'], field, members)} (followers)"
    label = field.removeprefix("custom_fields.").replace("_", " ").capitalize()
    return (
        f"{label}: {_show(change['from'], field, members)} → {_show(change['to'], field, members)}"
    )


# --- Words for the page and the API -------------------------------------------------------


def describe_names(rules: Sequence[Rule]) -> dict[str, dict[str, str]]:
    """Display names of everything the rules name, by kind and id (one query per kind)."""
    refs = vocabulary.Refs()
    for rule in rules:
        for kind, ids in vocabulary.references(rule.conditions, rule.actions).ids.items():
            refs.ids.setdefault(kind, set()).update(ids)
    found = selectors.load_references(refs.ids) if refs.ids else {}
    names: dict[str, dict[str, str]] = {}
    for kind, rows in found.items():
        names[kind] = {
            ref: (
                row.user.display_name
                if kind in {"assignee", "member"}
                else getattr(row, "title", None) or getattr(row, "name", None) or str(row)
            )
            for ref, row in rows.items()
        }
    return names


def _named(names: dict[str, dict[str, str]], kind: str, ref: Any, empty: str = "none") -> str:
    if ref is None:
        return empty
    return names.get(kind, {}).get(str(ref), f"(missing {vocabulary.REFERENCE_WORDS[kind]})")


def describe_condition(condition: dict[str, Any], names: dict[str, dict[str, str]]) -> str:
    """A condition in words: “Subject contains “refund””."""
    field, operator, value = condition["field"], condition["operator"], condition["value"]
    spec = vocabulary.condition_spec(field)
    label = (
        f"Custom field {field.removeprefix(vocabulary.CUSTOM_FIELD_PREFIX)}"
        if spec is vocabulary.CUSTOM_FIELD_CONDITION
        else (spec.label if spec else field)
    )
    words = vocabulary.OPERATOR_LABELS.get(operator, operator)
    kind = vocabulary.CONDITION_REFERENCE_KINDS.get(field)
    if field == "business_hours":
        hours = _named(names, "business_hours", value, "the SLA policy's hours")
        return f"{words.capitalize()} business hours ({hours})"
    if field == "sla_missed":
        metric = "any" if value == "any" else dict(SlaMetric.choices).get(value, value)
        return f"SLA target missed: {str(metric).lower()}"
    if operator in {"is_set", "not_set"}:
        return f"{label} {words}"
    if kind:
        return f"{label} {words} {_named(names, kind, value)}"
    labels = _choice_labels(field)
    shown = ", ".join(
        labels.get(str(item), f"“{item}”")
        for item in (value if isinstance(value, list) else [value])
    )
    return f"{label} {words} {shown}"


def _choice_labels(field: str) -> dict[str, str]:
    """The words for a choice's values (channel web: Web; the tenant's priority names)."""
    if field in {"priority", "set_priority"}:
        return configuration.priority_labels()
    if field in {"status", "set_status"}:
        return {value: str(label) for value, label in TicketStatus.choices}
    if field == "channel":
        return {value: str(label) for value, label in TicketChannel.choices}
    return {}


def describe_action(action: dict[str, Any], names: dict[str, dict[str, str]]) -> str:
    """An action in words: “Assign to Adebayo”."""
    name, value = action["action"], action["value"]
    spec = vocabulary.ACTIONS.get(name)
    label = spec.label if spec else name
    kind = vocabulary.ACTION_REFERENCE_KINDS.get(name)
    if name == "notify_department" and value is None:
        return f"{label}: the ticket's own"
    if name == "assign_by_department_mode":
        return label
    if kind:
        return f"{label} {_named(names, kind, value)}"
    if name == "set_custom_field":
        return f"{label} {value['key']} to “{value['value']}”"
    if name == "add_note":
        return f"{label}: “{str(value)[:80]}”"
    if isinstance(value, list):
        return f"{label} {', '.join(value)}"
    return f"{label} {_choice_labels(name).get(str(value), value)}"
