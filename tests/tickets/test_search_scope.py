"""The search box searches every ticket unless the agent narrows it to the view, and says
what it searched; the ticket page has the box too."""

from __future__ import annotations

from helpdesk.tenancy.context import tenant_context
from tests.conftest import TenantSetup
from tests.factories.tickets import make_ticket
from tickets.ticket import services


def test_search_from_a_view_searches_all_tickets_and_says_so(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        waiting = make_ticket(subject="Zebra crossing paint", body="Needs a zebra.")
        services.change_status(ticket=waiting, status="waiting", actor=acme.admin)
        make_ticket(subject="Printer")
    client = acme.client(acme.admin)
    page = client.get("/inbox/?view=open&q=zebra&searched=1").content.decode()
    assert "Zebra crossing paint" in page
    assert "Searched all tickets, every status, for “zebra”." in page


def test_search_narrowed_to_the_view_says_where_and_offers_all(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        waiting = make_ticket(subject="Zebra crossing paint")
        services.change_status(ticket=waiting, status="waiting", actor=acme.admin)
    client = acme.client(acme.admin)
    page = client.get("/inbox/?view=open&q=zebra&searched=1&within=1").content.decode()
    assert "Zebra crossing paint" not in page
    assert "Searched All open (with its filters) for “zebra”." in page
    assert "No ticket matches “zebra” here." in page
    assert 'href="?q=zebra">Search all tickets</a>' in page
    # The filter form (no `searched`) keeps its filters as before.
    page = client.get("/inbox/?status=waiting&q=zebra").content.decode()
    assert "Zebra crossing paint" in page


def test_the_ticket_page_has_a_search_box(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket()
    page = acme.client(acme.admin).get(f"/tickets/{ticket.number}/").content.decode()
    assert 'class="searchbar ticket-search"' in page
    assert 'id="q"' in page
