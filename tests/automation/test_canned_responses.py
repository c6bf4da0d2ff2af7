"""Canned responses: scopes and who may change them, placeholders, the reply-editor
picker, saving a sent reply, the API, and the cross-tenant checks."""

from __future__ import annotations

from typing import Any, TypedDict

import pytest

from automation import selectors, services
from automation.errors import InvalidCannedResponse, SharedResponseNeedsAdmin
from automation.models import CannedResponse
from departments import services as department_services
from departments.models import Department
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Membership, MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_contact, make_ticket
from tickets.ticket import services as ticket_services


class People(TypedDict):
    admin: Membership
    agent: Membership
    other: Membership
    billing: Department


@pytest.fixture
def people(tenant: TenantSetup) -> People:
    agent = make_member(tenant.tenant, MembershipRole.AGENT, name="Ana Agent")
    other = make_member(tenant.tenant, MembershipRole.AGENT, name="Ben Agent")
    billing = department_services.create_department(name="Billing")
    department_services.add_department_member(department=billing, membership=other)
    return {"admin": tenant.admin, "agent": agent, "other": other, "billing": billing}


def _titles(member: Membership, **kwargs: Any) -> list[str]:
    return [r.title for r in selectors.list_canned_responses(member=member, **kwargs)]


def test_visibility_by_scope(people: People) -> None:
    services.create_canned_response(title="Shared", body="x", scope="tenant", actor=people["admin"])
    services.create_canned_response(
        title="Billing only",
        body="x",
        scope="department",
        department=people["billing"],
        actor=people["admin"],
    )
    services.create_canned_response(title="Ana's", body="x", actor=people["agent"])
    assert _titles(people["agent"]) == ["Ana's", "Shared"]
    assert _titles(people["other"]) == ["Billing only", "Shared"]
    assert _titles(people["agent"], query="ana") == ["Ana's"]


def test_agents_keep_personal_responses_admins_manage_shared(people: People) -> None:
    with pytest.raises(SharedResponseNeedsAdmin):
        services.create_canned_response(title="x", body="y", scope="tenant", actor=people["agent"])
    mine = services.create_canned_response(title="Mine", body="y", actor=people["agent"])
    with pytest.raises(SharedResponseNeedsAdmin):
        services.update_canned_response(response=mine, actor=people["other"], title="Hijack")
    with pytest.raises(SharedResponseNeedsAdmin):
        services.update_canned_response(response=mine, actor=people["agent"], scope="tenant")


def test_unknown_placeholder_is_refused(people: People) -> None:
    with pytest.raises(InvalidCannedResponse, match="unknown placeholder"):
        services.create_canned_response(
            title="x", body="{{ ticket.tenant.secret }}", actor=people["agent"]
        )


def test_render_fills_in_the_ticket_and_counts_use(people: People, tenant: TenantSetup) -> None:
    ticket = make_ticket(subject="Printer", contact=make_contact(name="Carla Diaz"))
    response = services.create_canned_response(
        title="Hello",
        body="Hi {{ contact.first_name }}, about #{{ ticket.number }}. {{ agent.name }}",
        actor=people["agent"],
    )
    text = services.render_canned_response(
        response=response, ticket=ticket, agent=people["agent"], tenant_name="Acme"
    )
    assert text == f"Hi Carla, about #{ticket.number}. Ana Agent"
    assert CannedResponse.objects.get(id=response.id).usage_count == 1


def test_picker_inserts_into_the_reply_editor(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket(contact=make_contact(name="Carla Diaz"))
        services.create_canned_response(
            title="Greeting",
            body="Hello {{ contact.first_name }}",
            scope="tenant",
            actor=acme.admin,
        )
    client = acme.client(acme.admin)
    page = client.get(f"/tickets/{ticket.number}/").content
    assert b"Insert a canned response" in page
    picker = client.get(f"/tickets/{ticket.number}/canned/?q=greet", HTTP_HX_REQUEST="true")
    assert b"Greeting" in picker.content
    with tenant_context(acme.id):
        response = CannedResponse.objects.get()
    inserted = client.get(
        f"/tickets/{ticket.number}/canned/{response.id}/",
        {"body": "Draft so far"},
        HTTP_HX_REQUEST="true",
    )
    assert inserted.content.decode().strip() == (
        '<textarea id="reply-body" name="body" rows="6" required>Draft so far\n\n'
        "Hello Carla</textarea>"
    )


def test_sent_reply_can_be_saved_as_a_canned_response(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket()
        reply = ticket_services.add_message(
            ticket=ticket, kind="reply", body="Restart the router.", actor=acme.admin
        )
    client = acme.client(acme.admin)
    response = client.post(f"/messages/{reply.id}/save-as-canned/", {"title": "Router"})
    assert response.status_code == 302
    with tenant_context(acme.id):
        saved = CannedResponse.objects.get()
        assert (saved.title, saved.body, saved.scope) == (
            "Router",
            "Restart the router.",
            "personal",
        )


def test_management_page(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    created = client.post(
        "/canned-responses/", {"title": "Refund", "body": "Refunded.", "scope": "tenant"}
    )
    assert created.status_code == 302
    assert b"Refund" in client.get("/canned-responses/").content
    agent = make_member(acme.tenant, MembershipRole.AGENT)
    refused = acme.client(agent).post(
        "/canned-responses/", {"title": "x", "body": "y", "scope": "tenant"}
    )
    assert refused.status_code == 400


def test_api_crud_and_render(acme: TenantSetup) -> None:
    api = acme.api_client()
    created = api.post(
        "/api/v1/canned-responses/",
        {"title": "Thanks", "body": "Thanks {{ contact.first_name }}!"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    response_id = created.json()["id"]
    assert created.json()["scope"] == "personal"
    with tenant_context(acme.id):
        ticket = make_ticket(contact=make_contact(name="Carla Diaz"))
    rendered = api.get(f"/api/v1/canned-responses/{response_id}/render/?ticket={ticket.number}")
    assert rendered.json() == {"body": "Thanks Carla!"}
    listed = api.get("/api/v1/canned-responses/?q=thank").json()["results"]
    assert [r["title"] for r in listed] == ["Thanks"]
    patched = api.patch(
        f"/api/v1/canned-responses/{response_id}/",
        {"title": "Thank you"},
        content_type="application/json",
    )
    assert patched.json()["title"] == "Thank you"
    assert api.delete(f"/api/v1/canned-responses/{response_id}/").status_code == 204
    bad = api.post(
        "/api/v1/canned-responses/",
        {"title": "x", "body": "{{ nope }}"},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_canned_response"


def test_other_tenants_and_other_peoples_personal_responses_are_404(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    with tenant_context(globex.id):
        foreign = services.create_canned_response(
            title="Globex", body="x", scope="tenant", actor=globex.admin
        )
    agent = make_member(acme.tenant, MembershipRole.AGENT)
    with tenant_context(acme.id):
        private = services.create_canned_response(title="Private", body="x", actor=agent)
    api = acme.api_client()
    assert api.get(f"/api/v1/canned-responses/{foreign.id}/").status_code == 404
    assert api.get(f"/api/v1/canned-responses/{private.id}/").status_code == 404
    assert acme.client(acme.admin).get(f"/canned-responses/{foreign.id}/").status_code == 404
