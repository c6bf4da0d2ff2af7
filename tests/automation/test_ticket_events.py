"""The ticket-event pipeline: a transaction's new and changed tickets reach the rules and
then assignment once, after the commit; a redelivered event repeats nothing; tenants with
nothing configured enqueue nothing."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django import DjangoCaptureOnCommitCallbacks

from automation import ticket_events
from automation.models import AutomationRun
from automation.rules import services as rule_services
from departments import services as department_services
from helpdesk.accounts import services as account_services
from helpdesk.mail.models import OutboundEmail
from helpdesk.tenancy.models import Availability, Membership, MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_ticket
from tickets.models import Message, MessageKind, Ticket
from tickets.ticket import services as ticket_services


@pytest.fixture
def adebayo(tenant: TenantSetup) -> Membership:
    return make_member(tenant.tenant, MembershipRole.AGENT, name="Adebayo Refunds")


def _rule(tenant: TenantSetup, name: str, actions: list[dict[str, Any]], **fields: Any) -> None:
    rule_services.create_rule(actor=tenant.admin, name=name, actions=actions, **fields)


def _tags(ticket: Ticket) -> list[str]:
    return sorted(ticket.tags.values_list("name", flat=True))


def _rule_events(ticket: Ticket) -> list[tuple[str, Any, str]]:
    return [
        (m.event["field"], m.event["to"], m.event["rule"]["name"])
        for m in Message.objects.filter(ticket=ticket, kind=MessageKind.EVENT).order_by(
            "created_at", "id"
        )
        if "rule" in m.event
    ]


def test_a_ticket_made_through_the_api_is_routed_by_the_contract_rule(
    tenant: TenantSetup,
    adebayo: Membership,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    """The DESIGN contract's rule form, end to end: API in, Celery task, rule applied."""
    api = tenant.api_client()
    response = api.post(
        "/api/v1/rules/",
        {
            "name": "Refunds",
            "trigger": "ticket_created",
            "match": "all",
            "conditions": [{"field": "subject", "operator": "contains", "value": "refund"}],
            "actions": [
                {"action": "assign_to", "value": str(adebayo.id)},
                {"action": "add_tags", "value": ["refund"]},
            ],
            "position": 0,
            "is_active": True,
            "stop_processing": False,
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(
            "/api/v1/tickets/",
            {"subject": "Refund please", "body": "Charged twice.", "contact_email": "c@x.test"},
            content_type="application/json",
        )
    assert created.status_code == 201, created.content
    ticket = Ticket.objects.get(number=created.json()["number"])
    assert ticket.assignee_id == adebayo.id
    assert _tags(ticket) == ["refund"]
    assert _rule_events(ticket) == [
        ("assignee", str(adebayo.id), "Refunds"),
        ("tags", ["refund"], "Refunds"),
    ]
    detail = api.get(f"/api/v1/tickets/{ticket.number}/").json()
    assert detail["assignee"] is not None
    assert detail["tags"] == ["refund"]


def test_tickets_of_one_transaction_are_one_event(
    tenant: TenantSetup,
    adebayo: Membership,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    _rule(
        tenant,
        "Refunds",
        [{"action": "add_tags", "value": ["refund"]}],
        conditions=[{"field": "subject", "operator": "contains", "value": "refund"}],
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        tickets = [make_ticket(subject=f"Refund {n}") for n in range(5)]
    # One callback for the batch (and none per ticket), one event id for all five; the
    # report rollups are one batch of their own.
    batches = sorted(callback.__self__.key[0] for callback in callbacks)  # type: ignore[attr-defined]
    assert batches == ["automation.reports", "automation.ticket_events"]
    runs = AutomationRun.objects.filter(ticket__in=tickets)
    assert runs.count() == 5
    assert len(set(runs.values_list("event_id", flat=True))) == 1
    assert all(_tags(ticket) == ["refund"] for ticket in tickets)


def test_round_robin_department_assigns_new_tickets_in_turn(
    tenant: TenantSetup,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    agents = [make_member(tenant.tenant, MembershipRole.AGENT) for _ in range(2)]
    for agent in agents:
        account_services.set_availability(
            membership=agent, availability=Availability.ONLINE, actor=tenant.admin
        )
    department_services.update_department(
        department=tenant.department,
        actor=tenant.admin,
        members=agents,
        assignment_mode="round_robin",
    )
    with django_capture_on_commit_callbacks(execute=True):
        tickets = [make_ticket() for _ in range(4)]
    counts: dict[Any, int] = {}
    for ticket in tickets:
        ticket.refresh_from_db()
        assert ticket.assignee_id in {a.id for a in agents}
        counts[ticket.assignee_id] = counts.get(ticket.assignee_id, 0) + 1
    assert sorted(counts.values()) == [2, 2]


def test_a_rule_assignment_comes_before_the_department_turn(
    tenant: TenantSetup,
    adebayo: Membership,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    other = make_member(tenant.tenant, MembershipRole.AGENT)
    account_services.set_availability(
        membership=other, availability=Availability.ONLINE, actor=tenant.admin
    )
    department_services.update_department(
        department=tenant.department,
        actor=tenant.admin,
        members=[other],
        assignment_mode="round_robin",
    )
    _rule(
        tenant,
        "Refunds",
        [{"action": "assign_to", "value": str(adebayo.id)}],
        conditions=[{"field": "subject", "operator": "contains", "value": "refund"}],
    )
    with django_capture_on_commit_callbacks(execute=True):
        refund = make_ticket(subject="Refund")
        question = make_ticket(subject="Question")
    refund.refresh_from_db()
    question.refresh_from_db()
    assert refund.assignee_id == adebayo.id
    assert question.assignee_id == other.id


def test_an_update_runs_update_rules_once_and_their_own_changes_start_nothing(
    tenant: TenantSetup,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    """A rule whose action is itself an update (priority) runs once per event."""
    _rule(
        tenant,
        "Escalate VIP",
        [
            {"action": "set_priority", "value": "urgent"},
            {"action": "add_note", "value": "VIP: escalated."},
        ],
        trigger="ticket_updated",
        conditions=[{"field": "tag", "operator": "has", "value": "vip"}],
    )
    ticket = make_ticket()
    with django_capture_on_commit_callbacks(execute=True):
        ticket_services.update_ticket(ticket=ticket, actor=tenant.admin, tags=["vip"])
    ticket.refresh_from_db()
    assert ticket.priority == "urgent"
    notes = Message.objects.filter(ticket=ticket, kind=MessageKind.NOTE)
    assert [n.body_text for n in notes] == ["VIP: escalated."]
    assert AutomationRun.objects.filter(ticket=ticket, trigger="ticket_updated").count() == 1


def test_a_redelivered_event_repeats_nothing(tenant: TenantSetup) -> None:
    _rule(
        tenant,
        "Ack",
        [{"action": "add_note", "value": "Seen by automation."}],
        conditions=[{"field": "subject", "operator": "contains", "value": "hello"}],
    )
    ticket = make_ticket(subject="Hello")
    event = uuid4()
    first = ticket_events.handle(trigger="ticket_created", ticket_ids=[ticket.id], event_id=event)
    again = ticket_events.handle(trigger="ticket_created", ticket_ids=[ticket.id], event_id=event)
    assert first == [ticket.id]
    assert again == []
    assert Message.objects.filter(ticket=ticket, kind=MessageKind.NOTE).count() == 1
    assert not OutboundEmail.objects.exists()


def test_a_ticket_gone_before_its_event_is_skipped(tenant: TenantSetup) -> None:
    _rule(tenant, "Tag all", [{"action": "add_tags", "value": ["seen"]}])
    handled = ticket_events.handle(trigger="ticket_created", ticket_ids=[uuid4()], event_id=uuid4())
    assert handled == []


def test_a_tenant_with_nothing_configured_pays_no_query_per_ticket(
    tenant: TenantSetup,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    make_ticket()  # warms the cached department list and rule index
    ticket = make_ticket()
    with CaptureQueriesContext(connection) as queries:
        ticket_events.collect(trigger="ticket_created", ticket_id=ticket.id)
    assert len(queries) == 0
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        make_ticket()
    assert not [c for c in callbacks if "ticket_events" in repr(c)]
    assert not AutomationRun.objects.exists()
