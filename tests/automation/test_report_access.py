"""Who sees which reports: admins the team and any agent, agents their own figures only, on
the page, in the CSV and in the API; breakdowns one at a time; other tenants kept out; bad
input refused with a message."""

from __future__ import annotations

import csv
import datetime
import io

import pytest

from automation.reports import services
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Membership, MembershipRole
from tests.automation.test_reports import DAYS, START, _small_tenant
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tickets.models import Ticket

RANGE = "from=2026-03-01&to=2026-03-15"


def _seed_with_agent(setup: TenantSetup) -> str:
    """The small tenant, a third of its tickets given to a new agent; the agent's id."""
    with tenant_context(setup.id):
        agent = make_member(setup.tenant, MembershipRole.AGENT, name="Ada Agent")
        tickets = _small_tenant(setup, count=30)
        Ticket.objects.filter(id__in=[t.id for t in tickets[::3]]).update(assignee=agent)
        services.rebuild(start=START, end=START + datetime.timedelta(days=DAYS + 5))
    return str(agent.id)


@pytest.fixture
def agent_id(acme: TenantSetup) -> str:
    return _seed_with_agent(acme)


def _member(setup: TenantSetup, member_id: str) -> Membership:
    return Membership.objects.get(id=member_id, tenant_id=setup.id)


def test_an_agent_sees_their_own_figures_only(acme: TenantSetup, agent_id: str) -> None:
    agent = _member(acme, agent_id)
    team = acme.api_client().get(f"/api/v1/reports/summary/?{RANGE}").json()
    own_row = next(row for row in team["by_agent"] if row["key"] == agent_id)
    mine = acme.api_client(agent).get(f"/api/v1/reports/summary/?{RANGE}")
    assert mine.status_code == 200
    body = mine.json()
    assert body["agent_id"] == agent_id
    assert body["tickets_created"] == own_row["tickets_created"] == 10
    assert body["tickets_created"] < team["tickets_created"]
    assert [row["key"] for row in body["by_agent"]] == [agent_id]
    for dimension in ("channel", "department", "type", "priority", "mailbox", "tag", "company"):
        assert body[f"by_{dimension}"] == [], dimension
    assert body["deflections"] is None
    assert sum(day["created"] for day in body["daily"]) == 10
    # Asking for the team or for someone else changes nothing / is refused.
    refused = acme.api_client(agent).get(f"/api/v1/reports/summary/?{RANGE}&agent={acme.admin.id}")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "report_of_others"
    own = acme.api_client(agent).get(f"/api/v1/reports/summary/?{RANGE}&agent={agent_id}")
    assert own.json()["tickets_created"] == 10


def test_the_agents_page_and_csv_hold_their_figures_only(acme: TenantSetup, agent_id: str) -> None:
    agent = _member(acme, agent_id)
    client = acme.client(agent)
    page = client.get(f"/reports/?{RANGE}")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Your own figures" in html
    assert 'id="by-channel"' not in html
    assert 'id="by-agent"' in html
    assert f"assignee={agent_id}" in html  # drill-downs keep to their tickets
    assert "weekly summary" not in html  # admins' mail only
    assert client.get(f"/reports/?{RANGE}&agent={acme.admin.id}").status_code == 403
    rows = list(
        csv.DictReader(io.StringIO(client.get(f"/reports/export.csv?{RANGE}").content.decode()))
    )
    assert rows[0]["label"] == "Own tickets"
    assert rows[0]["tickets_created"] == "10"
    assert {row["dimension"] for row in rows} == {"all", "agent"}
    assert client.get(f"/reports/export.csv?{RANGE}&agent={acme.admin.id}").status_code == 403


def test_an_admin_sees_the_team_and_any_agent(acme: TenantSetup, agent_id: str) -> None:
    client = acme.client(acme.admin)
    team = client.get(f"/reports/?{RANGE}").content.decode()
    assert 'id="by-channel"' in team
    assert "Agent performance" in team
    assert f"agent={agent_id}" in team  # each agent's name opens their report
    one = client.get(f"/reports/?{RANGE}&agent={agent_id}")
    assert one.status_code == 200
    assert "Reports: Ada Agent" in one.content.decode()
    body = acme.api_client().get(f"/api/v1/reports/summary/?{RANGE}&agent={agent_id}").json()
    assert body["tickets_created"] == 10
    missing = acme.api_client().get(
        f"/api/v1/reports/summary/?{RANGE}&agent=01234567-89ab-7def-8123-456789abcdef"
    )
    assert missing.status_code == 404
    assert acme.api_client().get(f"/api/v1/reports/summary/?{RANGE}&agent=me").status_code == 404


def test_an_agent_of_another_tenant_is_no_agent_here(
    acme: TenantSetup, globex: TenantSetup, agent_id: str
) -> None:
    response = globex.api_client().get(f"/api/v1/reports/summary/?{RANGE}&agent={agent_id}")
    assert response.status_code == 404
    page = globex.client(globex.admin).get(f"/reports/?{RANGE}&agent={agent_id}")
    assert page.status_code == 404
    body = globex.api_client().get(f"/api/v1/reports/breakdowns/tag/?{RANGE}").json()
    assert body["results"] == []


def test_one_breakdown_through_the_api(acme: TenantSetup, agent_id: str) -> None:
    api = acme.api_client()
    response = api.get(f"/api/v1/reports/breakdowns/agent/?{RANGE}")
    assert response.status_code == 200
    body = response.json()
    assert body["from"] == "2026-03-01"
    assert body["dimension"] == "agent"
    ada = next(row for row in body["results"] if row["key"] == agent_id)
    assert ada["label"] == "Ada Agent"
    assert ada["tickets_created"] == 10
    assert "open_now" in ada
    channels = api.get(f"/api/v1/reports/breakdowns/channel/?{RANGE}").json()["results"]
    assert sum(row["tickets_created"] for row in channels) == 30
    unknown = api.get(f"/api/v1/reports/breakdowns/colour/?{RANGE}")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "unknown_report_breakdown"
    bad = api.get("/api/v1/reports/breakdowns/tag/?from=2026-03-10&to=2026-03-01")
    assert bad.status_code == 400
    assert "after" in bad.json()["error"]["message"]


@pytest.mark.parametrize(
    ("query", "status"),
    [("table=daily", 200), ("table=weekly", 200), ("table=heat_map", 200), ("table=pie", 400)],
)
def test_every_table_of_the_page_is_a_csv(
    acme: TenantSetup, agent_id: str, query: str, status: int
) -> None:
    response = acme.client(acme.admin).get(f"/reports/export.csv?{RANGE}&{query}")
    assert response.status_code == status
    if status == 400:
        assert "table is one of" in response.content.decode()
        return
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    if query == "table=daily":
        assert rows[0] == ["day", "created", "solved", "backlog"]
        assert len(rows) == 16
        assert sum(int(row[1]) for row in rows[1:]) == 30
    elif query == "table=heat_map":
        assert len(rows) == 8
        assert sum(int(cell) for row in rows[1:] for cell in row[1:]) == 30
    else:
        assert rows[0][0] == "week"


def test_only_admins_choose_the_weekly_mail(acme: TenantSetup, agent_id: str) -> None:
    client = acme.client(acme.admin)
    assert "You get the weekly summary" in client.get(f"/reports/?{RANGE}").content.decode()
    response = client.post(f"/reports/weekly-mail/?{RANGE}", {"wanted": "0"})
    assert response.status_code == 302
    assert "You do not get the weekly summary" in client.get(f"/reports/?{RANGE}").content.decode()
    client.post("/reports/weekly-mail/", {"wanted": "1"})
    assert "You get the weekly summary" in client.get(f"/reports/?{RANGE}").content.decode()
    agent = acme.client(_member(acme, agent_id))
    assert agent.post("/reports/weekly-mail/", {"wanted": "0"}).status_code == 403
    assert client.get("/reports/weekly-mail/").status_code == 405


def test_openapi_describes_the_reports(acme: TenantSetup) -> None:
    schema = acme.api_client().get("/api/schema/?format=json").json()
    assert "/api/v1/reports/breakdowns/{dimension}/" in schema["paths"]
    summary = schema["components"]["schemas"]["ReportSummaryOutput"]
    assert {"from", "to", "by_tag", "by_company", "daily", "weekly"} <= set(summary["properties"])
