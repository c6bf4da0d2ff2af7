"""In a real browser: the reports page over a date range, its chart and tables, a drill-down
from a breakdown number to the same tickets in the inbox, and the page on a phone."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from pytest_django.live_server_helper import LiveServer

from automation.reports import services
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import MembershipRole
from tests.automation.test_reports import DAYS, START, _small_tenant
from tests.browser.conftest import save_screenshot, sign_in, tenant_url, widths_here
from tests.conftest import make_tenant
from tests.factories.accounts import make_member
from tickets.models import Ticket

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RANGE = "/reports/?from=2026-03-01&to=2026-03-15"


def _seeded() -> None:
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.id):
        _small_tenant(acme)
        services.rebuild(start=START, end=START + datetime.timedelta(days=DAYS + 5))


def test_reports_page_and_a_drill_down(live_server: LiveServer, page: Page) -> None:
    _seeded()
    sign_in(page, live_server, "acme", "admin@acme.test", RANGE)
    created = page.locator("#figure-created strong")
    expect(created).to_have_text("40", use_inner_text=True)
    expect(page.get_by_role("img", name="Tickets created and solved per day")).to_be_visible()
    expect(page.get_by_role("heading", name="What the figures mean")).to_be_visible()
    save_screenshot(page, "reports.png")
    table = page.get_by_role("table", name="By channel")
    first_row = table.locator("tbody tr").first
    label = first_row.locator("th").inner_text()
    count = int(first_row.locator("td a").first.inner_text())
    first_row.locator("td a").first.click()
    page.wait_for_url("**/inbox/?*")
    assert f"channel={label.lower()}" in page.url
    assert page.locator("tr.ticket-row").count() == count
    # The range form: a bad range is said, not a crash.
    page.goto(tenant_url(live_server, "acme", "/reports/?from=2026-03-10&to=2026-03-01"))
    expect(page.get_by_role("alert")).to_have_text("from is after to.", use_inner_text=True)


def test_reports_page_is_readable_on_a_phone(live_server: LiveServer, page: Page) -> None:
    _seeded()
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, "acme", "admin@acme.test", RANGE)
    expect(page.locator("#figure-created strong")).to_have_text("40", use_inner_text=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    save_screenshot(page, "reports-390.png")
    page.get_by_role(
        "heading", name="Tickets created by weekday and hour"
    ).scroll_into_view_if_needed()
    save_screenshot(page, "reports-heat-map-390.png", from_top=False)
    page.get_by_role("heading", name="By channel").scroll_into_view_if_needed()
    save_screenshot(page, "reports-tables-390.png", from_top=False)


def test_reports_page_at_desktop_widths(live_server: LiveServer, page: Page) -> None:
    _seeded()
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_server, "acme", "admin@acme.test", RANGE)
    expect(page.locator("#figure-created strong")).to_have_text("40", use_inner_text=True)
    for width in widths_here(page):
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        for chart in (
            "Tickets created and solved per day",
            "Unsolved tickets at the end of each day, 2026-03-01 to 2026-03-15",
            "First response median per week (calendar time)",
            "Tickets created by weekday and hour",
        ):
            expect(page.get_by_role("img", name=chart), f"{chart} at {width}").to_be_visible()
        save_screenshot(page, f"reports-{width}.png")
        for heading, shot in (
            ("Backlog at the end of each day", "charts"),
            ("How long first responses took", "heat-map"),
            ("Agent performance", "agents"),
        ):
            page.get_by_role("heading", name=heading).scroll_into_view_if_needed()
            save_screenshot(page, f"reports-{shot}-{width}.png", from_top=False)


def test_an_agent_sees_their_own_report(live_server: LiveServer, page: Page) -> None:
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.id):
        agent = make_member(acme.tenant, MembershipRole.AGENT, email="ada@acme.test", name="Ada")
        tickets = _small_tenant(acme)
        Ticket.objects.filter(id__in=[t.id for t in tickets[:7]]).update(assignee=agent)
        services.rebuild(start=START, end=START + datetime.timedelta(days=DAYS + 5))
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_server, "acme", "ada@acme.test")
    page.get_by_role("link", name="Reports").click()
    page.goto(tenant_url(live_server, "acme", RANGE))
    expect(page.locator("#figure-created strong")).to_have_text("7", use_inner_text=True)
    expect(page.get_by_text("Your own figures")).to_be_visible()
    assert page.get_by_role("heading", name="By channel").count() == 0
    save_screenshot(page, "reports-agent-1280.png")
    page.locator("#figure-created a").click()
    page.wait_for_url("**/inbox/?*")
    assert page.locator("tr.ticket-row").count() == 7


def test_sla_heat_map_and_backlog_drill_downs(live_server: LiveServer, page: Page) -> None:
    """The drill-downs added last, clicked: an SLA metric's missed number, a heat-map
    cell and a week's backlog each open the inbox with as many tickets as they said."""
    from tests.automation.test_report_drill_downs import _seed as seed_drill_downs

    acme = make_tenant("acme", "Acme")
    seed_drill_downs(acme)
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_server, "acme", "admin@acme.test")
    report = tenant_url(live_server, "acme", "/reports/?from=2026-03-02&to=2026-03-09")
    page.goto(report)
    sla = page.get_by_role("table", name="SLA targets")
    missed = sla.locator("tbody tr").first.locator("td a").nth(1)
    count = int(missed.inner_text())
    assert count > 0
    missed.click()
    page.wait_for_url("**/inbox/?*")
    assert "sla_result=first_response%3Amissed" in page.url
    assert page.locator("tr.ticket-row").count() == count
    save_screenshot(page, "reports-drill-down-sla-1280.png")

    page.goto(report)
    page.get_by_role(
        "heading", name="Tickets created by weekday and hour"
    ).scroll_into_view_if_needed()
    cell = page.locator("a.heat-cell").first
    count = int(cell.get_attribute("data-count") or "0")
    assert count > 0
    save_screenshot(page, "reports-heat-map-links-1280.png", from_top=False)
    cell.click()
    page.wait_for_url("**/inbox/?*")
    assert "created_weekday=" in page.url
    assert "created_hour=" in page.url
    assert page.locator("tr.ticket-row").count() == count

    page.goto(report)
    week = page.get_by_role("table", name="By week").locator("tbody tr").first.locator("td a")
    count = int(week.inner_text())
    week.click()
    page.wait_for_url("**/inbox/?*")
    assert "open_at=" in page.url
    assert page.locator("tr.ticket-row").count() == count


def test_drill_down_says_its_filters_as_chips(live_server: LiveServer, page: Page) -> None:
    """A drill-down's inbox says what it lists ("First response SLA missed 2 Mar - 9 Mar
    2026"), on a phone without sideways scrolling too; removing the chip lists more."""
    from tests.automation.test_report_drill_downs import _seed as seed_drill_downs

    acme = make_tenant("acme", "Acme")
    seed_drill_downs(acme)
    sign_in(page, live_server, "acme", "admin@acme.test")
    report = tenant_url(live_server, "acme", "/reports/?from=2026-03-02&to=2026-03-09")
    for width in (390, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(report)
        missed = page.get_by_role("table", name="SLA targets").locator("tbody tr").first
        count = int(missed.locator("td a").nth(1).inner_text())
        missed.locator("td a").nth(1).click()
        page.wait_for_url("**/inbox/?*")
        chips = page.get_by_role("group", name="Active filters")
        chip = chips.get_by_role("link", name="First response SLA missed")
        assert chip.inner_text().startswith("First response SLA missed 2 Mar")
        expect(chips.get_by_role("link", name="Any status")).to_be_visible()
        expect(page.get_by_role("link", name="Clear filters")).to_be_visible()
        assert page.locator("tr.ticket-row").count() == count
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], widths
        save_screenshot(page, f"inbox-chips-{width}.png", from_top=False, keep=False)
    chip.click()
    page.wait_for_url("**/inbox/?*")
    assert "sla_result" not in page.url
    assert page.get_by_role("link", name="First response SLA missed").count() == 0
    assert page.locator("tr.ticket-row").count() > count
