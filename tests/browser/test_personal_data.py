"""In a real browser: an admin finds the personal data panel on a contact's page, downloads
the export and erases the person after confirming; the page then shows an anonymous
contact whose ticket is still listed. At 390 and 1280 px."""

from __future__ import annotations

import io
import zipfile
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from pytest_django.live_server_helper import LiveServer

from helpdesk.tenancy.context import tenant_context
from tests.browser.conftest import save_screenshot, sign_in
from tests.conftest import make_tenant
from tests.factories.tickets import make_contact, make_ticket

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_exports_then_erases_a_contact(live_server: LiveServer, page: Page) -> None:
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.id):
        maria = make_contact(email="maria.rossi@example.test", name="Maria Rossi")
        ticket = make_ticket(subject="Maria's printer", body="It smokes.", contact=maria)
    sign_in(page, live_server, "acme", "admin@acme.test", f"/contacts/{maria.id}/")
    panel = page.locator("#personal-data")
    expect(panel).to_contain_text("Personal data", use_inner_text=True)
    for width in (390, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        panel.scroll_into_view_if_needed()
        save_screenshot(page, f"personal-data-{width}.png", from_top=False)
        assert page.evaluate("document.documentElement.scrollWidth") <= width

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export with attachments (zip)").click()
    content = download_info.value.path().read_bytes()
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert "contact.json" in archive.namelist()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Erase this person…").click()
    page.get_by_text("The contact is erased").wait_for()
    expect(page.locator("main")).not_to_contain_text("Maria", use_inner_text=True)
    expect(page.locator(f"#ticket-{ticket.number}")).to_contain_text(
        "[erased]", use_inner_text=True
    )
    save_screenshot(page, "personal-data-erased-1280.png")
