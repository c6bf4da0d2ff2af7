"""The tickets API list takes the inbox's filters (one module, tickets.inbox): the reports'
drill-down filters and the "none" values, documented in the OpenAPI document, malformed
values refused with a message, other tenants' ids matching nothing."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client

from automation.models import SlaTimer
from helpdesk.tenancy.context import tenant_context
from tests.conftest import TenantSetup
from tests.factories.tickets import make_ticket
from tickets.models import (
    Company,
    Contact,
    Message,
    MessageKind,
    Tag,
    Ticket,
    TicketStatus,
    TicketTag,
    TicketType,
)

UTC = datetime.UTC
EVERY = "status=" + ",".join(TicketStatus.values)


def _at(day: int, hour: int = 12) -> datetime.datetime:
    return datetime.datetime(2026, 3, day, hour, tzinfo=UTC)


def _seed(setup: TenantSetup) -> dict[str, Ticket]:
    """Four tickets, each singled out by some filter (UTC tenant: 2 March 2026 a Monday)."""
    with tenant_context(setup.id):
        bug = TicketType.objects.create(name="Bug")
        initech = Company.objects.create(name="Initech")
        tickets = {name: make_ticket(subject=name) for name in ("alpha", "beta", "gamma", "delta")}
        alpha, beta, gamma, delta = tickets.values()
        Ticket.objects.filter(id=alpha.id).update(
            created_at=_at(2, 9),
            status=TicketStatus.SOLVED,
            solved_at=_at(3),
            type=bug,
            mailbox=setup.mailbox,
        )
        Ticket.objects.filter(id=beta.id).update(created_at=_at(3, 14), mailbox=None)
        Ticket.objects.filter(id=gamma.id).update(created_at=_at(4, 9), mailbox=setup.mailbox)
        Ticket.objects.filter(id=delta.id).update(created_at=_at(5, 9), mailbox=setup.mailbox)
        Contact.objects.filter(id=gamma.contact_id).update(company=initech)
        billing, _ = Tag.objects.get_or_create(name="billing")
        for ticket in (alpha, gamma, delta):
            TicketTag.objects.create(ticket=ticket, tag=billing)
        Message.objects.create(  # delta: solved on the 6th, reopened on the 7th
            ticket=delta,
            kind=MessageKind.EVENT,
            event={"field": "status", "from": "open", "to": "solved"},
            created_at=_at(6),
        )
        Message.objects.create(
            ticket=delta,
            kind=MessageKind.EVENT,
            event={"field": "status", "from": "solved", "to": "open"},
            created_at=_at(7),
        )
        SlaTimer.objects.create(
            ticket=gamma,
            metric="first_response",
            started_at=_at(4, 9),
            target_minutes=60,
            completed_at=_at(4, 13),
            breached_at=_at(4, 10),
        )
        SlaTimer.objects.create(
            ticket=beta,
            metric="first_response",
            started_at=_at(3, 14),
            target_minutes=60,
            completed_at=_at(3, 14),
        )
        return {name: Ticket.objects.get(id=t.id) for name, t in tickets.items()}


def _subjects(api: Client, query: str) -> list[str]:
    response = api.get(f"/api/v1/tickets/?{EVERY}&{query}")
    assert response.status_code == 200, response.content
    return sorted(t["subject"] for t in response.json()["results"])


def test_list_takes_the_inbox_filters_the_reports_link_to(acme: TenantSetup) -> None:
    tickets = _seed(acme)
    api = acme.api_client()
    bug = str(tickets["alpha"].type_id)
    with tenant_context(acme.id):
        company = str(Contact.objects.get(id=tickets["gamma"].contact_id).company_id)
    cases = {
        "solved_after=2026-03-03&solved_before=2026-03-04": ["alpha"],
        "solved_after=2026-03-04": [],
        f"type={bug}": ["alpha"],
        "type=none": ["beta", "delta", "gamma"],
        f"mailbox={acme.mailbox.id}": ["alpha", "delta", "gamma"],
        "mailbox=none": ["beta"],
        f"company={company}": ["gamma"],
        "company=none": ["alpha", "beta", "delta"],
        "untagged=true": ["beta"],
        "reopened_after=2026-03-07&reopened_before=2026-03-08": ["delta"],
        "reopened_after=2026-03-08": [],
        "sla_result=first_response:missed&sla_after=2026-03-04&sla_before=2026-03-05": ["gamma"],
        "sla_result=first_response:met": ["beta"],
        "sla_result=resolution:met": [],
        "open_at=2026-03-06T18:00:00Z": ["beta", "gamma"],  # delta solved, alpha solved
        "open_at=2026-03-08": ["beta", "delta", "gamma"],
        "created_weekday=0": ["alpha"],  # Monday
        "created_weekday=1&created_hour=14": ["beta"],
        "created_hour=9": ["alpha", "delta", "gamma"],
    }
    with tenant_context(acme.id):
        Ticket.objects.filter(id=tickets["delta"].id).update(status=TicketStatus.OPEN)
    for query, expected in cases.items():
        assert _subjects(api, query) == expected, query
        # The inbox page, through the same filter module, lists the same tickets.
        page = acme.client(acme.admin).get(f"/inbox/?{EVERY}&{query}")
        assert page.content.decode().count('class="ticket-row') == len(expected), query


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("solved_after=yesterday", "solved_after"),
        ("solved_before=2026-02-30", "solved_before"),
        ("reopened_after=soon", "reopened_after"),
        ("open_at=noon", "open_at"),
        ("sla_result=first_response", "sla_result"),
        ("sla_result=speed:met", "sla_result"),
        ("mailbox=nope", "mailbox"),
        ("type=0", "type"),
        ("company=initech", "company"),
        ("created_weekday=7", "created_weekday"),
        ("created_hour=x", "created_hour"),
    ],
)
def test_list_refuses_malformed_filters_with_a_message(
    acme: TenantSetup, query: str, field: str
) -> None:
    response = acme.api_client().get(f"/api/v1/tickets/?{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert field in error.get("fields", {}) or field in error["message"], error


def test_other_tenants_ids_match_nothing(acme: TenantSetup, globex: TenantSetup) -> None:
    _seed(acme)
    with tenant_context(globex.id):
        own = make_ticket(subject="globex own")
        Ticket.objects.filter(id=own.id).update(mailbox=None)
    with tenant_context(acme.id):
        bug = str(TicketType.objects.get().id)
        company = str(Company.objects.get().id)
    api = globex.api_client()
    assert _subjects(api, f"mailbox={acme.mailbox.id}") == []
    assert _subjects(api, f"type={bug}") == []
    assert _subjects(api, f"company={company}") == []
    assert _subjects(api, "mailbox=none&type=none&company=none") == ["globex own"]
    assert _subjects(api, "sla_result=first_response:met") == []
    assert _subjects(api, "open_at=2026-12-31") == ["globex own"]


def test_the_filters_are_in_the_openapi_document(acme: TenantSetup) -> None:
    schema = acme.api_client().get("/api/schema/?format=json").json()
    parameters = {p["name"] for p in schema["paths"]["/api/v1/tickets/"]["get"]["parameters"]}
    assert {
        "solved_after",
        "solved_before",
        "mailbox",
        "type",
        "company",
        "untagged",
        "reopened_after",
        "sla_result",
        "open_at",
        "created_weekday",
        "created_hour",
    } <= parameters
