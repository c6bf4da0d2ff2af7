"""Chromium through Playwright, against pytest-django's live server.

Skipped with a reason when Debian's Chromium is not installed (.ci/run installs it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PASSWORD

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# between browser steps are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """Chromium itself; each test context (one per agent) comes from `new_context()`."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
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
            ],
        )
        yield launched
        launched.close()


def new_context(chromium: object) -> object:
    return chromium.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]


def close_quietly(context: object) -> None:
    """Close a context once its pages stopped talking to the live server: a ticket page
    polls presence and says goodbye on leaving, and a request still running when the test
    database is flushed would deadlock with the flush."""
    for open_page in context.pages:  # type: ignore[attr-defined]
        open_page.goto("about:blank")
    if context.pages:  # type: ignore[attr-defined]
        context.pages[0].wait_for_timeout(500)  # type: ignore[attr-defined]
    context.close()  # type: ignore[attr-defined]


@pytest.fixture
def browser(chromium: object) -> Iterator[object]:
    """A fresh browser context (its own cookies) per test."""
    context = new_context(chromium)
    yield context
    close_quietly(context)


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    page = browser.new_page()  # type: ignore[attr-defined]
    return page


def tenant_url(live_server: object, slug: str, path: str = "/") -> str:
    port = live_server.url.rsplit(":", 1)[1]  # type: ignore[attr-defined]
    return f"http://{slug}.localhost:{port}{path}"


def log_in(page: object, live_server: object, slug: str, email: str) -> None:
    """Log in on the tenant's login page and wait for the inbox."""
    page.goto(tenant_url(live_server, slug, "/accounts/login/"))  # type: ignore[attr-defined]
    page.get_by_label("Email").fill(email)  # type: ignore[attr-defined]
    page.get_by_label("Password").fill(PASSWORD)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Log in").click()  # type: ignore[attr-defined]
    page.wait_for_url("**/inbox/")  # type: ignore[attr-defined]


def save_screenshot(page: object, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # type: ignore[attr-defined]
    page.screenshot(path=str(SCREENSHOTS / name), full_page=False)  # type: ignore[attr-defined]
