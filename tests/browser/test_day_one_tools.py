"""In a real browser, at 390, 1280, 1366 and 1440 px: the day-one tools of issue 19. An
agent opens a ticket by emailing a customer; the reply editor formats (toolbar and keys),
takes a pasted picture, copies people (Cc, Bcc, followers added and removed), previews,
and mentions a colleague in a note; a message is forwarded; HTML mail shows formatted and
an automatic mail takes one line; the contact page lists open requests first and every
rating. Nothing breaks the Content-Security-Policy and no page scrolls sideways."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect
from pytest_django.live_server_helper import LiveServer

from helpdesk.tenancy.context import tenant_context
from tests.browser.conftest import save_screenshot, sign_in, tenant_url, widths_here
from tests.browser.test_csp import _watch
from tests.conftest import make_tenant
from tests.factories.accounts import make_member
from tests.factories.tickets import make_contact, make_ticket
from tickets.models import (
    Company,
    Message,
    SatisfactionRating,
    Ticket,
    TicketFollower,
    TicketStatus,
)
from tickets.ticket import services

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# 1280 drives each flow for the desktop: its layout checks run at 1366 and 1440 too.
WIDTHS = [1280, 390]
PNG = base64.b64encode(
    base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
).decode()
PASTE_PICTURE = """([selector, data]) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], "image.png", { type: "image/png" }));
  const box = document.querySelector(selector);
  box.focus();
  const init = { clipboardData: transfer, bubbles: true, cancelable: true };
  box.dispatchEvent(new ClipboardEvent("paste", init));
}"""


def _fits(page: Page, shot: str = "") -> None:
    """No sideways scrolling at each width this page stands for (and its picture)."""
    for width in widths_here(page):
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], f"{page.url}: {widths[0]} px wide in {widths[1]}"
        if shot:
            save_screenshot(page, f"{shot}-{width}.png")


def _select_all_and(page: Page, selector: str, text: str) -> None:
    page.locator(selector).fill(text)
    page.locator(selector).press("ControlOrMeta+a")


@pytest.mark.parametrize("width", WIDTHS)
def test_an_agent_emails_a_customer_as_a_new_ticket(
    live_server: LiveServer, page: Page, width: int
) -> None:
    acme = make_tenant("acme", "Acme")
    problems = _watch(page)
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server, "acme", "admin@acme.test")
    page.get_by_role("link", name="New ticket").click()
    page.wait_for_url("**/tickets/new/")
    page.get_by_label("Customer email").fill("dora@customer.test")
    page.get_by_label("Customer name").fill("Dora Diaz")
    page.get_by_label("Subject").fill("Your order ships Monday")
    _select_all_and(page, "#new-body", "Monday")
    page.get_by_role("button", name="Bold").click()
    page.locator("#new-body").press("End")
    page.locator("#new-body").type("\n- a tracking link follows")
    assert page.locator("#new-body").input_value() == "**Monday**\n- a tracking link follows"
    _fits(page, "new-ticket")
    page.get_by_role("button", name="Create ticket").click()
    page.wait_for_url("**/tickets/1/")
    page.get_by_text("Ticket #1 created: you emailed the customer.").wait_for()
    reply = page.locator("article.kind-reply").first
    expect(reply.locator(".formatted-body strong")).to_have_text("Monday", use_inner_text=True)
    _fits(page)
    with tenant_context(acme.id):
        ticket = Ticket.objects.get(number=1)
        assert (ticket.channel, ticket.status) == ("email", "waiting")
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_reply_editor(live_server: LiveServer, page: Page, width: int) -> None:
    acme = make_tenant("acme", "Acme")
    make_member(acme.tenant, email="ben@acme.test", name="Ben Baker")
    with tenant_context(acme.id):
        ticket = make_ticket(
            subject="Printer on fire",
            contact=make_contact(name="Carla Diaz", email="carla@customer.test"),
        )
    problems = _watch(page)
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server, "acme", "admin@acme.test", f"/tickets/{ticket.number}/")
    page.locator("#followers").wait_for()

    # Followers: added and removed from the editor, without sending anything.
    page.get_by_label("Add followers (addresses)").fill("boss@customer.test, cfo@customer.test")
    page.get_by_label("Add followers (addresses)").press("Enter")
    page.locator("#followers .chip", has_text="cfo@customer.test").wait_for()
    page.get_by_role("button", name="Stop copying cfo@customer.test").click()
    page.locator("#followers .chip", has_text="cfo@customer.test").wait_for(state="detached")
    with tenant_context(acme.id):
        followers = TicketFollower.objects.filter(ticket=ticket).select_related("contact")
        assert [f.contact.email for f in followers] == ["boss@customer.test"]
        assert not Message.objects.filter(ticket=ticket, kind="reply").exists()

    # Formatting by toolbar and keys, a pasted picture, Cc and Bcc, the preview.
    box = page.locator("#reply-body")
    _select_all_and(page, "#reply-body", "Turn it off")
    box.press("ControlOrMeta+b")
    box.press("End")
    box.type("\nthen on again.\n")
    page.evaluate(PASTE_PICTURE, ["#reply-body", PNG])
    assert "](cid:pasted-" in box.input_value()
    page.get_by_text("Cc / Bcc this reply").click()
    page.get_by_label("Cc", exact=False).first.fill("it@customer.test")
    page.locator("#reply-bcc").fill("audit@partner.test")
    page.get_by_role("button", name="Preview").click()
    page.locator("#reply-body-preview strong", has_text="Turn it off").wait_for()
    _fits(page, "reply-editor")
    page.get_by_role("button", name="Preview").click()
    with mail.get_connection():
        page.locator("#send-button").click()
    reply = page.locator("article.kind-reply").first
    reply.wait_for()
    reply.locator(".formatted-body strong", has_text="Turn it off").wait_for()
    picture = reply.locator(".formatted-body img")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 1", arg=picture.element_handle()
    )
    expect(reply).to_contain_text("Cc: it@customer.test", use_inner_text=True)
    expect(reply).to_contain_text("Bcc: audit@partner.test", use_inner_text=True)

    # @mention autocomplete in a note.
    page.get_by_label("Internal note").check()
    page.locator("#reply-body").fill("")
    page.locator("#reply-body").type("Please check, @be")
    option = page.locator("#reply-body-mentions li", has_text="Ben Baker")
    option.wait_for()
    page.locator("#reply-body").press("Enter")
    assert page.locator("#reply-body").input_value() == "Please check, @ben "
    expect(page.locator("#reply-body-mentions")).to_be_hidden()
    _fits(page, "reply-sent")
    page.locator("#send-button").click()
    page.locator("article.kind-note", has_text="@ben").wait_for()
    _fits(page)
    assert problems == [], "\n".join(problems)


def _wait_for_picture(page: Page, article: str) -> None:
    picture = page.locator(article).first.locator(".formatted-body img")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 1", arg=picture.element_handle()
    )


def test_pasted_pictures_survive_a_refused_send(live_server: LiveServer, page: Page) -> None:
    """A send refused (here a bad Cc) comes back with the text naming the picture; the
    picture goes out with the next send, in the reply editor (htmx) and on the New ticket
    page (a whole new page)."""
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.id):
        ticket = make_ticket(
            subject="Printer on fire",
            contact=make_contact(name="Carla Diaz", email="carla@customer.test"),
        )
    problems = _watch(page)
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_server, "acme", "admin@acme.test", f"/tickets/{ticket.number}/")
    box = page.locator("#reply-body")
    box.fill("This is what we see:\n")
    box.press("End")
    page.evaluate(PASTE_PICTURE, ["#reply-body", PNG])
    page.get_by_text("Cc / Bcc this reply").click()
    page.locator("#reply-cc").fill("not an address")
    page.locator("#send-button").click()
    page.locator("#reply-form .errorlist").wait_for()
    assert "](cid:pasted-" in page.locator("#reply-body").input_value()
    # htmx puts the picture back on htmx:load, after the swap settles: wait for it.
    page.wait_for_function("() => document.getElementById('reply-body-images').files.length === 1")
    page.locator("#reply-cc").fill("")
    with mail.get_connection():
        page.locator("#send-button").click()
    page.locator("article.kind-reply").first.wait_for()
    _wait_for_picture(page, "article.kind-reply")
    with tenant_context(acme.id):
        reply = Message.objects.get(ticket=ticket, kind="reply")
        assert [a.is_inline for a in reply.attachments.all()] == [True]

    page.goto(tenant_url(live_server, "acme", "/tickets/new/"))
    page.get_by_label("Customer email").fill("dora@customer.test")
    page.get_by_label("Subject").fill("The label to print")
    page.locator("#new-body").fill("Print this label:\n")
    page.locator("#new-body").press("End")
    page.evaluate(PASTE_PICTURE, ["#new-body", PNG])
    page.get_by_text("Cc / Bcc").click()
    page.locator("#new-cc").fill("not an address")
    page.get_by_role("button", name="Create ticket").click()
    page.get_by_text("Not created:").wait_for()
    assert "](cid:pasted-" in page.locator("#new-body").input_value()
    page.wait_for_function("() => document.getElementById('new-body-images').files.length === 1")
    page.locator("#new-cc").fill("")
    page.get_by_role("button", name="Create ticket").click()
    page.wait_for_url("**/tickets/2/")
    _wait_for_picture(page, "article.kind-reply")
    kept = "Object.keys(sessionStorage).filter((key) => key.startsWith('editor-picture:'))"
    assert page.evaluate(kept) == []  # nothing left behind
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("width", WIDTHS)
def test_forward_a_message(live_server: LiveServer, page: Page, width: int) -> None:
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.id):
        ticket = make_ticket(subject="Printer on fire", body="Smoke everywhere.")
        first = Message.objects.get(ticket=ticket, kind="customer")
    problems = _watch(page)
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server, "acme", "admin@acme.test", f"/tickets/{ticket.number}/")
    page.locator(f"#message-{first.id}").get_by_role("link", name="Forward").click()
    page.wait_for_url("**/forward/")
    page.get_by_label("To").fill("vendor@printers.test")
    page.locator("#forward-note").fill("Can you check this printer?")
    _fits(page, "forward")
    page.get_by_role("button", name="Forward", exact=True).click()
    page.wait_for_url(f"**/tickets/{ticket.number}/")
    page.locator("article.kind-forward", has_text="Forwarded to vendor@printers.test").wait_for()
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("width", WIDTHS)
def test_mail_in_the_thread_and_the_contact_page(
    live_server: LiveServer, page: Page, width: int
) -> None:
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.id):
        company = Company.objects.create(name="Initech", domains=["initech.test"])
        carla = make_contact(name="Carla Diaz", email="carla@initech.test", company=company)
        ticket = make_ticket(
            subject="Newsletter looks broken",
            contact=carla,
            content=services.MessageContent(
                html="<p>Hello, the <b>header</b> is <i>broken</i>.</p><ul><li>Chrome</li></ul>"
            ),
        )
        services.queue_email_message(
            ticket=ticket,
            body="We got your request and answer within a day.",
            is_automatic=True,
            subject="We received your request [#1]",
        )
        solved = make_ticket(subject="Old invoice question", contact=carla)
        services.change_status(ticket=solved, status=TicketStatus.SOLVED, actor=None)
        now = timezone.now()
        SatisfactionRating.objects.update_or_create(  # solving planned the survey
            ticket=solved,
            defaults={
                "contact": carla,
                "send_after": now - timedelta(days=3),
                "sent_at": now - timedelta(days=3),
                "score": "good",
                "comment": "Quick and kind",
                "rated_at": now - timedelta(days=2),
            },
        )
    problems = _watch(page)
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server, "acme", "admin@acme.test", f"/tickets/{ticket.number}/")
    customer = page.locator("article.kind-customer").first
    expect(customer.locator(".html-body b")).to_have_text("header", use_inner_text=True)
    expect(customer.locator(".html-body li")).to_be_visible()
    automatic = page.locator("details.message.automatic")
    summary = automatic.locator("summary")
    expect(summary).to_contain_text("We received your request", use_inner_text=True)
    # One line (a phone's tap target is 40 px high).
    assert summary.bounding_box()["height"] <= 44  # type: ignore[index]
    expect(automatic.locator(".body")).to_be_hidden()
    _fits(page, "thread-html-mail")

    # The canned picker says how to make the first one.
    page.get_by_text("Insert a canned response").click()
    page.get_by_text("No canned responses yet").wait_for()

    page.goto(tenant_url(live_server, "acme", f"/contacts/{carla.id}/"))
    rows = page.locator("#tickets-title + table tbody tr")
    expect(rows.nth(0)).to_contain_text("Newsletter looks broken", use_inner_text=True)
    expect(rows.nth(1)).to_contain_text("Old invoice question", use_inner_text=True)
    ratings = page.locator("#contact-ratings")
    assert "Quick and kind" in ratings.inner_text() or width == 390
    expect(ratings).to_contain_text("100% good", use_inner_text=True)
    _fits(page, "contact")
    page.goto(tenant_url(live_server, "acme", f"/companies/{company.id}/"))
    assert "Carla Diaz" in page.locator("#company-ratings").inner_text() or width == 390
    _fits(page)
    assert problems == [], "\n".join(problems)
