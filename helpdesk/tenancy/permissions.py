"""Who may do what: the one table of role rules.

Every question "may this member do this" is answered here, from `GRANTS`: a capability and
the roles that have it. Services call `require(actor, ...)` before they change anything;
DRF permission classes (`helpdesk.api.permissions`), the `member_required` view decorator
and the templates' `may` flags (`helpdesk.tenancy.context_processors`) read the same table.
Nothing else compares a member's role; `tests/test_permissions_structure.py` checks that.

An `actor` of None is the system itself (a management command, tenant provisioning, a
task acting on its own): it may do everything. Views and API views always pass the
request's member.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from helpdesk.core.errors import DomainError, PermissionDenied
from helpdesk.tenancy.models import Membership, MembershipRole


class Capability(enum.StrEnum):
    """What a member may do. The value is the name templates read from `may`."""

    # Admin only.
    MANAGE_SETTINGS = "manage_settings"
    """Departments, mailboxes, business hours, SLA policies, ticket configuration, email
    templates, the inbound log, outbound retries: everything under Admin."""
    MANAGE_TEAM = "manage_team"
    """Invite people, change roles, deactivate seats."""
    MANAGE_AVAILABILITY = "manage_availability"
    """Set another member's availability (online, away, offline), shift and leave; everyone
    sets their own availability."""
    MANAGE_SHARED_RESPONSES = "manage_shared_responses"
    """Write canned responses for the whole tenant or a department, and see every
    department's."""
    MANAGE_OTHERS_VIEWS = "manage_others_views"
    """Change or delete a shared saved view someone else owns."""
    RECEIVE_UNASSIGNED_ALERTS = "receive_unassigned_alerts"
    """Be told about an SLA breach on a ticket nobody has."""
    VIEW_TEAM_REPORTS = "view_team_reports"
    """Reports of the whole team and every agent, and the weekly summary mail; everyone
    else sees their own figures only (the tickets they are assignee of)."""
    # Full agents and admins; light agents read tickets and write internal notes only.
    REPLY_PUBLICLY = "reply_publicly"
    """Send a reply the customer sees, or change the status while writing."""
    CREATE_TICKETS = "create_tickets"
    """Open a ticket on a customer's behalf (page or API)."""
    CHANGE_TICKETS = "change_tickets"
    """Change ticket fields, merge, split, mark spam, bulk actions."""
    CHANGE_CONTACTS = "change_contacts"
    """Change, merge or remove contacts and companies."""
    SHARE_VIEWS = "share_views"
    """Share a saved view with the team."""
    TAKE_TICKETS = "take_tickets"
    """Be a ticket's assignee (assigned, or claiming a ticket by opening it)."""
    RECEIVE_TICKET_NOTIFICATIONS = "receive_ticket_notifications"
    """Every kind of notification; without it, mentions only."""
    WRITE_ARTICLES = "write_articles"
    """Write, publish and restore knowledge-base articles, categories and sections (light
    agents read the knowledge base, internal articles too)."""
    HANDLE_PERSONAL_DATA = "handle_personal_data"
    """Export everything about a contact, or erase them (data-protection requests)."""
    CREATE_EXTERNAL_TASKS = "create_external_tasks"
    """Create a task in an external tool from a ticket (an integration); light agents see
    the linked items and the contact apps but do not act for the ticket outside."""


_ADMINS = frozenset({MembershipRole.ADMIN.value})
_AGENTS = frozenset({MembershipRole.ADMIN.value, MembershipRole.AGENT.value})

GRANTS: dict[Capability, frozenset[str]] = {
    Capability.MANAGE_SETTINGS: _ADMINS,
    Capability.MANAGE_TEAM: _ADMINS,
    Capability.MANAGE_AVAILABILITY: _ADMINS,
    Capability.MANAGE_SHARED_RESPONSES: _ADMINS,
    Capability.MANAGE_OTHERS_VIEWS: _ADMINS,
    Capability.RECEIVE_UNASSIGNED_ALERTS: _ADMINS,
    Capability.VIEW_TEAM_REPORTS: _ADMINS,
    Capability.REPLY_PUBLICLY: _AGENTS,
    Capability.CREATE_TICKETS: _AGENTS,
    Capability.CHANGE_TICKETS: _AGENTS,
    Capability.CHANGE_CONTACTS: _AGENTS,
    Capability.SHARE_VIEWS: _AGENTS,
    Capability.TAKE_TICKETS: _AGENTS,
    Capability.RECEIVE_TICKET_NOTIFICATIONS: _AGENTS,
    Capability.WRITE_ARTICLES: _AGENTS,
    Capability.HANDLE_PERSONAL_DATA: _ADMINS,
    Capability.CREATE_EXTERNAL_TASKS: _AGENTS,
}

DENIED = {
    Capability.MANAGE_SETTINGS: "Only admins may do this.",
    Capability.MANAGE_TEAM: "Only admins may manage the team.",
    Capability.MANAGE_AVAILABILITY: "Only admins may set someone else's availability, shift or"
    " leave.",
    Capability.MANAGE_SHARED_RESPONSES: "Only admins may change responses shared with others.",
    Capability.MANAGE_OTHERS_VIEWS: "Only the view's owner or an admin may change it.",
    Capability.RECEIVE_UNASSIGNED_ALERTS: "Only admins are told about unassigned tickets.",
    Capability.VIEW_TEAM_REPORTS: "Only admins see the whole team's reports; agents see their own.",
    Capability.REPLY_PUBLICLY: "Light agents may write internal notes only.",
    Capability.CREATE_TICKETS: "Light agents may write internal notes only.",
    Capability.CHANGE_TICKETS: "Light agents read tickets and write internal notes only.",
    Capability.CHANGE_CONTACTS: "Light agents may view contacts and companies but not change them.",
    Capability.SHARE_VIEWS: "Light agents keep personal views; sharing one needs an agent.",
    Capability.TAKE_TICKETS: "Light agents cannot be assigned tickets.",
    Capability.RECEIVE_TICKET_NOTIFICATIONS: "Light agents are told about mentions only.",
    Capability.WRITE_ARTICLES: "Light agents read the knowledge base but do not write it.",
    Capability.HANDLE_PERSONAL_DATA: "Only admins may export or erase a person's data.",
    Capability.CREATE_EXTERNAL_TASKS: "Light agents see linked tasks but do not create them.",
}


def role_may(role: str, capability: Capability) -> bool:
    """Whether a seat with `role` has the capability (for a role about to be given)."""
    return role in GRANTS[capability]


def can(member: Membership | None, capability: Capability) -> bool:
    """Whether the member's role has the capability. None (no member: an anonymous
    visitor) may not. Whether the seat is active is the caller's question: the request's
    member always is."""
    return member is not None and role_may(member.role, capability)


def require(
    actor: Membership | None, capability: Capability, error: DomainError | None = None
) -> None:
    """Refuse a member without the capability: raises `error` (an app's own
    PermissionDenied subclass, to keep its code) or PermissionDenied (`permission_denied`,
    403). An actor of None is the system and passes."""
    if actor is None or can(actor, capability):
        return
    raise error if error is not None else PermissionDenied(DENIED[capability])


def roles_with(capability: Capability) -> list[str]:
    """The roles that have the capability, for a query (`role__in`)."""
    return sorted(GRANTS[capability])


def flags(member: Membership | None) -> dict[str, bool]:
    """Every capability of the member by name: the `may` of templates."""
    return {capability.value: can(member, capability) for capability in Capability}


def who_may(members: Iterable[Membership], capability: Capability) -> list[Membership]:
    """The members that have the capability, in their order."""
    return [member for member in members if can(member, capability)]


def can_manage_settings(member: Membership | None) -> bool:
    return can(member, Capability.MANAGE_SETTINGS)


def can_manage_team(member: Membership | None) -> bool:
    return can(member, Capability.MANAGE_TEAM)


def can_manage_availability(member: Membership | None) -> bool:
    return can(member, Capability.MANAGE_AVAILABILITY)


def can_manage_shared_responses(member: Membership | None) -> bool:
    return can(member, Capability.MANAGE_SHARED_RESPONSES)


def can_manage_others_views(member: Membership | None) -> bool:
    return can(member, Capability.MANAGE_OTHERS_VIEWS)


def can_receive_unassigned_alerts(member: Membership | None) -> bool:
    return can(member, Capability.RECEIVE_UNASSIGNED_ALERTS)


def can_view_team_reports(member: Membership | None) -> bool:
    return can(member, Capability.VIEW_TEAM_REPORTS)


def can_reply_publicly(member: Membership | None) -> bool:
    return can(member, Capability.REPLY_PUBLICLY)


def can_create_tickets(member: Membership | None) -> bool:
    return can(member, Capability.CREATE_TICKETS)


def can_change_tickets(member: Membership | None) -> bool:
    return can(member, Capability.CHANGE_TICKETS)


def can_change_contacts(member: Membership | None) -> bool:
    return can(member, Capability.CHANGE_CONTACTS)


def can_share_views(member: Membership | None) -> bool:
    return can(member, Capability.SHARE_VIEWS)


def can_take_tickets(member: Membership | None) -> bool:
    return can(member, Capability.TAKE_TICKETS)


def can_receive_ticket_notifications(member: Membership | None) -> bool:
    return can(member, Capability.RECEIVE_TICKET_NOTIFICATIONS)


def can_write_articles(member: Membership | None) -> bool:
    return can(member, Capability.WRITE_ARTICLES)


def can_handle_personal_data(member: Membership | None) -> bool:
    return can(member, Capability.HANDLE_PERSONAL_DATA)


def can_create_external_tasks(member: Membership | None) -> bool:
    return can(member, Capability.CREATE_EXTERNAL_TASKS)
