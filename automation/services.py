"""Automation: canned responses. Personal responses belong to their owner; shared ones
(tenant-wide or per department) are managed by admins; bodies use only known placeholders
and are rendered without a template engine."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F

from automation.errors import InvalidCannedResponse, SharedResponseNeedsAdmin
from automation.models import CannedResponse, CannedResponseScope
from departments.models import Department
from helpdesk.core import placeholders
from helpdesk.tenancy.models import Membership
from tickets.mail import templates
from tickets.models import Message, MessageKind, Ticket


def _check(
    *, title: str, body: str, scope: str, department: Department | None, actor: Membership
) -> None:
    if scope != CannedResponseScope.PERSONAL and not actor.is_admin:
        raise SharedResponseNeedsAdmin()
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
    return CannedResponse.objects.create(
        title=title.strip()[:120],
        body=body,
        scope=scope,
        department=department if scope == CannedResponseScope.DEPARTMENT else None,
        owner=actor if scope == CannedResponseScope.PERSONAL else None,
    )


def _may_change(response: CannedResponse, actor: Membership) -> None:
    if response.scope == CannedResponseScope.PERSONAL:
        if response.owner_id != actor.id:
            raise SharedResponseNeedsAdmin()
    elif not actor.is_admin:
        raise SharedResponseNeedsAdmin()


@transaction.atomic
def update_canned_response(
    *, response: CannedResponse, actor: Membership, **changes: Any
) -> CannedResponse:
    """Change title, body, scope or department, under the same rules as creating."""
    _may_change(response, actor)
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
    return response


@transaction.atomic
def delete_canned_response(*, response: CannedResponse, actor: Membership) -> None:
    _may_change(response, actor)
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
