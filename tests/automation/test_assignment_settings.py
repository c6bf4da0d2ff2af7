"""Assignment settings on /api/v1/departments/<id>/ and the department page, the backlog and
agents' load (/api/v1/departments/<id>/assignment/ and the page's panel), and the history
line automatic assignment leaves on the ticket page."""

from __future__ import annotations

from typing import Any

import pytest

from automation.assignment import services
from departments import services as department_services
from departments.models import Department
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Availability, Membership, MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_ticket


def patch(api: Any, department_id: object, body: dict[str, Any]) -> Any:
    return api.patch(f"/api/v1/departments/{department_id}/", body, content_type="application/json")


def test_the_api_reads_and_changes_the_assignment_settings(acme: TenantSetup) -> None:
    api = acme.api_client()
    url = f"/api/v1/departments/{acme.department.id}/"
    read = api.get(url).json()
    assert {
        k: read[k] for k in ("assignment_mode", "max_open_per_agent", "assign_offline_agents")
    } == {
        "assignment_mode": "manual",
        "max_open_per_agent": None,
        "assign_offline_agents": False,
    }
    changed = patch(
        api,
        acme.department.id,
        {"assignment_mode": "round_robin", "max_open_per_agent": 20, "assign_offline_agents": True},
    )
    assert changed.status_code == 200, changed.content
    assert (
        changed.json()["assignment_mode"],
        changed.json()["max_open_per_agent"],
        changed.json()["assign_offline_agents"],
    ) == ("round_robin", 20, True)
    # Fields left out keep their value; null lifts the cap.
    lifted = patch(api, acme.department.id, {"max_open_per_agent": None}).json()
    assert (lifted["assignment_mode"], lifted["max_open_per_agent"]) == ("round_robin", None)
    balanced = patch(api, acme.department.id, {"assignment_mode": "load_balanced"}).json()
    assert (balanced["assignment_mode"], balanced["assign_offline_agents"]) == (
        "load_balanced",
        True,
    )
    with tenant_context(acme.id):
        stored = Department.objects.get(id=acme.department.id)
        assert (stored.assignment_mode, stored.max_open_per_agent) == ("load_balanced", None)
    created = api.post(
        "/api/v1/departments/",
        {"name": "Billing", "assignment_mode": "round_robin", "max_open_per_agent": 5},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    assert (created.json()["assignment_mode"], created.json()["max_open_per_agent"]) == (
        "round_robin",
        5,
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"assignment_mode": "fastest"}, "assignment_mode"),
        ({"assignment_mode": None}, "assignment_mode"),
        ({"max_open_per_agent": 0}, "max_open_per_agent"),
        ({"max_open_per_agent": -3}, "max_open_per_agent"),
        ({"max_open_per_agent": "lots"}, "max_open_per_agent"),
        ({"max_open_per_agent": 2.5}, "max_open_per_agent"),
        ({"max_open_per_agent": 10_001}, "max_open_per_agent"),
        ({"max_open_per_agent": [3]}, "max_open_per_agent"),
        ({"assign_offline_agents": "maybe"}, "assign_offline_agents"),
        ({"hand_back_when_offline": {}}, "hand_back_when_offline"),
    ],
)
def test_bad_assignment_settings_are_refused_with_400(
    acme: TenantSetup, body: dict[str, Any], field: str
) -> None:
    refused = patch(acme.api_client(), acme.department.id, body)
    assert refused.status_code == 400, refused.content
    assert field in refused.json()["error"]["fields"]
    with tenant_context(acme.id):
        assert Department.objects.get(id=acme.department.id).assignment_mode == "manual"


def test_handing_back_on_going_offline_and_giving_offline_agents_tickets_exclude_each_other(
    acme: TenantSetup,
) -> None:
    api = acme.api_client()
    assert patch(api, acme.department.id, {"hand_back_when_offline": True}).status_code == 200
    refused = patch(api, acme.department.id, {"assign_offline_agents": True})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid_assignment_settings"
    assert "turn one of the two off" in refused.json()["error"]["message"]


def test_only_admins_change_settings_and_other_tenants_departments_are_not_found(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    agent = make_member(acme.tenant, MembershipRole.AGENT)
    agent_api = acme.api_client(agent)
    assert agent_api.get(f"/api/v1/departments/{acme.department.id}/").status_code == 200
    denied = patch(agent_api, acme.department.id, {"assignment_mode": "round_robin"})
    assert denied.status_code == 403
    api = acme.api_client()
    assert api.get(f"/api/v1/departments/{globex.department.id}/").status_code == 404
    assert patch(api, globex.department.id, {"assignment_mode": "round_robin"}).status_code == 404
    assert api.get(f"/api/v1/departments/{globex.department.id}/assignment/").status_code == 404
    assert agent_api.get(f"/api/v1/departments/{acme.department.id}/assignment/").status_code == 403
    with tenant_context(globex.id):
        assert Department.objects.get(id=globex.department.id).assignment_mode == "manual"


def _busy_department(acme: TenantSetup) -> tuple[Department, Membership, Membership]:
    """Round-robin, at most two each: Ana holds two (at the limit), Ben is offline, one
    ticket waits."""
    ana = make_member(acme.tenant, MembershipRole.AGENT, name="Ana Agent")
    ben = make_member(acme.tenant, MembershipRole.AGENT, name="Ben Agent")
    Membership.objects.filter(id=ana.id).update(availability=Availability.ONLINE)
    with tenant_context(acme.id):
        department = department_services.update_department(
            department=acme.department,
            members=[ana, ben],
            assignment_mode="round_robin",
            max_open_per_agent=2,
        )
        tickets = [make_ticket(subject=f"Help {i}") for i in range(3)]
        assert services.assign_new_tickets(ticket_ids=[t.id for t in tickets]) == 2
    return department, ana, ben


def test_the_assignment_api_reports_the_backlog_and_each_agents_load(acme: TenantSetup) -> None:
    department, _, _ = _busy_department(acme)
    body = acme.api_client().get(f"/api/v1/departments/{department.id}/assignment/").json()
    assert (body["assignment_mode"], body["max_open_per_agent"], body["backlog"]) == (
        "round_robin",
        2,
        1,
    )
    assert [(a["name"], a["open_tickets"], a["eligible"], a["reason"]) for a in body["agents"]] == [
        ("Ana Agent", 2, False, "at the limit"),
        ("Ben Agent", 0, False, "offline"),
    ]


def test_the_department_page_edits_the_settings_and_shows_the_load(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    department, ana, ben = _busy_department(acme)
    client = acme.client(acme.admin)
    page = client.get(f"/settings/departments/{department.id}/")
    assert page.status_code == 200
    assert b'name="max_open_per_agent"' in page.content
    assert f"/settings/departments/{department.id}/assignment/".encode() in page.content
    panel = client.get(f"/settings/departments/{department.id}/assignment/", HTTP_HX_REQUEST="true")
    assert panel.status_code == 200
    text = panel.content.decode()
    assert "Backlog: <strong>1</strong> ticket waiting" in text
    assert "2 / 2" in text
    assert "at the limit" in text
    assert "offline" in text
    assert (
        client.get(f"/settings/departments/{globex.department.id}/assignment/").status_code == 404
    )

    form = {
        "name": department.name,
        "is_default": "on",
        "members": [str(ana.id), str(ben.id)],
        "assignment_mode": "load_balanced",
        "max_open_per_agent": "",
        "assign_offline_agents": "on",
    }
    assert client.post(f"/settings/departments/{department.id}/", form).status_code == 302
    with tenant_context(acme.id):
        department.refresh_from_db()
        assert (
            department.assignment_mode,
            department.max_open_per_agent,
            department.assign_offline_agents,
        ) == ("load_balanced", None, True)
    both = client.post(
        f"/settings/departments/{department.id}/", {**form, "hand_back_when_offline": "on"}
    )
    assert both.status_code == 400
    assert b"turn one of the two off" in both.content
    bad = client.post(
        f"/settings/departments/{department.id}/", {**form, "max_open_per_agent": "0"}
    )
    assert bad.status_code == 400
    agent_page = acme.client(ana).get(f"/settings/departments/{department.id}/assignment/")
    assert agent_page.status_code in (302, 403, 404)


def test_the_ticket_history_says_round_robin_assigned_it(acme: TenantSetup) -> None:
    _busy_department(acme)
    client = acme.client(acme.admin)
    page = client.get("/tickets/1/")
    assert page.status_code == 200
    assert "Assigned to Ana Agent by round-robin" in page.content.decode()
