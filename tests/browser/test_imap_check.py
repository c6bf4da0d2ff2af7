"""In a real browser: an admin types IMAP settings for a mailbox, tests the connection
against a real Dovecot before saving, fixes the password, then saves."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from pytest_django.live_server_helper import LiveServer

from departments.models import Mailbox
from helpdesk.tenancy.context import tenant_context
from tests.browser.conftest import save_screenshot, sign_in
from tests.conftest import make_tenant
from tests.dovecot import Dovecot, dovecot, loopback_imap_allowed  # noqa: F401

if TYPE_CHECKING:
    from playwright.sync_api import Dialog, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_tests_the_imap_connection_then_saves(
    live_server: LiveServer,
    page: Page,
    dovecot: Dovecot,  # noqa: F811
    loopback_imap_allowed: None,  # noqa: F811
) -> None:
    acme = make_tenant("acme", "Acme")
    sign_in(page, live_server, "acme", "admin@acme.test", f"/settings/mailboxes/{acme.mailbox.id}/")
    page.get_by_label("Poll an IMAP mailbox").check()
    page.get_by_label("IMAP server").fill(dovecot.host)
    page.get_by_label("Port").fill(str(dovecot.port))
    page.get_by_label("Connection security").select_option("none")
    page.get_by_label("User name").fill(dovecot.user)
    page.get_by_label("Password", exact=True).fill("not the password")
    page.get_by_role("button", name="Test connection").click()
    result = page.locator("#imap-check")
    result.get_by_text("Connection failed: login failed").wait_for()

    page.get_by_label("Password", exact=True).fill(dovecot.password)
    page.get_by_role("button", name="Test connection").click()
    result.get_by_text(f"Connected to {dovecot.host}: logged in and opened INBOX.").wait_for()
    imap_settings = page.locator("fieldset", has_text="IMAP polling")
    save_screenshot(imap_settings, "imap-check.png")
    with tenant_context(acme.id):
        assert Mailbox.objects.get(id=acme.mailbox.id).imap_enabled is False  # not saved yet

    page.get_by_role("button", name="Save mailbox").click()
    page.get_by_text("Mailbox support@acme.localhost saved.").wait_for()
    with tenant_context(acme.id):
        saved = Mailbox.objects.get(id=acme.mailbox.id)
    assert (saved.imap_enabled, saved.imap_host, saved.imap_security) == (True, "127.0.0.1", "none")


def test_deleting_a_mailbox_asks_first(live_server: LiveServer, page: Page) -> None:
    acme = make_tenant("acme", "Acme")
    from departments import services as department_services

    with tenant_context(acme.id):
        sales = department_services.create_mailbox(
            address="sales@acme.localhost", department=acme.department
        )
    sign_in(page, live_server, "acme", "admin@acme.test", f"/settings/mailboxes/{sales.id}/")
    asked: list[str] = []

    def answer(dialog: Dialog, accept: bool) -> None:
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, accept=False))
    page.get_by_role("button", name="Delete this mailbox").click()
    assert asked == [
        "Delete the mailbox sales@acme.localhost? Mail to its addresses will be refused "
        "from then on."
    ]
    with tenant_context(acme.id):
        assert Mailbox.objects.filter(id=sales.id).exists()  # dismissed: nothing sent
    page.once("dialog", lambda dialog: answer(dialog, accept=True))
    page.get_by_role("button", name="Delete this mailbox").click()
    page.wait_for_url("**/settings/")
    with tenant_context(acme.id):
        assert not Mailbox.objects.filter(id=sales.id).exists()
