"""Automation: canned responses and SLA policies. Personal responses belong to their owner;
shared ones (tenant-wide or per department) are managed by admins; bodies use only known
placeholders and are rendered without a template engine. An SLA policy has a unique name
and at least one target; any change measures the open tickets afresh."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import F

from automation import selectors, tasks
from automation.errors import (
    InvalidCannedResponse,
    InvalidSlaPolicy,
    SharedResponseNeedsAdmin,
    SlaPolicyNameTaken,
)
from automation.models import CannedResponse, CannedResponseScope, SlaMetric, SlaPolicy
from departments.models import Department
from helpdesk.core import placeholders
from helpdesk.core.queries import named
from helpdesk.tenancy import audit, permissions
from helpdesk.tenancy.context import require_tenant_id
from helpdesk.tenancy.models import AuditAction, Membership
from helpdesk.tenancy.permissions import Capability
from tickets.mail_out import templates
from tickets.models import Message, MessageKind, Ticket, TicketChannel, TicketPriority


def _check(
    *, title: str, body: str, scope: str, department: Department | None, actor: Membership
) -> None:
    if scope != CannedResponseScope.PERSONAL:
        permissions.require(actor, Capability.MANAGE_SHARED_RESPONSES, SharedResponseNeedsAdmin())
    if not title.strip() or not body.strip():
        raise InvalidCannedResponse("A canned response needs a title and a body.")
    if scope == CannedResponseScope.DEPARTMENT and department is None:
        raise InvalidCannedResponse("Choose the department that may use it.")
    unknown = placeholders.unknown_placeholders(body)
    if unknown:
        raise InvalidCannedResponse(str(placeholders.UnknownPlaceholder(unknown)))


@transaction.atomic
def create_canned_response(
    *,
    title: str,
    body: str,
    actor: Membership,
    scope: str = CannedResponseScope.PERSONAL,
    department: Department | None = None,
) -> CannedResponse:
    """Raises SharedResponseNeedsAdmin, InvalidCannedResponse."""
    _check(title=title, body=body, scope=scope, department=department, actor=actor)
    response = CannedResponse.objects.create(
        title=title.strip()[:120],
        body=body,
        scope=scope,
        department=department if scope == CannedResponseScope.DEPARTMENT else None,
        owner=actor if scope == CannedResponseScope.PERSONAL else None,
    )
    _audit_canned(AuditAction.CANNED_RESPONSE_CREATED, response, actor)
    return response


_CANNED_FIELDS = ("title", "body", "scope", "department")


def _audit_canned(
    action: AuditAction, response: CannedResponse, actor: Membership, **details: str
) -> None:
    """A canned response created, changed or deleted, with its scope (the body is not
    copied into the log)."""
    scope = {"scope": str(response.scope)}
    if response.department is not None:
        scope["department"] = response.department.name
    audit.record_audit_event(
        action=action,
        actor=actor,
        target_type="canned_response",
        target_id=response.id,
        target_label=response.title,
        details={**scope, **details},
    )


def _may_change(response: CannedResponse, actor: Membership) -> None:
    if response.scope == CannedResponseScope.PERSONAL:
        if response.owner_id != actor.id:
            raise SharedResponseNeedsAdmin()
    else:
        permissions.require(actor, Capability.MANAGE_SHARED_RESPONSES, SharedResponseNeedsAdmin())


@transaction.atomic
def update_canned_response(
    *, response: CannedResponse, actor: Membership, **changes: Any
) -> CannedResponse:
    """Change title, body, scope or department, under the same rules as creating."""
    _may_change(response, actor)
    before = (response.title, response.body, response.scope, response.department_id)
    title = changes.get("title", response.title)
    body = changes.get("body", response.body)
    scope = changes.get("scope", response.scope)
    department = changes.get("department", response.department)
    _check(title=title, body=body, scope=scope, department=department, actor=actor)
    response.title, response.body, response.scope = title.strip()[:120], body, scope
    response.department = department if scope == CannedResponseScope.DEPARTMENT else None
    if scope == CannedResponseScope.PERSONAL:
        response.owner = response.owner or actor
    else:
        response.owner = None
    response.save()
    after = (response.title, response.body, response.scope, response.department_id)
    if after != before:
        changed = [
            name for name, old, new in zip(_CANNED_FIELDS, before, after, strict=True) if old != new
        ]
        _audit_canned(
            AuditAction.CANNED_RESPONSE_UPDATED, response, actor, changed=", ".join(changed)
        )
    return response


@transaction.atomic
def delete_canned_response(*, response: CannedResponse, actor: Membership) -> None:
    _may_change(response, actor)
    _audit_canned(AuditAction.CANNED_RESPONSE_DELETED, response, actor)
    response.delete()


@transaction.atomic
def save_reply_as_canned_response(
    *, message: Message, title: str, actor: Membership
) -> CannedResponse:
    """Keep a sent public reply as a personal canned response."""
    if message.kind != MessageKind.REPLY:
        raise InvalidCannedResponse("Only public replies can be saved as canned responses.")
    return create_canned_response(title=title, body=message.body_text, actor=actor)


@transaction.atomic
def render_canned_response(
    *, response: CannedResponse, ticket: Ticket, agent: Membership, tenant_name: str
) -> str:
    """The response's body with the ticket's values filled in; counts the use."""
    values = templates.placeholder_values(
        ticket, ticket.mailbox, tenant_name, agent_name=agent.user.display_name
    )
    CannedResponse.objects.filter(id=response.id).update(usage_count=F("usage_count") + 1)
    return placeholders.render(response.body, values)


POLICY_FIELDS = (
    "name",
    "description",
    "position",
    "is_active",
    "priorities",
    "channels",
    "department",
    "ticket_type",
    "business_hours",
    "first_response_minutes",
    "next_response_minutes",
    "resolution_minutes",
)
MAX_TARGET_MINUTES = 366 * 24 * 60


def _check_policy(policy: SlaPolicy) -> None:
    if not policy.name.strip():
        raise InvalidSlaPolicy("An SLA policy needs a name.")
    targets = [policy.target_minutes(metric) for metric in SlaMetric.values]
    if all(target is None for target in targets):
        raise InvalidSlaPolicy(
            "Set at least one target: first response, next response or resolution."
        )
    if any(target is not None and not 1 <= target <= MAX_TARGET_MINUTES for target in targets):
        raise InvalidSlaPolicy("Targets are from 1 minute to 366 days.")
    wrong = [p for p in policy.priorities if p not in TicketPriority.values]
    if wrong:
        raise InvalidSlaPolicy(f"Priority is one of {', '.join(TicketPriority.values)}.")
    wrong = [c for c in policy.channels if c not in TicketChannel.values]
    if wrong:
        raise InvalidSlaPolicy(f"Channel is one of {', '.join(TicketChannel.values)}.")
    clashing = named(SlaPolicy.objects.exclude(id=policy.id), policy.name.strip())
    if clashing.exists():
        raise SlaPolicyNameTaken(name=policy.name)


@transaction.atomic
def save_sla_policy(
    *, actor: Membership | None, policy: SlaPolicy | None = None, **values: Any
) -> SlaPolicy:
    """Create (no `policy`) or change an SLA policy; every open ticket is measured afresh
    after the commit. Raises InvalidSlaPolicy, SlaPolicyNameTaken, PermissionDenied."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    unknown = set(values) - set(POLICY_FIELDS)
    if unknown:
        raise ValueError(f"not SLA policy fields: {sorted(unknown)}")
    policy = policy or SlaPolicy()
    for name, value in values.items():
        setattr(policy, name, value)
    policy.name = policy.name.strip()[:120]
    _check_policy(policy)
    policy.priorities = sorted(
        set(policy.priorities), key=lambda priority: TicketPriority.values.index(str(priority))
    )
    policy.channels = sorted(set(policy.channels))
    policy.save()
    audit.record_audit_event(
        action=AuditAction.SLA_POLICY_SAVED,
        actor=actor,
        target_type="sla_policy",
        target_id=policy.id,
        target_label=policy.name,
        details={"fields": sorted(values)},
    )
    _sla_policies_changed()
    return policy


@transaction.atomic
def move_sla_policy_before(
    *, policy: SlaPolicy, before: SlaPolicy, actor: Membership | None
) -> SlaPolicy:
    """Put `policy` just before `before` in matching order (the policies are numbered
    0, 1, 2, … again); every open ticket is measured afresh after the commit. Raises
    PermissionDenied."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    ordered = [
        p
        for p in selectors.list_sla_policies().select_for_update(of=("self",))
        if p.id != policy.id
    ]
    index = next((i for i, p in enumerate(ordered) if p.id == before.id), len(ordered))
    ordered.insert(index, policy)
    for position, each in enumerate(ordered):
        if each.position != position:
            each.position = position
            each.save(update_fields=["position", "updated_at"])
    policy.position = ordered.index(policy)
    _sla_policies_changed()
    return policy


@transaction.atomic
def delete_sla_policy(*, policy: SlaPolicy, actor: Membership | None) -> None:
    """Remove a policy; its tickets fall under the next matching one (or none). Raises
    PermissionDenied."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    audit.record_audit_event(
        action=AuditAction.SLA_POLICY_DELETED,
        actor=actor,
        target_type="sla_policy",
        target_id=policy.id,
        target_label=policy.name,
        details=None,
    )
    policy.delete()
    _sla_policies_changed()


def _sla_policies_changed() -> None:
    """Drop the cached policies now and after the commit, and measure open tickets afresh."""
    key = selectors.sla_policies_key()
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))
    tasks.reapply_sla_policies.delay_on_commit(tenant_id=str(require_tenant_id()))
