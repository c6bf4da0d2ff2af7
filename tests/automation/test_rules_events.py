"""The issue's examples end to end: a mail arrives (or a ticket is opened or changed), the
transaction commits, the ticket-event task runs the rules, and the ticket is routed; the
history names each rule."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from uuid import UUID

import pytest
import time_machine
from pytest_django import DjangoCaptureOnCommitCallbacks

from automation import services as automation_services
from automation.models import CannedResponseScope
from automation.rules import services
from departments import services as department_services
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Membership, MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_ticket
from tickets.configuration import services as configuration
from tickets.mail_in import intake
from tickets.mail_in import services as inbound
from tickets.models import Message, MessageKind, Ticket
from tickets.ticket import services as ticket_services

UTC = datetime.UTC
SATURDAY_10 = datetime.datetime(2026, 1, 10, 10, 0, tzinfo=UTC)
MONDAY_10 = datetime.datetime(2026, 1, 12, 10, 0, tzinfo=UTC)


def mail(subject: str, sender: str, to: str) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message["Message-ID"] = make_msgid(domain="example.test")
    message.set_content("Hello, please help.")
    return message.as_bytes()


@pytest.fixture
def committed(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> Any:
    """A block whose on-commit work (the ticket-event task, eager) runs at its end."""

    @contextmanager
    def block() -> Iterator[None]:
        with django_capture_on_commit_callbacks(execute=True):
            yield

    return block


def deliver(setup: TenantSetup, raw: bytes, committed: Any) -> Ticket:
    accepted = intake.accept(
        raw=raw, envelope_to=[], envelope_from="", channel="test", enqueue=False
    )
    assert accepted is not None
    with committed(), tenant_context(setup.id):
        email = inbound.process_inbound_email(email_id=UUID(accepted.email_id))
    assert email.ticket_id is not None, email.reason
    with tenant_context(setup.id):
        return Ticket.objects.get(id=email.ticket_id)


def rule(setup: TenantSetup, name: str, actions: list[dict[str, Any]], **fields: Any) -> None:
    with tenant_context(setup.id):
        services.create_rule(actor=setup.admin, name=name, actions=actions, **fields)


def rule_events(setup: TenantSetup, ticket: Ticket) -> list[tuple[str, Any, str]]:
    with tenant_context(setup.id):
        return [
            (m.event["field"], m.event["to"], m.event["rule"]["name"])
            for m in Message.objects.filter(ticket=ticket, kind=MessageKind.EVENT).order_by(
                "created_at", "id"
            )
            if "rule" in m.event
        ]


def member(setup: TenantSetup, name: str) -> Membership:
    with tenant_context(setup.id):
        return make_member(setup.tenant, MembershipRole.AGENT, name=name)


def test_mail_to_sales_from_a_big_customer_is_routed(acme: TenantSetup, committed: Any) -> None:
    with tenant_context(acme.id):
        enterprise = department_services.create_department(name="Enterprise")
        department_services.create_mailbox(
            address="sales@acme.localhost", department=acme.department
        )
    rule(
        acme,
        "Sales mail",
        [{"action": "add_tags", "value": ["sales"]}],
        conditions=[{"field": "recipient", "operator": "is", "value": "sales@acme.localhost"}],
    )
    rule(
        acme,
        "Big customer",
        [
            {"action": "set_priority", "value": "high"},
            {"action": "set_department", "value": str(enterprise.id)},
        ],
        conditions=[{"field": "sender_domain", "operator": "is", "value": "bigcustomer.com"}],
    )
    big = deliver(acme, mail("Quote", "Jo <jo@bigcustomer.com>", "sales@acme.localhost"), committed)
    other = deliver(acme, mail("Hi", "Al <al@small.test>", "support@acme.localhost"), committed)
    with tenant_context(acme.id):
        assert (big.priority, big.department_id) == ("high", enterprise.id)
        assert sorted(big.tags.values_list("name", flat=True)) == ["sales"]
        assert (other.priority, other.department_id) == ("normal", acme.department.id)
        assert not other.tags.exists()
    assert rule_events(acme, big) == [
        ("tags", ["sales"], "Sales mail"),
        ("priority", "high", "Big customer"),
        ("department", "Enterprise", "Big customer"),
    ]


def test_a_web_ticket_goes_to_catherine(acme: TenantSetup, committed: Any) -> None:
    catherine = member(acme, "Catherine Chat")
    rule(
        acme,
        "Chats to Catherine",
        [{"action": "assign_to", "value": str(catherine.id)}],
        conditions=[{"field": "channel", "operator": "is", "value": "web"}],
    )
    with committed(), tenant_context(acme.id):
        web = make_ticket(channel="web")
        api = make_ticket(channel="api")
    with tenant_context(acme.id):
        web.refresh_from_db()
        api.refresh_from_db()
    assert (web.assignee_id, api.assignee_id) == (catherine.id, None)


def test_setting_the_product_field_sends_the_ticket_to_miriam(
    acme: TenantSetup, committed: Any
) -> None:
    miriam = member(acme, "Miriam Products")
    with tenant_context(acme.id):
        configuration.save_custom_field(
            target="ticket", label="Product", type="select", options=["XT372", "XT400"]
        )
    rule(
        acme,
        "XT372 to Miriam",
        [{"action": "assign_to", "value": str(miriam.id)}],
        trigger="ticket_updated",
        conditions=[{"field": "custom_fields.product", "operator": "is", "value": "XT372"}],
    )
    with committed(), tenant_context(acme.id):
        ticket = make_ticket()
    with committed(), tenant_context(acme.id):
        ticket_services.update_ticket(
            ticket=ticket, actor=acme.admin, custom_fields={"product": "XT372"}
        )
    with tenant_context(acme.id):
        ticket.refresh_from_db()
    assert ticket.assignee_id == miriam.id
    assert rule_events(acme, ticket) == [("assignee", str(miriam.id), "XT372 to Miriam")]


def test_mail_outside_business_hours_gets_the_after_hours_reply(
    acme: TenantSetup, committed: Any
) -> None:
    with tenant_context(acme.id):
        hours = department_services.save_business_hours(
            name="Office",
            timezone="Europe/Berlin",
            intervals=[{"day": d, "start": "09:00", "end": "17:00"} for d in range(5)],
            holidays=[],
        )
        template = automation_services.create_canned_response(
            title="After hours",
            body="We are closed now and answer on the next working day.",
            scope=CannedResponseScope.TENANT,
            actor=acme.admin,
        )
    rule(
        acme,
        "Out of hours",
        [{"action": "reply_with_template", "value": str(template.id)}],
        conditions=[{"field": "business_hours", "operator": "outside", "value": str(hours.id)}],
    )
    with time_machine.travel(SATURDAY_10, tick=False):
        weekend = deliver(
            acme, mail("Help", "Sam <sam@example.test>", "support@acme.localhost"), committed
        )
    with time_machine.travel(MONDAY_10, tick=False):
        weekday = deliver(
            acme, mail("Help", "Kim <kim@example.test>", "support@acme.localhost"), committed
        )
    with tenant_context(acme.id):
        replies = Message.objects.filter(
            ticket=weekend, kind=MessageKind.REPLY, event__has_key="rule"
        )
        assert [r.event["rule"]["name"] for r in replies] == ["Out of hours"]
        assert "We are closed now" in replies[0].body_text
        assert replies[0].outbound_email is not None
        assert not Message.objects.filter(
            ticket=weekday, kind=MessageKind.REPLY, event__has_key="rule"
        ).exists()
