"""Agent pages: inbox views and search, the ticket page, replies (htmx and plain)."""

from __future__ import annotations

from django.urls import reverse

from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_ticket
from tickets.models import Ticket
from tickets.ticket import services
from tickets.ticket.services.messages import NewAttachment


def _tickets(setup: TenantSetup) -> tuple[Ticket, Ticket]:
    with tenant_context(setup.id):
        first = make_ticket(subject="Printer on fire", body="Smoke everywhere")
        second = make_ticket(subject="Invoice question")
        services.change_status(ticket=second, status="waiting", actor=None)
        return first, second


def test_inbox_views_filter_by_status(acme: TenantSetup) -> None:
    _tickets(acme)
    client = acme.client(acme.admin)
    open_page = client.get("/inbox/").content
    assert b"Printer on fire" in open_page
    assert b"Invoice question" not in open_page
    waiting = client.get("/inbox/?view=waiting").content
    assert b"Invoice question" in waiting


def test_inbox_mine_and_unassigned(acme: TenantSetup) -> None:
    first, _ = _tickets(acme)
    with tenant_context(acme.id):
        services.assign_ticket(ticket=first, assignee=acme.admin, actor=acme.admin)
    client = acme.client(acme.admin)
    assert b"Printer on fire" in client.get("/inbox/?view=mine").content
    assert b"Printer on fire" not in client.get("/inbox/?view=unassigned").content


def test_inbox_search_and_jump(acme: TenantSetup) -> None:
    first, _ = _tickets(acme)
    client = acme.client(acme.admin)
    found = client.get("/inbox/?view=open&q=smoke")
    assert b"Printer on fire" in found.content
    jump = client.get(f"/inbox/?q=%23{first.number}")
    assert jump["Location"] == f"/tickets/{first.number}/"


def test_inbox_htmx_request_gets_only_the_list(acme: TenantSetup) -> None:
    _tickets(acme)
    response = acme.client(acme.admin).get("/inbox/", HTTP_HX_REQUEST="true")
    assert b'id="ticket-list"' in response.content
    assert b"<html" not in response.content
    assert "HX-Request" in response["Vary"]


def test_ticket_page_shows_thread_and_customer(acme: TenantSetup) -> None:
    first, _ = _tickets(acme)
    page = acme.client(acme.admin).get(f"/tickets/{first.number}/").content
    assert b"Smoke everywhere" in page
    assert first.contact.email.encode() in page


def test_reply_through_htmx_returns_the_conversation(acme: TenantSetup) -> None:
    first, _ = _tickets(acme)
    client = acme.client(acme.admin)
    response = client.post(
        f"/tickets/{first.number}/messages/",
        {"kind": "reply", "body": "On our way", "status": ""},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert b"On our way" in response.content
    assert response["HX-Trigger"] == "ticket-updated"
    with tenant_context(acme.id):
        first.refresh_from_db()
        assert first.status == "waiting"


def test_empty_reply_is_refused_with_a_message(acme: TenantSetup) -> None:
    first, _ = _tickets(acme)
    response = acme.client(acme.admin).post(
        f"/tickets/{first.number}/messages/", {"kind": "reply", "body": ""}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    assert b"Write a message first." in response.content


def test_light_agent_reply_is_refused_but_note_works(acme: TenantSetup) -> None:
    first, _ = _tickets(acme)
    light = make_member(acme.tenant, MembershipRole.LIGHT_AGENT)
    client = acme.client(light)
    refused = client.post(
        f"/tickets/{first.number}/messages/",
        {"kind": "reply", "body": "hi"},
        HTTP_HX_REQUEST="true",
    )
    assert b"Light agents may write internal notes only." in refused.content
    client.post(f"/tickets/{first.number}/messages/", {"kind": "note", "body": "psst"})
    assert b"psst" in client.get(f"/tickets/{first.number}/").content


def test_sidebar_update_changes_fields(acme: TenantSetup) -> None:
    first, _ = _tickets(acme)
    client = acme.client(acme.admin)
    response = client.post(
        f"/tickets/{first.number}/update/",
        {
            "status": "on_hold",
            "priority": "urgent",
            "department": str(acme.department.id),
            "assignee": str(acme.admin.id),
        },
    )
    assert response.status_code == 302
    with tenant_context(acme.id):
        first.refresh_from_db()
        assert (first.status, first.priority, first.assignee_id) == (
            "on_hold",
            "urgent",
            acme.admin.id,
        )


def test_missing_ticket_page_is_404(acme: TenantSetup) -> None:
    assert acme.client(acme.admin).get("/tickets/4242/").status_code == 404


def test_admin_page_is_for_admins(acme: TenantSetup) -> None:
    agent = make_member(acme.tenant, MembershipRole.AGENT)
    assert acme.client(agent).get("/settings/").status_code == 403
    client = acme.client(acme.admin)
    page = client.get("/settings/")
    assert b"support@acme.localhost" in page.content
    created = client.post("/settings/", {"name": "Billing", "description": ""})
    assert created.status_code == 302
    duplicate = client.post("/settings/", {"name": "billing", "description": ""})
    assert duplicate.status_code == 400


def test_knowledge_base_pages(acme: TenantSetup) -> None:
    from knowledge_base import services as kb_services

    with tenant_context(acme.id):
        category = kb_services.create_category(name="Basics")
        kb_services.create_article(
            category=category,
            title="Reset a password",
            body="Use the link.",
            author=acme.admin,
            publish=True,
        )
    client = acme.client(acme.admin)
    assert b"Reset a password" in client.get("/kb/").content
    assert b"Use the link." in client.get("/kb/reset-a-password/").content
    assert client.get("/kb/nope/").status_code == 404


def test_knowledge_base_is_per_tenant(acme: TenantSetup, globex: TenantSetup) -> None:
    from knowledge_base import services as kb_services

    with tenant_context(globex.id):
        category = kb_services.create_category(name="Secret")
        kb_services.create_article(
            category=category, title="Globex only", body="x", author=None, publish=True
        )
    client = acme.client(acme.admin)
    assert b"Globex only" not in client.get("/kb/").content
    assert client.get("/kb/globex-only/").status_code == 404


def test_sidebar_fragment_for_htmx_refresh(acme: TenantSetup) -> None:
    first, _ = _tickets(acme)
    response = acme.client(acme.admin).get(
        f"/tickets/{first.number}/?fragment=sidebar", HTTP_HX_REQUEST="true"
    )
    assert response.content.lstrip().startswith(b"<aside")
    assert b'id="f-status"' in response.content


def test_ticket_page_message_links_are_the_reversed_urls(acme: TenantSetup) -> None:
    # The page builds each message's action links from one reversal a page (not one
    # `{% url %}` per message): every link is the URL Django reverses for that message.
    with tenant_context(acme.id):
        ticket = make_ticket(subject="Links", body="First")
        second = services.add_customer_message(ticket=ticket, contact=ticket.contact, body="Again")
        reply = services.add_message(
            ticket=ticket,
            kind="reply",
            body="Here",
            actor=acme.admin,
            attachments=[NewAttachment("log.txt", "text/plain", b"log")],
        )
        attachment = reply.attachments.get()
    page = acme.client(acme.admin).get(f"/tickets/{ticket.number}/").content.decode()
    for url in (
        reverse("tickets:message-forward", args=[ticket.number, reply.id]),
        reverse("tickets:message-forward", args=[ticket.number, second.id]),
        reverse("tickets:message-split", args=[ticket.number, second.id]),
        reverse("automation:save-reply-as-canned", args=[reply.id]),
        reverse("tickets:attachment", args=[attachment.id]),
    ):
        assert f'"{url}"' in page, url
    assert "00000000-0000-4000-8000-000000000000" not in page
