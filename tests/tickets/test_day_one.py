"""Day-one tools of the agent workspace (issue 19 point 2): contact and company pages,
canned responses, the reply editor (formatting, Cc/Bcc, forwarding, followers, signature),
tickets created by agents, and how mail shows in the thread."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks

from automation import services as automation_services
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_contact, make_ticket
from tickets.configuration import services as configuration
from tickets.errors import AddressInvalid, ConfigurationInvalid
from tickets.mail_out import services as mail_out
from tickets.models import (
    Company,
    Contact,
    Message,
    Notification,
    SatisfactionRating,
    Ticket,
    TicketFollower,
    TicketStatus,
)
from tickets.satisfaction import selectors as satisfaction_selectors
from tickets.ticket import selectors, services

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def _rate(ticket: Ticket, score: str, comment: str = "", days_ago: int = 0) -> SatisfactionRating:
    now = timezone.now() - timedelta(days=days_ago)
    return SatisfactionRating.objects.create(
        ticket=ticket,
        contact=ticket.contact,
        send_after=now,
        sent_at=now,
        score=score,
        comment=comment,
        rated_at=now,
    )


# --- Contact and company pages -------------------------------------------------------


def test_contact_page_lists_requests_in_progress_first(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        carla = make_contact(email="carla@example.test")
        waiting = make_ticket(subject="Waiting one", contact=carla)
        services.change_status(ticket=waiting, status=TicketStatus.WAITING, actor=None)
        make_ticket(subject="Open one", contact=carla)
        solved = make_ticket(subject="Newest but solved", contact=carla)
        services.change_status(ticket=solved, status=TicketStatus.SOLVED, actor=None)
    page = acme.client(acme.admin).get(f"/contacts/{carla.id}/").content.decode()
    table = page[page.index('id="tickets-title"') : page.index('id="satisfaction-title"')]
    assert table.index("Open one") < table.index("Waiting one") < table.index("Newest but solved")


def test_contact_page_shows_every_past_rating_and_the_company_summary(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        company = Company.objects.create(name="Initech", domains=["initech.test"])
        carla = make_contact(email="carla@initech.test", company=company)
        colleague = make_contact(email="bob@initech.test", company=company)
        for number in range(25):  # more than the old limit of 20
            _rate(make_ticket(subject=f"Case {number}", contact=carla), "good", days_ago=number)
        _rate(make_ticket(subject="Bob's case", contact=colleague), "bad", comment="Too slow")
    client = acme.client(acme.admin)
    page = client.get(f"/contacts/{carla.id}/").content.decode()
    assert "25 good, 0 okay, 0 bad, all time" in page
    assert "Case 0" in page
    assert "Case 24" in page
    summary = page[page.index('id="company-rating-summary"') :]
    assert "25 good, 0 okay, 1 bad" in summary[:400]
    company_page = client.get(f"/companies/{company.id}/").content.decode()
    ratings = company_page[company_page.index('id="company-ratings"') :]
    assert "Bob&#x27;s case" in ratings or "Bob's case" in ratings
    assert "Too slow" in ratings
    assert "96% good" in ratings


def test_company_ratings_of_another_tenant_are_not_shown(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    with tenant_context(acme.id):
        company = Company.objects.create(name="Initech", domains=["initech.test"])
        carla = make_contact(email="carla@initech.test", company=company)
        _rate(make_ticket(contact=carla), "good")
    response = globex.client(globex.admin).get(f"/companies/{company.id}/")
    assert response.status_code == 404
    with tenant_context(globex.id):
        assert list(satisfaction_selectors.list_rating_history(company_id=company.id)) == []
        assert satisfaction_selectors.count_rating_history(contact_id=carla.id) == {
            "good": 0,
            "okay": 0,
            "bad": 0,
        }


# --- Canned responses ------------------------------------------------------------------


def test_empty_canned_picker_says_how_to_create_one(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket()
    client = acme.client(acme.admin)
    empty = client.get(f"/tickets/{ticket.number}/canned/").content.decode()
    assert "No canned responses yet" in empty
    assert 'href="/canned-responses/"' in empty
    with tenant_context(acme.id):
        automation_services.create_canned_response(
            title="Password reset", body="Use the link.", actor=acme.admin, scope="tenant"
        )
    missing = client.get(f"/tickets/{ticket.number}/canned/?q=zebra").content.decode()
    assert "No canned responses match “zebra”" in missing
    assert "Password reset" in client.get(f"/tickets/{ticket.number}/canned/").content.decode()


def test_canned_responses_are_in_the_main_navigation(acme: TenantSetup) -> None:
    page = acme.client(acme.admin).get("/inbox/").content.decode()
    nav = page[page.index('id="main-nav"') : page.index("</nav>", page.index('id="main-nav"'))]
    assert 'href="/canned-responses/"' in nav


def test_a_canned_response_that_signs_is_not_signed_twice(
    tenant: TenantSetup, mailoutbox: list[EmailMultiAlternatives]
) -> None:
    ana = make_member(tenant.tenant, name="Ana Agent")
    ticket = make_ticket()
    response = automation_services.create_canned_response(
        title="Thanks", body="Thanks!\n\nBest regards,\n{{ agent.name }}", actor=ana
    )
    body = automation_services.render_canned_response(
        response=response, ticket=ticket, agent=ana, tenant_name="Acme"
    )
    message = services.add_message(ticket=ticket, kind="reply", body=body, actor=ana)
    email = mail_out.build_email(message, tenant_name="Acme")
    assert email.body_text.count("Ana Agent") == 1
    plain = services.add_message(ticket=ticket, kind="reply", body="Done.", actor=ana)
    assert "Done.\n\nAna Agent" in mail_out.build_email(plain, tenant_name="Acme").body_text


def test_the_personal_signature_signs_replies(tenant: TenantSetup) -> None:
    ana = make_member(tenant.tenant, name="Ana Agent")
    configuration.set_member_signature(member=ana, signature="Ana Agent\nTeam lead, Acme")
    ticket = make_ticket()
    message = services.add_message(ticket=ticket, kind="reply", body="Fixed.", actor=ana)
    text = mail_out.build_email(message, tenant_name="Acme").body_text
    assert "Fixed.\n\nAna Agent\nTeam lead, Acme" in text
    signed = services.add_message(
        ticket=ticket, kind="reply", body="Fixed again.\n\nAna Agent\nTeam lead, Acme", actor=ana
    )
    assert mail_out.build_email(signed, tenant_name="Acme").body_text.count("Team lead") == 1
    with pytest.raises(ConfigurationInvalid):
        configuration.set_member_signature(member=ana, signature="x" * 1001)


def test_preferences_page_saves_the_signature(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    response = client.post(
        "/settings/preferences/", {"time_zone": "", "signature": "Best,\nThe Acme admin"}
    )
    assert response.status_code == 302
    assert "The Acme admin" in client.get("/settings/preferences/").content.decode()
    with tenant_context(acme.id):
        assert configuration.member_signature(acme.admin) == "Best,\nThe Acme admin"
    too_long = client.post("/settings/preferences/", {"time_zone": "", "signature": "x" * 1001})
    assert too_long.status_code == 400


# --- The reply editor: formatting, pictures, Cc/Bcc, followers, forwarding ------------


def test_a_formatted_reply_goes_out_as_sanitized_html_with_a_text_part(
    tenant: TenantSetup,
) -> None:
    ana = make_member(tenant.tenant, name="Ana Agent")
    ticket = make_ticket()
    body = (
        "**Bold** and _italics_, a [link](https://example.test/a)\n\n- one\n- two\n\n"
        "> quoted\n\n`code` <script>alert(1)</script> [bad](javascript:alert(1))\n\n"
        "![shot](cid:pasted-1.png) ![remote](https://tracker.example/p.png)"
    )
    picture = services.NewAttachment(
        filename="pasted-1.png", content_type="image/png", payload=PNG, content_id="pasted-1.png"
    )
    message = services.add_message(
        ticket=ticket,
        kind="reply",
        body=body,
        actor=ana,
        body_format="markdown",
        inline_images=[picture],
    )
    html = message.body_html
    assert "<strong>Bold</strong>" in html
    assert "<em>italics</em>" in html
    assert '<a href="https://example.test/a" rel="noopener noreferrer nofollow">link</a>' in html
    assert "<li>one</li>" in html
    assert "<blockquote>" in html
    assert "<code>code</code>" in html
    assert "<script>" not in html
    assert 'href="javascript' not in html
    assert "tracker.example" not in html
    stored = message.attachments.get()
    assert stored.is_inline
    assert f'src="/attachments/{stored.id}/"' in html
    assert "[image: shot]" in message.body_text
    email = mail_out.build_email(message, tenant_name="Acme")
    assert 'src="cid:pasted-1.png"' in email.body_html
    assert "<strong>Bold</strong>" in email.body_html
    assert "**Bold**" in email.body_text
    signed = "[image: shot] ![remote](https://tracker.example/p.png)\n\nAna Agent\n\n"
    assert signed in email.body_text
    assert email.attachments == [
        {
            "path": stored.file.name,
            "filename": "pasted-1.png",
            "content_type": "image/png",
            "content_id": "pasted-1.png",
        }
    ]


def test_a_pasted_picture_is_sent_inline_by_the_one_mail_path(
    tenant: TenantSetup,
    mailoutbox: list[EmailMultiAlternatives],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    ana = make_member(tenant.tenant, name="Ana Agent")
    ticket = make_ticket()
    picture = services.NewAttachment(
        filename="pasted-2.png", content_type="image/png", payload=PNG, content_id="pasted-2.png"
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.add_message(
            ticket=ticket,
            kind="reply",
            body="See ![here](cid:pasted-2.png)",
            actor=ana,
            body_format="markdown",
            inline_images=[picture],
            cc="boss@customer.test",
            bcc="audit@partner.test",
        )
    sent = mailoutbox[-1]
    raw = sent.message().as_string()
    assert "Content-ID: <pasted-2.png>" in raw
    assert "Content-Disposition: inline" in raw
    assert sent.alternatives[0][1] == "text/html"
    assert sent.cc == ["boss@customer.test"]
    assert sent.bcc == ["audit@partner.test"]
    assert "audit@partner.test" not in raw  # a blind copy is in no header


def test_cc_and_bcc_are_checked(tenant: TenantSetup) -> None:
    ana = make_member(tenant.tenant, name="Ana Agent")
    ticket = make_ticket()
    with pytest.raises(AddressInvalid, match="not an email address"):
        services.add_message(ticket=ticket, kind="reply", body="Hi", actor=ana, cc="nope")
    with pytest.raises(AddressInvalid, match="own addresses"):
        services.add_message(
            ticket=ticket, kind="reply", body="Hi", actor=ana, bcc=tenant.mailbox.address
        )
    with pytest.raises(AddressInvalid, match="Only a public reply"):
        services.add_message(ticket=ticket, kind="note", body="Hi", actor=ana, cc="a@b.test")
    many = ", ".join(f"p{n}@example.test" for n in range(21))
    with pytest.raises(AddressInvalid, match="at most 20"):
        services.add_message(ticket=ticket, kind="reply", body="Hi", actor=ana, cc=many)
    message = services.add_message(
        ticket=ticket,
        kind="reply",
        body="Hi",
        actor=ana,
        cc=f"{ticket.contact.email}; x@example.test X@EXAMPLE.test",
        bcc="x@example.test, y@example.test",
    )
    assert message.email_cc == ["x@example.test"]  # not the requester, no repeats
    assert message.email_bcc == ["y@example.test"]


def test_followers_are_added_and_removed_from_the_reply_editor(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket()
    client = acme.client(acme.admin)
    url = f"/tickets/{ticket.number}/followers/"
    added = client.post(
        url, {"add": "boss@customer.test, cfo@customer.test"}, HTTP_HX_REQUEST="true"
    )
    assert added.status_code == 200
    fragment = added.content.decode()
    assert 'id="followers"' in fragment
    assert "boss@customer.test" in fragment
    with tenant_context(acme.id):
        boss = Contact.objects.get(email="boss@customer.test")
        assert TicketFollower.objects.filter(ticket=ticket).count() == 2
    removed = client.post(url, {"remove": str(boss.id)}, HTTP_HX_REQUEST="true")
    assert "boss@customer.test" not in removed.content.decode()
    with tenant_context(acme.id):
        assert TicketFollower.objects.filter(ticket=ticket).count() == 1
        history = [m.event for m in Message.objects.filter(ticket=ticket, kind="event")]
        assert {"field": "followers", "from": None, "to": "boss@customer.test"} in history
        assert {"field": "followers", "from": "boss@customer.test", "to": None} in history
    bad = client.post(url, {"add": "not an address"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 400
    assert "is not an email address" in bad.content.decode()
    unknown = client.post(url, {"remove": "not-a-uuid"}, HTTP_HX_REQUEST="true")
    assert unknown.status_code == 400
    plain = client.post(url, {"add": "ops@customer.test"})
    assert plain.status_code == 302


def test_light_agents_and_other_tenants_cannot_change_followers(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket()
    light = make_member(acme.tenant, role=MembershipRole.LIGHT_AGENT)
    refused = acme.client(light).post(
        f"/tickets/{ticket.number}/followers/", {"add": "a@b.test"}, HTTP_HX_REQUEST="true"
    )
    assert refused.status_code == 400
    assert "internal notes only" in refused.content.decode()
    other = globex.client(globex.admin).post(
        f"/tickets/{ticket.number}/followers/", {"add": "a@b.test"}
    )
    assert other.status_code == 404
    with tenant_context(acme.id):
        assert not TicketFollower.objects.filter(ticket=ticket).exists()


def test_forwarding_emails_the_message_and_keeps_it_internal(
    acme: TenantSetup,
    mailoutbox: list[EmailMultiAlternatives],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket(subject="Printer on fire", body="Smoke everywhere.")
        first = Message.objects.get(ticket=ticket, kind="customer")
        services.store_attachments(
            message=first,
            attachments=[
                services.NewAttachment(filename="photo.png", content_type="image/png", payload=PNG)
            ],
        )
    client = acme.client(acme.admin)
    url = f"/tickets/{ticket.number}/messages/{first.id}/forward/"
    assert "Smoke everywhere." in client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url,
            {
                "to": "vendor@printers.test",
                "note": "Can you **check** this?",
                "body_format": "markdown",
            },
        )
    assert response.status_code == 302
    sent = mailoutbox[-1]
    assert sent.to == ["vendor@printers.test"]
    assert sent.cc == []
    assert sent.subject.startswith("Fwd: Printer on fire")
    assert "Smoke everywhere." in sent.body
    assert "Forwarded message" in sent.body
    assert "<strong>check</strong>" in str(sent.alternatives[0][0])
    assert [name for name, _, _ in sent.attachments] == ["photo.png"]
    with tenant_context(acme.id):
        forward = Message.objects.get(ticket=ticket, kind="forward")
        assert forward.email_to == ["vendor@printers.test"]
        public = list(selectors.list_public_thread(ticket))
        assert forward.id not in {m.id for m in public}
    page = client.get(f"/tickets/{ticket.number}/").content.decode()
    assert "Forwarded to vendor@printers.test" in page
    bad = client.post(url, {"to": "nobody"})
    assert bad.status_code == 400
    assert "not an email address" in bad.content.decode()


def test_forwarding_is_refused_to_light_agents_and_other_tenants(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket()
        first = Message.objects.get(ticket=ticket, kind="customer")
    light = make_member(acme.tenant, role=MembershipRole.LIGHT_AGENT)
    url = f"/tickets/{ticket.number}/messages/{first.id}/forward/"
    refused = acme.client(light).post(url, {"to": "a@b.test"})
    assert refused.status_code == 403
    assert "internal notes only" in refused.content.decode()
    assert globex.client(globex.admin).get(url).status_code == 404
    with tenant_context(acme.id):
        other = make_ticket()
    wrong = acme.client(acme.admin).get(f"/tickets/{other.number}/messages/{first.id}/forward/")
    assert wrong.status_code == 404


def test_a_note_mentions_and_is_formatted(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket()
    ana = make_member(acme.tenant, email="ana@acme.test", name="Ana Agent")
    client = acme.client(acme.admin)
    page = client.get(f"/tickets/{ticket.number}/").content.decode()
    assert 'data-handle="ana"' in page  # the @mention autocomplete's list
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/tickets/{ticket.number}/messages/",
            {"kind": "note", "body": "@ana see **this**", "body_format": "markdown"},
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200
    assert "<strong>this</strong>" in response.content.decode()
    with tenant_context(acme.id):
        assert Notification.objects.filter(member=ana, kind="mentioned").exists()


def test_the_preview_renders_the_markdown(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    response = client.post(
        "/tickets/preview/", {"body": "**hi** ![x](cid:pasted-1.png) <b>raw</b>"}
    )
    html = response.content.decode()
    assert "<strong>hi</strong>" in html
    assert "[image: x]" in html
    assert "<b>raw</b>" not in html
    assert acme.client().post("/tickets/preview/", {"body": "x"}).status_code == 302


# --- Tickets created by agents ---------------------------------------------------------


def test_an_agent_emails_a_customer_as_a_new_ticket(
    acme: TenantSetup,
    mailoutbox: list[EmailMultiAlternatives],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    client = acme.client(acme.admin)
    assert "I am emailing a customer" in client.get("/tickets/new/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/tickets/new/",
            {
                "channel": "email",
                "contact_email": "dora@customer.test",
                "contact_name": "Dora",
                "subject": "Your order is delayed",
                "body": "Hello Dora,\n\nyour order ships **Monday**.",
                "body_format": "markdown",
                "department": str(acme.department.id),
                "priority": "normal",
                "cc": "boss@customer.test",
            },
        )
    assert response.status_code == 302
    with tenant_context(acme.id):
        ticket = Ticket.objects.get(subject="Your order is delayed")
        assert ticket.channel == "email"
        assert ticket.status == "waiting"
        assert ticket.assignee_id == acme.admin.id
        assert ticket.contact.name == "Dora"
        kinds = list(
            Message.objects.filter(ticket=ticket)
            .exclude(kind="event")
            .values_list("kind", flat=True)
        )
        assert kinds == ["reply"]
    assert response["Location"] == f"/tickets/{ticket.number}/"
    sent = mailoutbox[-1]
    assert sent.to == ["dora@customer.test"]
    assert sent.cc == ["boss@customer.test"]
    assert "<strong>Monday</strong>" in str(sent.alternatives[0][0])
    assert f"[#{ticket.number}]" in sent.subject


def test_an_agent_logs_a_phone_call_as_a_new_ticket(
    acme: TenantSetup, mailoutbox: list[EmailMultiAlternatives]
) -> None:
    client = acme.client(acme.admin)
    response = client.post(
        "/tickets/new/",
        {
            "channel": "phone",
            "contact_email": "eve@customer.test",
            "subject": "Called about the invoice",
            "body": "Eve says the invoice is **twice** the quote.",
            "body_format": "markdown",
            "department": str(acme.department.id),
            "priority": "high",
        },
    )
    assert response.status_code == 302
    with tenant_context(acme.id):
        ticket = Ticket.objects.get(subject="Called about the invoice")
        assert (ticket.channel, ticket.status, ticket.priority) == ("phone", "open", "high")
        first = Message.objects.get(ticket=ticket, kind="customer")
        assert first.author_contact_id == ticket.contact_id
        assert "<strong>twice</strong>" in first.body_html
    assert mailoutbox == []


def test_a_logged_phone_call_says_who_logged_it_in_the_timeline(acme: TenantSetup) -> None:
    agent = make_member(acme.tenant, name="Pia Phone")
    client = acme.client(agent)
    response = client.post(
        "/tickets/new/",
        {
            "channel": "phone",
            "contact_email": "fred@customer.test",
            "subject": "Called about a refund",
            "body": "Fred wants his money back.",
            "department": str(acme.department.id),
            "priority": "normal",
        },
    )
    assert response.status_code == 302
    with tenant_context(acme.id):
        ticket = Ticket.objects.get(subject="Called about a refund")
        event = Message.objects.get(ticket=ticket, kind="event")
        assert event.event["field"] == "phone_call"
        assert event.author_member_id == agent.id
        first = Message.objects.get(ticket=ticket, kind="customer")
        assert first.created_at <= event.created_at
    page = client.get(f"/tickets/{ticket.number}/").content.decode()
    assert "Pia Phone logged the phone call · <time" in page  # the thread
    assert "Pia Phone: logged the phone call</li>" in page  # the history
    # A mail or a portal request opens a ticket with no such event.
    with tenant_context(acme.id):
        other = make_ticket(subject="By mail")
        assert not Message.objects.filter(ticket=other, kind="event").exists()


def test_new_ticket_bad_input_and_refusals(acme: TenantSetup, globex: TenantSetup) -> None:
    client = acme.client(acme.admin)
    base = {
        "channel": "email",
        "contact_email": "dora@customer.test",
        "subject": "Hi",
        "body": "Hello",
        "department": str(acme.department.id),
        "priority": "normal",
    }
    missing = client.post("/tickets/new/", {**base, "contact_email": "nope"})
    assert missing.status_code == 400
    assert "valid email" in missing.content.decode()
    own = client.post("/tickets/new/", {**base, "contact_email": acme.mailbox.address})
    assert own.status_code == 400
    assert "own mailbox" in own.content.decode()
    foreign = client.post("/tickets/new/", {**base, "department": str(globex.department.id)})
    assert foreign.status_code == 400
    bad_cc = client.post("/tickets/new/", {**base, "cc": "x"})
    assert bad_cc.status_code == 400
    light = make_member(acme.tenant, role=MembershipRole.LIGHT_AGENT)
    refused = acme.client(light).get("/tickets/new/")
    assert refused.status_code == 403
    assert "internal notes only" in refused.content.decode()
    with tenant_context(acme.id):
        assert not Ticket.objects.exists()


# --- How mail shows in the thread -----------------------------------------------------


def test_html_mail_is_shown_formatted_and_automatic_mail_on_one_line(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket(content=services.MessageContent(html="<p>Hello <b>bold</b> world</p>"))
        services.queue_email_message(
            ticket=ticket, body="We got your request.", is_automatic=True, subject="Received [#1]"
        )
    page = acme.client(acme.admin).get(f"/tickets/{ticket.number}/").content.decode()
    customer = page[page.index('class="message kind-customer') :]
    assert '<div class="html-body"><p>Hello <b>bold</b> world</p></div>' in customer[:2000]
    assert "<summary>Plain text</summary>" in customer[:3000]
    automatic = page[page.index('class="message automatic') :]
    assert automatic.startswith('class="message automatic kind-reply"')
    assert (
        '<summary><span class="automatic-line"><strong>Acme</strong> · Automatic reply · '
        '<span class="muted">Received [#1]</span>' in automatic
    )


# --- The API ---------------------------------------------------------------------------


def test_api_reply_with_formatting_cc_and_bcc(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket()
    client = acme.api_client()
    response = client.post(
        f"/api/v1/tickets/{ticket.number}/messages/",
        {
            "kind": "reply",
            "body": "**Done**",
            "body_format": "markdown",
            "cc": ["boss@customer.test"],
            "bcc": ["audit@partner.test"],
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["body_html"] == "<p><strong>Done</strong></p>"
    assert (data["email_cc"], data["email_bcc"]) == (["boss@customer.test"], ["audit@partner.test"])
    bad = client.post(
        f"/api/v1/tickets/{ticket.number}/messages/",
        {"kind": "note", "body": "x", "cc": ["a@b.test"]},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "address_invalid"
    wrong = client.post(
        f"/api/v1/tickets/{ticket.number}/messages/",
        {"kind": "reply", "body": "x", "cc": ["nope"], "body_format": "html"},
        content_type="application/json",
    )
    assert wrong.status_code == 400
    assert set(wrong.json()["error"]["fields"]) == {"cc", "body_format"}


def test_api_followers_and_forward(acme: TenantSetup, globex: TenantSetup) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket()
        first = Message.objects.get(ticket=ticket, kind="customer")
    client = acme.api_client()
    url = f"/api/v1/tickets/{ticket.number}/followers/"
    added = client.post(url, {"emails": ["boss@customer.test"]}, content_type="application/json")
    assert added.status_code == 201
    assert [f["email"] for f in added.json()] == ["boss@customer.test"]
    assert [f["email"] for f in client.get(url).json()] == ["boss@customer.test"]
    follower_id = added.json()[0]["id"]
    assert client.delete(f"{url}{follower_id}/").status_code == 204
    assert client.delete(f"{url}{follower_id}/").status_code == 404
    assert client.get(url).json() == []
    assert client.post(url, {"emails": []}, content_type="application/json").status_code == 400
    forward = client.post(
        f"/api/v1/tickets/{ticket.number}/messages/{first.id}/forward/",
        {"to": ["vendor@printers.test"], "note": "FYI"},
        content_type="application/json",
    )
    assert forward.status_code == 201
    assert (forward.json()["kind"], forward.json()["email_to"]) == (
        "forward",
        ["vendor@printers.test"],
    )
    # Another tenant's token: the ticket does not exist there.
    other = globex.api_client()
    assert other.get(url).status_code == 404
    assert (
        other.post(url, {"emails": ["a@b.test"]}, content_type="application/json").status_code
        == 404
    )
    assert (
        other.post(
            f"/api/v1/tickets/{ticket.number}/messages/{first.id}/forward/",
            {"to": ["a@b.test"]},
            content_type="application/json",
        ).status_code
        == 404
    )
    light = make_member(acme.tenant, role=MembershipRole.LIGHT_AGENT)
    refused = acme.api_client(light).post(
        url, {"emails": ["a@b.test"]}, content_type="application/json"
    )
    assert refused.status_code == 403
