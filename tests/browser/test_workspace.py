"""In a real browser: the triage flow, two agents colliding on one ticket, and a mention that
reaches the other agent's notifications."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from pytest_django.live_server_helper import LiveServer

from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Membership
from tests.browser.conftest import (
    close_quietly,
    new_context,
    save_screenshot,
    sign_in,
    tenant_url,
)
from tests.conftest import TenantSetup, make_tenant
from tests.factories.accounts import make_member
from tests.factories.tickets import make_ticket
from tickets.configuration import services as configuration
from tickets.models import Ticket
from tickets.ticket import services

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Dialog, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _setup() -> tuple[TenantSetup, Membership, Membership]:
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.id):
        ana = make_member(acme.tenant, name="Ana Lopez", email="ana@acme.test")
        ben = make_member(acme.tenant, name="Ben Otto", email="ben@acme.test")
    return acme, ana, ben


def test_triage_open_an_unassigned_ticket_own_it_reply_and_wait(
    live_server: LiveServer, page: Page
) -> None:
    acme, ana, _ = _setup()
    with tenant_context(acme.id):
        # "Open it and you own it" is the tenant's explicit choice (off by default).
        configuration.update_settings(auto_assign_on_open=True)
        ticket = make_ticket(
            subject="Printer on fire", body="Smoke is coming out of tray 2.", tags=["hardware"]
        )
        make_ticket(subject="Invoice has the wrong VAT number", priority="high")
        make_ticket(subject="How do I export my data?", priority="low")
    sign_in(page, live_server, "acme", "ana@acme.test")
    page.get_by_role("navigation", name="Inbox views").get_by_role(
        "link", name="Unassigned"
    ).click()
    row = page.locator(f"#ticket-{ticket.number}")
    assert "unread" in (row.get_attribute("class") or "")
    assert "Smoke is coming out" in row.inner_text()  # the snippet column
    save_screenshot(page, "inbox.png")

    row.get_by_role("link", name="Printer on fire").click()
    page.get_by_text("it is yours now").wait_for()
    assert page.locator("#f-assignee").input_value() == str(ana.id)
    expect(page.get_by_text("took the ticket by opening it").first).to_be_visible()

    page.keyboard.press("r")  # shortcut: reply
    page.keyboard.type("Please unplug it; a technician is on the way.")
    page.locator("#reply-status").select_option("waiting")
    page.get_by_role("button", name="Send").click()
    page.get_by_text("a technician is on the way").wait_for()
    page.wait_for_function("() => document.querySelector('#f-status').value === 'waiting'")
    save_screenshot(page, "ticket.png")
    with tenant_context(acme.id):
        stored = Ticket.objects.get(id=ticket.id)
        assert stored.status == "waiting"
        assert stored.assignee_id == ana.id

    page.keyboard.press("?")
    expect(page.get_by_role("heading", name="Keyboard shortcuts")).to_be_visible()


def test_two_agents_see_each_other_and_the_stale_reply_is_stopped(
    live_server: LiveServer, chromium: Browser
) -> None:
    acme, ana, _ = _setup()
    with tenant_context(acme.id):
        ticket = make_ticket(subject="Refund please", body="I was charged twice.")
        services.assign_ticket(ticket=ticket, assignee=ana, actor=None)
    ana_context, ben_context = new_context(chromium), new_context(chromium)
    try:
        ana_page, ben_page = ana_context.new_page(), ben_context.new_page()
        sign_in(ana_page, live_server, "acme", "ana@acme.test")
        sign_in(ben_page, live_server, "acme", "ben@acme.test")
        url = tenant_url(live_server, "acme", f"/tickets/{ticket.number}/")
        ana_page.goto(url)
        ben_page.goto(url)
        # Presence pings every 2 s: each sees the other within 3 s.
        ben_page.get_by_text("Ana Lopez is viewing").wait_for(timeout=3_000)
        ana_page.get_by_text("Ben Otto is viewing").wait_for(timeout=3_000)

        ben_page.locator("#reply-body").fill("We will refund you today.")
        ana_page.get_by_text("Ben Otto is replying").wait_for(timeout=3_000)
        save_screenshot(ana_page, "collision.png")

        ana_page.locator("#reply-body").fill("Refunded, sorry for the trouble.")
        ana_page.get_by_role("button", name="Send").click()
        ana_page.get_by_text("Refunded, sorry for the trouble.").first.wait_for()

        ben_page.get_by_role("button", name="Send").click()
        alert = ben_page.get_by_role("alert").filter(has_text="New messages arrived")
        alert.wait_for()
        expect(ben_page.locator("article.stale").get_by_text("Refunded, sorry")).to_be_visible()
        assert ben_page.locator("#reply-body").input_value() == "We will refund you today."
        with tenant_context(acme.id):
            replies = list(ticket.messages.filter(kind="reply").values_list("body_text", flat=True))
            assert replies == ["Refunded, sorry for the trouble."]  # Ben's was not sent

        ben_page.locator("#reply-body").fill("Adding: the refund shows in 3 days.")
        ben_page.get_by_role("button", name="Send anyway").click()
        ben_page.get_by_text("Adding: the refund shows in 3 days.").first.wait_for()
        with tenant_context(acme.id):
            assert ticket.messages.filter(kind="reply").count() == 2
    finally:
        close_quietly(ana_context)
        close_quietly(ben_context)


def test_a_note_mention_shows_in_the_other_agents_notifications(
    live_server: LiveServer, chromium: Browser
) -> None:
    acme, ana, _ = _setup()
    with tenant_context(acme.id):
        ticket = make_ticket(subject="Strange charge", body="What is this 9.99?")
        services.assign_ticket(ticket=ticket, assignee=ana, actor=None)
    ana_context, ben_context = new_context(chromium), new_context(chromium)
    try:
        ana_page, ben_page = ana_context.new_page(), ben_context.new_page()
        sign_in(ana_page, live_server, "acme", "ana@acme.test", f"/tickets/{ticket.number}/")
        ana_page.get_by_label("Internal note").check()
        ana_page.locator("#reply-body").fill("@ben is this the add-on we launched?")
        ana_page.get_by_role("button", name="Send").click()
        ana_page.locator("article.kind-note").get_by_text("@ben is this").wait_for()

        sign_in(ben_page, live_server, "acme", "ben@acme.test")
        badge = ben_page.locator("#notification-link .badge")
        badge.wait_for()
        expect(badge).to_have_text("1", use_inner_text=True)
        ben_page.locator("#notification-link").click()
        entry = ben_page.locator(".notification.unread")
        expect(entry).to_contain_text("Ana Lopez", use_inner_text=True)
        expect(entry).to_contain_text("mentioned you on", use_inner_text=True)
        entry.get_by_role("link", name=f"#{ticket.number} Strange charge").click()
        ben_page.get_by_text("@ben is this the add-on").wait_for()
        ben_page.wait_for_function(
            "() => !document.querySelector('#notification-link .badge')", timeout=5_000
        )
    finally:
        close_quietly(ana_context)
        close_quietly(ben_context)


def test_the_sidebar_saves_only_what_this_agent_changed(
    live_server: LiveServer, page: Page
) -> None:
    """Ben changes the priority while Ana has the ticket open; Ana then changes only the
    tags and saves: Ben's priority stays (before, her sidebar put hers back)."""
    acme, _, ben = _setup()
    with tenant_context(acme.id):
        ticket = make_ticket(subject="Printer on fire", priority="high")
    sign_in(page, live_server, "acme", "ana@acme.test", f"/tickets/{ticket.number}/")
    assert page.locator("#f-priority").input_value() == "high"
    with tenant_context(acme.id):
        services.update_ticket(ticket=ticket, actor=ben, priority="low")
    page.locator("#f-tags").fill("printer")
    page.locator("#fields-form").get_by_role("button", name="Save").click()
    page.get_by_text("Ticket updated.").wait_for()
    with tenant_context(acme.id):
        stored = Ticket.objects.get(id=ticket.id)
        assert stored.priority == "low"
        assert list(stored.tags.values_list("name", flat=True)) == ["printer"]
    assert page.locator("#f-priority").input_value() == "low"


def test_a_bulk_merge_names_the_surviving_ticket_and_asks_first(
    live_server: LiveServer, page: Page
) -> None:
    acme, _, _ = _setup()
    with tenant_context(acme.id):
        older = make_ticket(subject="Login fails")
        newer = make_ticket(subject="Login fails again")
    sign_in(page, live_server, "acme", "ana@acme.test")
    page.locator(f"#ticket-{newer.number} input[name=tickets]").check()
    page.locator(f"#ticket-{older.number} input[name=tickets]").check()
    page.locator("#bulk-action").select_option("merge")
    asked: list[str] = []

    def answer(dialog: Dialog, accept: bool) -> None:
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, accept=False))
    page.get_by_role("button", name="Apply").click()
    expected = f"Merge #{older.number} into #{newer.number}? This cannot be undone."
    assert asked == [expected]
    with tenant_context(acme.id):
        assert Ticket.objects.get(id=older.id).merged_into_id is None  # dismissed
    page.once("dialog", lambda dialog: answer(dialog, accept=True))
    page.get_by_role("button", name="Apply").click()
    page.get_by_text(f"Merged #{older.number} into #{newer.number}.").wait_for()
    with tenant_context(acme.id):
        assert Ticket.objects.get(id=older.id).merged_into_id == newer.id
