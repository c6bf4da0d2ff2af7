"""Departments: renamed, described, made the default, staffed, and deleted only when
nothing uses them; by the admin pages and /api/v1/departments/."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Model
from django.forms.models import model_to_dict

from departments import services
from departments.errors import MailboxAddressTaken
from departments.models import Department, DepartmentMember, Mailbox
from helpdesk.accounts import services as account_services
from helpdesk.ops.services import default_mailbox_address
from helpdesk.tenancy import services as tenancy_services
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import AuditEvent, InboundAddress, Membership, MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member


def test_admin_renames_a_department_seats_agents_and_makes_it_the_default(
    acme: TenantSetup,
) -> None:
    agent = make_member(acme.tenant, MembershipRole.AGENT)
    with tenant_context(acme.id):
        billing = services.create_department(name="Billing")
    client = acme.client(acme.admin)
    page = client.get(f"/settings/departments/{billing.id}/")
    assert page.status_code == 200
    saved = client.post(
        f"/settings/departments/{billing.id}/",
        {
            "name": "  Billing   and invoices ",
            "description": "Money questions",
            "is_default": "on",
            "members": [str(agent.id), str(acme.admin.id)],
        },
    )
    assert saved.status_code == 302
    with tenant_context(acme.id):
        billing.refresh_from_db()
        acme.department.refresh_from_db()
        assert (billing.name, billing.description, billing.is_default) == (
            "Billing and invoices",
            "Money questions",
            True,
        )
        assert acme.department.is_default is False
        seated = set(billing.members.values_list("membership_id", flat=True))
        assert seated == {agent.id, acme.admin.id}
    client.post(
        f"/settings/departments/{billing.id}/",
        {"name": "Billing and invoices", "is_default": "on", "members": [str(agent.id)]},
    )
    with tenant_context(acme.id):
        assert set(billing.members.values_list("membership_id", flat=True)) == {agent.id}
    taken = client.post(
        f"/settings/departments/{billing.id}/",
        {"name": acme.department.name.upper(), "is_default": "on"},
    )
    assert taken.status_code == 400
    assert b"A department with that name exists." in taken.content
    undefault = client.post(f"/settings/departments/{billing.id}/", {"name": "Billing"})
    assert undefault.status_code == 400
    assert b"make another one the default first" in undefault.content


def test_only_a_department_nothing_uses_can_be_deleted(acme: TenantSetup) -> None:
    from automation import services as automation_services
    from tests.factories.tickets import make_ticket

    agent = make_member(acme.tenant, MembershipRole.AGENT)
    with tenant_context(acme.id):
        typo = services.create_department(name="Biling")
        services.update_department(department=typo, members=[agent])
        busy = services.create_department(name="Sales")
        make_ticket(department=busy)
        scoped = services.create_department(name="Legal")
        automation_services.create_canned_response(
            title="NDA", body="Attached.", scope="department", department=scoped, actor=acme.admin
        )
    client = acme.client(acme.admin)
    refused = client.post(f"/settings/departments/{busy.id}/delete/", follow=True)
    assert b"Sales still has tickets: move them to another department first." in refused.content
    refused = client.post(f"/settings/departments/{scoped.id}/delete/", follow=True)
    assert b"Legal is still used by canned responses" in refused.content
    default = client.post(f"/settings/departments/{acme.department.id}/delete/", follow=True)
    assert b"make another one the default first" in default.content
    deleted = client.post(f"/settings/departments/{typo.id}/delete/", follow=True)
    assert b"Department Biling deleted." in deleted.content
    with tenant_context(acme.id):
        names = set(Department.objects.values_list("name", flat=True))
        assert names == {acme.department.name, "Sales", "Legal"}
        assert not DepartmentMember.objects.filter(membership=agent).exists()


def test_departments_api(acme: TenantSetup, globex: TenantSetup) -> None:
    agent = make_member(acme.tenant, MembershipRole.AGENT)
    api = acme.api_client()
    created = api.post(
        "/api/v1/departments/",
        {"name": "Billing", "members": [str(agent.id)]},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["name"], body["is_default"], body["members"]) == (
        "Billing",
        False,
        [str(agent.id)],
    )
    listed = api.get("/api/v1/departments/").json()["results"]
    assert {d["name"] for d in listed} == {acme.department.name, "Billing"}
    renamed = api.patch(
        f"/api/v1/departments/{body['id']}/",
        {"name": "Invoices", "members": []},
        content_type="application/json",
    )
    assert (renamed.json()["name"], renamed.json()["members"]) == ("Invoices", [])
    foreign = make_member(globex.tenant, MembershipRole.AGENT)
    assert (
        api.patch(
            f"/api/v1/departments/{body['id']}/",
            {"members": [str(foreign.id)]},
            content_type="application/json",
        ).status_code
        == 404
    )
    assert api.get(f"/api/v1/departments/{globex.department.id}/").status_code == 404
    agent_api = acme.api_client(agent)
    assert agent_api.get("/api/v1/departments/").status_code == 200
    assert (
        agent_api.patch(
            f"/api/v1/departments/{body['id']}/", {"name": "X"}, content_type="application/json"
        ).status_code
        == 403
    )
    in_use = api.delete(f"/api/v1/departments/{acme.department.id}/")
    assert in_use.status_code == 409
    assert in_use.json()["error"]["code"] == "default_department_required"
    assert api.delete(f"/api/v1/departments/{body['id']}/").status_code == 204


def _provisioned(setup_id: Any, admin: Membership) -> dict[str, Any]:
    """What a tenant's provisioning left in its department, seat, mailbox, address and
    audit tables, without ids, times and the tenant's own name and slug."""
    volatile = {"id", "tenant", "created_at", "updated_at", "department", "mailbox"}

    def fields(row: Model) -> dict[str, Any]:
        return {k: v for k, v in model_to_dict(row).items() if k not in volatile}

    with tenant_context(setup_id):
        mailbox = Mailbox.objects.get()
        return {
            "departments": [fields(d) for d in Department.objects.all()],
            "seats": [
                (m.membership_id == admin.id, m.department_id == mailbox.department_id)
                for m in DepartmentMember.objects.all()
            ],
            "mailbox": {**fields(mailbox), "address": mailbox.address.split("@")[0]},
            "addresses": [
                (a.address == mailbox.address, a.mailbox_id == mailbox.id)
                for a in InboundAddress.objects.in_current_tenant()
            ],
            "audit": [
                (e.action, e.actor_id, e.target_type, e.target_label.split("@")[0], e.details)
                for e in AuditEvent.objects.order_by("created_at", "id")
            ],
        }


def test_provisioning_leaves_what_the_department_and_mailbox_services_would(
    acme: TenantSetup,
) -> None:
    """create_tenant's shortcut (provision_support_department) against the services it
    stands for, called as create_tenant called them before."""
    tenant = tenancy_services.create_tenant_row(slug="initech", name="Acme")
    user = account_services.get_or_create_user(email="admin@initech.test", password=None)
    admin = account_services.add_member(tenant=tenant, user=user, role=MembershipRole.ADMIN)
    with tenant_context(tenant.id):
        department = services.create_department(name="Support", is_default=True)
        services.add_department_member(department=department, membership=admin)
        services.create_mailbox(
            address=default_mailbox_address(tenant.slug),
            department=department,
            display_name="Acme Support",
            is_default=True,
        )
    expected = _provisioned(tenant.id, admin)
    assert len(expected["departments"]) == len(expected["audit"]) - 1 == 1
    assert _provisioned(acme.id, acme.admin) == expected


def test_provisioning_refuses_an_address_another_tenant_holds(acme: TenantSetup) -> None:
    tenant = tenancy_services.create_tenant_row(slug="initech", name="Initech")
    user = account_services.get_or_create_user(email="admin@initech.test", password=None)
    admin = account_services.add_member(tenant=tenant, user=user, role=MembershipRole.ADMIN)
    with tenant_context(acme.id):
        services.create_mailbox(address="help@initech.example", department=acme.department)
    with tenant_context(tenant.id), pytest.raises(MailboxAddressTaken):
        services.provision_support_department(
            admin=admin, mailbox_address="help@initech.example", mailbox_name="Initech Support"
        )
