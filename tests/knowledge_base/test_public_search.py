"""The help center's search documents: kept by the database whoever writes the article,
read through a view that holds the current tenant's published public articles only, takes
no writes, and lets the full-text (and trigram) indexes serve the search."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import ProgrammingError, connection, transaction

from helpdesk.tenancy.context import tenant_context
from knowledge_base import public, services
from knowledge_base.models import PUBLIC_SEARCH_VIEW, Article
from tests.conftest import TenantSetup
from tests.factories.knowledge_base import make_article, make_category


def _rows(sql: str, params: list[str] | None = None) -> list[tuple[object, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def _titles() -> set[str]:
    return {str(row[0]) for row in _rows(f"SELECT title FROM {PUBLIC_SEARCH_VIEW}")}  # noqa: S608


def test_the_view_holds_the_current_tenants_public_articles_only(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    with tenant_context(acme.id):
        basics = make_category("Basics")
        make_article(basics, "Printer on fire", "Call the fire brigade.")
        make_article(basics, "Printer draft", "Not yet.", status="draft")
        make_article(basics, "Printer internal", "Agents only.", visibility="internal")
    with tenant_context(globex.id):
        make_article(make_category("Basics"), "Printer jammed", "Open the tray.")
    assert _rows(f"SELECT count(*) FROM {PUBLIC_SEARCH_VIEW}") == [(0,)]  # noqa: S608 - no tenant
    with tenant_context(acme.id):
        assert _titles() == {"Printer on fire"}
        with pytest.raises(ProgrammingError, match="permission denied"), transaction.atomic():
            _rows(f"DELETE FROM {PUBLIC_SEARCH_VIEW}")  # noqa: S608 - a constant
    with tenant_context(globex.id):
        assert _titles() == {"Printer jammed"}
        assert [a.title for a in public.search("printer", language="en")] == ["Printer jammed"]


def test_the_document_follows_every_write_of_the_article(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        category = make_category("Basics")
        # Written straight to the table (as fixtures and bulk loads do): still indexed.
        Article.objects.bulk_create(
            [
                Article(
                    tenant_id=acme.id,
                    category=category,
                    title="Toner",
                    slug="toner",
                    body="Shake the cartridge.",
                    status="published",
                )
            ]
        )
        assert [a.slug for a in public.search("cartridge", language="en")] == ["toner"]
        article = services.create_article(
            category=category, title="Wireless setup", body="Join the network.", publish=True
        )
        assert [a.slug for a in public.search("network", language="en")] == ["wireless-setup"]
        services.update_article(article=article, actor=None, body="Pair with the router.")
        assert public.search("network", language="en") == []
        assert [a.title for a in public.search("router", language="en")] == ["Wireless setup"]
        services.update_article(article=article, actor=None, visibility="internal")
        assert public.search("router", language="en") == []


@pytest.mark.parametrize("trigram", [True, False], ids=["pg_trgm", "without_pg_trgm"])
def test_a_typo_in_a_body_word_finds_its_article(
    acme: TenantSetup, trigram: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Corrected against the help center's words, on both paths (with and without
    pg_trgm); the words of a newly published article count at once."""
    if trigram and not public.has_trigram():
        pytest.skip("this PostgreSQL has no pg_trgm")
    monkeypatch.setattr(public, "has_trigram", lambda: trigram)
    with tenant_context(acme.id):
        category = make_category("Basics")
        make_article(category, "Printing", "Replace the cartridge when the light blinks.")
        assert [a.title for a in public.search("cartrige", language="en")] == ["Printing"]
        assert public.search("zebra", language="en") == []
        make_article(category, "Animals", "A zebra has stripes.")
        assert [a.title for a in public.search("zebar stripes", language="en")] == ["Animals"]
        # Several words: all of them first, then any of them.
        assert {a.title for a in public.search("zebar cartrige", language="en")} == {
            "Animals",
            "Printing",
        }


def test_documents_are_in_the_tenants_language(acme: TenantSetup) -> None:
    acme.tenant.language = "de"
    acme.tenant.save(update_fields=["language"])
    with tenant_context(acme.id):
        make_article(make_category("Konto"), "Rechnungen herunterladen", "Alle Rechnungen.")
        # The German stemmer: "Rechnung" finds "Rechnungen".
        assert [a.title for a in public.search("Rechnung", language="de")] == [
            "Rechnungen herunterladen"
        ]


@pytest.mark.parametrize("language", ["en", "de-AT", "fr", "es", "nl", "", "EN-us"])
def test_the_database_picks_the_configuration_the_search_uses(language: str, db: None) -> None:
    assert _rows("SELECT knowledge_base_search_config(%s)::text", [language]) == [
        (public.search_config(language),)
    ]


def _plan(sql: str, params: list[str]) -> str:
    return "\n".join(str(row[0]) for row in _rows(f"EXPLAIN {sql}", params))


def _analyze() -> None:
    """Fresh statistics, as autovacuum would gather them (only the owner may)."""
    app = settings.HELPDESK_DB_ROLES["app"]
    _rows("RESET ROLE")
    try:
        _rows("ANALYZE knowledge_base_article")
    finally:
        _rows(f'SET ROLE "{app}"')


def test_the_indexes_serve_the_search_through_the_view(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        category = make_category("Basics")
        Article.objects.bulk_create(
            Article(
                tenant_id=acme.id,
                category=category,
                title=f"Printer guide {n}",
                slug=f"printer-guide-{n}",
                body="Open the tray and take the paper out. " * 20,
                status="published",
            )
            for n in range(400)
        )
        make_article(category, "Printer on fire", "Call the fire brigade.")
        _analyze()
        query = "websearch_to_tsquery('english', %s)"
        through_view = _plan(
            f"SELECT id FROM {PUBLIC_SEARCH_VIEW} WHERE document @@ {query}",  # noqa: S608
            ["brigade"],
        )
        assert "kb_article_public_search_idx" in through_view
        assert [a.title for a in public.search("brigade", language="en")] == ["Printer on fire"]
        # The table itself is under row-level security: no index for `@@` there.
        direct = _plan(
            "SELECT id FROM knowledge_base_article WHERE status = 'published'"  # noqa: S608
            f" AND visibility = 'public' AND search_document @@ {query}",
            ["brigade"],
        )
        assert "kb_article_public_search_idx" not in direct
        # A typo in a title (trigrams with pg_trgm, the corrected word without).
        found = public.search("Printer on fier", language="en")
        assert found[0].title == "Printer on fire"
