"""In a real browser: an agent switches their availability in the top bar; an admin sees it
on the team page and gives the agent a shift and leave; the department page shows who is
on. Looked at at 390, 1280, 1366 and 1440 px wide: nothing scrolls sideways."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

import pytest
import time_machine
from playwright.sync_api import expect
from pytest_django.live_server_helper import LiveServer

from departments import services as department_services
from departments.models import AgentShift, ShiftLeave
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Membership
from tests.browser.conftest import close_quietly, save_screenshot, sign_in, tenant_url
from tests.conftest import make_tenant
from tests.factories.accounts import make_member
from tests.factories.tickets import make_ticket
from tickets.ticket import services as ticket_services

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (390, 1280, 1366, 1440)


def _no_sideways_scroll(page: Page, width: int, what: str) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    assert not overflow, f"{what} scrolls sideways at {width} px"


def test_an_agent_switches_availability_in_the_top_bar(
    live_server: LiveServer, chromium: Browser
) -> None:
    acme = make_tenant("acme", "Acme")
    agent = make_member(acme.tenant, email="ben@acme.test", name="Ben Okafor")
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        sign_in(page, live_server, "acme", "ben@acme.test")
        switch = page.locator("#availability-switch")
        # Working in the help desk on shift: automatically online.
        expect(switch.locator("summary")).to_have_text("Online", use_inner_text=True)
        switch.locator("summary").click()
        expect(switch.get_by_text("Automatic: online while you work")).to_be_visible()
        switch.get_by_role("button", name="Away").click()
        page.wait_for_function(
            "() => document.querySelector('#availability-switch summary').innerText.trim()"
            " === 'Away'"
        )
        seat = Membership.objects.get(id=agent.id)
        assert (seat.availability, seat.availability_is_manual) == ("away", True)
        page.reload()
        expect(page.locator("#availability-switch summary")).to_have_text(
            "Away", use_inner_text=True
        )
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            switch = page.locator("#availability-switch")
            switch.locator("summary").click()
            menu = switch.locator("form")
            menu.wait_for(state="visible")
            box = menu.bounding_box()
            assert box is not None
            assert box["x"] >= 0, (width, box)
            assert box["x"] + box["width"] <= width, (width, box)
            expect(switch.get_by_text("Set by hand")).to_be_visible()
            _no_sideways_scroll(page, width, "the inbox with the availability menu open")
            save_screenshot(page, f"availability-switch-{width}.png", from_top=False, keep=False)
            switch.locator("summary").click()  # closed again
        page.set_viewport_size({"width": 1280, "height": 800})
        page.locator("#availability-switch summary").click()
        page.locator("#availability-switch").get_by_role("button", name="Online").click()
        page.wait_for_function(
            "() => document.querySelector('#availability-switch summary').innerText.trim()"
            " === 'Online'"
        )
        assert Membership.objects.get(id=agent.id).availability == "online"
    finally:
        close_quietly(context)


# 03:00 in Berlin on a Sunday: off every day of the shift below (the weekdays keep the
# form's 09:00-17:00), whatever time the suite runs. The live server's clock too.
SUNDAY_NIGHT = datetime.datetime(2026, 12, 6, 2, 0, tzinfo=datetime.UTC)


@time_machine.travel(SUNDAY_NIGHT, tick=True)
def test_an_admin_sets_a_shift_and_leave_and_sees_who_is_on(
    live_server: LiveServer, chromium: Browser
) -> None:
    acme = make_tenant("acme", "Acme")
    agent = make_member(acme.tenant, email="ben@acme.test", name="Ben Okafor")
    Membership.objects.filter(id=agent.id).update(availability="away", availability_is_manual=True)
    with tenant_context(acme.id):
        department_services.update_department(
            department=acme.department,
            actor=None,
            name=acme.department.name,
            description="",
            is_default=True,
            members=[acme.admin, agent],
        )
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        sign_in(page, live_server, "acme", "admin@acme.test", "/accounts/team/")
        row = page.locator(f"#seat-{agent.id}")
        expect(row.locator(".availability-dot.availability-away")).to_be_visible()
        expect(row).to_contain_text("Away", use_inner_text=True)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            _no_sideways_scroll(page, width, "the team page")
            save_screenshot(page, f"availability-team-{width}.png", full_page=True, keep=False)
        page.set_viewport_size({"width": 1280, "height": 800})
        row.get_by_role("link", name="Shift, leave, availability").click()
        page.wait_for_url(f"**/settings/members/{agent.id}/shift/")
        page.get_by_label("Time zone").select_option("Europe/Berlin")
        page.get_by_label("Saturday").fill("10:00-14:00")
        page.get_by_role("button", name="Save shift").click()
        page.get_by_text("Shift of Ben Okafor saved.").wait_for()
        with tenant_context(acme.id):
            shift = AgentShift.objects.get(membership_id=agent.id)
        assert shift.timezone == "Europe/Berlin"
        assert {"day": 5, "start": "10:00", "end": "14:00"} in shift.intervals
        assert len(shift.intervals) == 6
        page.get_by_label("First day").fill("2026-08-03")
        page.get_by_label("Last day").fill("2026-08-14")
        page.get_by_label("Reason").fill("Summer holiday")
        page.get_by_role("button", name="Add leave").click()
        page.get_by_text("Leave of Ben Okafor added.").wait_for()
        expect(page.locator("#leave-list")).to_contain_text("Summer holiday", use_inner_text=True)
        with tenant_context(acme.id):
            assert ShiftLeave.objects.filter(membership_id=agent.id).count() == 1
        # A typo is refused with the reason, and the other days are kept as typed.
        page.get_by_label("Sunday").fill("9 to 5")
        page.get_by_role("button", name="Save shift").click()
        page.get_by_text("Write periods like 09:00-17:00.").wait_for()
        assert page.get_by_label("Saturday").input_value() == "10:00-14:00"
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            _no_sideways_scroll(page, width, "the member's shift page")
            save_screenshot(
                page, f"availability-member-shift-{width}.png", full_page=True, keep=False
            )
        # Beside the assignee: in the inbox and on the ticket page.
        page.set_viewport_size({"width": 1280, "height": 800})
        with tenant_context(acme.id):
            ticket = make_ticket(subject="Printer on fire")
            ticket_services.assign_ticket(ticket=ticket, assignee=agent, actor=acme.admin)
        page.goto(tenant_url(live_server, "acme", "/inbox/"))
        cell = page.locator(f"#ticket-{ticket.number} .cell-assignee")
        expect(cell.locator(".availability-dot.availability-offline")).to_be_visible()
        save_screenshot(page, "availability-inbox-1280.png", from_top=False, keep=False)
        page.goto(tenant_url(live_server, "acme", f"/tickets/{ticket.number}/"))
        assert page.locator("#assignee-availability").inner_text().strip() == (
            "Ben Okafor is offline, off shift"
        )
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            _no_sideways_scroll(page, width, "the ticket page")
            page.locator("#assignee-availability").scroll_into_view_if_needed()
            save_screenshot(page, f"availability-ticket-{width}.png", from_top=False, keep=False)
        page.set_viewport_size({"width": 1280, "height": 800})
        page.goto(tenant_url(live_server, "acme", f"/settings/departments/{acme.department.id}/"))
        roster = page.locator("#roster")
        expect(roster).to_contain_text("Who is on now", use_inner_text=True)
        expect(roster).to_contain_text("Ben Okafor", use_inner_text=True)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            _no_sideways_scroll(page, width, "the department page")
            save_screenshot(
                page, f"availability-department-{width}.png", from_top=False, keep=False
            )
    finally:
        close_quietly(context)
