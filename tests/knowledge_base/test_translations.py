"""Article translations: written through the API and the editor page in a language the
help desk offers (not the tenant's own), rendered and sanitized like articles, searchable
in their own language, shown by the help center to browsers that prefer them; light agents
read only, other tenants get 404, bad input is a 400 with a message."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import MembershipRole, Tenant
from knowledge_base import public, selectors, services
from knowledge_base.errors import InvalidTranslation, TranslationExists
from knowledge_base.models import ArticleTranslation
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member

GERMAN = "de-DE,de;q=0.9,en;q=0.5"


def _post(client: Client, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, data=json.dumps(data), content_type="application/json")


def _patch(client: Client, url: str, data: dict[str, Any]) -> Any:
    return client.patch(url, data=json.dumps(data), content_type="application/json")


def _published(api: Client) -> dict[str, Any]:
    category = _post(api, "/api/v1/kb/categories/", {"name": "Accounts"}).json()["id"]
    response = _post(
        api,
        "/api/v1/kb/articles/",
        {
            "title": "Reset your password",
            "body": "Open the sign-in page and follow the **link**.",
            "category": category,
            "status": "published",
        },
    )
    assert response.status_code == 201, response.content
    data: dict[str, Any] = response.json()
    return data


def _document(translation_id: Any) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT search_document::text FROM knowledge_base_articletranslation WHERE id = %s",
            [translation_id],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def test_an_agent_writes_changes_and_deletes_a_translation_through_the_api(
    acme: TenantSetup,
) -> None:
    api = acme.api_client()
    article = _published(api)
    url = f"/api/v1/kb/articles/{article['id']}/translations/"
    created = _post(
        api,
        url,
        {"language": "DE", "title": "Passwort zurücksetzen", "body": "Folgen Sie dem **Link**."},
    )
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["language"] == "de"
    assert data["article"] == article["id"]
    assert data["body_html"] == "<p>Folgen Sie dem <strong>Link</strong>.</p>\n"
    assert [t["language"] for t in api.get(url).json()] == ["de"]
    assert api.get(f"{url}de/").json()["title"] == "Passwort zurücksetzen"

    changed = _patch(api, f"{url}de/", {"body": "Öffnen Sie die *Anmeldeseite*."})
    assert changed.status_code == 200, changed.content
    assert changed.json()["title"] == "Passwort zurücksetzen"
    assert "<em>Anmeldeseite</em>" in changed.json()["body_html"]
    # Stemmed as German, not as the tenant's English: "Anmeldeseite" → "anmeldeseit".
    with tenant_context(acme.id):
        assert "anmeldeseit" in (_document(data["id"]) or "")

    again = _post(api, url, {"language": "de", "title": "Noch einmal", "body": "x"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "translation_exists"

    assert api.delete(f"{url}de/").status_code == 204
    assert api.get(f"{url}de/").status_code == 404
    assert api.get(url).json() == []


@pytest.mark.parametrize(
    ("data", "field_or_message"),
    [
        ({"language": "xx", "title": "T", "body": "b"}, "No language “xx” here"),
        ({"language": "en", "title": "T", "body": "b"}, "the help center's own language"),
        ({"language": "", "title": "T", "body": "b"}, "language"),
        ({"language": "de", "title": "   ", "body": "b"}, "title"),
        ({"language": "de", "title": "T", "body": "   "}, "body"),
        ({"language": "de", "title": "T" * 201, "body": "b"}, "title"),
        ({"language": "de", "title": "T"}, "body"),
    ],
)
def test_bad_translation_input_is_a_400_with_a_message(
    acme: TenantSetup, data: dict[str, Any], field_or_message: str
) -> None:
    api = acme.api_client()
    article = _published(api)
    response = _post(api, f"/api/v1/kb/articles/{article['id']}/translations/", data)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["message"]
    assert field_or_message in error["message"] or field_or_message in error.get("fields", {})


def test_an_unknown_language_in_the_address_is_a_400_and_a_missing_one_a_404(
    acme: TenantSetup,
) -> None:
    api = acme.api_client()
    article = _published(api)
    url = f"/api/v1/kb/articles/{article['id']}/translations/"
    unknown = api.get(f"{url}klingon/")
    assert unknown.status_code == 400
    assert "Translations: de (Deutsch)" in unknown.json()["error"]["message"]
    assert _patch(api, f"{url}xx/", {"title": "T"}).status_code == 400
    missing = api.get(f"{url}de/")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "translation_not_found"
    assert _patch(api, f"{url}de/", {"title": ""}).status_code == 404


def test_a_translation_is_sanitized_like_an_article(acme: TenantSetup) -> None:
    api = acme.api_client()
    article = _published(api)
    response = _post(
        api,
        f"/api/v1/kb/articles/{article['id']}/translations/",
        {
            "language": "de",
            "title": "<script>alert(1)</script>",
            "body": '<script>alert(1)</script>\n\n<img src=x onerror="alert(1)">\n\n'
            "[klick](javascript:alert(1))",
        },
    )
    assert response.status_code == 201, response.content
    html = response.json()["body_html"]
    # Raw HTML is shown as text, never as elements; the link has no javascript: target.
    assert "<script" not in html
    assert "<img" not in html
    assert "&lt;script&gt;" in html
    assert "href=" not in html
    page = acme.client().get(f"/help/{article['slug']}/", HTTP_ACCEPT_LANGUAGE=GERMAN)
    text = page.content.decode()
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # the title, escaped


def test_light_agents_read_translations_but_do_not_write_them(acme: TenantSetup) -> None:
    api = acme.api_client()
    article = _published(api)
    url = f"/api/v1/kb/articles/{article['id']}/translations/"
    _post(api, url, {"language": "de", "title": "Passwort", "body": "Text"})
    with tenant_context(acme.id):
        light = make_member(acme.tenant, MembershipRole.LIGHT_AGENT)
    reader = acme.api_client(light)
    assert reader.get(url).status_code == 200
    assert reader.get(f"{url}de/").status_code == 200
    for response in (
        _post(reader, url, {"language": "de", "title": "T", "body": "b"}),
        _patch(reader, f"{url}de/", {"title": "Changed"}),
        reader.delete(f"{url}de/"),
    ):
        assert response.status_code == 403, response.content
    page = acme.client(light)
    detail = page.get(f"/kb/{article['slug']}/").content.decode()
    assert "Deutsch: Passwort" in detail  # read on the article's page
    assert "<p>Text</p>" in detail
    assert "Edit the Deutsch translation" not in detail
    assert page.get(f"/kb/{article['slug']}/translations/de/").status_code == 403
    assert page.post(f"/kb/{article['slug']}/translations/de/delete/").status_code == 403
    with tenant_context(acme.id):
        article_row = selectors.get_article(article["id"])
        with pytest.raises(Exception, match="Light agents"):
            services.create_translation(
                article=article_row,
                language="de",
                title="T",
                body="b",
                own_language="en",
                actor=light,
            )


def test_translations_keep_to_their_tenant(acme: TenantSetup, globex: TenantSetup) -> None:
    api = acme.api_client()
    article = _published(api)
    url = f"/api/v1/kb/articles/{article['id']}/translations/"
    _post(api, url, {"language": "de", "title": "Passwort", "body": "Text"})
    other = globex.api_client()
    assert other.get(url).status_code == 404
    assert other.get(f"{url}de/").status_code == 404
    assert _post(other, url, {"language": "de", "title": "T", "body": "b"}).status_code == 404
    assert _patch(other, f"{url}de/", {"title": "Mine"}).status_code == 404
    assert other.delete(f"{url}de/").status_code == 404
    page = globex.client(globex.admin)
    assert page.get(f"/kb/{article['slug']}/translations/de/").status_code == 404
    assert page.post(f"/kb/{article['slug']}/translations/de/delete/").status_code == 404
    # Globex's help center knows neither the article nor its translation.
    searched = (
        globex.client()
        .get("/help/search/", {"q": "Passwort"}, HTTP_ACCEPT_LANGUAGE=GERMAN)
        .content.decode()
    )
    assert "Nothing matches" in searched
    assert article["slug"] not in searched
    with tenant_context(globex.id):
        assert not ArticleTranslation.objects.exists()
        assert public.search("Passwort", language="en", translation_language="de") == []
    assert api.get(f"{url}de/").status_code == 200


def test_the_editor_page_adds_and_changes_a_translation(acme: TenantSetup) -> None:
    api = acme.api_client()
    article = _published(api)
    agent = acme.client(acme.admin)
    editor = agent.get(f"/kb/{article['slug']}/edit/").content.decode()
    assert f'href="/kb/{article["slug"]}/translations/de/"' in editor  # the switcher
    page = agent.get(f"/kb/{article['slug']}/translations/de/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Translate into Deutsch" in html
    assert "Open the sign-in page" in html  # starts from the original
    assert 'hx-post="/kb/preview/"' in html
    saved = agent.post(
        f"/kb/{article['slug']}/translations/de/",
        {"title": "Passwort zurücksetzen", "body": "Folgen Sie dem **Link**."},
    )
    assert saved.status_code == 302
    with tenant_context(acme.id):
        translation = ArticleTranslation.objects.get()
        assert translation.body_html == "<p>Folgen Sie dem <strong>Link</strong>.</p>\n"
    again = agent.post(
        f"/kb/{article['slug']}/translations/de/", {"title": "Passwort ändern", "body": "Neu."}
    )
    assert again.status_code == 302
    with tenant_context(acme.id):
        assert ArticleTranslation.objects.get().title == "Passwort ändern"
    bad = agent.post(f"/kb/{article['slug']}/translations/de/", {"title": "", "body": "x"})
    assert bad.status_code == 400
    assert agent.get(f"/kb/{article['slug']}/translations/xx/").status_code == 404
    assert agent.get(f"/kb/{article['slug']}/translations/en/").status_code == 404
    assert agent.get("/kb/no-such-article/translations/de/").status_code == 404
    deleted = agent.post(f"/kb/{article['slug']}/translations/de/delete/")
    assert deleted.status_code == 302
    with tenant_context(acme.id):
        assert not ArticleTranslation.objects.exists()


def test_the_help_center_lists_and_searches_in_the_browsers_language(acme: TenantSetup) -> None:
    api = acme.api_client()
    article = _published(api)
    _post(
        api,
        f"/api/v1/kb/articles/{article['id']}/translations/",
        {
            "language": "de",
            "title": "Passwort zurücksetzen",
            "body": "Öffnen Sie die Anmeldeseite und folgen Sie dem Link.",
        },
    )
    visitor = acme.client()
    german_home = visitor.get("/help/", HTTP_ACCEPT_LANGUAGE=GERMAN)
    assert "Passwort zurücksetzen" in german_home.content.decode()
    assert "Accept-Language" in german_home["Vary"]
    assert "Passwort zurücksetzen" not in visitor.get("/help/").content.decode()
    # A German word, stemmed as German ("Anmeldeseiten" → "anmeldeseit").
    found = visitor.get("/help/search/", {"q": "Anmeldeseiten"}, HTTP_ACCEPT_LANGUAGE=GERMAN)
    assert f'href="/help/{article["slug"]}/">Passwort zurücksetzen</a>' in found.content.decode()
    # The article's own words still find it for a German browser.
    english_words = visitor.get("/help/search/", {"q": "sign-in"}, HTTP_ACCEPT_LANGUAGE=GERMAN)
    assert "Passwort zurücksetzen" in english_words.content.decode()
    suggested = visitor.get(
        "/help/suggest/", {"subject": "Anmeldeseite"}, HTTP_ACCEPT_LANGUAGE=GERMAN
    )
    assert "Passwort zurücksetzen" in suggested.content.decode()
    shown = visitor.get(f"/help/{article['slug']}/", HTTP_ACCEPT_LANGUAGE=GERMAN).content.decode()
    assert "<h1>Passwort zurücksetzen</h1>" in shown
    assert "<p>Öffnen Sie die Anmeldeseite" in shown  # rendered, not line breaks of Markdown
    # A draft's translation is never searched.
    _patch(api, f"/api/v1/kb/articles/{article['id']}/", {"status": "draft"})
    hidden = visitor.get("/help/search/", {"q": "Anmeldeseite"}, HTTP_ACCEPT_LANGUAGE=GERMAN)
    assert "Passwort zurücksetzen" not in hidden.content.decode()


def test_the_services_check_the_language_and_refuse_a_second_translation(
    tenant: TenantSetup,
) -> None:
    api_article = _published(tenant.api_client())
    article = selectors.get_article(api_article["id"])
    with pytest.raises(InvalidTranslation, match="own language"):
        services.create_translation(
            article=article,
            language="en-GB",
            title="T",
            body="b",
            own_language="en",
            actor=tenant.admin,
        )
    first, created = services.save_translation(
        article=article,
        language="de-AT",
        title="Titel",
        body="Text",
        own_language="en",
        actor=tenant.admin,
    )
    assert created
    assert first.language == "de"
    with pytest.raises(TranslationExists):
        services.create_translation(
            article=article,
            language="de",
            title="T",
            body="b",
            own_language="en",
            actor=tenant.admin,
        )
    # A German tenant's articles are translated into English, not German.
    assert selectors.translation_languages("de") == [("en", "English")]


def _article_document(article_id: Any) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT search_document::text FROM knowledge_base_article WHERE id = %s",
            [article_id],
        )
        row = cursor.fetchone()
    return str(row[0]) if row else ""


def test_rebuilding_search_documents_follows_the_tenants_language(acme: TenantSetup) -> None:
    """The tenant's language is set when it is created and changed by nobody but the
    operator (in the database); `manage.py rebuild_kb_search` then recomputes the
    articles' documents in the new language and the translations' in their own."""
    api = acme.api_client()
    article = _published(api)
    created = _post(
        api,
        f"/api/v1/kb/articles/{article['id']}/translations/",
        {"language": "de", "title": "Passwort", "body": "Anmeldeseiten"},
    ).json()
    with tenant_context(acme.id):
        assert "'the'" not in _article_document(article["id"])  # an English stop word
    Tenant.objects.filter(id=acme.id).update(language="de")
    call_command("rebuild_kb_search", tenant=acme.tenant.slug, stdout=io.StringIO())
    with tenant_context(acme.id):
        assert "'the'" in _article_document(article["id"])  # not a German one
        assert "anmeldeseit" in (_document(created["id"]) or "")


def test_a_translation_keeps_revisions_and_restores_one(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    api = acme.api_client()
    article = _published(api)
    url = f"/api/v1/kb/articles/{article['id']}/translations/de/"
    _post(
        api,
        f"/api/v1/kb/articles/{article['id']}/translations/",
        {"language": "de", "title": "Passwort", "body": "Erste Fassung."},
    )
    _patch(api, url, {"body": "Zweite Fassung."})
    _patch(api, url, {"body": "Zweite Fassung."})  # unchanged: no revision
    revisions = api.get(f"{url}revisions/").json()
    assert [(r["number"], r["body"], r["note"]) for r in revisions] == [
        (2, "Zweite Fassung.", ""),
        (1, "Erste Fassung.", "Created"),
    ]
    assert revisions[0]["author_name"] == "Acme Admin"
    restored = api.post(f"{url}revisions/1/restore/")
    assert restored.status_code == 200, restored.content
    assert restored.json()["body_html"] == "<p>Erste Fassung.</p>\n"
    assert api.get(f"{url}revisions/").json()[0]["note"] == "Restored revision 1"
    assert api.post(f"{url}revisions/9/restore/").status_code == 404
    # The article's own history is untouched.
    assert len(api.get(f"/api/v1/kb/articles/{article['id']}/revisions/").json()) == 1

    with tenant_context(acme.id):
        light = make_member(acme.tenant, MembershipRole.LIGHT_AGENT)
    reader = acme.api_client(light)
    assert reader.get(f"{url}revisions/").status_code == 200
    assert reader.post(f"{url}revisions/1/restore/").status_code == 403
    other = globex.api_client()
    assert other.get(f"{url}revisions/").status_code == 404
    assert other.post(f"{url}revisions/1/restore/").status_code == 404

    page = acme.client(acme.admin)
    editor = page.get(f"/kb/{article['slug']}/translations/de/").content.decode()
    assert "History of this translation" in editor
    assert (
        page.post(f"/kb/{article['slug']}/translations/de/revisions/2/restore/").status_code == 302
    )
    assert (
        page.post(f"/kb/{article['slug']}/translations/de/revisions/99/restore/").status_code == 404
    )
    assert api.get(url).json()["body"] == "Zweite Fassung."
