"""In a real browser: an admin sets an SLA policy up, the inbox counts down to the first
response, and the ticket's SLA panel follows the reply that makes it wait on the customer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from pytest_django.live_server_helper import LiveServer

from helpdesk.tenancy.context import tenant_context
from tests.browser.conftest import save_screenshot, sign_in, tenant_url
from tests.conftest import make_tenant
from tests.factories.tickets import make_ticket
from tickets.models import Ticket

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_sets_an_sla_and_agents_see_it_count_down_and_pause(
    live_server: LiveServer, page: Page
) -> None:
    acme = make_tenant("acme", "Acme")
    sign_in(page, live_server, "acme", "admin@acme.test", "/settings/")
    page.get_by_role("link", name="SLA policies").click()
    page.get_by_label("Name").fill("Standard")
    page.get_by_label("First response within").fill("2h")
    page.get_by_label("Resolution within").fill("1d")
    page.get_by_role("button", name="Save policy").click()
    page.get_by_text("SLA policy “Standard” saved.").wait_for()
    expect(page.locator("#sla-policies")).to_contain_text(
        "first response 2h · resolution 1d", use_inner_text=True
    )

    with tenant_context(acme.id):
        ticket = make_ticket(subject="Printer on fire", body="Smoke from tray 2.")
    page.goto(tenant_url(live_server, "acme", "/inbox/?sort=sla"))
    countdown = page.locator(f"#ticket-{ticket.number} .sla")
    assert "First response in 1" in countdown.inner_text()  # "in 1 hour, 59 minutes"
    assert "sla-on-track" in (countdown.get_attribute("class") or "")
    save_screenshot(page, "sla.png")

    page.get_by_role("link", name="Printer on fire").click()
    panel = page.locator("#ticket-sla")
    panel.get_by_text("Resolution").wait_for()
    expect(panel).to_contain_text("First response", use_inner_text=True)
    page.locator("#reply-body").fill("Please unplug it; a technician is on the way.")
    page.locator("#reply-status").select_option("waiting")
    page.get_by_role("button", name="Send").click()
    page.get_by_text("a technician is on the way").wait_for()
    page.locator("#ticket-sla li.sla-met").wait_for()  # the timers, loaded by htmx
    expect(page.locator("#ticket-sla")).to_contain_text("SLA paused", use_inner_text=True)
    expect(page.locator("#ticket-sla li.sla-met")).to_contain_text(
        "First response met", use_inner_text=True
    )
    with tenant_context(acme.id):
        stored = Ticket.objects.get(id=ticket.id)
    assert (stored.status, stored.sla_paused, stored.sla_due_at) == ("waiting", True, None)
