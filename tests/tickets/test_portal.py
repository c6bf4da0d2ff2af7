"""The customer side without login: the help center's request form (a ticket on the
channel "web") and the tracking page's reply, solve and attachments. Other tenants'
tickets, internal notes and bad tokens are 404; spam is limited; bad input is a 4xx."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from automation.rules import services as rule_services
from helpdesk.mail.models import OutboundEmail
from helpdesk.tenancy.context import tenant_context
from knowledge_base.models import Deflection
from tests.conftest import TenantSetup
from tests.factories.knowledge_base import make_article, make_category
from tests.factories.tickets import make_contact, make_ticket
from tickets.contacts import services as contact_services
from tickets.mail_out import tracking
from tickets.models import Attachment, Company, Message, MessageKind, Ticket, TicketStatus

FORM = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "subject": "Printer on fire",
    "message": "It is on fire again.",
    "website": "",
}


def _post(client: Client, **changes: Any) -> Any:
    return client.post("/help/request/", {**FORM, **changes})


def test_request_form_creates_a_web_ticket_that_rules_see(
    acme: TenantSetup, django_capture_on_commit_callbacks: Any
) -> None:
    with tenant_context(acme.id):
        rule_services.create_rule(
            actor=acme.admin,
            name="Web requests",
            actions=[{"action": "add_tags", "value": ["from-web"]}],
            conditions=[{"field": "channel", "operator": "is", "value": "web"}],
        )
    client = acme.client()
    assert client.get("/help/request/").status_code == 200
    upload = SimpleUploadedFile("photo.txt", b"smoke", content_type="text/plain")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/help/request/", {**FORM, "attachments": [upload]})
    assert response.status_code == 200
    assert "we received your request" in response.content.decode()
    with tenant_context(acme.id):
        ticket = Ticket.objects.get()
        assert ticket.channel == "web"
        assert ticket.subject == "Printer on fire"
        assert ticket.contact.email == "ada@example.com"
        assert ticket.contact.name == "Ada Lovelace"
        assert list(ticket.tags.values_list("name", flat=True)) == ["from-web"]
        first = Message.objects.filter(ticket=ticket, kind=MessageKind.CUSTOMER).get()
        assert Attachment.objects.get(message=first).filename == "photo.txt"
        mail = OutboundEmail.objects.get(to=["ada@example.com"])
        # The link carries a signing time, so it is compared by the ticket it opens.
        token = re.search(r"http://acme\.localhost/track/([^/\s]+)/", mail.body_text)
        assert token is not None
        assert tracking.ticket_id_from_token(token.group(1)) == ticket.id


def test_request_form_honeypot_makes_no_ticket(acme: TenantSetup) -> None:
    response = _post(acme.client(), website="http://spam.example")
    assert response.status_code == 200
    with tenant_context(acme.id):
        assert not Ticket.objects.exists()


def test_request_form_bad_input_is_400_with_clear_errors(acme: TenantSetup) -> None:
    client = acme.client()
    response = _post(client, email="not-an-address", subject="")
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter a valid email address." in html
    assert "This field is required." in html
    assert _post(client, message="x" * 20_001).status_code == 400
    files = [SimpleUploadedFile(f"f{i}.txt", b"x") for i in range(6)]
    assert (
        "at most 5 files"
        in client.post("/help/request/", {**FORM, "attachments": files}).content.decode()
    )
    big = SimpleUploadedFile("big.bin", b"x" * (10 * 1024 * 1024 + 1))
    assert client.post("/help/request/", {**FORM, "attachments": [big]}).status_code == 400
    assert _post(client, subject="nul \x00 byte").status_code == 400
    assert client.put("/help/request/").status_code == 405
    with tenant_context(acme.id):
        assert not Ticket.objects.exists()


def test_request_form_is_rate_limited_per_email_and_per_ip(
    acme: TenantSetup, settings: Any
) -> None:
    settings.HELPDESK_RATELIMIT_PUBLIC_FORM_ADDRESS = "2/hour"
    settings.HELPDESK_RATELIMIT_PUBLIC_FORM_IP = "4/hour"
    client = acme.client()
    codes = [_post(client).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    codes = [_post(client, email=f"n{i}@example.com").status_code for i in range(2)]
    assert codes == [200, 429]  # the address budget is spent: 4 posts from this client
    with tenant_context(acme.id):
        assert Ticket.objects.count() == 3


def test_request_form_only_on_a_tenant_host(db: None) -> None:
    assert Client(HTTP_HOST="localhost").get("/help/request/").status_code == 404


def test_a_request_sent_after_a_suggestion_is_not_a_deflection(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        make_article(make_category("Basics"), "Printer fire", "Unplug it.")
    client = acme.client()
    client.get("/help/request/")
    client.get("/help/printer-fire/?from=request")
    with tenant_context(acme.id):
        assert Deflection.objects.get().asked_anyway is False
    _post(client)
    with tenant_context(acme.id):
        assert Deflection.objects.get().asked_anyway is True


@pytest.fixture
def tracked(acme: TenantSetup) -> tuple[Ticket, str]:
    with tenant_context(acme.id):
        ticket = make_ticket(subject="Where is my order?")
        Message.objects.create(
            ticket=ticket, kind=MessageKind.NOTE, body_text="Internal: VIP customer"
        )
    return ticket, tracking.tracking_token(ticket.id)


def test_tracking_page_never_shows_internal_notes(
    acme: TenantSetup, tracked: tuple[Ticket, str]
) -> None:
    _, token = tracked
    html = acme.client().get(f"/track/{token}/").content.decode()
    assert "Where is my order?" in html
    assert "VIP customer" not in html
    assert 'action="/track/' in html
    assert "My request is solved" in html


def test_customer_replies_with_an_attachment_and_marks_solved(
    acme: TenantSetup, tracked: tuple[Ticket, str]
) -> None:
    ticket, token = tracked
    client = acme.client()
    upload = SimpleUploadedFile("receipt.txt", b"paid", content_type="text/plain")
    response = client.post(
        f"/track/{token}/reply/", {"body": "Here is the receipt.", "attachments": [upload]}
    )
    assert response.status_code == 302
    page = client.get(f"/track/{token}/").content.decode()
    assert "Here is the receipt." in page
    assert "receipt.txt" in page
    with tenant_context(acme.id):
        reply = Message.objects.get(ticket=ticket, body_text="Here is the receipt.")
        assert reply.kind == MessageKind.CUSTOMER
        assert reply.author_contact_id == ticket.contact_id
        attachment = Attachment.objects.get(message=reply)
    download = client.get(f"/track/{token}/files/{attachment.id}/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"paid"  # type: ignore[attr-defined]
    assert client.post(f"/track/{token}/solve/").status_code == 302
    with tenant_context(acme.id):
        ticket.refresh_from_db()
        assert ticket.status == TicketStatus.SOLVED
    # Solved, then answered again: the request opens again.
    client.post(f"/track/{token}/reply/", {"body": "Actually, one more thing."})
    with tenant_context(acme.id):
        ticket.refresh_from_db()
        assert ticket.status == TicketStatus.OPEN


def test_tracking_actions_are_404_for_bad_tokens_and_other_tenants(
    acme: TenantSetup, globex: TenantSetup, tracked: tuple[Ticket, str]
) -> None:
    ticket, token = tracked
    with tenant_context(acme.id):
        note = Message.objects.get(ticket=ticket, kind=MessageKind.NOTE)
        hidden = Attachment.objects.create(
            message=note, filename="secret.txt", content_type="text/plain", size=1, file="x/secret"
        )
    other = globex.client()
    assert other.get(f"/track/{token}/").status_code == 404
    assert other.post(f"/track/{token}/reply/", {"body": "hi"}).status_code == 404
    assert other.post(f"/track/{token}/solve/").status_code == 404
    client = acme.client()
    assert client.post("/track/forged/reply/", {"body": "hi"}).status_code == 404
    assert client.get(f"/track/{token}/files/{hidden.id}/").status_code == 404
    assert client.get(f"/track/{token}/reply/").status_code == 405
    with tenant_context(acme.id):
        assert Message.objects.filter(ticket=ticket, body_text="hi").count() == 0


def test_tracking_reply_bad_input_is_not_a_500(
    acme: TenantSetup, tracked: tuple[Ticket, str]
) -> None:
    ticket, token = tracked
    client = acme.client()
    assert client.post(f"/track/{token}/reply/", {"body": ""}).status_code == 302
    assert client.post(f"/track/{token}/reply/", {"body": "x" * 20_001}).status_code == 302
    with tenant_context(acme.id):
        ticket.status = TicketStatus.CLOSED
        ticket.save(update_fields=["status"])
    assert client.post(f"/track/{token}/reply/", {"body": "late"}).status_code == 302
    assert client.post(f"/track/{token}/solve/").status_code == 302
    with tenant_context(acme.id):
        assert not Message.objects.filter(ticket=ticket, body_text="late").exists()


def test_tracking_posts_are_rate_limited(
    acme: TenantSetup, tracked: tuple[Ticket, str], settings: Any
) -> None:
    settings.HELPDESK_RATELIMIT_PUBLIC_FORM_IP = "2/hour"
    _, token = tracked
    client = acme.client()
    codes = [client.post(f"/track/{token}/reply/", {"body": f"n{i}"}).status_code for i in range(3)]
    assert codes == [302, 302, 429]


def _sign_in_link(acme: TenantSetup, email: str) -> str:
    with tenant_context(acme.id):
        mail = OutboundEmail.objects.filter(tags=["portal-sign-in"], to=[email]).latest(
            "created_at"
        )
    found = re.search(r"http://acme\.localhost(/help/sign-in/[^/\s]+/)", mail.body_text)
    assert found is not None
    return found.group(1)


def test_customer_signs_in_with_a_one_time_link_and_sees_their_requests(
    acme: TenantSetup,
) -> None:
    with tenant_context(acme.id):
        ada = make_contact(email="ada@example.com", name="Ada")
        make_ticket(subject="Ada's printer", contact=ada)
        make_ticket(subject="Someone else's secret", contact=make_contact(email="bob@example.com"))
    client = acme.client()
    assert client.get("/help/requests/").status_code == 302  # not signed in
    response = client.post("/help/sign-in/", {"email": "ADA@example.com"})
    assert "If we know this address" in response.content.decode()
    link = _sign_in_link(acme, "ada@example.com")
    assert "Show my requests" in client.get(link).content.decode()  # a GET uses nothing
    assert client.post(link).status_code == 302
    page = client.get("/help/requests/").content.decode()
    assert "Ada&#x27;s printer" in page
    assert "Someone else" not in page
    assert client.post(link).status_code == 400  # once only
    client.post("/help/sign-out/")
    assert client.get("/help/requests/").status_code == 302


def test_a_customer_merged_into_another_contact_keeps_their_requests(
    acme: TenantSetup,
) -> None:
    """Signed in (or holding a link) before an agent merged the contact: the requests
    moved to the survivor, and the portal showed an empty list."""
    with tenant_context(acme.id):
        ada = make_contact(email="ada@example.com", name="Ada")
        main = make_contact(email="ada.main@example.com", name="Ada Main")
        make_ticket(subject="Ada printer", contact=ada)
    client = acme.client()
    client.post("/help/sign-in/", {"email": "ada@example.com"})
    client.post(_sign_in_link(acme, "ada@example.com"))
    assert "Ada printer" in client.get("/help/requests/").content.decode()
    later = acme.client()
    later.post("/help/sign-in/", {"email": "ada@example.com"})
    unused = _sign_in_link(acme, "ada@example.com")
    with tenant_context(acme.id):
        contact_services.merge_contacts(survivor=main, duplicate=ada, actor=acme.admin)
    assert "Ada printer" in client.get("/help/requests/").content.decode()
    later.post(unused)
    assert "Ada printer" in later.get("/help/requests/").content.decode()


def test_unknown_address_gets_the_same_answer_and_no_mail(acme: TenantSetup) -> None:
    response = acme.client().post("/help/sign-in/", {"email": "nobody@example.com"})
    assert "If we know this address" in response.content.decode()
    with tenant_context(acme.id):
        assert not OutboundEmail.objects.filter(tags=["portal-sign-in"]).exists()


def test_company_requests_show_only_where_the_tenant_allows(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        company = Company.objects.create(name="Initech")
        ada = make_contact(email="ada@initech.test", company=company)
        make_ticket(
            subject="Colleague's request",
            contact=make_contact(email="bo@initech.test", company=company),
        )
        make_ticket(subject="Ada's own", contact=ada)
    client = acme.client()
    client.post("/help/sign-in/", {"email": "ada@initech.test"})
    client.post(_sign_in_link(acme, "ada@initech.test"))
    assert "Colleague" not in client.get("/help/requests/").content.decode()
    acme.tenant.portal_company_requests = True
    acme.tenant.save(update_fields=["portal_company_requests"])
    assert "Colleague" in client.get("/help/requests/").content.decode()


def test_sign_in_links_and_sessions_do_not_cross_tenants(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    with tenant_context(acme.id):
        make_contact(email="ada@example.com")
    acme.client().post("/help/sign-in/", {"email": "ada@example.com"})
    link = _sign_in_link(acme, "ada@example.com")
    other = globex.client()
    assert other.post(link).status_code == 400  # the contact is not globex's
    assert other.get("/help/requests/").status_code == 302


def test_sign_in_bad_input_and_rate_limits(acme: TenantSetup, settings: Any) -> None:
    settings.HELPDESK_RATELIMIT_PUBLIC_FORM_ADDRESS = "2/hour"
    client = acme.client()
    assert client.post("/help/sign-in/", {"email": "not an address"}).status_code == 400
    assert client.post("/help/sign-in/forged-token/").status_code == 400
    assert client.put("/help/sign-in/").status_code == 405
    codes = [
        client.post("/help/sign-in/", {"email": "x@example.com"}).status_code for _ in range(3)
    ]
    assert codes == [200, 200, 429]


def test_german_tenant_gets_a_german_help_center_and_mail(
    acme: TenantSetup, django_capture_on_commit_callbacks: Any
) -> None:
    acme.tenant.language = "de"
    acme.tenant.save(update_fields=["language"])
    client = acme.client()
    home = client.get("/help/").content.decode()
    assert '<html lang="de">' in home
    assert "Wie können wir helfen?" in home
    assert "Ihre E-Mail-Adresse" in client.get("/help/request/").content.decode()
    with tenant_context(acme.id):
        make_contact(email="ada@example.com")
    client.post("/help/sign-in/", {"email": "ada@example.com"})
    with tenant_context(acme.id):
        mail = OutboundEmail.objects.get(tags=["portal-sign-in"])
    assert mail.subject == "Ihr Anmeldelink für Acme"
