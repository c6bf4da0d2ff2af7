"""In a real browser: an agent opens the article editor, switches to German, writes the
translation with the live preview and saves it; a visitor whose browser prefers German
reads it in the help center (home, search, the article) at 390 and 1280 px, while an
English browser still reads the original. Screenshots of the editor and the help center."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from pytest_django.live_server_helper import LiveServer

from helpdesk.tenancy.context import tenant_context
from knowledge_base import services as kb_services
from knowledge_base.models import ArticleTranslation
from tests.browser.conftest import (
    close_quietly,
    save_screenshot,
    sign_in,
    tenant_url,
)
from tests.conftest import make_tenant

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _no_sideways_scroll(page: Page) -> bool:
    return bool(
        page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    )


def test_a_german_translation_is_written_and_read_by_a_german_browser(
    live_server: LiveServer, page: Page, chromium: Browser
) -> None:
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.id):
        category = kb_services.create_category(name="Accounts")
        kb_services.create_article(
            category=category,
            title="Reset your password",
            body="## Steps\n\n1. Open **Sign in**.\n2. Choose *Forgot password*.",
            status="published",
        )
    sign_in(page, live_server, "acme", "admin@acme.test", "/kb/reset-your-password/edit/")
    switcher = page.get_by_role("navigation", name="Languages of this article")
    switcher.get_by_role("link", name="Deutsch").click()
    page.wait_for_url("**/kb/reset-your-password/translations/de/")
    expect(page.get_by_role("heading", name="Translate into Deutsch")).to_be_visible()
    page.get_by_label("Title").fill("Passwort zurücksetzen")
    page.locator("#id_body").fill(
        "## Schritte\n\n1. Öffnen Sie **Anmelden**.\n2. Wählen Sie *Passwort vergessen*.\n\n"
        "<script>alert('x')</script>"
    )
    preview = page.locator("#kb-preview")
    preview.locator("h2", has_text="Schritte").wait_for()
    expect(preview.locator("strong", has_text="Anmelden")).to_be_visible()
    assert preview.locator("script").count() == 0
    page.get_by_role("button", name="Save Deutsch translation").click()
    page.wait_for_url("**/kb/reset-your-password/translations/de/")
    expect(page.get_by_text("Deutsch translation added.")).to_be_visible()
    expect(page.get_by_role("heading", name="Deutsch translation")).to_be_visible()
    for width in (390, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        assert _no_sideways_scroll(page), width
        save_screenshot(page, f"kb-translation-editor-{width}.png")
    page.goto(tenant_url(live_server, "acme", "/kb/reset-your-password/"))
    page.get_by_text("Deutsch: Passwort zurücksetzen").click()
    expect(page.locator("details[lang=de] strong", has_text="Anmelden")).to_be_visible()
    page.set_viewport_size({"width": 390, "height": 900})
    assert _no_sideways_scroll(page)
    page.get_by_role("heading", name="Translations").scroll_into_view_if_needed()
    save_screenshot(page, "kb-article-translations-390.png", from_top=False)
    with tenant_context(acme.id):
        translation = ArticleTranslation.objects.get()
        assert translation.language == "de"
        assert "<strong>Anmelden</strong>" in translation.body_html
        assert "<script" not in translation.body_html

    german = chromium.new_context(locale="de-DE", viewport={"width": 390, "height": 844})
    try:
        visitor = german.new_page()
        for width in (390, 1280):
            visitor.set_viewport_size({"width": width, "height": 900})
            visitor.goto(tenant_url(live_server, "acme", "/help/"))
            # The help center's own words follow the tenant's language (English here);
            # the articles follow the browser.
            expect(visitor.get_by_role("heading", name="How can we help?")).to_be_visible()
            visitor.get_by_role("link", name="Passwort zurücksetzen").click()
            visitor.wait_for_url("**/help/reset-your-password/")
            expect(visitor.get_by_role("heading", name="Passwort zurücksetzen")).to_be_visible()
            expect(visitor.locator("article strong", has_text="Anmelden")).to_be_visible()
            assert visitor.locator("article[lang=de]").count() == 1
            assert _no_sideways_scroll(visitor), width
            save_screenshot(visitor, f"help-center-article-de-{width}.png")
            visitor.goto(tenant_url(live_server, "acme", "/help/search/?q=vergessen"))
            expect(visitor.get_by_role("link", name="Passwort zurücksetzen")).to_be_visible()
    finally:
        close_quietly(german)

    page.goto(tenant_url(live_server, "acme", "/help/reset-your-password/"))
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
