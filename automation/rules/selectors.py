"""Reads for rules: the list in running order, one rule, the tenant's active rules of a
trigger (cached, read for every batch of ticket events), and the objects rules name."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from django.core.cache import cache
from django.db.models import QuerySet

from automation.errors import RuleNotFound
from automation.models import CannedResponse, CannedResponseScope, Rule, Webhook
from departments.models import BusinessHours, Department, Mailbox
from helpdesk.tenancy import permissions
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.context import require_tenant_id
from tickets.models import Company, TicketType


def list_rules() -> QuerySet[Rule]:
    """Every rule of the tenant in running order (position, then oldest first)."""
    return Rule.objects.order_by("position", "created_at", "id")


def get_rule(rule_id: UUID | str) -> Rule:
    """One rule; another tenant's is RuleNotFound like a missing one."""
    rule = list_rules().filter(id=rule_id).first()
    if rule is None:
        raise RuleNotFound(rule_id=str(rule_id))
    return rule


RULES_SECONDS = 600


def active_rules_key() -> str:
    return f"rules:{require_tenant_id()}"


def active_rules_by_trigger() -> dict[str, list[Rule]]:
    """The tenant's active rules by trigger, in running order. Read for every batch of
    ticket events, so cached (a tenant without rules costs one cache read, no query); the
    rule services drop it."""
    key = active_rules_key()
    cached = cache.get(key)
    if isinstance(cached, dict):
        return cached
    by_trigger: dict[str, list[Rule]] = {}
    for rule in list_rules().filter(is_active=True):
        by_trigger.setdefault(rule.trigger, []).append(rule)
    cache.set(key, by_trigger, RULES_SECONDS)
    return by_trigger


def active_rules(trigger: str) -> list[Rule]:
    return active_rules_by_trigger().get(trigger, [])


def has_active_rules(trigger: str | None = None) -> bool:
    """Whether the tenant has active rules (of `trigger`): lets a caller skip collecting
    events at all."""
    by_trigger = active_rules_by_trigger()
    return bool(by_trigger.get(trigger)) if trigger else any(by_trigger.values())


def _ids(values: Iterable[str]) -> list[UUID]:
    valid = []
    for value in values:
        try:
            valid.append(UUID(str(value)))
        except ValueError:
            continue
    return valid


def load_references(ids: Mapping[str, Iterable[str]]) -> dict[str, dict[str, Any]]:
    """The objects of this tenant that rules name, by kind and id (one query per kind named;
    ids that are not found are absent). Members are active seats; `assignee` ones may take
    tickets; templates are shared canned responses (never someone's personal one)."""
    found: dict[str, dict[str, Any]] = {}
    querysets: dict[str, QuerySet[Any]] = {
        "mailbox": Mailbox.objects.all(),
        "department": Department.objects.all(),
        "company": Company.objects.all(),
        "type": TicketType.objects.all(),
        "business_hours": BusinessHours.objects.prefetch_related("holidays"),
        "template": list_shared_canned_responses(),
        "webhook": Webhook.objects.filter(is_active=True),
    }
    for kind, wanted in ids.items():
        valid = _ids(wanted)
        if not valid:
            found[kind] = {}
            continue
        if kind in {"assignee", "member"}:
            members = tenancy_selectors.list_members().filter(id__in=valid)
            found[kind] = {
                str(member.id): member
                for member in members
                if kind == "member" or permissions.can_take_tickets(member)
            }
            continue
        found[kind] = {str(row.id): row for row in querysets[kind].filter(id__in=valid)}
    return found


def list_shared_canned_responses() -> QuerySet[CannedResponse]:
    """The canned responses a rule may reply with: shared ones (the whole tenant's or a
    department's), never someone's personal one."""
    return CannedResponse.objects.exclude(scope=CannedResponseScope.PERSONAL).order_by("title")
