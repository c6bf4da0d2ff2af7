"""In a real browser: the login page on a tenant host, then the shell and a ticket."""

from __future__ import annotations

import pytest

from helpdesk.tenancy.context import tenant_context
from tests.browser.conftest import log_in, save_screenshot, tenant_url
from tests.conftest import PASSWORD, make_tenant
from tests.factories.tickets import make_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_then_shell_inbox_and_ticket(live_server, page):
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.id):
        make_ticket(subject="Printer on fire", body="Smoke is coming out of tray 2.")
        make_ticket(subject="Invoice has the wrong VAT number")

    page.goto(tenant_url(live_server, "acme"))
    assert page.title().startswith("Log in")
    page.get_by_label("Email").fill("admin@acme.test")
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text().strip() == "Email or password is incorrect."

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/inbox/")
    nav = page.get_by_role("navigation", name="Main")
    for label in ("Inbox", "Knowledge base", "Reports", "Admin"):
        assert nav.get_by_role("link", name=label).is_visible()
    assert page.get_by_role("link", name="Printer on fire").is_visible()
    save_screenshot(page, "inbox.png")

    page.get_by_role("link", name="Printer on fire").click()
    assert page.get_by_text("Smoke is coming out of tray 2.").is_visible()
    page.get_by_label("Message").fill("We are on it.")
    page.get_by_role("button", name="Send").click()
    page.get_by_text("We are on it.").wait_for()
    status = page.locator("#f-status")
    page.wait_for_function("document.querySelector('#f-status').value === 'waiting'")
    assert status.input_value() == "waiting"
    save_screenshot(page, "ticket.png")


def test_shell_works_on_a_phone_sized_screen(live_server, page):
    make_tenant("acme", "Acme")
    page.set_viewport_size({"width": 390, "height": 800})
    log_in(page, live_server, "acme", "admin@acme.test")
    nav_link = page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports")
    assert not nav_link.is_visible()
    page.get_by_role("button", name="Menu").click()
    assert nav_link.is_visible()
    nav_link.click()
    page.wait_for_url("**/reports/")


def test_unknown_tenant_host_shows_a_404_page(live_server, page):
    response = page.goto(tenant_url(live_server, "nobody"))
    assert response.status == 404
    assert page.get_by_text("There is no help desk at this address.").is_visible()
