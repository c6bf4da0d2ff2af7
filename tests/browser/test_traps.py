"""In a real browser: the day-one traps of issue 19. No agent page scrolls sideways at
ordinary desktop widths (and on a phone); walking the inbox with j/k claims nothing and
"Take it" does; tasks, "Remind me" and "My tasks" with overdue first."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect
from pytest_django.live_server_helper import LiveServer

from automation import services as sla_services
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import MembershipRole
from tests.browser.conftest import save_screenshot, sign_in, tenant_url, widths_here
from tests.browser.test_shell import PHONE_PAGES
from tests.conftest import make_tenant
from tests.factories.accounts import make_member
from tests.factories.tickets import make_contact, make_ticket
from tickets.models import Ticket, TicketTask
from tickets.reminders import services as reminders
from tickets.ticket import services as ticket_services

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AGENT_PAGES = [*PHONE_PAGES, ("my tasks", "tickets:my-tasks", {})]
# Where each overflowing element is, to say what widened the page.
TOO_WIDE = """() => [...document.querySelectorAll('body *')]
  .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
  .slice(0, 5).map((el) => el.tagName + (el.id ? '#' + el.id : '') + '.' + el.className
    + ' ' + Math.round(el.getBoundingClientRect().right))"""


def _long_tickets() -> None:
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


@pytest.mark.parametrize("width", [1280, 390])  # 1280: each page checked at 1366 and 1440 too
def test_no_agent_page_scrolls_sideways(live_server: LiveServer, page: Page, width: int) -> None:
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.id):
        _long_tickets()
        reminders.create_task(
            ticket=Ticket.objects.get(number=1),
            title="Call-back-about-https://shop.example.test/orders/2024/000123456789",
            actor=acme.admin,
            due_at=timezone.now() - datetime.timedelta(hours=2),
        )
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server, "acme", "admin@acme.test")
    too_wide = {}
    for label, url_name, kwargs in AGENT_PAGES:
        response = page.goto(tenant_url(live_server, "acme", reverse(url_name, kwargs=kwargs)))
        assert response is not None, label
        assert response.ok, f"{label}: HTTP {response.status}"
        page.wait_for_load_state("networkidle")
        for shown in widths_here(page):
            widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            if widths[0] > widths[1]:
                too_wide[f"{label} at {shown}"] = (
                    f"{widths[0]} px in {widths[1]}: {page.evaluate(TOO_WIDE)}"
                )
    assert too_wide == {}
    page.goto(tenant_url(live_server, "acme", reverse("tickets:inbox")))
    for shown in widths_here(page):
        if shown != 390:
            # The inbox's last column and the search button are on the screen.
            box = page.locator("#ticket-list th").last.bounding_box()
            assert box is not None
            assert box["x"] + box["width"] <= shown, shown
        save_screenshot(page, f"inbox-{shown}.png")
    if width != 390:
        page.keyboard.press("j")
        page.keyboard.press("j")
        assert page.evaluate("window.scrollX") == 0
    page.goto(tenant_url(live_server, "acme", "/tickets/1/"))
    page.locator("#ticket-tasks").wait_for()
    for shown in widths_here(page):
        save_screenshot(page, f"ticket-{shown}.png")


def test_walking_the_inbox_claims_nothing_and_take_does(
    live_server: LiveServer, page: Page
) -> None:
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.id):
        for subject in ("First question", "Second question", "Third question"):
            make_ticket(subject=subject)
    sign_in(page, live_server, "acme", "admin@acme.test")
    page.keyboard.press("j")
    page.keyboard.press("Enter")  # open the first ticket
    page.wait_for_url("**/tickets/*/")
    page.keyboard.press("j")  # walk on to the next two
    page.wait_for_load_state("networkidle")
    page.keyboard.press("j")
    page.wait_for_load_state("networkidle")
    with tenant_context(acme.id):
        assert list(Ticket.objects.exclude(assignee=None)) == []
    assert page.get_by_text("it is yours now").count() == 0
    page.get_by_role("button", name="Take it").click()
    page.locator("#assignee-availability").wait_for()
    number = int(page.url.rstrip("/").rsplit("/", 1)[1])
    with tenant_context(acme.id):
        taken = Ticket.objects.exclude(assignee=None).get()
        assert (taken.number, taken.assignee_id) == (number, acme.admin.id)


def test_tasks_and_reminders_on_a_ticket(live_server: LiveServer, page: Page) -> None:
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.id):
        ticket = make_ticket(subject="Printer out of toner")
        other = make_ticket(subject="Laptop will not boot")
        reminders.create_task(
            ticket=other,
            title="Order a new disk",
            actor=acme.admin,
            due_at=timezone.now() + datetime.timedelta(days=2),
        )
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, live_server, "acme", "admin@acme.test", f"/tickets/{ticket.number}/")
    panel = page.locator("#ticket-tasks")
    panel.get_by_text("No tasks.").wait_for()
    panel.locator("summary", has_text="Add a task").click()
    panel.get_by_label("Task").fill("Ship a toner cartridge")
    panel.get_by_label("Due").fill("2020-01-02T10:00")
    panel.get_by_role("button", name="Add task").click()
    page.locator("#ticket-tasks .task.overdue").get_by_text("Ship a toner cartridge").wait_for()
    expect(page.locator("#ticket-tasks .task.overdue").get_by_text("Overdue")).to_be_visible()
    page.locator("#ticket-tasks summary", has_text="Remind me").click()
    page.locator("#ticket-tasks input[name=remind_at][required]").fill("2099-03-04T09:30")
    page.locator("#ticket-tasks").get_by_role("button", name="Remind me").click()
    page.locator("#ticket-tasks").get_by_text("Reminder", exact=True).wait_for()
    save_screenshot(page, "ticket-tasks.png")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My tasks").click()
    page.wait_for_url("**/tasks/")
    titles = page.locator(".my-tasks .task-title").all_inner_texts()
    assert titles[0] == "Ship a toner cartridge"  # overdue first
    assert set(titles) == {"Ship a toner cartridge", "Order a new disk", "Reminder"}
    save_screenshot(page, "my-tasks.png")
    # Done from the ticket: gone from My tasks.
    page.goto(tenant_url(live_server, "acme", f"/tickets/{ticket.number}/"))
    page.get_by_role("button", name="Mark done: Ship a toner cartridge").click()
    page.get_by_role("button", name="Reopen: Ship a toner cartridge").wait_for()
    with tenant_context(acme.id):
        assert TicketTask.objects.get(title="Ship a toner cartridge").done


def test_slash_searches_all_tickets_from_the_ticket_page(
    live_server: LiveServer, page: Page
) -> None:
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.id):
        waiting = make_ticket(subject="Zebra crossing paint")
        ticket_services.change_status(ticket=waiting, status="waiting", actor=acme.admin)
        other = make_ticket(subject="Printer")
    sign_in(page, live_server, "acme", "admin@acme.test")
    # From the "All open" view the box still searches every ticket, and says so.
    page.locator("#q").fill("zebra")
    page.locator("#q").press("Enter")
    page.get_by_text("Searched all tickets, every status, for “zebra”.").wait_for()
    expect(page.get_by_role("link", name="Zebra crossing paint")).to_be_visible()
    # On a ticket page, / goes to the search box.
    page.goto(tenant_url(live_server, "acme", f"/tickets/{other.number}/"))
    page.keyboard.press("/")
    page.keyboard.type("zebra")
    page.keyboard.press("Enter")
    page.wait_for_url("**/inbox/?*")
    page.get_by_text("Searched all tickets, every status, for “zebra”.").wait_for()
    expect(page.get_by_role("link", name="Zebra crossing paint")).to_be_visible()


def test_a_light_agents_forbidden_shortcut_and_page_say_why(
    live_server: LiveServer, page: Page
) -> None:
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.id):
        make_member(acme.tenant, MembershipRole.LIGHT_AGENT, email="lee@acme.test", name="Lee")
        ticket = make_ticket(subject="Printer")
    sign_in(page, live_server, "acme", "lee@acme.test", f"/tickets/{ticket.number}/")
    page.keyboard.press("a")  # take: not for light agents
    toast = page.get_by_role("alert").filter(has_text="Not allowed")
    toast.wait_for()
    expect(toast).to_contain_text(
        "Light agents read tickets and write internal notes only.", use_inner_text=True
    )
    assert (
        page.locator("#shortcut-refusal").evaluate("(el) => getComputedStyle(el).position")
        == "fixed"
    )
    page.keyboard.press("s")
    page.keyboard.press("s")  # solve: refused alike, nothing sent
    assert page.get_by_text("This field is required").count() == 0
    with tenant_context(acme.id):
        ticket.refresh_from_db()
        assert (ticket.assignee_id, ticket.status) == (None, "open")
    response = page.goto(tenant_url(live_server, "acme", "/settings/tickets/"))
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_text("Only admins may do this.")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()  # the help desk's own page


def test_a_hidden_sla_policy_is_warned_about_and_moved(live_server: LiveServer, page: Page) -> None:
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.id):
        sla_services.save_sla_policy(
            actor=acme.admin, name="Default", position=0, first_response_minutes=240
        )
        sla_services.save_sla_policy(
            actor=acme.admin,
            name="Urgent",
            position=1,
            priorities=["urgent"],
            first_response_minutes=30,
        )
    sign_in(page, live_server, "acme", "admin@acme.test", "/settings/sla/")
    warning = page.locator(".policy-shadowed")
    expect(warning).to_contain_text("Never applies", use_inner_text=True)
    save_screenshot(page, "sla-shadowed.png")
    warning.get_by_role("button", name="Move before “Default”").click()
    page.get_by_text("“Urgent” now comes before “Default”.").wait_for()
    assert page.locator(".policy-shadowed").count() == 0
    names = page.locator("#sla-policies tbody tr td:nth-child(2) a").all_inner_texts()
    assert names == ["Urgent", "Default"]


def test_the_agent_picks_a_time_zone_and_pages_name_it(live_server: LiveServer, page: Page) -> None:
    make_tenant("acme", "Acme")
    sign_in(page, live_server, "acme", "admin@acme.test")
    page.locator(".account-menu summary").click()  # the member's own menu in the top bar
    page.get_by_role("link", name="Preferences").click()
    page.wait_for_url("**/settings/preferences/")
    expect(page.locator("#current-zone")).to_have_text("UTC", use_inner_text=True)
    page.get_by_label("Show times in").select_option("Asia/Tokyo")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Preferences saved.").wait_for()
    expect(page.locator("#current-zone")).to_have_text("Asia/Tokyo", use_inner_text=True)
    page.goto(tenant_url(live_server, "acme", "/tasks/"))
    expect(page.get_by_text("Times in Asia/Tokyo")).to_be_visible()
