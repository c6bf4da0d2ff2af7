"""In a real browser, on a phone and on a desktop screen: a member turns two-factor
sign-in on (scans the QR code's key, types a code, sees the recovery codes once), logs
out, and signs in again with a code from the authenticator (pyotp stands in for the
phone app); the pages break no Content-Security-Policy rule."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pyotp
import pytest
from pytest_django.live_server_helper import LiveServer

from tests.browser.conftest import close_quietly, log_in, save_screenshot, tenant_url
from tests.conftest import PASSWORD, make_tenant

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 800)])
def test_enable_two_factor_and_sign_in_with_it(
    live_server: LiveServer, chromium: Browser, width: int, height: int
) -> None:
    make_tenant("acme", "Acme")
    context = chromium.new_context(viewport={"width": width, "height": height})
    violations: list[str] = []
    try:
        page = context.new_page()

        def on_console(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text:
                violations.append(message.text)

        page.on("console", on_console)
        log_in(page, live_server, "acme", "admin@acme.test")
        page.goto(tenant_url(live_server, "acme", "/accounts/two-factor/"))
        qr = page.locator(".qr-code svg")
        qr.wait_for()
        box = qr.bounding_box()
        assert box is not None
        assert box["width"] >= 150  # scannable, and inside a phone's screen
        assert box["x"] + box["width"] <= width
        save_screenshot(page, f"two-factor-setup-{width}.png")
        secret = page.locator("#two-factor-secret").inner_text().replace(" ", "")
        totp = pyotp.TOTP(secret)
        page.get_by_label("Code").fill(totp.now())
        page.get_by_role("button", name="Turn on").click()
        page.get_by_text("They are shown only now.").wait_for()
        assert page.locator("#recovery-codes li").count() == 10
        save_screenshot(page, f"two-factor-codes-{width}.png")
        page.get_by_role("link", name="I saved them, continue").click()
        page.locator("#two-factor-status").wait_for()

        # Log out and sign in again: the password, then a code.
        page.goto(tenant_url(live_server, "acme", "/accounts/login/"))
        context.clear_cookies()
        page.goto(tenant_url(live_server, "acme", "/accounts/login/"))
        page.get_by_label("Email").fill("admin@acme.test")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/accounts/login/code/")
        page.get_by_label("Code").fill("000000")
        page.get_by_role("button", name="Verify").click()
        page.get_by_text("That code is not right").wait_for()
        save_screenshot(page, f"two-factor-sign-in-{width}.png")
        # The code just used to turn it on is spent: the next step's is in the window.
        page.get_by_label("Code").fill(totp.at(int(time.time()) + 30))
        page.get_by_role("button", name="Verify").click()
        page.wait_for_url("**/inbox/")
        assert violations == []
    finally:
        close_quietly(context)
