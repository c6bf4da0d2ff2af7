"""In a real browser, under the Content-Security-Policy: no page has anything the policy
blocks (a blocked script, style or image is a console error Chromium names), and remote
images in a customer's mail load only once the agent consents."""

from __future__ import annotations

import base64
import http.server
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from django.urls import reverse
from pytest_django.live_server_helper import LiveServer

from helpdesk.tenancy.context import tenant_context
from tests.automation.http_peer import running
from tests.browser.conftest import log_in, save_screenshot, tenant_url
from tests.browser.test_shell import PHONE_PAGES
from tests.conftest import make_tenant
from tests.factories.tickets import make_contact, make_ticket
from tickets.configuration import services as configuration
from tickets.mail_out import tracking
from tickets.models import Message, SatisfactionRating
from tickets.satisfaction import services as satisfaction
from tickets.ticket import services

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture
def image_host() -> Iterator[dict[str, object]]:
    """A web server of another origin serving one image: the "remote" host in the mail.
    It counts the requests it gets, so a test sees whether the image was fetched."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            self.wfile.write(PNG)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with running(server):
        yield {"url": f"http://127.0.0.1:{server.server_port}/pixel.png", "seen": seen}


def _watch(page: object) -> list[str]:
    """Every CSP violation and script error on the page, as text."""
    problems: list[str] = []

    def on_console(message: object) -> None:
        text = message.text  # type: ignore[attr-defined]
        if message.type == "error" and "Content Security Policy" in text:  # type: ignore[attr-defined]
            problems.append(f"{page.url}: {text}")  # type: ignore[attr-defined]

    page.on("console", on_console)  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))  # type: ignore[attr-defined]
    return problems


def test_no_page_breaks_the_content_security_policy(
    live_server: LiveServer, page: Page, image_host: dict[str, object]
) -> None:
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.id):
        configuration.update_settings(satisfaction_delay_hours=0)
        ticket = make_ticket(
            subject="Printer on fire",
            contact=make_contact(name="Carla Diaz", email="carla@example.test"),
        )
        newsletter = Message.objects.create(
            ticket=ticket,
            kind="customer",
            body_text="Our logo, as promised.",
            body_html=f'<p>Our logo: <img alt="logo" data-remote-src="{image_host["url"]}"></p>',
            author_contact=ticket.contact,
        )
        solved = make_ticket(subject="Solved already")
        services.change_status(ticket=solved, status="solved", actor=None)
        satisfaction.send_due_surveys()
        survey = SatisfactionRating.objects.get(ticket=solved)
        tracking_path = reverse("tickets:tracking", args=[tracking.tracking_token(ticket.id)])
    problems = _watch(page)

    for path in (
        "/accounts/login/",
        "/help/",
        tracking_path,
        reverse("tickets:satisfaction", args=[survey.token]),
    ):
        response = page.goto(tenant_url(live_server, "acme", path))
        assert response is not None, path
        assert response.ok, path
        page.wait_for_load_state("networkidle")

    log_in(page, live_server, "acme", "admin@acme.test")
    for _, url_name, kwargs in PHONE_PAGES:
        response = page.goto(tenant_url(live_server, "acme", reverse(url_name, kwargs=kwargs)))
        assert response is not None, url_name
        assert response.ok, url_name
        page.wait_for_load_state("networkidle")

    # The ticket page: the mail's image waits for consent, and htmx still works without eval.
    # The page draws who is here itself; htmx's first presence ping (its state added by
    # app.js, without eval) follows 2 s later.
    with page.expect_request(lambda request: request.url.endswith("/presence/")) as ping:
        page.goto(tenant_url(live_server, "acme", f"/tickets/{ticket.number}/"))
        page.wait_for_load_state("networkidle")
    assert "state=viewing" in (ping.value.post_data or "")
    article = page.locator(f"#message-{newsletter.id}")
    # HTML mail shows formatted at once; the remote image waits for consent.
    image = article.locator("img[alt=logo]")
    assert image.get_attribute("src") is None
    assert image_host["seen"] == []
    save_screenshot(page, "csp-before-consent.png", keep=False)

    article.get_by_role("link", name="Load remote images").click()
    page.wait_for_url(f"**/tickets/{ticket.number}/?remote_images={newsletter.id}*")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 1", arg=image.element_handle()
    )
    assert image_host["seen"] == ["/pixel.png"]
    save_screenshot(page, "csp-after-consent.png", keep=False)

    # The API documentation (Swagger UI) runs under the API pages' policy.
    page.goto(tenant_url(live_server, "acme", "/api/docs/"))
    page.locator(".swagger-ui .info .title").wait_for()
    page.wait_for_load_state("networkidle")
    save_screenshot(page, "csp-api-docs.png", keep=False)

    assert problems == []
