"""SLA in the agent's and admin's hands: the policy admin page and API, business hours
page and API, the inbox's SLA filter, sort and countdown, the ticket's SLA panel and API,
each with its cross-tenant check."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeAlias

import pytest
import time_machine
from django.core.mail import EmailMessage
from pytest_django import DjangoCaptureOnCommitCallbacks

from automation import services, tasks
from automation.models import SlaPolicy
from departments import services as department_services
from departments.models import BusinessHours
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_ticket
from tests.pages import element, sidebar_panel
from tickets.ticket import services as ticket_services

UTC = datetime.UTC
T0 = datetime.datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
# The on_commit fixture: captures and runs on-commit callbacks in a `with` block.
OnCommit: TypeAlias = Callable[[], AbstractContextManager[list[Callable[[], Any]]]]
WEEKDAYS = [{"day": d, "start": "09:00", "end": "17:00"} for d in range(5)]


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks) -> OnCommit:
    return lambda: django_capture_on_commit_callbacks(execute=True)


def policy(acme: TenantSetup, on_commit: OnCommit, **values: Any) -> SlaPolicy:
    defaults: dict[str, Any] = {
        "name": "Standard",
        "first_response_minutes": 60,
        "resolution_minutes": 480,
    }
    with tenant_context(acme.id), on_commit():
        return services.save_sla_policy(actor=acme.admin, **defaults | values)


def test_admin_creates_a_policy_on_the_page(acme: TenantSetup, on_commit: OnCommit) -> None:
    client = acme.client(acme.admin)
    assert client.get("/settings/sla/").status_code == 200
    with on_commit():
        response = client.post(
            "/settings/sla/",
            {
                "name": "Urgent",
                "position": "1",
                "is_active": "on",
                "priorities": ["urgent", "critical"],
                "first_response_minutes": "30m",
                "next_response_minutes": "1h 30m",
                "resolution_minutes": "1d 4h",
            },
        )
    assert response.status_code == 302
    with tenant_context(acme.id):
        saved = SlaPolicy.objects.get()
    assert saved.priorities == ["urgent", "critical"]
    assert (saved.first_response_minutes, saved.next_response_minutes) == (30, 90)
    assert saved.resolution_minutes == 28 * 60
    page = client.get(f"/settings/sla/{saved.id}/").content.decode()
    assert "1d 4h" in page
    assert "first response 30m" in client.get("/settings/sla/").content.decode()


def test_policy_page_refuses_bad_input_with_a_message(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    response = client.post("/settings/sla/", {"name": "Nothing", "position": "0"})
    assert response.status_code == 400
    assert "at least one target" in response.content.decode()
    response = client.post(
        "/settings/sla/", {"name": "Bad", "position": "0", "first_response_minutes": "soon"}
    )
    assert response.status_code == 400
    assert "duration like" in response.content.decode()


def test_agents_may_not_manage_policies(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        agent = make_member(acme.tenant, MembershipRole.AGENT)
    assert acme.client(agent).get("/settings/sla/").status_code == 403
    api = acme.api_client(agent)
    assert api.get("/api/v1/sla-policies/").status_code == 403


def test_policy_api_round_trip(acme: TenantSetup, on_commit: OnCommit) -> None:
    api = acme.api_client()
    with tenant_context(acme.id):
        hours = department_services.save_business_hours(
            name="Office", timezone="Europe/Berlin", intervals=WEEKDAYS, holidays=[]
        )
    with on_commit():
        created = api.post(
            "/api/v1/sla-policies/",
            {
                "name": "Billing",
                "department": str(acme.department.id),
                "business_hours": str(hours.id),
                "first_response_minutes": 120,
                "channels": ["email"],
            },
            content_type="application/json",
        )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["business_hours"] == str(hours.id)
    assert body["channels"] == ["email"]
    with on_commit():
        changed = api.patch(
            f"/api/v1/sla-policies/{body['id']}/",
            {"resolution_minutes": 600, "is_active": False},
            content_type="application/json",
        )
    assert changed.json()["resolution_minutes"] == 600
    assert api.get("/api/v1/sla-policies/").json()["results"][0]["name"] == "Billing"
    bad = api.post(
        "/api/v1/sla-policies/",
        {"name": "X", "priorities": ["whenever"]},
        content_type="application/json",
    )
    assert bad.status_code == 400
    empty = api.post("/api/v1/sla-policies/", {"name": "X"}, content_type="application/json")
    assert empty.status_code == 400
    assert empty.json()["error"]["code"] == "invalid_sla_policy"
    taken = api.post(
        "/api/v1/sla-policies/",
        {"name": "billing", "resolution_minutes": 5},
        content_type="application/json",
    )
    assert taken.status_code == 409
    with on_commit():
        assert api.delete(f"/api/v1/sla-policies/{body['id']}/").status_code == 204


def test_policies_of_another_tenant_are_not_found(
    acme: TenantSetup, globex: TenantSetup, on_commit: OnCommit
) -> None:
    theirs = policy(globex, on_commit)
    assert acme.api_client().get(f"/api/v1/sla-policies/{theirs.id}/").status_code == 404
    assert acme.api_client().get("/api/v1/sla-policies/").json()["results"] == []
    assert acme.client(acme.admin).get(f"/settings/sla/{theirs.id}/").status_code == 404


def test_business_hours_page_and_api(acme: TenantSetup, globex: TenantSetup) -> None:
    client = acme.client(acme.admin)
    assert client.get("/settings/business-hours/").status_code == 200
    response = client.post(
        "/settings/business-hours/",
        {
            "name": "Berlin office",
            "timezone": "Europe/Berlin",
            "day_0": "09:00-12:00, 13:00-17:00",
            "day_4": "09:00-15:00",
            "holidays": "2026-12-25 Christmas\n2026-12-26",
        },
    )
    assert response.status_code == 302
    with tenant_context(acme.id):
        hours = BusinessHours.objects.get()
        assert [h.name for h in hours.holidays.all()] == ["Christmas", ""]
    assert hours.intervals == [
        {"day": 0, "start": "09:00", "end": "12:00"},
        {"day": 0, "start": "13:00", "end": "17:00"},
        {"day": 4, "start": "09:00", "end": "15:00"},
    ]
    page = client.get(f"/settings/business-hours/{hours.id}/").content.decode()
    assert "09:00-12:00, 13:00-17:00" in page
    bad = client.post(
        "/settings/business-hours/",
        {"name": "Broken", "timezone": "UTC", "day_0": "17:00-09:00"},
    )
    assert bad.status_code == 400
    assert "Monday: each period must end after it starts (17:00-09:00)." in bad.content.decode()
    for day_2, message in (
        ("09:00-12:00, 11:00-13:00", "Wednesday: periods must not overlap."),
        ("9-17:00", "Wednesday: &#x27;9&#x27; is not a time of day (HH:MM)."),
    ):
        refused = client.post(
            "/settings/business-hours/", {"name": "Broken", "timezone": "UTC", "day_2": day_2}
        )
        assert message in refused.content.decode()
    api = acme.api_client()
    listed = api.get("/api/v1/business-hours/").json()["results"]
    assert listed[0]["holidays"][0] == {"date": "2026-12-25", "name": "Christmas"}
    replaced = api.put(
        f"/api/v1/business-hours/{hours.id}/",
        {"name": "Berlin office", "timezone": "Nowhere/Land", "intervals": []},
        content_type="application/json",
    )
    assert replaced.status_code == 400
    assert replaced.json()["error"]["code"] == "invalid_business_hours"
    assert globex.api_client().get(f"/api/v1/business-hours/{hours.id}/").status_code == 404
    assert globex.api_client().get("/api/v1/business-hours/").json()["results"] == []


def test_hours_used_by_a_policy_cannot_be_deleted(acme: TenantSetup, on_commit: OnCommit) -> None:
    with tenant_context(acme.id):
        hours = department_services.save_business_hours(
            name="Office", timezone="UTC", intervals=WEEKDAYS, holidays=[]
        )
    policy(acme, on_commit, business_hours=hours)
    response = acme.api_client().delete(f"/api/v1/business-hours/{hours.id}/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "business_hours_in_use"


def test_inbox_filters_sorts_and_counts_down_by_sla(acme: TenantSetup, on_commit: OnCommit) -> None:
    policy(
        acme, on_commit, name="Urgent", position=1, priorities=["urgent"], first_response_minutes=30
    )
    policy(acme, on_commit, name="Normal", position=2, first_response_minutes=240)
    with tenant_context(acme.id), time_machine.travel(T0, tick=False), on_commit():
        slow = make_ticket(subject="Slow one")
        fast = make_ticket(subject="Fast one", priority="urgent")
        agent = make_member(acme.tenant, MembershipRole.AGENT)
        waiting = make_ticket(subject="Waiting one")
        ticket_services.add_message(ticket=waiting, kind="reply", body="Tell me more", actor=agent)
    client = acme.client(acme.admin)
    with time_machine.travel(T0 + datetime.timedelta(minutes=40), tick=False):
        page = client.get("/inbox/?status=open,waiting,on_hold&sort=sla").content.decode()
        assert page.index("Fast one") < page.index("Slow one") < page.index("Waiting one")
        assert "First response overdue by" in page
        assert "SLA paused" in page
        overdue = client.get("/inbox/?status=open,waiting,on_hold&sla=breached").content.decode()
        assert "Fast one" in overdue
        assert "Slow one" not in overdue
        assert (
            "Slow one"
            in client.get("/inbox/?status=open,waiting,on_hold&sla=on_track").content.decode()
        )
        paused = client.get("/inbox/?status=open,waiting,on_hold&sla=paused").content.decode()
        assert "Waiting one" in paused
        assert "Fast one" not in paused
        api = acme.api_client()
        listed = api.get("/api/v1/tickets/?sort=sla").json()["results"]
        assert [t["subject"] for t in listed] == ["Fast one", "Slow one"]
        assert listed[0]["sla_state"] == "breached"
        assert listed[0]["sla_metric"] == "first_response"
        assert api.get("/api/v1/tickets/?sla=soon").status_code == 400
    assert client.get("/inbox/?sla=whenever").status_code == 400
    del fast, slow


def test_ticket_sla_panel_and_api(
    acme: TenantSetup, globex: TenantSetup, on_commit: OnCommit
) -> None:
    policy(acme, on_commit)
    with tenant_context(acme.id), time_machine.travel(T0, tick=False), on_commit():
        ticket = make_ticket()
        agent = make_member(acme.tenant, MembershipRole.AGENT)
    with (
        tenant_context(acme.id),
        time_machine.travel(T0 + datetime.timedelta(minutes=90), tick=False),
        on_commit(),
    ):
        ticket_services.add_message(ticket=ticket, kind="reply", body="Sorry", actor=agent)
    client = acme.client(acme.admin)
    with time_machine.travel(T0 + datetime.timedelta(minutes=91), tick=False):
        page = client.get(f"/tickets/{ticket.number}/").content.decode()
        assert f"/tickets/{ticket.number}/sla/" in page
        assert "First response target missed" in page
        panel = client.get(f"/tickets/{ticket.number}/sla/").content.decode()
        assert "First response" in panel
        assert "missed" in panel
        assert "Resolution" in panel
        assert "paused" in panel
        timers = acme.api_client().get(f"/api/v1/tickets/{ticket.number}/sla/").json()
    assert {(t["metric"], t["state"]) for t in timers} == {
        ("first_response", "breached"),
        ("resolution", "paused"),
    }
    assert globex.client(globex.admin).get(f"/tickets/{ticket.number}/sla/").status_code == 404
    assert globex.api_client().get(f"/api/v1/tickets/{ticket.number}/sla/").status_code == 404


def test_the_ticket_page_draws_its_sla_timers(acme: TenantSetup, on_commit: OnCommit) -> None:
    """With the page and its sidebar refresh (which redraws it after every change), then
    by the panel's own URL every minute."""
    policy(acme, on_commit)
    with tenant_context(acme.id), time_machine.travel(T0, tick=False), on_commit():
        ticket = make_ticket()
    client = acme.client(acme.admin)
    with time_machine.travel(T0 + datetime.timedelta(minutes=91), tick=False):
        panel = sidebar_panel(client, ticket.number, "ticket-sla")
        alone = client.get(f"/tickets/{ticket.number}/sla/").content.decode()
    assert 'class="sla-timers"' in panel
    assert "First response" in panel
    assert "Resolution" in panel
    assert element(alone, "ticket-sla") == panel
    assert 'hx-trigger="every 60s"' in panel


def test_a_missed_target_reaches_the_agent_in_the_list_and_by_email(
    acme: TenantSetup, on_commit: OnCommit, mailoutbox: list[EmailMessage]
) -> None:
    policy(acme, on_commit)
    with tenant_context(acme.id), time_machine.travel(T0, tick=False), on_commit():
        agent = make_member(acme.tenant, MembershipRole.AGENT, name="Ana Agent")
        ticket = make_ticket(subject="Printer on fire")
        ticket_services.assign_ticket(ticket=ticket, assignee=agent, actor=acme.admin)
    mailoutbox.clear()
    with (
        tenant_context(acme.id),
        time_machine.travel(T0 + datetime.timedelta(minutes=61), tick=False),
        on_commit(),
    ):
        tasks.record_sla_breaches.delay(tenant_id=str(acme.id))
    page = acme.client(agent).get("/notifications/").content.decode()
    assert "First response target missed" in page
    assert f"#{ticket.number} Printer on fire" in page
    [email] = mailoutbox
    assert email.to == [agent.user.email]
    assert "An SLA target was missed" in email.subject
    assert "First response target missed on #1 (Printer on fire)." in email.body


def test_a_new_policy_is_offered_the_last_position(acme: TenantSetup, on_commit: OnCommit) -> None:
    client = acme.client(acme.admin)
    assert 'name="position" value="0"' in client.get("/settings/sla/").content.decode()
    policy(acme, on_commit, name="Urgent", position=0)
    policy(acme, on_commit, name="Standard", position=4)
    assert 'name="position" value="5"' in client.get("/settings/sla/").content.decode()
