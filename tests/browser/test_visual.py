"""In a real browser: the workspace's visual system (issue 19 point 4). At desktop widths
an inbox row is one line; the ticket page has the conversation and the sidebar side by
side; on a phone the first screen shows tickets (views and filters behind a button) and
every tap target is at least 40 px; pages have a favicon; htmx updates shift nothing.
Screenshots of the inbox, a ticket, a settings page and the phone inbox go to
docs/screenshots (visual-*.png)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from pytest_django.live_server_helper import LiveServer

from helpdesk.tenancy.context import tenant_context
from tests.browser.conftest import save_screenshot, sign_in, tenant_url, widths_here
from tests.conftest import make_tenant
from tests.factories.tickets import make_contact, make_ticket
from tickets.ticket import services

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# "before-" while taking the screenshots of the old look (README's before/after).
PREFIX = os.environ.get("HELPDESK_SCREENSHOT_PREFIX", "visual-")
SUBJECTS = [
    ("The invoice PDF attached to order 2024-000123 shows the wrong VAT number", "urgent"),
    ("Password reset link expired before I could use it", "high"),
    ("Export to CSV stops at 10,000 rows", "normal"),
    ("Can we get an invoice in our company's name?", "normal"),
    ("Mobile app crashes when I open settings", "high"),
    ("How do I add a colleague to our account?", "low"),
    ("Refund for the double charge in March", "normal"),
    ("SSO login loops back to the sign-in page", "urgent"),
]
# Shifts of visible content that no input caused, summed (Cumulative Layout Shift).
LAYOUT_SHIFT = """() => new Promise((done) => {
  let total = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) if (!entry.hadRecentInput) total += entry.value;
  }).observe({ type: "layout-shift", buffered: true });
  setTimeout(() => done(total), 4500);
})"""


def _tickets() -> None:
    names = ["Maximiliane Konstantinopoulou", "Tom Baker", "Priya Natarajan", "Lee Chen"]
    for index, (subject, priority) in enumerate(SUBJECTS):
        contact = make_contact(
            name=names[index % len(names)], email=f"person{index}@customer{index}.example.test"
        )
        ticket = make_ticket(
            subject=subject,
            body="Hello, since this morning the page shows an error when I try again.",
            contact=contact,
            priority=priority,
        )
        if index % 3 == 0:
            services.change_status(ticket=ticket, status="waiting", actor=None)


def test_desktop_inbox_rows_are_one_line_and_the_ticket_is_side_by_side(
    live_server: LiveServer, page: Page
) -> None:
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.id):
        _tickets()
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_server, "acme", "admin@acme.test")
    page.wait_for_load_state("networkidle")
    if PREFIX == "visual-":
        assert page.eval_on_selector("link[rel=icon]", "link => link.href").endswith(".svg")
    for width in widths_here(page):
        save_screenshot(page, f"{PREFIX}inbox-{width}.png")
        if PREFIX == "visual-":
            heights = page.eval_on_selector_all(
                "#ticket-list tr.ticket-row",
                "rows => rows.map((r) => r.getBoundingClientRect().height)",
            )
            assert len(heights) >= 5  # the open ones (the view shows no waiting tickets)
            assert max(heights) <= 44, (width, heights)  # one line of text, with its padding
    page.goto(tenant_url(live_server, "acme", "/tickets/1/"))
    page.locator("#ticket-tasks").wait_for()
    if PREFIX == "visual-":
        # The presence ping, the SLA and tasks panels, the knowledge-base panel: htmx fills
        # them in without moving what is already on the screen.
        page.reload()
        assert page.evaluate(LAYOUT_SHIFT) < 0.02
    for width in widths_here(page):
        if PREFIX == "visual-":
            conversation = page.locator("section[aria-label=Conversation]").bounding_box()
            sidebar = page.locator("#sidebar").bounding_box()
            assert conversation is not None
            assert sidebar is not None
            assert sidebar["x"] >= conversation["x"] + conversation["width"], width  # side by side
            assert abs(sidebar["y"] - conversation["y"]) < 4, width
        save_screenshot(page, f"{PREFIX}ticket-{width}.png")
    page.goto(tenant_url(live_server, "acme", "/settings/tickets/"))
    page.wait_for_load_state("networkidle")
    for width in widths_here(page):
        save_screenshot(page, f"{PREFIX}settings-{width}.png")


def test_phone_first_screen_shows_tickets_with_big_tap_targets(
    live_server: LiveServer, page: Page
) -> None:
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.id):
        _tickets()
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, "acme", "admin@acme.test")
    page.wait_for_load_state("networkidle")
    save_screenshot(page, f"{PREFIX}phone-390.png")
    if PREFIX != "visual-":
        return
    rows = page.locator("#ticket-list tr.ticket-row")
    first = rows.first.bounding_box()
    assert first is not None
    assert first["y"] + first["height"] <= 844  # the first ticket is on the first screen
    assert page.locator("#ticket-list tr.ticket-row").nth(2).bounding_box()["y"] < 844  # type: ignore[index]
    expect(page.get_by_role("link", name="Waiting on customer")).to_be_hidden()
    page.get_by_role("button", name="Views and filters").click()
    expect(page.get_by_role("link", name="Waiting on customer")).to_be_visible()
    small = page.evaluate(
        """() => [...document.querySelectorAll('a, button, summary, input, select')]
          .filter((el) => el.offsetParent !== null && !el.closest('.visually-hidden'))
          .filter((el) => !(el.closest('p, li:not(.views li), td.cell-subject')
                            && el.tagName === 'A' && !el.closest('.views, .main-nav, .ticket-row')))
          // A checkbox is tapped through its label or its table cell.
          .map((el) => [el, (el.type === 'checkbox' && el.closest('label, td, th') || el)
            .getBoundingClientRect()])
          .filter(([el, box]) => box.right > 0 && box.bottom > 0 && box.left < innerWidth)
          .filter(([el, box]) => box.height < 40 || (box.width < 40 && el.type !== 'checkbox'))
          .map(([el, box]) => `${el.tagName}#${el.id}.${el.className} `
            + `${el.textContent.trim().slice(0, 20)} `
            + `${Math.round(box.width)}x${Math.round(box.height)}`)"""
    )
    assert small == [], "\n".join(small)
    save_screenshot(page, f"{PREFIX}phone-menu-390.png")
