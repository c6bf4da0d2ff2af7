"""In a real browser: a canned response inserted into the reply editor and sent as an
email; the template editor's preview."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from django.core import mail
from playwright.sync_api import expect
from pytest_django.live_server_helper import LiveServer

from automation import services as automation_services
from helpdesk.tenancy.context import tenant_context
from tests.browser.conftest import tenant_url
from tests.conftest import PASSWORD, make_tenant
from tests.factories.tickets import make_contact, make_ticket

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page: Page, live_server: LiveServer, slug: str) -> None:
    page.goto(tenant_url(live_server, slug, "/accounts/login/"))
    page.get_by_label("Email").fill(f"admin@{slug}.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/inbox/")


def test_canned_response_into_a_reply_that_is_emailed(live_server: LiveServer, page: Page) -> None:
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.id):
        ticket = make_ticket(
            subject="Printer on fire",
            contact=make_contact(name="Carla Diaz", email="carla@example.test"),
        )
        automation_services.create_canned_response(
            title="Restart steps",
            body="Hi {{ contact.first_name }}, please restart it.",
            scope="tenant",
            actor=acme.admin,
        )
    _login(page, live_server, "acme")
    page.goto(tenant_url(live_server, "acme", f"/tickets/{ticket.number}/"))
    page.get_by_text("Insert a canned response").click()
    # Opening the picker lists the responses at once, before any search is typed.
    page.get_by_role("button", name="Restart steps").wait_for()
    page.get_by_label("Search canned responses").fill("restart")
    page.get_by_role("button", name="Restart steps").click()
    page.wait_for_function(
        "() => document.querySelector('#reply-body').value.includes('Hi Carla, please restart it.')"
    )
    page.get_by_role("button", name="Send").click()
    page.locator("article.kind-reply").get_by_text("Hi Carla, please restart it.").wait_for()
    assert [m.to for m in mail.outbox] == [["carla@example.test"]]
    assert "Hi Carla, please restart it." in mail.outbox[0].body


def test_template_editor_preview(live_server: LiveServer, page: Page) -> None:
    make_tenant("acme", "Acme")
    _login(page, live_server, "acme")
    page.goto(tenant_url(live_server, "acme", "/settings/email-templates/status_solved/"))
    page.get_by_label("Body").fill("Done, {{ contact.first_name }}! See {{ ticket.nope }}")
    page.get_by_role("button", name="Preview with sample data").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "unknown placeholder: {{ ticket.nope }}", use_inner_text=True
    )
    page.get_by_label("Body").fill("Done, {{ contact.first_name }}!")
    page.get_by_role("button", name="Preview with sample data").click()
    expect(page.locator("#preview").get_by_text("Done, Carla!")).to_be_visible()
