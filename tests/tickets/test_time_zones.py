"""Times shown in the agent's time zone: their own choice, else the help desk's; the zone
is named where it matters."""

from __future__ import annotations

import datetime

from django.utils import timezone

from helpdesk.tenancy.context import tenant_context
from tests.conftest import TenantSetup
from tests.factories.tickets import make_ticket
from tickets.models import Ticket


def _ticket_at_noon_utc(acme: TenantSetup) -> Ticket:
    with tenant_context(acme.id):
        ticket = make_ticket(subject="Clock")
        noon = datetime.datetime(2030, 1, 15, 12, 0, tzinfo=datetime.UTC)
        Ticket.objects.filter(id=ticket.id).update(created_at=noon)
    return ticket


def test_pages_use_the_help_desks_zone_then_the_agents_own(acme: TenantSetup) -> None:
    ticket = _ticket_at_noon_utc(acme)
    acme.tenant.time_zone = "Europe/Berlin"
    acme.tenant.save(update_fields=["time_zone"])
    client = acme.client(acme.admin)
    page = client.get(f"/tickets/{ticket.number}/").content.decode()
    assert "opened 2030-01-15 13:00 CET" in page
    saved = client.post("/settings/preferences/", {"time_zone": "America/New_York"})
    assert saved.status_code == 302
    page = client.get(f"/tickets/{ticket.number}/").content.decode()
    assert "opened 2030-01-15 07:00 EST" in page
    assert "America/New_York" in client.get("/settings/preferences/").content.decode()
    # Another session (a new login) finds the choice too.
    again = acme.client(acme.admin).get(f"/tickets/{ticket.number}/").content.decode()
    assert "opened 2030-01-15 07:00 EST" in again
    # Back to the help desk's zone.
    client.post("/settings/preferences/", {"time_zone": ""})
    assert (
        "opened 2030-01-15 13:00 CET" in client.get(f"/tickets/{ticket.number}/").content.decode()
    )


def test_a_zone_that_does_not_exist_is_refused(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    response = client.post("/settings/preferences/", {"time_zone": "Mars/Olympus_Mons"})
    assert response.status_code == 400
    assert "is not a time zone" in response.content.decode()


def test_the_api_stays_in_iso_with_an_offset(acme: TenantSetup) -> None:
    ticket = _ticket_at_noon_utc(acme)
    acme.tenant.time_zone = "Europe/Berlin"
    acme.tenant.save(update_fields=["time_zone"])
    body = acme.api_client().get(f"/api/v1/tickets/{ticket.number}/").json()
    created = datetime.datetime.fromisoformat(body["created_at"])
    assert created == datetime.datetime(2030, 1, 15, 12, 0, tzinfo=datetime.UTC)
    assert timezone.is_aware(created)
