"""Chromium through Playwright, against pytest-django's live server.

Debian's chromium-headless-shell (the old headless mode, without the full browser's
window, extension and profile machinery) when installed, else Debian's Chromium: the same
Blink and the same rendering, at less CPU per page. Skipped with a reason when neither is
installed (.ci/run installs the shell).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.conf import settings
from django.contrib import auth
from django.http import HttpRequest
from pytest_django.live_server_helper import LiveServer

from helpdesk.accounts import two_factor
from helpdesk.accounts.models import User
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy import sessions
from tests.conftest import PASSWORD

if TYPE_CHECKING:  # imported by the chromium fixture, which skips when it is missing
    from playwright.sync_api import Browser, BrowserContext, Locator, Page

CHROMIUM = (
    shutil.which("chromium-headless-shell")
    or shutil.which("chromium")
    or shutil.which("chromium-browser")
)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LOOSE_SCREENSHOTS = Path(tempfile.gettempdir()) / "helpdesk-browser"

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# between browser steps are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """Chromium itself; each test context (one per agent) comes from `new_context()`."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium-headless-shell)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-quic",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                # The compositor (software, with no GPU) as a thread of the browser
                # process, not a process of its own: the same frames for less CPU (three
                # pairs of runs of 31 browser tests: 7 to 15% less CPU in all).
                "--in-process-gpu",
            ],
        )
        yield launched
        launched.close()


def new_context(chromium: Browser) -> BrowserContext:
    return chromium.new_context(viewport={"width": 1280, "height": 800})


def close_quietly(context: BrowserContext) -> None:
    """Close a context once its pages stopped talking to the live server: a ticket page
    polls presence and says goodbye on leaving, and a request still running when the test
    database is flushed would deadlock with the flush."""
    for open_page in context.pages:
        open_page.goto("about:blank")
    if context.pages:
        context.pages[0].wait_for_timeout(500)
    context.close()


@pytest.fixture
def browser(chromium: Browser) -> Iterator[BrowserContext]:
    """A fresh browser context (its own cookies) per test."""
    context = new_context(chromium)
    yield context
    close_quietly(context)


@pytest.fixture
def page(browser: BrowserContext) -> Page:
    return browser.new_page()


DESKTOP_WIDTHS = (1280, 1366, 1440)


def widths_here(page: Page) -> Iterator[int]:
    """The widths a layout check at this point of a flow runs at, the viewport resized to
    each in turn: a phone-sized page's own width alone, or for a page at 1280 px the three
    desktop widths, then back to 1280. A desktop flow is driven once and checked at 1366
    and 1440 too (the layout and media queries follow a resize as they do a fresh load),
    instead of being driven again at each width."""
    size = page.viewport_size
    assert size is not None, "the page has no fixed viewport"
    if size["width"] != DESKTOP_WIDTHS[0]:
        yield size["width"]
        return
    try:
        for width in DESKTOP_WIDTHS:
            page.set_viewport_size({"width": width, "height": size["height"]})
            yield width
    finally:
        page.set_viewport_size(size)


def tenant_url(live_server: LiveServer, slug: str, path: str = "/") -> str:
    port = live_server.url.rsplit(":", 1)[1]
    return f"http://{slug}.localhost:{port}{path}"


def log_in(page: Page, live_server: LiveServer, slug: str, email: str) -> None:
    """Log in on the tenant's login page and wait for the inbox. For the tests of signing
    in; the others open their session with `sign_in`."""
    page.goto(tenant_url(live_server, slug, "/accounts/login/"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/inbox/")


def sign_in(
    page: Page, live_server: LiveServer, slug: str, email: str, path: str = "/inbox/"
) -> None:
    """Open the member's session as the login form does (Django's login, the seat's
    generation recorded, no second factor), put its cookie in the page's browser context
    and open `path` on the tenant's host. Saves each test the login page, its POST and the
    inbox it redirects to (a third of a simple test's CPU in Chromium and the live
    server); the sign-in itself is tested through the form (`log_in`)."""
    tenant = tenancy_selectors.get_tenant_by_slug(slug)
    user = User.objects.get(email=email)
    membership = tenancy_selectors.find_membership(tenant_id=tenant.id, user_id=user.id)
    assert membership is not None, f"{email} has no active seat in {slug}"
    request = HttpRequest()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore()
    auth.login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
    sessions.remember_seat(request.session, membership)
    request.session[two_factor.SESSION_VERIFIED] = False
    request.session.save()
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": request.session.session_key or "",
                "url": tenant_url(live_server, slug, "/"),
                "httpOnly": True,
                "sameSite": "Lax",
            }
        ]
    )
    page.goto(tenant_url(live_server, slug, path))


def save_screenshot(
    target: Page | Locator,
    name: str,
    *,
    full_page: bool = False,
    from_top: bool = True,
    keep: bool = True,
) -> None:
    """A picture of the page (from its top unless `from_top=False`) or of one element, for
    people to look at, taken only when HELPDESK_SCREENSHOTS is set (`make screenshots`).
    No assertion needs them, and taking ~130 PNGs cost CPU on every run and rewrote
    tracked files. Kept ones go to docs/screenshots (the README shows some), the others
    (`keep=False`) to a folder in the temporary directory, looked at by hand and never
    committed."""
    if not os.environ.get("HELPDESK_SCREENSHOTS"):
        return
    from playwright.sync_api import Locator

    folder = SCREENSHOTS if keep else LOOSE_SCREENSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(target, Locator):
        target.screenshot(path=str(folder / name))
        return
    if from_top and not full_page:
        target.evaluate("window.scrollTo(0, 0)")
    target.screenshot(path=str(folder / name), full_page=full_page)
