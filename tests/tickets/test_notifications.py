"""Email notifications to agents: assigned, mentioned, customer replied; each can be
switched off; nobody is told about their own action."""

from __future__ import annotations

from django.core import mail
from pytest_django import DjangoCaptureOnCommitCallbacks

from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_ticket
from tests.tickets.test_inbound import build, deliver
from tickets.models import Ticket
from tickets.notifications import services as notifications
from tickets.ticket import services


def test_assignment_emails_the_assignee(
    tenant: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    ana = make_member(tenant.tenant, MembershipRole.AGENT, name="Ana Agent")
    ticket = make_ticket(subject="Printer")
    with django_capture_on_commit_callbacks(execute=True):
        services.assign_ticket(ticket=ticket, assignee=ana, actor=tenant.admin)
    [sent] = mail.outbox
    assert sent.to == [ana.user.email]
    assert sent.subject == f"[#{ticket.number}] A ticket was assigned to you"
    assert f"http://acme.localhost/tickets/{ticket.number}/" in sent.body
    assert sent.message()["Auto-Submitted"] == "auto-generated"


def test_no_email_for_assigning_yourself(
    tenant: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    ticket = make_ticket()
    with django_capture_on_commit_callbacks(execute=True):
        services.assign_ticket(ticket=ticket, assignee=tenant.admin, actor=tenant.admin)
    assert mail.outbox == []


def test_mentions_in_notes_email_the_mentioned(
    tenant: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    make_member(tenant.tenant, MembershipRole.AGENT, email="ana@acme.test", name="Ana A")
    make_member(tenant.tenant, MembershipRole.LIGHT_AGENT, email="lee@acme.test", name="Lee Light")
    make_member(tenant.tenant, MembershipRole.AGENT, email="bob@acme.test", name="Bob B")
    ticket = make_ticket()
    with django_capture_on_commit_callbacks(execute=True):
        services.add_message(
            ticket=ticket,
            kind="note",
            actor=tenant.admin,
            body="@ana can you check? cc @Lee, not bob@example.test",
        )
    assert sorted(m.to[0] for m in mail.outbox) == ["ana@acme.test", "lee@acme.test"]
    assert "can you check?" in mail.outbox[0].body


def test_customer_reply_emails_the_assignee(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    ana = make_member(acme.tenant, MembershipRole.AGENT, email="ana@acme.test")
    deliver(acme, build(message_id="<q@example.test>"))
    with tenant_context(acme.id):
        ticket = Ticket.objects.get()
        services.assign_ticket(ticket=ticket, assignee=ana, actor=ana)
    with django_capture_on_commit_callbacks(execute=True):
        deliver(acme, build(subject="more", In_Reply_To="<q@example.test>", body="Still broken"))
    notices = [m for m in mail.outbox if m.to == ["ana@acme.test"]]
    assert len(notices) == 1
    assert "The customer replied" in notices[0].subject
    assert "Still broken" in notices[0].body


def test_each_kind_can_be_switched_off(
    tenant: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    ana = make_member(tenant.tenant, MembershipRole.AGENT)
    notifications.set_email_enabled(member=ana, kind="assigned", enabled=False)
    assert notifications.settings_for(ana) == {
        "assigned": False,
        "mentioned": True,
        "customer_replied": True,
        "sla_breached": True,
        "satisfaction_rated": True,
        "task_reminder": True,
    }
    with django_capture_on_commit_callbacks(execute=True):
        services.assign_ticket(ticket=make_ticket(), assignee=ana, actor=tenant.admin)
    assert mail.outbox == []


def test_settings_page_and_api(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    page = client.get("/settings/notifications/")
    assert b"A ticket is assigned to me" in page.content
    client.post("/settings/notifications/", {"assigned": "on"})
    api = acme.api_client()
    assert api.get("/api/v1/notification-settings/").json() == {
        "assigned": True,
        "mentioned": False,
        "customer_replied": False,
        "sla_breached": False,
        "satisfaction_rated": False,
        "task_reminder": False,
    }
    patched = api.patch(
        "/api/v1/notification-settings/", {"mentioned": True}, content_type="application/json"
    )
    assert patched.json()["mentioned"] is True
