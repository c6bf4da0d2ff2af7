"""In a real browser: an admin subscribes a receiver on loopback to ticket events, copies
the secret shown once, sends a test and sees it answered in the delivery log; then reads
the audit log of it all. Both pages at 390, 1280, 1366 and 1440 px, with no sideways
scrolling."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from pytest_django import Settings
from pytest_django.live_server_helper import LiveServer

from tests.automation.webhook_receiver import Receiver, serve
from tests.browser.conftest import log_in, save_screenshot, tenant_url
from tests.conftest import make_tenant

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (390, 1280, 1366, 1440)


@pytest.fixture
def receiver(settings: Settings) -> Iterator[Receiver]:
    settings.HELPDESK_WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    with serve() as running:
        yield running


def fits(page: Page, width: int) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width, f"{overflow}px wide at {width}px"


def test_admin_subscribes_tests_a_webhook_and_reads_the_audit_log(
    live_server: LiveServer, page: Page, receiver: Receiver
) -> None:
    make_tenant("acme", "Acme")
    log_in(page, live_server, "acme", "admin@acme.test")

    page.goto(tenant_url(live_server, "acme", "/settings/"))
    page.get_by_role("link", name="Webhooks").click()
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("Description").fill("CRM sync")
    page.get_by_label("Ticket created").check()
    page.get_by_label("Message created").check()
    page.get_by_role("button", name="Create webhook").click()
    secret = page.locator("#webhook-secret code.secret").inner_text()
    assert len(secret) == 64
    expect(page.locator("#webhooks")).to_contain_text("CRM sync", use_inner_text=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        fits(page, width)
        save_screenshot(page, f"webhooks-{width}.png")

    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("link", name="CRM sync").click()
    page.get_by_role("button", name="Send test").click()
    page.locator("#delivery-log .delivery-succeeded").wait_for()
    expect(page.locator("#delivery-log")).to_contain_text("HTTP 200", use_inner_text=True)
    assert receiver.events() == ["webhook.test"]
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        fits(page, width)
        save_screenshot(page, f"webhook-detail-{width}.png")

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(tenant_url(live_server, "acme", "/settings/"))
    page.get_by_role("link", name="Audit log").click()
    log = page.locator("#audit-log")
    for text in ("Webhook created", "Webhook test sent", "Signed in"):
        expect(log).to_contain_text(text, use_inner_text=True)
    page.locator("select[name=action]").select_option("webhook")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**action=webhook**")
    expect(page.locator("#audit-log")).not_to_contain_text("Signed in", use_inner_text=True)
    page.goto(tenant_url(live_server, "acme", "/accounts/audit-log/"))
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        fits(page, width)
        save_screenshot(page, f"audit-log-{width}.png")
