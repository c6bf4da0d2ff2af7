"""In a real browser: an admin turns round-robin on for a department with a cap, tickets
wait in its backlog while the only agent is offline, and the backlog is handed out (up to
the cap) as soon as she comes online in the top bar."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from pytest_django.live_server_helper import LiveServer

from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import MembershipRole
from tests.browser.conftest import (
    close_quietly,
    new_context,
    save_screenshot,
    sign_in,
    tenant_url,
)
from tests.conftest import make_tenant
from tests.factories.accounts import make_member
from tests.factories.tickets import make_ticket
from tickets.models import Ticket

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_backlog_is_handed_out_when_an_agent_comes_online(
    live_server: LiveServer, page: Page, chromium: Browser
) -> None:
    acme = make_tenant("acme", "Acme")
    nora = make_member(acme.tenant, MembershipRole.AGENT, email="nora@acme.test", name="Nora")
    sign_in(page, live_server, "acme", "admin@acme.test")
    department_page = tenant_url(
        live_server, "acme", f"/settings/departments/{acme.department.id}/"
    )

    page.goto(department_page)
    page.get_by_label("Nora (Agent)").check()
    page.get_by_label("Acme Admin (Admin)").uncheck()  # Nora alone takes tickets here
    page.get_by_label("New tickets").select_option("round_robin")
    page.get_by_label("Most unsolved tickets per agent").fill("2")
    page.get_by_role("button", name="Save department").click()
    page.get_by_text(f"Department {acme.department.name} saved.").wait_for()

    with tenant_context(acme.id):
        tickets = [make_ticket(subject=f"Waiting {i}") for i in range(3)]
    page.goto(department_page)
    panel = page.locator("#assignment-load")
    panel.get_by_text("Backlog: 3 tickets waiting").wait_for()
    expect(panel.locator(f"#load-{nora.id}")).to_contain_text("no (offline)", use_inner_text=True)

    agent = new_context(chromium)
    try:
        agent_page = agent.new_page()
        sign_in(agent_page, live_server, "acme", "nora@acme.test")
        switch = agent_page.locator("#availability-switch")
        switch.locator("summary").click()
        switch.get_by_role("button", name="Online").click()
        agent_page.locator("#availability-switch summary", has_text="Online").wait_for()
    finally:
        close_quietly(agent)

    page.goto(department_page)
    panel.get_by_text("Backlog: 1 ticket waiting").wait_for()
    expect(panel.locator(f"#load-{nora.id}")).to_contain_text("2 / 2", use_inner_text=True)
    expect(panel.locator(f"#load-{nora.id}")).to_contain_text("at the limit", use_inner_text=True)
    # The settings and the load under them (save_screenshot shows a page's top).
    panel.scroll_into_view_if_needed()
    save_screenshot(page, "department-assignment.png", from_top=False)
    with tenant_context(acme.id):
        assigned = Ticket.objects.filter(id__in=[t.id for t in tickets], assignee=nora)
        assert assigned.count() == 2
