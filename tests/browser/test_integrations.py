"""In a real browser: an admin sets up a GitHub-like task integration and a CRM contact app
(both served by a real HTTP peer on loopback), tests the integration; an agent opens a
ticket, sees the customer's CRM record in the sidebar, creates a task and sees its link,
in the sidebar and in the conversation. Pages at 390 and 1280 px, no sideways scrolling."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from pytest_django import Settings
from pytest_django.live_server_helper import LiveServer

from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import MembershipRole
from tests.automation.http_peer import Peer, serve
from tests.browser.conftest import (
    close_quietly,
    new_context,
    save_screenshot,
    sign_in,
    tenant_url,
)
from tests.conftest import make_tenant
from tests.factories.accounts import make_member
from tests.factories.tickets import make_contact, make_ticket

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def peer(settings: Settings) -> Iterator[Peer]:
    settings.HELPDESK_OUTBOUND_ALLOW_PRIVATE_HOSTS = True
    with serve() as running:
        running.answer(
            "/repos/acme/app/issues",
            201,
            {"number": 42, "html_url": "https://github.example/acme/app/issues/42"},
        )
        running.answer("/people", 200, {"plan": "Pro <b>annual</b>", "owner": {"name": "Lin"}})
        yield running


def fits(page: Page, width: int) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width, f"{overflow}px wide at {width}px"


def test_admin_sets_up_integrations_and_an_agent_creates_a_task_from_a_ticket(
    live_server: LiveServer, chromium: Browser, peer: Peer
) -> None:
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.tenant.id):
        make_member(acme.tenant, MembershipRole.AGENT, email="agent@acme.test", name="Grace")
        contact = make_contact(email="ada@example.com", name="Ada Lovelace")
        ticket = make_ticket(subject='Printer says "PC LOAD LETTER"', contact=contact)

    admin_context = new_context(chromium)
    page = admin_context.new_page()
    sign_in(page, live_server, "acme", "admin@acme.test", "/settings/")
    page.get_by_role("link", name="Integrations", exact=True).click()
    page.get_by_role("link", name="New task integration").click()
    page.get_by_label("Name").fill("GitHub")
    page.get_by_label("URL").fill(peer.url("/repos/acme/app/issues"))
    page.get_by_label("Headers").fill("Accept: application/vnd.github+json")
    page.get_by_label("Secret header").fill("Authorization")
    page.get_by_label("Secret value").fill("Bearer ghp_browser_secret")
    page.get_by_label("Body (JSON)").fill(
        '{"title": "#{{ticket.number}} {{ticket.subject}}", "body": "{{ticket.url}}"}'
    )
    page.get_by_label("Id path").fill("number")
    page.get_by_label("Link path").fill("html_url")
    page.get_by_role("button", name="Create integration").click()
    page.wait_for_url("**/settings/integrations/tasks/*/")
    assert "ghp_browser_secret" not in page.content()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Send test").click()
    page.locator("#test-result").wait_for()
    result = page.locator("#test-result").inner_text()
    assert "HTTP 201" in result
    assert "https://github.example/acme/app/issues/42" in result
    for width in (390, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        fits(page, width)
        save_screenshot(page, f"integration-detail-{width}.png")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.goto(tenant_url(live_server, "acme", "/settings/integrations/apps/new/"))
    page.get_by_label("Name").fill("CRM")
    page.get_by_label("URL").fill(peer.url("/people") + "?email={{contact.email}}")
    page.get_by_label("Fields to show").fill("plan = Plan\nowner.name = Account owner")
    page.get_by_role("button", name="Create contact app").click()
    page.wait_for_url("**/settings/integrations/apps/*/")
    page.goto(tenant_url(live_server, "acme", "/settings/integrations/"))
    expect(page.locator("#integrations")).to_contain_text("GitHub", use_inner_text=True)
    expect(page.locator("#contact-apps")).to_contain_text("CRM", use_inner_text=True)
    save_screenshot(page, "integrations-1280.png")
    close_quietly(admin_context)

    agent_context = new_context(chromium)
    page = agent_context.new_page()
    sign_in(page, live_server, "acme", "agent@acme.test", f"/tickets/{ticket.number}/")
    panel = page.locator("#integrations-panel")
    crm = panel.locator(".contact-app-ok")
    crm.wait_for()
    expect(crm).to_contain_text("Account owner", use_inner_text=True)
    assert "Pro <b>annual</b>" in crm.inner_text()  # remote HTML shown as text
    page.get_by_role("button", name="Create task in GitHub").click()
    link = page.locator("#linked-items a", has_text="GitHub 42")
    link.wait_for(timeout=15000)
    assert link.get_attribute("href") == "https://github.example/acme/app/issues/42"
    [created] = peer.seen("/repos/acme/app/issues")[1:]
    assert created.json["title"] == f'#{ticket.number} Printer says "PC LOAD LETTER"'
    page.reload()
    page.locator("#conversation .event", has_text="created GitHub 42").wait_for()
    page.locator("#integrations-panel .contact-app-ok").wait_for()
    page.locator("#integrations-panel").scroll_into_view_if_needed()
    for width in (390, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        fits(page, width)
    page.set_viewport_size({"width": 1280, "height": 900})
    save_screenshot(page.locator("#integrations-panel"), "ticket-integrations-1280.png")
    close_quietly(agent_context)
