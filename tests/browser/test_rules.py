"""In a real browser: an admin builds a workflow rule row by row, drags it to the top of
the list, moves it with the keyboard's buttons, and dry-runs it against a ticket; the page
at phone and desktop widths."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from pytest_django.live_server_helper import LiveServer

from automation.models import Rule
from automation.rules import services
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import MembershipRole
from tests.browser.conftest import save_screenshot, sign_in
from tests.conftest import make_tenant
from tests.factories.accounts import make_member
from tests.factories.tickets import make_ticket
from tickets.models import Message

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _order() -> list[str]:
    return list(Rule.objects.order_by("position").values_list("name", flat=True))


def test_admin_builds_reorders_and_dry_runs_a_rule(live_server: LiveServer, page: Page) -> None:
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.id):
        adebayo = make_member(acme.tenant, MembershipRole.AGENT, name="Adebayo Refunds")
        for name, condition in (
            ("Tag phone tickets", {"field": "channel", "operator": "is", "value": "phone"}),
            ("Tag VIP tickets", {"field": "tag", "operator": "has", "value": "vip"}),
        ):
            services.create_rule(
                actor=acme.admin,
                name=name,
                conditions=[condition],
                actions=[{"action": "add_tags", "value": ["seen"]}],
            )
        ticket = make_ticket(subject="Refund for order 1234")
    sign_in(page, live_server, "acme", "admin@acme.test", "/settings/")
    page.get_by_role("link", name="Workflow rules").click()

    # Build: "subject contains refund" → assign to Adebayo, tag refund.
    page.get_by_label("Name").fill("Refunds")
    page.get_by_label("Condition 1 field").select_option("subject")
    page.get_by_label("Condition 1 operator").select_option("contains")
    page.get_by_label("Condition 1 value").fill("refund")
    page.get_by_role("button", name="Add condition").click()
    page.get_by_label("Condition 2 field").select_option("channel")
    page.get_by_label("Condition 2 operator").select_option("in")
    page.get_by_label("Condition 2 value").select_option(["email", "web"])
    page.get_by_label("Action 1", exact=True).select_option("assign_to")
    page.get_by_label("Action 1 value").select_option(label="Adebayo Refunds")
    page.get_by_role("button", name="Add action").click()
    page.get_by_label("Action 2", exact=True).select_option("add_tags")
    page.get_by_label("Action 2 value").fill("refund")
    page.get_by_role("button", name="Save rule").click()
    page.get_by_text("Rule “Refunds” saved.").wait_for()
    with tenant_context(acme.id):
        saved = Rule.objects.get(name="Refunds")
        assert saved.conditions == [
            {"field": "subject", "operator": "contains", "value": "refund"},
            {"field": "channel", "operator": "in", "value": ["email", "web"]},
        ]
        assert saved.actions == [
            {"action": "assign_to", "value": str(adebayo.id)},
            {"action": "add_tags", "value": ["refund"]},
        ]
        first = Rule.objects.get(name="Tag phone tickets")
        assert _order() == ["Tag phone tickets", "Tag VIP tickets", "Refunds"]

    # Drag it to the top.
    page.locator(f"#rule-{saved.id} .drag-handle").drag_to(
        page.locator(f"#rule-{first.id}"), target_position={"x": 40, "y": 4}
    )
    page.get_by_text("Order saved.").wait_for()
    with tenant_context(acme.id):
        assert _order() == ["Refunds", "Tag phone tickets", "Tag VIP tickets"]
    assert page.locator("#rule-list li").first.get_attribute("data-rule-id") == str(saved.id)

    # The keyboard's way: move it down one place.
    page.get_by_role("button", name="Move “Refunds” down").click()
    page.locator(f"#rule-{saved.id}").wait_for()
    with tenant_context(acme.id):
        assert _order() == ["Tag phone tickets", "Refunds", "Tag VIP tickets"]

    # Dry run against the ticket: what would change, nothing changed.
    page.get_by_role("link", name="Refunds").click()
    page.get_by_label("Ticket number").fill(str(ticket.number))
    page.get_by_role("button", name="Try it").click()
    result = page.locator("#dry-run-result")
    result.get_by_text(f"Matches #{ticket.number}.").wait_for()
    expect(result).to_contain_text("Assignee: nobody → Adebayo Refunds", use_inner_text=True)
    expect(result).to_contain_text("Tags: none → refund", use_inner_text=True)
    with tenant_context(acme.id):
        assert not Message.objects.filter(ticket=ticket, event__has_key="rule").exists()

    for width in (390, 1280, 1366, 1440):
        page.set_viewport_size({"width": width, "height": 900})
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= width, f"the page scrolls sideways at {width}px"
        save_screenshot(page, f"rules-{width}.png", full_page=True, keep=False)
    page.set_viewport_size({"width": 1280, "height": 800})
    save_screenshot(page, "rules.png")
