"""Every refusal is a styled page or message that says why: forbidden pages, and a light
agent's ticket change (a shortcut) refused with the reason, not a form error."""

from __future__ import annotations

from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_ticket


def test_a_forbidden_page_is_styled_and_says_why(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        lee = make_member(acme.tenant, MembershipRole.LIGHT_AGENT, name="Lee Light")
    page = acme.client(lee).get("/settings/tickets/")
    assert page.status_code == 403
    body = page.content.decode()
    assert "<h1>Not allowed</h1>" in body
    assert "Only admins may do this." in body
    assert "Lee Light, light agent of Acme" in body
    assert 'href="/static/' in body or "stylesheet" in body  # the help desk's own page


def test_a_light_agents_ticket_change_is_refused_with_the_reason(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        lee = make_member(acme.tenant, MembershipRole.LIGHT_AGENT)
        ticket = make_ticket()
    client = acme.client(lee)
    page = client.get(f"/tickets/{ticket.number}/").content.decode()
    assert 'data-refusal="Not allowed: Light agents read tickets and write internal notes' in page
    response = client.post(f"/tickets/{ticket.number}/update/", {}, follow=True)
    body = response.content.decode()
    assert "Light agents read tickets and write internal notes only." in body
    assert "This field is required" not in body
    with tenant_context(acme.id):
        ticket.refresh_from_db()
        assert ticket.assignee_id is None
