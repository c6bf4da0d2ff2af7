"""Reads for automation: the canned responses a member may use, SLA policies and timers."""

from __future__ import annotations

import datetime
from uuid import UUID

from django.core.cache import cache
from django.db.models import Q, QuerySet
from django.utils import timezone

from automation.errors import CannedResponseNotFound, SlaPolicyNotFound
from automation.models import CannedResponse, CannedResponseScope, SlaPolicy, SlaTimer
from departments.models import DepartmentMember
from helpdesk.tenancy import permissions
from helpdesk.tenancy.context import require_tenant_id
from helpdesk.tenancy.models import Membership


def list_canned_responses(
    *, member: Membership, query: str = "", scope: str | None = None
) -> QuerySet[CannedResponse]:
    """Shared ones, those of the member's departments, and the member's own; searchable."""
    departments = DepartmentMember.objects.filter(membership=member).values("department_id")
    visible = (
        Q(scope=CannedResponseScope.TENANT)
        | Q(scope=CannedResponseScope.DEPARTMENT, department_id__in=departments)
        | Q(scope=CannedResponseScope.PERSONAL, owner=member)
    )
    # Admins manage every shared response, not only their departments'.
    if permissions.can_manage_shared_responses(member):
        visible |= Q(scope=CannedResponseScope.DEPARTMENT)
    responses = CannedResponse.objects.filter(visible).select_related("department")
    if scope:
        responses = responses.filter(scope=scope)
    if query.strip():
        responses = responses.filter(
            Q(title__icontains=query.strip()) | Q(body__icontains=query.strip())
        )
    return responses.order_by("-usage_count", "title")


def get_canned_response(*, member: Membership, response_id: UUID | str) -> CannedResponse:
    """A response the member may use; another member's personal one is not found."""
    response = list_canned_responses(member=member).filter(id=response_id).first()
    if response is None:
        raise CannedResponseNotFound(response_id=str(response_id))
    return response


SLA_POLICIES_SECONDS = 600


def sla_policies_key() -> str:
    return f"sla-policies:{require_tenant_id()}"


def list_active_sla_policies() -> list[SlaPolicy]:
    """The tenant's active policies in matching order. Read for every ticket change (to
    know whether SLA clocks run at all), so cached; the policy services drop it."""
    key = sla_policies_key()
    cached = cache.get(key)
    if isinstance(cached, list):
        return cached
    policies = list(SlaPolicy.objects.filter(is_active=True).order_by("position", "name"))
    cache.set(key, policies, SLA_POLICIES_SECONDS)
    return policies


def list_sla_policies() -> QuerySet[SlaPolicy]:
    return SlaPolicy.objects.select_related("department", "ticket_type", "business_hours").order_by(
        "position", "name"
    )


def shadowed_policies(policies: list[SlaPolicy]) -> dict[UUID, SlaPolicy]:
    """Active policies that can never apply, each with the active catch-all policy (no
    conditions: it matches every ticket) placed before it in matching order."""
    catch_all: SlaPolicy | None = None
    shadowed: dict[UUID, SlaPolicy] = {}
    for policy in policies:
        if not policy.is_active:
            continue
        if catch_all is not None:
            shadowed[policy.id] = catch_all
        elif not (
            policy.priorities or policy.channels or policy.department_id or policy.ticket_type_id
        ):
            catch_all = policy
    return shadowed


def get_sla_policy(policy_id: UUID | str) -> SlaPolicy:
    policy = list_sla_policies().filter(id=policy_id).first()
    if policy is None:
        raise SlaPolicyNotFound(policy_id=str(policy_id))
    return policy


def list_ticket_timers(ticket_id: UUID) -> QuerySet[SlaTimer]:
    """A ticket's SLA timers, oldest first, with their policy."""
    return (
        SlaTimer.objects.filter(ticket_id=ticket_id)
        .select_related("policy")
        .order_by("started_at", "metric")
    )


def filter_overdue(timers: QuerySet[SlaTimer], now: datetime.datetime) -> QuerySet[SlaTimer]:
    """Running timers past their due time whose miss is not yet recorded (the partial
    index automation_slatimer_due_idx). Also used, on every tenant's rows, by the sweeper
    that finds the tenants with work."""
    return timers.filter(due_at__lte=now, breach_recorded=False)


def list_overdue_ticket_ids(
    *, now: datetime.datetime | None = None, limit: int = 500
) -> list[UUID]:
    """Tickets with a running timer past due whose miss is not yet recorded, most overdue
    first."""
    overdue = filter_overdue(SlaTimer.objects.all(), now or timezone.now())
    ids = overdue.order_by("due_at").values_list("ticket_id", flat=True)[:limit]
    return list(dict.fromkeys(ids))
