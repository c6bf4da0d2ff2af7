"""In a real browser: a customer searches the help center with a typo and finds the
article, votes it helpful; types a subject in the request form, sees a suggestion, sends
the request anyway; replies from the tracking page with a file and marks it solved.
Screenshots at phone and desktop widths (docs/screenshots/help-center.png)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

import pytest
from pytest_django.live_server_helper import LiveServer

from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Tenant
from tests.browser.conftest import save_screenshot, tenant_url
from tests.conftest import make_tenant
from tests.factories.knowledge_base import make_article, make_category
from tests.factories.tickets import make_ticket
from tickets.mail_out import tracking
from tickets.models import Attachment, Message, Ticket, TicketStatus

if TYPE_CHECKING:
    from playwright.sync_api import FilePayload, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (390, 1280, 1366, 1440)


def _help_center() -> str:
    acme = make_tenant("acme", "Acme Printers")
    acme.tenant.brand_colour = "#0f766e"
    acme.tenant.save(update_fields=["brand_colour"])
    with tenant_context(acme.id):
        basics = make_category("Getting started")
        billing = make_category("Billing", position=1)
        make_article(
            basics,
            "Reset your password",
            "Open the sign-in page and choose *Forgot your password*. "
            "We mail you a link that works for one hour.",
        )
        make_article(basics, "Set up your printer", "Unpack it, plug it in, press the green key.")
        make_article(billing, "Download an invoice", "Invoices are under Account, Billing history.")
        make_article(billing, "Change your plan", "Plans change at the start of the next month.")
    return "acme"


def _no_horizontal_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_search_with_a_typo_finds_the_article(live_server: LiveServer, page: Page) -> None:
    slug = _help_center()
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(tenant_url(live_server, slug, "/help/"))
        page.get_by_role("heading", name="How can we help?").wait_for()
        assert _no_horizontal_scroll(page), width
        if width in (390, 1280):
            save_screenshot(page, "help-center.png" if width == 1280 else "help-center-phone.png")
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_label("Search the help center").fill("pasword")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Reset your password").click()
    page.get_by_role("heading", name="Reset your password").wait_for()
    assert page.title() == "Reset your password · Acme Printers"
    assert _no_horizontal_scroll(page)
    page.get_by_role("button", name="Yes").click()
    page.get_by_text("glad it helped").wait_for()
    page.get_by_text("1 person found this helpful").wait_for()
    save_screenshot(page, "help-center-article-phone.png")


def test_request_form_suggests_an_article_and_sends_the_request(
    live_server: LiveServer, page: Page
) -> None:
    slug = _help_center()
    page.goto(tenant_url(live_server, slug, "/help/request/"))
    page.get_by_label("Subject").press_sequentially("cannot download invoise", delay=20)
    suggestion = page.get_by_role("link", name="Download an invoice")
    suggestion.wait_for()
    save_screenshot(page, "help-center-request.png")
    suggestion.click()
    page.get_by_role("heading", name="Download an invoice").wait_for()
    page.go_back()
    page.get_by_label("Your name").fill("Ada Lovelace")
    page.get_by_label("Your email address").fill("ada@example.test")
    page.get_by_label("Subject").fill("Invoice for March is missing")
    page.get_by_label("How can we help?").fill("The March invoice is not in my billing history.")
    page.get_by_role("button", name="Send request").click()
    page.get_by_role("heading", name="Thank you, we received your request").wait_for()
    with tenant_context(make_tenant_id(slug)):
        ticket = Ticket.objects.get()
        assert ticket.channel == "web"
        assert ticket.subject == "Invoice for March is missing"


def make_tenant_id(slug: str) -> UUID:
    return Tenant.objects.get(slug=slug).id


def test_customer_replies_from_the_tracking_page(live_server: LiveServer, page: Page) -> None:
    slug = _help_center()
    with tenant_context(make_tenant_id(slug)):
        ticket = make_ticket(subject="Printer on fire")
        Message.objects.create(ticket=ticket, kind="note", body_text="Internal: call the vendor")
    token = tracking.tracking_token(ticket.id)
    page.goto(tenant_url(live_server, slug, f"/track/{token}/"))
    page.get_by_role("heading", name="Request #1: Printer on fire").wait_for()
    assert "call the vendor" not in page.inner_text("main")
    page.get_by_label("Your answer").fill("It is still smoking. Photo attached.")
    smoke: FilePayload = {"name": "smoke.txt", "mimeType": "text/plain", "buffer": b"smoke"}
    page.get_by_label("Attachments (up to 5 files, 10 MB in all)").set_input_files(files=[smoke])
    page.get_by_role("button", name="Send answer").click()
    page.get_by_text("Your answer was added to the request.").wait_for()
    page.get_by_role("link", name="smoke.txt").wait_for()
    save_screenshot(page, "help-center-tracking.png")
    page.get_by_role("button", name="My request is solved").click()
    page.get_by_text("the request is marked solved").wait_for()
    with tenant_context(make_tenant_id(slug)):
        ticket.refresh_from_db()
        assert ticket.status == TicketStatus.SOLVED
        reply = Message.objects.get(ticket=ticket, body_text="It is still smoking. Photo attached.")
        assert Attachment.objects.get(message=reply).filename == "smoke.txt"
