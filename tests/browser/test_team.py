"""In a real browser: an admin invites someone, sees the pending invitation with Resend and
Revoke on a phone and on a desktop screen; the invited person accepts from the mail."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from playwright.sync_api import expect
from pytest_django.live_server_helper import LiveServer

from tests.browser.conftest import close_quietly, save_screenshot, sign_in, tenant_url
from tests.conftest import make_tenant

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Dialog, Locator, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _within_viewport(page: Page, locator: Locator) -> bool:
    box = locator.bounding_box()
    viewport = page.viewport_size
    assert viewport is not None
    width = viewport["width"]
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width


def _invitation_path(message: EmailMessage) -> str:
    path = re.search(r"http://acme\.localhost(/accounts/invitations/\S+/)", str(message.body))
    assert path, message.body
    return path.group(1)


def test_pending_invitation_with_resend_and_revoke_at_phone_and_desktop_width(
    live_server: LiveServer, chromium: Browser
) -> None:
    make_tenant("acme", "Acme")
    admin = chromium.new_context(viewport={"width": 1280, "height": 800})
    invitee = chromium.new_context(viewport={"width": 390, "height": 844})
    try:
        page = admin.new_page()
        sign_in(page, live_server, "acme", "admin@acme.test", "/accounts/team/")
        page.get_by_label("Email").fill("nina@example.test")
        page.get_by_label("Name").fill("Nina Ruiz")
        page.get_by_role("button", name="Send invitation").click()
        page.get_by_text("nina@example.test is invited; an email is on its way.").wait_for()
        row = page.locator("#invitations tbody tr")
        assert row.count() == 1
        expect(row).to_contain_text("Nina Ruiz", use_inner_text=True)
        for width, height in ((1280, 800), (390, 844)):
            page.set_viewport_size({"width": width, "height": height})
            section = page.locator("#invitations")
            save_screenshot(page, f"team-invitations-{width}.png", full_page=True, keep=False)
            # Everything of the row fits without scrolling the table sideways.
            for part in ("nina@example.test", "Resend", "Revoke"):
                target = (
                    section.get_by_role("button", name=part)
                    if part in {"Resend", "Revoke"}
                    else section.get_by_text(part)
                )
                expect(target).to_be_visible()
                assert _within_viewport(page, target), (width, part, target.bounding_box())
            overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
            assert not overflow, f"the page scrolls sideways at {width} px"

        page.get_by_role("button", name="Resend").click()
        page.get_by_text("Invitation to nina@example.test sent again.").wait_for()
        first, second = (m for m in mail.outbox if m.to == ["nina@example.test"])
        old, new = (_invitation_path(m) for m in (first, second))

        phone = invitee.new_page()
        phone.goto(tenant_url(live_server, "acme", old))
        phone.get_by_text("This invitation link no longer works").wait_for()
        phone.goto(tenant_url(live_server, "acme", new))
        phone.get_by_role("heading", name="Join Acme").wait_for()
        save_screenshot(phone, "invitation-accept-390.png", full_page=True, keep=False)
        assert phone.get_by_label("Your name").input_value() == "Nina Ruiz"
        phone.get_by_label("Choose a password").fill("nina-picks-this-1")
        phone.get_by_label("Repeat it").fill("nina-picks-this-1")
        phone.get_by_role("button", name="Accept and log in").click()
        phone.wait_for_url("**/inbox/")

        page.reload()
        assert page.locator("#invitations tbody tr").count() == 0
        page.get_by_role("cell", name="nina@example.test", exact=True).wait_for()
    finally:
        close_quietly(admin)
        close_quietly(invitee)


def test_revoking_asks_first_and_the_link_stops_working(
    live_server: LiveServer, chromium: Browser
) -> None:
    make_tenant("acme", "Acme")
    admin = chromium.new_context(viewport={"width": 390, "height": 844})
    try:
        page = admin.new_page()
        sign_in(page, live_server, "acme", "admin@acme.test", "/accounts/team/")
        page.get_by_label("Email").fill("sam@example.test")
        page.get_by_role("button", name="Send invitation").click()
        page.get_by_text("sam@example.test is invited").wait_for()
        asked: list[str] = []

        def answer(dialog: Dialog) -> None:
            asked.append(dialog.message)
            dialog.accept()

        page.once("dialog", answer)
        page.locator("#invitations").get_by_role("button", name="Revoke").click()
        page.get_by_text("Invitation to sam@example.test revoked.").wait_for()
        assert asked == ["Revoke the invitation to sam@example.test? Its link stops working."]
        [sent] = [m for m in mail.outbox if m.to == ["sam@example.test"]]
        page.goto(tenant_url(live_server, "acme", _invitation_path(sent)))
        page.get_by_text("This invitation link no longer works").wait_for()
    finally:
        close_quietly(admin)
