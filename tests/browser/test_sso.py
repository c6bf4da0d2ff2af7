"""In a real browser, on a phone and on a desktop screen: an admin sets up single sign-on
on its settings page (a refused issuer first, then the real provider: *Test discovery*
finds it, the redirect URI is copied, the secret is never shown back), and then a person
of an allowed domain signs in through the provider (django-oauth-toolkit on loopback,
tests/accounts/oidc_provider) and lands in the inbox with a seat made just in time. No
sideways scrolling, no Content-Security-Policy violation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from pytest_django import Settings
from pytest_django.live_server_helper import LiveServer

from helpdesk.tenancy.models import Membership
from tests.accounts.oidc_provider.server import CLIENT_ID, CLIENT_SECRET, run_provider
from tests.browser.conftest import close_quietly, save_screenshot, sign_in, tenant_url
from tests.conftest import make_tenant

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def issuer(live_server: LiveServer, tmp_path: Path, settings: Settings) -> Iterator[str]:
    """The provider, with the help desk's callback on the live server registered."""
    pytest.importorskip("oauth2_provider")
    settings.HELPDESK_OUTBOUND_ALLOW_PRIVATE_HOSTS = True  # the provider is on loopback
    callback = tenant_url(live_server, "acme", "/accounts/sso/callback/")
    with run_provider(tmp_path, callback) as running:
        yield running


def fits(page: Page, width: int) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width, f"{overflow}px wide at {width}px"


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 800)])
def test_admin_sets_up_sso_and_a_person_signs_in_through_the_provider(
    live_server: LiveServer, chromium: Browser, issuer: str, width: int, height: int
) -> None:
    make_tenant("acme", "Acme")
    violations: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    admin = chromium.new_context(viewport={"width": width, "height": height})
    person = chromium.new_context(viewport={"width": width, "height": height})
    try:
        page = admin.new_page()
        page.on("console", on_console)
        sign_in(page, live_server, "acme", "admin@acme.test", "/settings/")
        page.get_by_role("link", name="Single sign-on").click()
        page.wait_for_url("**/accounts/sso/settings/")
        redirect_uri = page.locator("#sso-redirect-uri").inner_text()
        assert redirect_uri == tenant_url(live_server, "acme", "/accounts/sso/callback/")
        copy = page.get_by_role("button", name="Copy the redirect URI")
        copy.click()
        page.locator("[data-copy]", has_text="Copied").or_(
            page.locator("[data-copy]", has_text="Selected")
        ).wait_for()

        # A refused issuer: the reason beside the field, nothing saved.
        page.get_by_label("Issuer").fill("http://idp.example.com")
        page.get_by_label("Client id").fill(CLIENT_ID)
        page.get_by_label("Client secret").fill(CLIENT_SECRET)
        page.get_by_role("button", name="Save").click()
        alert = page.locator("#sso-form [role=alert]").first
        alert.wait_for()
        expect(alert).to_contain_text("https:// address", use_inner_text=True)
        fits(page, width)
        save_screenshot(page, f"sso-settings-refused-{width}.png")

        # The real provider: discovery finds it, then save.
        page.get_by_label("Issuer").fill(issuer + "/")
        page.get_by_role("button", name="Test discovery").click()
        found = page.locator("#sso-discovery .check-ok")
        found.wait_for()
        expect(found).to_contain_text(f"Found the provider {issuer}", use_inner_text=True)
        page.get_by_label("Client secret").fill(CLIENT_SECRET)
        page.get_by_label("Email domains that get a seat on first sign-in").fill("example.com")
        page.get_by_label("Offer single sign-on on the login page").check()
        page.get_by_role("button", name="Save").click()
        page.get_by_text("Single sign-on settings saved; it is on.").wait_for()
        assert CLIENT_SECRET not in page.content()
        assert "Replace the client secret" in page.content()
        fits(page, width)
        save_screenshot(page, f"sso-settings-{width}.png")

        # Someone new from example.com signs in through the provider.
        visitor = person.new_page()
        visitor.on("console", on_console)
        visitor.goto(tenant_url(live_server, "acme", "/accounts/login/"))
        visitor.get_by_role("link", name="Sign in with single sign-on").click()
        visitor.get_by_label("Username").fill("nina")
        visitor.get_by_label("Password").fill("pw-nina")
        visitor.get_by_role("button", name="Sign in").click()
        visitor.wait_for_url("**/inbox/")
        assert "nina@example.com" in visitor.content()
        seat = Membership.objects.get(tenant__slug="acme", user__email="nina@example.com")
        assert seat.role == "agent"
        assert violations == []
    finally:
        close_quietly(person)
        close_quietly(admin)
