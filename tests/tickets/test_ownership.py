"""Viewing is not owning: opening or walking past an unassigned ticket leaves it
unassigned; replying to it, changing it or pressing Take makes it the agent's. "Open it
and you own it" is the tenant's explicit choice (tests/tickets/test_workspace.py)."""

from __future__ import annotations

from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_ticket
from tickets.models import Ticket
from tickets.ticket import services


def _assignee(acme: TenantSetup, ticket: Ticket) -> object:
    with tenant_context(acme.id):
        ticket.refresh_from_db()
        return ticket.assignee_id


def test_opening_pages_and_fragments_claims_nothing(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        first, second = make_ticket(subject="One"), make_ticket(subject="Two")
    client = acme.client(acme.admin)
    for ticket in (first, second):
        page = client.get(f"/tickets/{ticket.number}/")
        assert page.status_code == 200
        assert b"it is yours now" not in page.content
        assert b'id="take-ticket"' in page.content
    assert _assignee(acme, first) is None
    assert _assignee(acme, second) is None
    api = acme.api_client()
    assert api.post(f"/api/v1/tickets/{first.number}/open/").json()["assigned"] is False
    assert _assignee(acme, first) is None


def test_a_reply_makes_it_the_agents(tenant: TenantSetup) -> None:
    ana = make_member(tenant.tenant, MembershipRole.AGENT)
    ticket = make_ticket()
    services.add_message(ticket=ticket, kind="reply", body="On it.", actor=ana)
    ticket.refresh_from_db()
    assert ticket.assignee_id == ana.id


def test_a_note_does_not_and_a_light_agent_never_takes(tenant: TenantSetup) -> None:
    ana = make_member(tenant.tenant, MembershipRole.AGENT)
    lee = make_member(tenant.tenant, MembershipRole.LIGHT_AGENT)
    ticket = make_ticket()
    services.add_message(ticket=ticket, kind="note", body="Looking.", actor=ana)
    services.add_message(ticket=ticket, kind="note", body="Me too.", actor=lee)
    ticket.refresh_from_db()
    assert ticket.assignee_id is None


def test_a_change_makes_it_the_agents_but_not_someone_elses(tenant: TenantSetup) -> None:
    ana = make_member(tenant.tenant, MembershipRole.AGENT)
    bob = make_member(tenant.tenant, MembershipRole.AGENT)
    ticket = make_ticket()
    services.update_ticket(ticket=ticket, actor=ana, priority="high")
    ticket.refresh_from_db()
    assert ticket.assignee_id == ana.id
    services.update_ticket(ticket=ticket, actor=bob, priority="urgent")
    ticket.refresh_from_db()
    assert ticket.assignee_id == ana.id  # already someone's: a change does not move it
    other = make_ticket()
    services.update_ticket(ticket=other, actor=ana, assignee=bob)
    other.refresh_from_db()
    assert other.assignee_id == bob.id  # naming an assignee is what counts
    nothing = make_ticket()
    services.update_ticket(ticket=nothing, actor=ana, priority=nothing.priority)
    nothing.refresh_from_db()
    assert nothing.assignee_id is None  # no change, no claim


def test_the_system_never_takes(tenant: TenantSetup) -> None:
    ticket = make_ticket()
    services.update_ticket(ticket=ticket, actor=None, priority="high")
    ticket.refresh_from_db()
    assert ticket.assignee_id is None
