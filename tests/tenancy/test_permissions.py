"""The permissions table: every capability for every role, `require`, the templates' `may`
flags, and the services that change configuration checking their actor themselves."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest

from automation import services as automation_services
from departments import selectors as department_selectors
from departments import services as department_services
from helpdesk.accounts import services as account_services
from helpdesk.core.errors import DomainError, PermissionDenied
from helpdesk.tenancy import permissions
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Membership, MembershipRole
from helpdesk.tenancy.permissions import Capability
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tickets.configuration import services as configuration

ADMIN, AGENT, LIGHT = MembershipRole.ADMIN, MembershipRole.AGENT, MembershipRole.LIGHT_AGENT

# The rules written out a second time, on purpose: changing who may do what means changing
# both the table in helpdesk/tenancy/permissions.py and this one.
EXPECTED: dict[Capability, set[str]] = {
    Capability.MANAGE_SETTINGS: {ADMIN},
    Capability.MANAGE_TEAM: {ADMIN},
    Capability.MANAGE_AVAILABILITY: {ADMIN},
    Capability.MANAGE_SHARED_RESPONSES: {ADMIN},
    Capability.MANAGE_OTHERS_VIEWS: {ADMIN},
    Capability.RECEIVE_UNASSIGNED_ALERTS: {ADMIN},
    Capability.REPLY_PUBLICLY: {ADMIN, AGENT},
    Capability.CREATE_TICKETS: {ADMIN, AGENT},
    Capability.CHANGE_TICKETS: {ADMIN, AGENT},
    Capability.CHANGE_CONTACTS: {ADMIN, AGENT},
    Capability.SHARE_VIEWS: {ADMIN, AGENT},
    Capability.TAKE_TICKETS: {ADMIN, AGENT},
    Capability.RECEIVE_TICKET_NOTIFICATIONS: {ADMIN, AGENT},
    Capability.WRITE_ARTICLES: {ADMIN, AGENT},
    Capability.VIEW_TEAM_REPORTS: {ADMIN},
    Capability.HANDLE_PERSONAL_DATA: {ADMIN},
    Capability.CREATE_EXTERNAL_TASKS: {ADMIN, AGENT},
}


def test_every_capability_is_in_the_table_and_has_a_refusal_message() -> None:
    assert set(permissions.GRANTS) == set(Capability) == set(EXPECTED)
    assert set(permissions.DENIED) == set(Capability)


@pytest.mark.parametrize("role", MembershipRole.values)
@pytest.mark.parametrize("capability", list(Capability))
def test_each_role_has_exactly_its_capabilities(capability: Capability, role: str) -> None:
    member = Membership(role=role)
    expected = role in EXPECTED[capability]
    assert permissions.can(member, capability) is expected
    assert permissions.role_may(role, capability) is expected
    assert permissions.flags(member)[capability.value] is expected
    named = getattr(permissions, f"can_{capability.value}")
    assert named(member) is expected
    assert (role in permissions.roles_with(capability)) is expected


@pytest.mark.parametrize("capability", list(Capability))
def test_require_refuses_with_permission_denied_and_lets_the_system_through(
    capability: Capability,
) -> None:
    light = Membership(role=LIGHT)
    admin = Membership(role=ADMIN)
    permissions.require(None, capability)  # a command or provisioning: no member
    permissions.require(admin, capability)
    if LIGHT in EXPECTED[capability]:
        permissions.require(light, capability)
        return
    with pytest.raises(PermissionDenied) as refused:
        permissions.require(light, capability)
    assert (refused.value.code, refused.value.status) == ("permission_denied", 403)
    assert str(refused.value) == permissions.DENIED[capability]


def test_require_raises_the_callers_own_error_to_keep_its_code() -> None:
    class Refused(PermissionDenied):
        code = "refused_here"

    with pytest.raises(Refused):
        permissions.require(Membership(role=LIGHT), Capability.REPLY_PUBLICLY, Refused())
    permissions.require(Membership(role=AGENT), Capability.REPLY_PUBLICLY, Refused())


def test_nobody_has_no_capability() -> None:
    assert not any(permissions.flags(None).values())
    assert not permissions.can(None, Capability.REPLY_PUBLICLY)


def test_who_may_keeps_the_members_with_the_capability_in_order() -> None:
    members = [Membership(role=LIGHT), Membership(role=AGENT), Membership(role=ADMIN)]
    assert permissions.who_may(members, Capability.TAKE_TICKETS) == members[1:]


# --- Services that change configuration check the actor themselves ---------------------


def _refuses(call: Callable[..., object], *args: object, **kwargs: object) -> DomainError:
    with pytest.raises(DomainError) as refused:
        call(*args, **kwargs)
    assert refused.value.status == 403
    return refused.value


@pytest.mark.parametrize("role", [AGENT, LIGHT])
def test_configuration_services_refuse_members_who_are_not_admins(
    acme: TenantSetup, role: str
) -> None:
    member = make_member(acme.tenant, role)
    with tenant_context(acme.id):
        department = acme.department
        _refuses(department_services.create_department, name="Billing", actor=member)
        _refuses(department_services.update_department, department=department, actor=member)
        _refuses(department_services.delete_department, department=department, actor=member)
        _refuses(
            department_services.add_department_member,
            department=department,
            membership=member,
            actor=member,
        )
        _refuses(
            department_services.create_mailbox,
            address="sales@acme.example",
            department=department,
            actor=member,
        )
        mailbox = department_selectors.list_mailboxes().first()
        _refuses(department_services.update_mailbox, mailbox=mailbox, actor=member)
        _refuses(department_services.delete_mailbox, mailbox=mailbox, actor=member)
        _refuses(
            department_services.save_business_hours,
            name="Office",
            timezone="UTC",
            intervals=[{"weekday": 0, "start": 540, "end": 1020}],
            holidays=[
                department_services.NewHoliday(date=datetime.date(2030, 1, 1), name="New Year")
            ],
            actor=member,
        )
        _refuses(configuration.update_settings, auto_assign_on_open=True, actor=member)
        _refuses(configuration.save_ticket_type, name="Bug", actor=member)
        _refuses(
            configuration.save_custom_status, name="Parts", base_status="on_hold", actor=member
        )
        _refuses(
            configuration.save_custom_field,
            target="ticket",
            label="Plan",
            type="text",
            actor=member,
        )
        _refuses(automation_services.save_sla_policy, name="Gold", actor=member)
        refused = _refuses(
            automation_services.create_canned_response,
            title="Hi",
            body="Hello",
            scope="tenant",
            actor=member,
        )
        assert refused.code == "shared_response_needs_admin"
        assert configuration.get_settings().auto_assign_on_open is False
        assert not configuration.list_ticket_types().filter(name="Bug").exists()


@pytest.mark.parametrize("role", [AGENT, LIGHT])
def test_team_services_refuse_members_who_are_not_admins(acme: TenantSetup, role: str) -> None:
    member = make_member(acme.tenant, role)
    other = make_member(acme.tenant, AGENT)
    with tenant_context(acme.id):
        _refuses(
            account_services.invite_member,
            tenant=acme.tenant,
            email="new@acme.example",
            role=AGENT,
            actor=member,
        )
        refused = _refuses(
            account_services.change_member, membership=other, role=ADMIN, actor=member
        )
        assert refused.code == "permission_denied"
        other.refresh_from_db()
        assert other.role == AGENT


def test_configuration_services_let_an_admin_and_the_system_through(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        configuration.save_ticket_type(name="Bug", actor=acme.admin)
        configuration.save_ticket_type(name="Question")  # provisioning, seed_demo, commands
        assert {t.name for t in configuration.list_ticket_types()} >= {"Bug", "Question"}
