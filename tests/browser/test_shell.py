"""In a real browser: the login page on a tenant host, then the shell and a ticket."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from django.urls import reverse
from playwright.sync_api import expect
from pytest_django.live_server_helper import LiveServer

from helpdesk.tenancy.context import tenant_context
from knowledge_base import services as knowledge_base_services
from tests.browser.conftest import save_screenshot, sign_in, tenant_url
from tests.conftest import PASSWORD, make_tenant
from tests.factories.tickets import make_contact, make_ticket

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_then_shell_inbox_and_ticket(live_server: LiveServer, page: Page) -> None:
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.id):
        make_ticket(subject="Printer on fire", body="Smoke is coming out of tray 2.")
        make_ticket(subject="Invoice has the wrong VAT number")

    page.goto(tenant_url(live_server, "acme"))
    assert page.title().startswith("Log in")
    page.get_by_label("Email").fill("admin@acme.test")
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Email or password is incorrect.", use_inner_text=True
    )

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/inbox/")
    nav = page.get_by_role("navigation", name="Main")
    for label in ("Inbox", "Knowledge base", "Reports", "Admin"):
        expect(nav.get_by_role("link", name=label)).to_be_visible()
    expect(page.get_by_role("link", name="Printer on fire")).to_be_visible()
    save_screenshot(page, "inbox.png")

    page.get_by_role("link", name="Printer on fire").click()
    expect(page.get_by_text("Smoke is coming out of tray 2.")).to_be_visible()
    page.get_by_label("Message").fill("We are on it.")
    page.get_by_role("button", name="Send").click()
    page.get_by_text("We are on it.").wait_for()
    status = page.locator("#f-status")
    page.wait_for_function("() => document.querySelector('#f-status').value === 'waiting'")
    assert status.input_value() == "waiting"
    save_screenshot(page, "ticket.png")


def test_shell_works_on_a_phone_sized_screen(live_server: LiveServer, page: Page) -> None:
    make_tenant("acme", "Acme")
    page.set_viewport_size({"width": 390, "height": 800})
    sign_in(page, live_server, "acme", "admin@acme.test")
    nav_link = page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports")
    expect(nav_link).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(nav_link).to_be_visible()
    nav_link.click()
    page.wait_for_url("**/reports/")


# Pages an agent or admin reaches from the main menu and the admin page.
PHONE_PAGES = [
    ("inbox", "tickets:inbox", {}),
    ("ticket", "tickets:ticket-detail", {"number": 1}),
    ("new ticket", "tickets:ticket-new", {}),
    ("canned responses", "automation:canned-responses", {}),
    ("preferences", "tickets:preferences", {}),
    ("contacts", "tickets:contact-list", {}),
    ("knowledge base", "knowledge_base:article-list", {}),
    ("reports", "automation:reports", {}),
    ("admin", "departments:admin", {}),
    ("ticket settings", "tickets:ticket-settings", {}),
    ("custom fields", "tickets:custom-fields", {}),
    ("SLA policies", "automation:sla-policies", {}),
    ("business hours", "departments:business-hours", {}),
    ("email templates", "tickets:email-templates", {}),
    ("inbound log", "tickets:inbound-log", {}),
    ("notification settings", "tickets:notification-settings", {}),
    ("API tokens", "accounts:api-tokens", {}),
]


def test_pages_fit_a_phone_screen_without_sideways_scrolling(
    live_server: LiveServer, page: Page
) -> None:
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.id):
        # No spaces to wrap at: customers paste order links and long addresses.
        make_ticket(
            subject="Refund-for-order-https://shop.example.test/orders/2024/000123456789/invoice.pdf",
            contact=make_contact(
                name="", email="accountspayabledepartment@konstantinopoulouholdings.example.test"
            ),
        )
        make_ticket(
            subject="The invoice PDF attached to order 2024-000123 shows the wrong VAT number "
            "and the wrong billing address, again, for the third month in a row",
            contact=make_contact(
                name="Maximiliane Konstantinopoulou-Wetherspoon",
                email="maximiliane.konstantinopoulou-wetherspoon@accounts-payable.example.test",
            ),
            priority="urgent",
        )
        category = knowledge_base_services.create_category(name="Billing and invoices")
        knowledge_base_services.create_article(
            category=category,
            title="How to change the billing address printed on the invoice of a past order",
            body="Open the order, then Billing.",
            author=acme.admin,
            publish=True,
        )

    page.set_viewport_size({"width": 390, "height": 800})
    sign_in(page, live_server, "acme", "admin@acme.test")
    too_wide = {}
    for label, url_name, kwargs in PHONE_PAGES:
        response = page.goto(tenant_url(live_server, "acme", reverse(url_name, kwargs=kwargs)))
        assert response is not None, label
        assert response.ok, f"{label}: HTTP {response.status}"
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if widths[0] > widths[1]:
            too_wide[label] = f"{widths[0]} px wide in a {widths[1]} px window"
    assert too_wide == {}

    # The inbox stacks each ticket instead of hiding columns: customer and priority show.
    page.goto(tenant_url(live_server, "acme", reverse("tickets:inbox")))
    row = page.locator("#ticket-2")
    expect(row.get_by_role("link", name="The invoice PDF attached")).to_be_visible()
    expect(row.get_by_text("Maximiliane Konstantinopoulou-Wetherspoon")).to_be_visible()
    expect(row.get_by_text("Urgent", exact=True)).to_be_visible()
    expect(row.get_by_text("Open", exact=True)).to_be_visible()


def test_unknown_tenant_host_shows_a_404_page(live_server: LiveServer, page: Page) -> None:
    response = page.goto(tenant_url(live_server, "nobody"))
    assert response is not None
    assert response.status == 404
    expect(page.get_by_text("There is no help desk at this address.")).to_be_visible()
