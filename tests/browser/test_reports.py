"""In a real browser: the reports page over a date range, its chart and tables, a drill-down
from a breakdown number to the same tickets in the inbox, and the page on a phone."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

import pytest
from pytest_django.live_server_helper import LiveServer

from automation.reports import services
from helpdesk.tenancy.context import tenant_context
from tests.automation.test_reports import DAYS, START, _small_tenant
from tests.browser.conftest import SCREENSHOTS, log_in, save_screenshot, tenant_url
from tests.conftest import make_tenant

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
    log_in(page, live_server, "acme", "admin@acme.test")
    page.goto(tenant_url(live_server, "acme", RANGE))
    created = page.locator("#figure-created strong")
    assert created.inner_text() == "40"
    assert page.get_by_role("img", name="Tickets created and solved per day").is_visible()
    assert page.get_by_role("heading", name="What the figures mean").is_visible()
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
    assert page.get_by_role("alert").inner_text() == "from is after to."


def test_reports_page_is_readable_on_a_phone(live_server: LiveServer, page: Page) -> None:
    _seeded()
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server, "acme", "admin@acme.test")
    page.goto(tenant_url(live_server, "acme", RANGE))
    assert page.locator("#figure-created strong").inner_text() == "40"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    save_screenshot(page, "reports-390.png")
    page.get_by_role("heading", name="By channel").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "reports-tables-390.png"))
