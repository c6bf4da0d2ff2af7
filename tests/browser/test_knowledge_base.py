"""In a real browser: an agent writes an article with the live preview, publishes it and
finds it in the help center; a solved ticket becomes a draft article; an article found
from the reply editor is sent and counted. Screenshots of the editor at four widths."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from pytest_django.live_server_helper import LiveServer

from helpdesk.tenancy.context import tenant_context
from knowledge_base import services as kb_services
from knowledge_base.models import Article
from tests.browser.conftest import save_screenshot, sign_in, tenant_url
from tests.conftest import make_tenant
from tests.factories.tickets import make_ticket
from tickets.models import TicketArticle
from tickets.ticket import services as ticket_services

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (390, 1280, 1366, 1440)


def _no_sideways_scroll(page: Page) -> bool:
    return bool(
        page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    )


def test_an_agent_writes_previews_and_publishes_an_article(
    live_server: LiveServer, page: Page
) -> None:
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.id):
        kb_services.create_category(name="Accounts")
    sign_in(page, live_server, "acme", "admin@acme.test", "/kb/")
    page.get_by_role("link", name="New article").click()
    page.get_by_label("Title").fill("Reset a password")
    page.get_by_label("Tags").fill("password, login")
    page.locator("#id_body").fill(
        "## Steps\n\n1. Open **Sign in**.\n2. Choose *Forgot password*.\n\n"
        "<script>alert('x')</script>"
    )
    preview = page.locator("#kb-preview")
    preview.locator("h2", has_text="Steps").wait_for()
    expect(preview.locator("strong", has_text="Sign in")).to_be_visible()
    assert preview.locator("script").count() == 0
    assert "<script>alert('x')</script>" in preview.inner_text()  # shown as text
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url("**/kb/reset-a-password/edit/")
    expect(page.get_by_text("saved as draft")).to_be_visible()

    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        assert _no_sideways_scroll(page), width
        if width == 390:
            save_screenshot(page, "kb-editor-390.png")
    page.set_viewport_size({"width": 1280, "height": 900})
    save_screenshot(page, "kb-editor.png")

    page.get_by_role("button", name="Save and publish").click()
    page.wait_for_url("**/kb/reset-a-password/edit/")
    expect(page.get_by_text("(published)")).to_be_visible()
    page.get_by_role("link", name="History").first.click()
    expect(page.get_by_role("cell", name="Acme Admin").first).to_be_visible()
    page.get_by_role("link", name="#2").click()
    expect(page.get_by_role("heading", name="Revision 2")).to_be_visible()

    page.goto(tenant_url(live_server, "acme", "/help/reset-a-password/"))
    expect(page.locator("strong", has_text="Sign in")).to_be_visible()
    with tenant_context(acme.id):
        article = Article.objects.get()
        assert article.status == "published"
        assert article.tags == ["password", "login"]


def test_a_solved_ticket_becomes_an_article_and_an_article_is_sent(
    live_server: LiveServer, page: Page
) -> None:
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.id):
        category = kb_services.create_category(name="Printing")
        kb_services.create_article(
            category=category,
            title="Clear a paper jam",
            body="Open tray 2 and pull the sheet out.",
            publish=True,
        )
        solved = make_ticket(subject="Printer prints blank pages", body="Help!")
        ticket_services.add_message(
            ticket=solved,
            kind="reply",
            body="Replace the toner cartridge.",
            actor=acme.admin,
            status="solved",
        )
        jammed = make_ticket(subject="Paper stuck", body="It jams.")
    sign_in(page, live_server, "acme", "admin@acme.test", f"/tickets/{solved.number}/")
    page.get_by_role("button", name="Create article").click()
    page.wait_for_url("**/kb/printer-prints-blank-pages/edit/")
    assert page.get_by_label("Title").input_value() == "Printer prints blank pages"
    assert "Replace the toner cartridge." in page.locator("#id_body").input_value()
    page.locator("#kb-preview").get_by_text("Replace the toner cartridge.").wait_for()
    expect(page.get_by_role("link", name=f"ticket #{solved.number}")).to_be_visible()

    page.goto(tenant_url(live_server, "acme", f"/tickets/{jammed.number}/"))
    page.get_by_text("Insert a knowledge-base article").click()
    page.get_by_placeholder("Search the knowledge base").fill("jam")
    page.get_by_role("button", name="Insert link").click()
    assert "/help/clear-a-paper-jam/" in page.locator("#reply-body").input_value()
    page.get_by_role("button", name="Send").click()
    page.locator("#kb-panel").get_by_role("link", name="Clear a paper jam").wait_for()
    with tenant_context(acme.id):
        link = TicketArticle.objects.get(ticket=jammed)
        assert link.kind == "sent"
        assert Article.objects.get(slug="clear-a-paper-jam").times_sent == 1
    page.goto(tenant_url(live_server, "acme", "/kb/"))
    expect(page.locator(".kb-most-sent").get_by_text("Clear a paper jam")).to_be_visible()
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        assert _no_sideways_scroll(page), width
    save_screenshot(page, "kb-list.png")
