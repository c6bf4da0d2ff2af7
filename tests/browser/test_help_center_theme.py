"""In a real browser, at phone and desktop widths: an admin gives the help center its name,
colour and logo on the settings page, and a visitor's help center shows them. Screenshots
in docs/screenshots/help-center-theme*.png."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pytest_django import Settings
from pytest_django.live_server_helper import LiveServer

from helpdesk.tenancy.models import Tenant
from tests.browser.conftest import save_screenshot, sign_in, tenant_url
from tests.conftest import make_tenant

if TYPE_CHECKING:
    from playwright.sync_api import FilePayload, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A 2 x 2 PNG, teal.
LOGO = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000002000000020802000000fdd49a73"
    "0000001649444154789c63f8ff9f81e1ff7f0686ff0c0c0c0c0c00003d0f07f9a5"
    "d6f1a80000000049454e44ae426082"
)


def _no_horizontal_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


@pytest.mark.parametrize("width", [390, 1280])
def test_an_admin_themes_the_help_center(
    live_server: LiveServer, page: Page, width: int, settings: Settings, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    logo: FilePayload = {"name": "logo.png", "mimeType": "image/png", "buffer": LOGO}
    svg: FilePayload = {"name": "logo.svg", "mimeType": "image/svg+xml", "buffer": b"<svg/>"}
    acme = make_tenant("acme", "Acme")
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server, "acme", acme.admin.user.email, "/kb/theme/")
    page.get_by_role("heading", name="Help center look").wait_for()
    assert _no_horizontal_scroll(page), width
    page.get_by_label("Name").fill("Acme Printers")
    page.get_by_label("Accent colour").fill("#0f766e")
    page.get_by_label("Logo", exact=True).set_input_files(files=logo)
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Help center look saved.").wait_for()
    page.get_by_role("img", name="Logo of Acme Printers").wait_for()
    assert _no_horizontal_scroll(page), width
    save_screenshot(page, f"help-center-theme-settings{'-phone' if width == 390 else ''}.png")
    tenant = Tenant.objects.get(id=acme.id)
    assert (tenant.name, tenant.brand_colour) == ("Acme Printers", "#0f766e")

    visitor = page.context.browser.new_context()  # type: ignore[union-attr]
    try:
        help_page = visitor.new_page()
        help_page.set_viewport_size({"width": width, "height": 900})
        help_page.goto(tenant_url(live_server, "acme", "/help/"))
        brand = help_page.locator(".help-brand")
        brand.get_by_text("Acme Printers").wait_for()
        help_page.locator("img.help-logo").wait_for()
        # Loaded and decoded: the uploaded image itself (2 x 2), not a broken one.
        help_page.wait_for_function(
            "() => { const logo = document.querySelector('img.help-logo');"
            " return logo.complete && logo.naturalWidth === 2; }"
        )
        accent = help_page.evaluate(
            "getComputedStyle(document.documentElement).getPropertyValue('--brand').trim()"
        )
        assert accent == "#0f766e"
        assert _no_horizontal_scroll(help_page), width
        save_screenshot(help_page, f"help-center-theme{'-phone' if width == 390 else ''}.png")
    finally:
        visitor.close()

    # A bad colour is refused with a message, nothing changes.
    page.goto(tenant_url(live_server, "acme", "/kb/theme/"))
    page.get_by_label("Logo", exact=True).set_input_files(files=svg)
    page.get_by_role("button", name="Save").click()
    page.get_by_text("A logo is a PNG, JPEG, GIF or WebP image.").wait_for()
    assert Tenant.objects.get(id=acme.id).logo.name == tenant.logo.name
