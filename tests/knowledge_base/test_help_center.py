"""The public help center: categories, search (full text and typos), articles with their
meta tags, views and votes, suggestions and deflections, theme; other tenants, drafts and
internal articles never show; bad input is a 4xx."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from helpdesk.tenancy.context import tenant_context
from knowledge_base import public
from knowledge_base.models import (
    Article,
    ArticleStats,
    ArticleTranslation,
    ArticleVote,
    Deflection,
)
from tests.conftest import TenantSetup
from tests.factories.knowledge_base import make_article, make_category


def _articles(setup: TenantSetup) -> None:
    with tenant_context(setup.id):
        basics = make_category("Basics")
        billing = make_category("Billing", position=1)
        make_article(
            basics,
            "Reset your password",
            "Open the sign-in page and follow the link *Forgot your password*.",
        )
        make_article(
            billing, "Download an invoice", "Invoices are under Account, then Billing history."
        )
        make_article(
            basics,
            "Password rotation (internal)",
            "Rotate the vault password.",
            visibility="internal",
        )
        make_article(basics, "Passwort Entwurf", "draft", status="draft")


@pytest.fixture
def help_acme(acme: TenantSetup) -> TenantSetup:
    _articles(acme)
    return acme


def test_home_lists_public_articles_by_category(help_acme: TenantSetup) -> None:
    html = help_acme.client().get("/help/").content.decode()
    assert html.index("Basics") < html.index("Reset your password") < html.index("Billing")
    assert 'href="/help/download-an-invoice/"' in html
    assert "internal" not in html
    assert "Entwurf" not in html
    assert 'href="/accounts/login/"' in html  # the agents' way in


def test_search_ranks_by_full_text_and_finds_a_misspelled_word(help_acme: TenantSetup) -> None:
    client = help_acme.client()
    found = client.get("/help/search/", {"q": "invoice account"}).content.decode()
    assert "Download an invoice" in found
    assert "Reset your password" not in found
    typo = client.get("/help/search/", {"q": "pasword"}).content.decode()
    assert "Reset your password" in typo
    assert "Password rotation" not in typo  # internal articles never show
    assert "Entwurf" not in typo
    assert "Nothing matches" in client.get("/help/search/", {"q": "zebra"}).content.decode()
    # The old home page search still answers.
    assert "Download an invoice" in client.get("/help/", {"q": "invoice"}).content.decode()


def test_without_pg_trgm_a_misspelled_word_is_corrected_against_the_articles(
    help_acme: TenantSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded PostgreSQL has no contrib extensions: the same searches still work."""
    monkeypatch.setattr(public, "has_trigram", lambda: False)
    client = help_acme.client()
    typo = client.get("/help/search/", {"q": "pasword"}).content.decode()
    assert "Reset your password" in typo
    assert "Password rotation" not in typo  # the internal article's words are not read
    assert "Entwurf" not in typo
    assert "Download an invoice" in client.get("/help/search/", {"q": "invoise"}).content.decode()
    assert "Nothing matches" in client.get("/help/search/", {"q": "zebra"}).content.decode()
    suggested = client.get("/help/suggest/", {"subject": "cant download invoise"})
    assert 'href="/help/download-an-invoice/?from=request"' in suggested.content.decode()
    with tenant_context(help_acme.id):
        assert public.correct_typos("rotation pasword") == "rotation password"
        assert public.correct_typos("Wie geht's") == "Wie geht's"  # short or unknown: kept


def test_the_machine_database_reports_pg_trgm(help_acme: TenantSetup) -> None:
    with tenant_context(help_acme.id):
        assert isinstance(public.has_trigram(), bool)


def test_search_orders_title_matches_first(help_acme: TenantSetup) -> None:
    with tenant_context(help_acme.id):
        found = public.search("password", language="en")
    assert next(a.title for a in found) == "Reset your password"


def test_article_page_has_title_and_meta_tags(help_acme: TenantSetup) -> None:
    response = help_acme.client().get("/help/reset-your-password/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<title>Reset your password · Acme</title>" in html
    assert '<meta name="description" content="Open the sign-in page' in html
    assert '<link rel="canonical" href="http://acme.' in html
    assert 'name="viewport"' in html
    assert "Was this article helpful?" in html


def test_drafts_internal_and_other_tenants_articles_are_404(
    help_acme: TenantSetup, globex: TenantSetup
) -> None:
    client = help_acme.client()
    assert client.get("/help/passwort-entwurf/").status_code == 404
    assert client.get("/help/password-rotation-internal/").status_code == 404
    other = globex.client()
    assert other.get("/help/reset-your-password/").status_code == 404
    assert "Reset your password" not in other.get("/help/").content.decode()
    assert "Reset your password" not in other.get("/help/search/?q=password").content.decode()
    assert (
        "Reset your password" not in other.get("/help/suggest/?subject=password").content.decode()
    )
    assert other.post("/help/reset-your-password/vote/", {"helpful": "yes"}).status_code == 404


def test_views_count_once_per_visitor(help_acme: TenantSetup) -> None:
    client = help_acme.client()
    for _ in range(3):
        client.get("/help/reset-your-password/")
    Client(HTTP_HOST=help_acme.host, REMOTE_ADDR="10.0.0.9").get("/help/reset-your-password/")
    with tenant_context(help_acme.id):
        stats = ArticleStats.objects.get(article__slug="reset-your-password")
    # The first client: once by address (no cookie yet), once by its cookie.
    assert stats.views <= 3
    assert stats.views >= 2


def test_votes_are_one_per_visitor_and_can_change(help_acme: TenantSetup) -> None:
    client = help_acme.client()
    client.get("/help/reset-your-password/")  # the visitor cookie
    for _ in range(3):
        assert client.post("/help/reset-your-password/vote/", {"helpful": "yes"}).status_code == 302
    with tenant_context(help_acme.id):
        stats = ArticleStats.objects.get(article__slug="reset-your-password")
        assert (stats.helpful, stats.not_helpful) == (1, 0)
    response = client.post(
        "/help/reset-your-password/vote/", {"helpful": "no"}, HTTP_HX_REQUEST="true"
    )
    assert "Still stuck?" in response.content.decode()
    with tenant_context(help_acme.id):
        stats.refresh_from_db()
        assert (stats.helpful, stats.not_helpful) == (0, 1)
        assert ArticleVote.objects.count() == 1


def test_invented_visitor_cookies_count_as_the_address(help_acme: TenantSetup) -> None:
    """The cookie is signed: five made-up ones from one address are one visitor, not five
    views and five votes."""
    for n in range(5):
        forged = help_acme.client()
        forged.cookies["hc_visitor"] = f"forgedforgedforged{n:04d}"
        assert forged.get("/help/reset-your-password/").status_code == 200
        forged = help_acme.client()  # the page's own (signed) cookie not kept
        forged.cookies["hc_visitor"] = f"forgedforgedforged{n:04d}"
        forged.post("/help/reset-your-password/vote/", {"helpful": "no"})
    with tenant_context(help_acme.id):
        stats = ArticleStats.objects.get(article__slug="reset-your-password")
        assert (stats.views, stats.not_helpful) == (1, 1)


def test_bad_input_is_4xx(help_acme: TenantSetup) -> None:
    client = help_acme.client()
    assert client.post("/help/reset-your-password/vote/", {"helpful": "maybe"}).status_code == 400
    assert client.get("/help/reset-your-password/vote/").status_code == 405
    assert client.post("/help/no-such-article/vote/", {"helpful": "yes"}).status_code == 404
    assert client.get("/help/search/", {"q": "x" * 5000}).status_code == 200
    assert client.get("/help/search/", {"q": "'\"&|!():*<>"}).status_code == 200
    assert client.get("/help/suggest/", {"subject": "a & | ! ("}).status_code == 200
    assert client.post("/help/search/").status_code == 405
    assert client.get("/help/logo/").status_code == 404


def test_votes_are_rate_limited_per_address(help_acme: TenantSetup, settings: object) -> None:
    settings.HELPDESK_RATELIMIT_PUBLIC_FORM_IP = "2/minute"  # type: ignore[attr-defined]
    client = help_acme.client()
    codes = [
        client.post("/help/reset-your-password/vote/", {"helpful": "yes"}).status_code
        for _ in range(3)
    ]
    assert codes == [302, 302, 429]


def test_suggestions_and_deflections(help_acme: TenantSetup) -> None:
    client = help_acme.client()
    client.get("/help/request/")
    html = client.get("/help/suggest/", {"subject": "cant download invoise"}).content.decode()
    assert 'href="/help/download-an-invoice/?from=request"' in html
    assert client.get("/help/suggest/", {"subject": "ab"}).content.decode().strip() == ""
    client.get("/help/download-an-invoice/?from=request")
    client.get("/help/download-an-invoice/?from=request")
    with tenant_context(help_acme.id):
        assert Deflection.objects.filter(asked_anyway=False).count() == 1


def test_theme_css_uses_the_tenant_colour(help_acme: TenantSetup) -> None:
    help_acme.tenant.brand_colour = "#ffcc00"
    help_acme.tenant.save(update_fields=["brand_colour"])
    css = help_acme.client().get("/help/theme.css")
    assert css["Content-Type"].startswith("text/css")
    assert b"--brand: #ffcc00" in css.content
    assert b"--brand-text: #1c2430" in css.content


def test_login_page_links_to_the_help_center(acme: TenantSetup) -> None:
    assert 'href="/help/"' in acme.client().get("/accounts/login/").content.decode()


def test_help_center_on_the_platform_host_is_404(db: None) -> None:
    assert Client(HTTP_HOST="localhost").get("/help/").status_code == 404


def test_article_page_picks_a_translation_by_accept_language(help_acme: TenantSetup) -> None:
    with tenant_context(help_acme.id):
        article = Article.objects.get(slug="reset-your-password")
        ArticleTranslation.objects.create(
            article=article,
            language="de",
            title="Passwort zurücksetzen",
            body="Öffnen Sie die Anmeldeseite.",
        )
    client = help_acme.client()
    german = client.get(
        "/help/reset-your-password/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9,en;q=0.5"
    )
    html = german.content.decode()
    assert "<h1>Passwort zurücksetzen</h1>" in html
    assert 'lang="de"' in html
    assert "Accept-Language" in german["Vary"]
    english_first = client.get("/help/reset-your-password/", HTTP_ACCEPT_LANGUAGE="en,de;q=0.8")
    assert "<h1>Reset your password</h1>" in english_first.content.decode()
    french = client.get("/help/reset-your-password/", HTTP_ACCEPT_LANGUAGE="fr")
    assert "<h1>Reset your password</h1>" in french.content.decode()
    junk = client.get("/help/reset-your-password/", HTTP_ACCEPT_LANGUAGE=";;,q=x" * 200)
    assert junk.status_code == 200


def _knowledge_base_statements(captured: CaptureQueriesContext) -> list[str]:
    return [
        " ".join(q["sql"].split()[:2])
        for q in captured.captured_queries
        if "knowledge_base_" in q["sql"]
    ]


def test_an_article_page_reads_the_article_counters_and_vote_in_one_query(
    help_acme: TenantSetup,
) -> None:
    """The page's budget (issue 18: under 30 ms, measured in make bench): one query for
    the article with its category, counters and the visitor's answer, and for a view
    not counted yet the counter's one upsert. The answer shown is the visitor's own."""
    client = help_acme.client()
    client.get("/help/reset-your-password/")  # the visitor cookie
    client.post("/help/reset-your-password/vote/", {"helpful": "no"})
    client.get("/help/reset-your-password/")  # the view counted under the cookie
    with CaptureQueriesContext(connection) as returning:
        html = client.get("/help/reset-your-password/").content.decode()
    assert "Still stuck?" in html  # their answer, not the question again
    assert _knowledge_base_statements(returning) == ['SELECT "knowledge_base_article"."id",']
    stranger = Client(HTTP_HOST=help_acme.host, REMOTE_ADDR="10.0.0.77")
    with CaptureQueriesContext(connection) as first_visit:
        html = stranger.get("/help/reset-your-password/").content.decode()
    assert "Was this article helpful?" in html
    assert _knowledge_base_statements(first_visit) == [
        'SELECT "knowledge_base_article"."id",',
        "INSERT INTO",
    ]
