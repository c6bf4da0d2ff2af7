"""Personal data: a contact's export (the contact, their tickets and conversation, what they
wrote elsewhere, ratings) and erasure (names, addresses, bodies, attachments, raw mail, the
outbox and the search index gone; tickets kept as anonymous records); admins only, both
in the audit log, another tenant's contacts never reached."""

from __future__ import annotations

import datetime
import io
import json
import re
import zipfile
from typing import Any

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.db import connection
from django.test import Client
from django.utils import timezone

from helpdesk.mail.models import OutboundEmail
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import AuditEvent, MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_contact, make_ticket
from tickets.configuration import services as configuration
from tickets.contacts import personal_data
from tickets.contacts import tasks as contact_tasks
from tickets.models import (
    Attachment,
    Contact,
    InboundEmail,
    Message,
    MessageKind,
    SatisfactionRating,
    Ticket,
    TicketFollower,
)
from tickets.satisfaction import services as satisfaction
from tickets.ticket import services as ticket_services

JSON = "application/json"


def _maria(setup: TenantSetup) -> dict[str, Any]:
    """Maria's history: a ticket with her message (an attachment, the raw mail), an agent's
    reply (in the outbox), an internal note and her rating; she follows and writes on
    another customer's ticket."""
    maria = make_contact(email="maria.rossi@example.test", name="Maria Rossi", phone="+39 06 1")
    ticket = make_ticket(subject="Maria's broken printer", body="My printer smokes.", contact=maria)
    first = Message.objects.get(ticket=ticket, kind=MessageKind.CUSTOMER)
    Attachment.objects.create(
        message=first,
        file=ContentFile(b"%PDF scan of Maria's invoice", name="invoice.pdf"),
        filename="invoice.pdf",
        content_type="application/pdf",
        size=28,
    )
    InboundEmail.objects.create(
        envelope_from="maria.rossi@example.test",
        sha256="0" * 64,
        size=40,
        raw=b"From: Maria Rossi <maria.rossi@example.test>\r\n\r\nMy printer smokes.",
        ticket=ticket,
        ticket_message=first,
    )
    ticket_services.add_message(
        ticket=ticket, kind=MessageKind.REPLY, body="Hello Maria, unplug it.", actor=setup.admin
    )
    ticket_services.add_message(
        ticket=ticket, kind=MessageKind.NOTE, body="Maria called twice.", actor=setup.admin
    )
    ticket_services.change_status(ticket=ticket, status="solved", actor=setup.admin)
    satisfaction.send_due_surveys(now=timezone.now() + datetime.timedelta(days=3))
    rating = SatisfactionRating.objects.get(ticket=ticket)
    satisfaction.record_rating(token=rating.token, score="good", comment="Maria is happy")
    other = make_ticket(subject="Team printer", body="Ours too.")
    ticket_services.add_followers(ticket=other, emails=["maria.rossi@example.test"])
    ticket_services.add_customer_message(
        ticket=other, contact=maria, body="Maria here: same on floor 2."
    )
    return {"maria": maria, "ticket": ticket, "other": other}


def test_export_has_the_contact_tickets_messages_and_ratings(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        history = _maria(acme)
    response = acme.api_client().get(f"/api/v1/contacts/{history['maria'].id}/export/")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["contact"]["email"] == "maria.rossi@example.test"
    assert data["contact"]["phone"] == "+39 06 1"
    [ticket] = data["tickets"]
    assert ticket["number"] == history["ticket"].number
    bodies = [message["body_text"] for message in ticket["messages"]]
    assert "My printer smokes." in bodies
    assert "Hello Maria, unplug it." in bodies
    assert "Maria called twice." not in bodies  # internal notes are the team's
    first = next(m for m in ticket["messages"] if m["body_text"] == "My printer smokes.")
    assert first["attachments"][0]["filename"] == "invoice.pdf"
    assert first["author"] == "contact"
    [elsewhere] = data["messages_on_other_tickets"]
    assert elsewhere["ticket"] == history["other"].number
    assert elsewhere["body_text"] == "Maria here: same on floor 2."
    assert data["followed_tickets"] == [history["other"].number]
    assert data["ratings"][0]["score"] == "good"
    assert data["ratings"][0]["comment"] == "Maria is happy"
    with tenant_context(acme.id):
        entry = AuditEvent.objects.get(action="contact.exported")
    assert (entry.actor_id, entry.target_id) == (acme.admin.id, str(history["maria"].id))
    assert "maria" not in entry.target_label.lower()


def test_erase_removes_the_person_and_keeps_anonymous_tickets(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        history = _maria(acme)
        outbox_before = OutboundEmail.objects.filter(to__icontains="maria.rossi").count()
        assert outbox_before >= 1
    maria, ticket, other = history["maria"], history["ticket"], history["other"]
    response = acme.api_client().post(f"/api/v1/contacts/{maria.id}/erase/")
    assert response.status_code == 200, response.content
    counts = response.json()
    assert (counts["contacts"], counts["tickets"], counts["attachments"]) == (1, 1, 1)
    with tenant_context(acme.id):
        erased = Contact.objects.get(id=maria.id)
        assert erased.name == ""
        assert erased.phone == ""
        assert "maria" not in erased.email
        kept = Ticket.objects.get(id=ticket.id)
        assert (kept.status, kept.contact_id) == ("solved", maria.id)  # still counted
        assert "Maria" not in kept.subject
        texts = " ".join(
            Message.objects.filter(ticket__in=[ticket, other]).values_list("body_text", flat=True)
        )
        assert "Maria" not in texts
        assert "Ours too." in texts  # the other customer's words stay
        assert not Attachment.objects.filter(message__ticket=ticket).exists()
        assert bytes(InboundEmail.objects.get(ticket=ticket).raw) == b""
        assert not OutboundEmail.objects.filter(to__icontains="maria.rossi").exists()
        assert not OutboundEmail.objects.filter(body_text__icontains="Maria").exists()
        rating = SatisfactionRating.objects.get(ticket=ticket)
        assert (rating.score, rating.comment) == ("good", "")
        assert not TicketFollower.objects.filter(contact=maria).exists()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT document::text FROM tickets_ticketsearch WHERE ticket_id = %s",
                [ticket.id],
            )
            document = cursor.fetchone()[0]
        assert "maria" not in document
        assert "rossi" not in document
        assert "printer" not in document
        entry = AuditEvent.objects.get(action="contact.erased")
        assert entry.target_id == str(maria.id)
        assert entry.details["tickets"] == 1
    # The export of an erased person has nothing left to say about them.
    again = acme.api_client().get(f"/api/v1/contacts/{maria.id}/export/").json()
    assert "Maria" not in str(again)


def test_only_admins_and_never_another_tenants_contact(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    with tenant_context(acme.id):
        maria = make_contact(email="maria@example.test", name="Maria")
        agent = make_member(acme.tenant, MembershipRole.AGENT)
    agent_api = acme.api_client(agent)
    refused = agent_api.get(f"/api/v1/contacts/{maria.id}/export/")
    assert refused.status_code == 403
    assert "admins" in refused.json()["error"]["message"]
    assert agent_api.post(f"/api/v1/contacts/{maria.id}/erase/").status_code == 403
    theirs = globex.api_client()
    assert theirs.get(f"/api/v1/contacts/{maria.id}/export/").status_code == 404
    assert theirs.post(f"/api/v1/contacts/{maria.id}/erase/").status_code == 404
    with tenant_context(acme.id):
        assert Contact.objects.get(id=maria.id).name == "Maria"
        assert not AuditEvent.objects.filter(action__startswith="contact.").exists()


@pytest.mark.parametrize("path", ["export/", "erase/"])
def test_unknown_contact_is_a_404(acme: TenantSetup, path: str) -> None:
    api = acme.api_client()
    missing = "0190d2a4-0000-7000-8000-000000000000"
    method = api.get if path == "export/" else api.post
    response = method(f"/api/v1/contacts/{missing}/{path}")
    assert response.status_code == 404
    assert response.json()["error"]["message"]


def test_the_contact_page_downloads_the_zip_and_erases(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        history = _maria(acme)
        agent = make_member(acme.tenant, MembershipRole.AGENT)
    maria = history["maria"]
    client = acme.client(acme.admin)
    page = client.get(f"/contacts/{maria.id}/").content.decode()
    assert 'id="personal-data"' in page
    assert (
        'id="personal-data"'
        not in acme.client(agent).get(f"/contacts/{maria.id}/").content.decode()
    )
    download = client.get(f"/contacts/{maria.id}/export/")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    content = b"".join(download.streaming_content)  # type: ignore[attr-defined]
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = archive.namelist()
        data = json.loads(archive.read("contact.json"))
        [attachment] = [name for name in names if name.startswith("attachments/")]
        assert attachment.endswith("/invoice.pdf")
        assert archive.read(attachment) == b"%PDF scan of Maria's invoice"
    assert data["contact"]["name"] == "Maria Rossi"
    as_json = client.get(f"/contacts/{maria.id}/export/?as=json")
    assert json.loads(as_json.content)["contact"]["email"] == "maria.rossi@example.test"
    assert acme.client(agent).get(f"/contacts/{maria.id}/export/").status_code == 403
    assert acme.client(agent).post(f"/contacts/{maria.id}/erase/").status_code == 403
    erased = client.post(f"/contacts/{maria.id}/erase/")
    assert erased.status_code == 302
    with tenant_context(acme.id):
        assert Contact.objects.get(id=maria.id).name == ""
        forms = list(
            AuditEvent.objects.filter(action="contact.exported").values_list(
                "details__form", flat=True
            )
        )
        assert sorted(forms) == ["json", "zip"]


# --- Retention ---------------------------------------------------------------------------


def _solved(subject: str, at: datetime.datetime) -> Ticket:
    with time_machine.travel(at, tick=False):
        ticket = make_ticket(subject=subject, body=f"Words about {subject}.")
        ticket_services.change_status(ticket=ticket, status="solved", actor=None)
    return ticket


@pytest.mark.parametrize("action", ["anonymize", "delete"])
def test_retention_erases_or_deletes_tickets_solved_long_ago(
    tenant: TenantSetup, action: str
) -> None:
    now = timezone.now()
    old = _solved("Old printer", now - datetime.timedelta(days=220))
    recent = _solved("Recent printer", now - datetime.timedelta(days=20))
    with time_machine.travel(now - datetime.timedelta(days=400), tick=False):
        still_open = make_ticket(subject="Open printer")
    configuration.update_settings(actor=tenant.admin, retention_months=6, retention_action=action)
    assert contact_tasks.apply_retention(tenant_id=str(tenant.id)) == 1
    if action == "anonymize":
        kept = Ticket.objects.get(id=old.id)
        assert (kept.subject, kept.status) == ("[erased]", "solved")
        assert set(Message.objects.filter(ticket=old).values_list("body_text", flat=True)) <= {""}
    else:
        assert not Ticket.objects.filter(id=old.id).exists()
        assert not Message.objects.filter(ticket_id=old.id).exists()
    assert Ticket.objects.get(id=recent.id).subject == "Recent printer"
    assert Ticket.objects.get(id=still_open.id).subject == "Open printer"
    assert contact_tasks.apply_retention(tenant_id=str(tenant.id)) == 0  # done once
    entry = AuditEvent.objects.get(action="retention.applied")
    assert entry.details == {"action": action, "tickets": 1, "months": 6}


def test_no_retention_period_keeps_everything(tenant: TenantSetup) -> None:
    _solved("Ancient", timezone.now() - datetime.timedelta(days=3000))
    assert contact_tasks.apply_retention(tenant_id=str(tenant.id)) == 0
    assert Ticket.objects.filter(subject="Ancient").exists()


def test_months_before_keeps_to_the_calendar() -> None:
    march_31 = datetime.datetime(2026, 3, 31, 12, 0, tzinfo=datetime.UTC)
    assert personal_data.months_before(march_31, 1).date() == datetime.date(2026, 2, 28)
    assert personal_data.months_before(march_31, 13).date() == datetime.date(2025, 2, 28)
    assert personal_data.months_before(march_31, 24).date() == datetime.date(2024, 3, 31)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"retention_months": -1}, "retention_months"),
        ({"retention_months": 1000}, "retention_months"),
        ({"retention_action": "burn"}, "retention_action"),
    ],
)
def test_retention_settings_refuse_bad_input(
    acme: TenantSetup, body: dict[str, Any], field: str
) -> None:
    api = acme.api_client()
    response = api.patch("/api/v1/workspace-settings/", body, content_type=JSON)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    page = acme.client(acme.admin).post(
        "/settings/tickets/retention/", {"retention_months": "soon", "retention_action": "delete"}
    )
    assert page.status_code == 400
    assert "number of months" in page.content.decode()


def test_retention_settings_in_the_api_and_page(acme: TenantSetup) -> None:
    api = acme.api_client()
    changed = api.patch(
        "/api/v1/workspace-settings/",
        {"retention_months": 24, "retention_action": "delete"},
        content_type=JSON,
    ).json()
    assert (changed["retention_months"], changed["retention_action"]) == (24, "delete")
    client = acme.client(acme.admin)
    saved = client.post(
        "/settings/tickets/retention/", {"retention_months": "12", "retention_action": "anonymize"}
    )
    assert saved.status_code == 302
    page = client.get("/settings/tickets/").content.decode()
    assert 'id="retention"' in page
    assert 'value="12"' in page


@pytest.mark.django_db(transaction=True, databases=["default", "ops"])
def test_the_nightly_sweep_covers_tenants_with_a_period(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    with tenant_context(acme.id):
        _solved("Old acme ticket", timezone.now() - datetime.timedelta(days=100))
        configuration.update_settings(actor=acme.admin, retention_months=1)
    with tenant_context(globex.id):
        _solved("Old globex ticket", timezone.now() - datetime.timedelta(days=100))
    assert contact_tasks.sweep_retention() == 1
    with tenant_context(acme.id):
        assert Ticket.objects.filter(subject="[erased]").count() == 1
    with tenant_context(globex.id):
        assert Ticket.objects.filter(subject="Old globex ticket").exists()


# --- From the portal -----------------------------------------------------------------------


def test_a_signed_in_customer_downloads_their_data(
    acme: TenantSetup, globex: TenantSetup, settings: Any
) -> None:
    with tenant_context(acme.id):
        ada = make_contact(email="ada@example.com", name="Ada", notes="Shouts at agents")
        make_ticket(subject="Ada's printer", body="It smokes.", contact=ada)
        make_ticket(subject="Bob's secret", contact=make_contact(email="bob@example.com"))
    client = acme.client()
    assert client.post("/help/my-data/").status_code == 302  # not signed in: to sign in
    client.post("/help/sign-in/", {"email": "ada@example.com"})
    with tenant_context(acme.id):
        mail = OutboundEmail.objects.filter(tags=["portal-sign-in"]).latest("created_at")
    link = re.search(r"http://acme\.localhost(/help/sign-in/[^/\s]+/)", mail.body_text)
    assert link is not None
    client.post(link.group(1))
    assert 'id="my-data"' in client.get("/help/requests/").content.decode()
    assert client.get("/help/my-data/").status_code == 405
    response = client.post("/help/my-data/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="my-data.zip"'
    assert response["Cache-Control"] == "private, no-store"
    content = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.namelist() == ["my-data.json"]  # Ada sent no attachments
        raw = archive.read("my-data.json").decode()
    data = json.loads(raw)
    assert data["contact"]["email"] == "ada@example.com"
    assert "notes" not in data["contact"]  # the agents' remarks stay with the agents
    assert [t["subject"] for t in data["tickets"]] == ["Ada's printer"]
    assert "Bob" not in raw
    with tenant_context(acme.id):
        entry = AuditEvent.objects.get(action="contact.exported")
    assert (entry.actor_id, entry.details["by"]) == (None, "the customer")
    # The session is acme's: on another tenant's host it is nobody.
    other = Client(HTTP_HOST=globex.host)
    other.cookies = client.cookies
    assert other.post("/help/my-data/").status_code == 302
    # Strangers' posts count against the public forms' budget.
    settings.HELPDESK_RATELIMIT_PUBLIC_FORM_IP = "1/hour"
    limited = acme.client()
    codes = [limited.post("/help/my-data/").status_code for _ in range(2)]
    assert codes == [302, 429]
