"""Writing the knowledge base: the API (categories, sections, articles, revisions), the
renderer, slugs that redirect, revisions and restore, light agents read only, and every
endpoint kept to its tenant."""

from __future__ import annotations

import importlib
import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver

from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import MembershipRole
from knowledge_base import selectors, services
from knowledge_base.models import Article, ArticleRevision, ArticleSlug
from knowledge_base.rendering import plain_text, render_markdown
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)


def _post(client: Client, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, data=json.dumps(data), content_type="application/json")


def _patch(client: Client, url: str, data: dict[str, Any]) -> Any:
    return client.patch(url, data=json.dumps(data), content_type="application/json")


def _article(api: Client, category: str, **fields: Any) -> dict[str, Any]:
    body = {"title": "Reset a password", "body": "Use the **link**.", "category": category}
    response = _post(api, "/api/v1/kb/articles/", {**body, **fields})
    assert response.status_code == 201, response.content
    data: dict[str, Any] = response.json()
    return data


def _category(api: Client, name: str = "Accounts") -> str:
    response = _post(api, "/api/v1/kb/categories/", {"name": name})
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


# --- Rendering ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "markdown",
    [
        "<script>alert(1)</script>",
        '<img src="x" onerror="alert(1)">',
        "[click](javascript:alert(1))",
        '<a href="#" onclick="alert(1)">x</a>',
        "<iframe src='https://evil.test'></iframe>",
        "![x](https://evil.test/track.png)",
        '<div style="background:url(javascript:alert(1))">x</div>',
    ],
)
def test_the_renderer_keeps_no_script_handler_or_foreign_image(markdown: str) -> None:
    html = render_markdown(markdown)
    parser = _Elements()
    parser.feed(html)
    assert not {"script", "iframe", "style"} & {tag for tag, _ in parser.elements}, html
    for _, attributes in parser.elements:
        for name, value in attributes:
            assert not name.startswith("on"), html
            assert name != "style", html
            assert "javascript:" not in (value or ""), html
            assert "evil.test" not in (value or ""), html


class _Elements(HTMLParser):
    """Every element the browser would build from the HTML, with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))


def test_the_renderer_keeps_markdown_and_the_knowledge_bases_own_images() -> None:
    image = "/kb/images/0190f2a1-1111-7000-8000-000000000000/"
    html = render_markdown(
        f"# Title\n\n**bold** [link](https://example.test)\n\n![shot]({image})\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |"
    )
    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html
    assert 'href="https://example.test" rel="noopener noreferrer nofollow"' in html
    assert f'src="{image}"' in html
    assert "<table>" in html
    assert plain_text("# Hi\n\nSome **bold** text") == "Hi\nSome bold text"


# --- API ------------------------------------------------------------------------------------


def test_an_agent_writes_and_publishes_an_article_through_the_api(acme: TenantSetup) -> None:
    api = acme.api_client()
    category = _category(api)
    section = _post(api, "/api/v1/kb/sections/", {"category": category, "name": "Passwords"})
    assert section.status_code == 201, section.content
    article = _article(
        api,
        category,
        section=section.json()["id"],
        status="draft",
        visibility="internal",
        tags=["Password", "login", "password"],
    )
    assert article["slug"] == "reset-a-password"
    assert article["id"]
    assert article["status"] == "draft"
    assert article["visibility"] == "internal"
    assert article["tags"] == ["password", "login"]
    assert article["body_html"] == "<p>Use the <strong>link</strong>.</p>\n"
    assert article["revision_count"] == 1

    url = f"/api/v1/kb/articles/{article['id']}/"
    published = _patch(api, url, {"status": "published", "visibility": "public"})
    assert published.status_code == 200, published.content
    assert published.json()["status"] == "published"
    assert published.json()["published_at"]
    listed = api.get("/api/v1/kb/articles/?status=published").json()
    assert [a["slug"] for a in listed["results"]] == ["reset-a-password"]
    categories = api.get("/api/v1/kb/categories/").json()
    assert categories[0]["sections"][0]["name"] == "Passwords"
    # The help center shows it now.
    assert b"Use the <strong>link</strong>" in acme.client().get("/help/reset-a-password/").content


def test_a_new_title_moves_the_slug_and_the_old_one_redirects(acme: TenantSetup) -> None:
    api = acme.api_client()
    article = _article(api, _category(api), status="published")
    url = f"/api/v1/kb/articles/{article['id']}/"
    renamed = _patch(api, url, {"title": "Change your password"}).json()
    assert renamed["slug"] == "change-your-password"
    assert renamed["old_slugs"] == ["reset-a-password"]
    agent = acme.client(acme.admin)
    moved = agent.get("/kb/reset-a-password/")
    assert moved.status_code == 301
    assert moved["Location"] == "/kb/change-your-password/"
    # A new article cannot take the old slug: old links keep pointing at the first.
    again = _article(api, renamed["category"], title="Reset a password")
    assert again["slug"] == "reset-a-password-2"


def test_revisions_record_author_and_diff_and_a_restore_is_a_new_revision(
    acme: TenantSetup,
) -> None:
    api = acme.api_client()
    article = _article(api, _category(api), body="Step one.\nStep two.")
    url = f"/api/v1/kb/articles/{article['id']}/"
    _patch(api, url, {"body": "Step one.\nStep 2, new.", "note": "Clearer"})
    revisions = api.get(f"{url}revisions/").json()
    assert [r["number"] for r in revisions] == [2, 1]
    assert revisions[0]["note"] == "Clearer"
    assert revisions[0]["author"] == str(acme.admin.id)
    assert revisions[0]["author_name"] == "Acme Admin"
    diff = api.get(f"{url}revisions/2/").json()["diff"]
    assert {"kind": "removed", "text": "Step two."} in diff
    assert {"kind": "added", "text": "Step 2, new."} in diff
    restored = api.post(f"{url}revisions/1/restore/")
    assert restored.status_code == 200, restored.content
    assert restored.json()["body"] == "Step one.\nStep two."
    assert restored.json()["revision_count"] == 3
    assert api.get(f"{url}revisions/").json()[0]["note"] == "Restored revision 1"
    # Saving with nothing readers see changed writes no revision.
    _patch(api, url, {"tags": ["x"]})
    assert api.get(url).json()["revision_count"] == 3


def test_related_articles_are_kept_in_order(acme: TenantSetup) -> None:
    api = acme.api_client()
    category = _category(api)
    one = _article(api, category, title="One")
    two = _article(api, category, title="Two")
    three = _article(api, category, title="Three", related=[two["id"], one["id"]])
    assert three["related"] == [two["id"], one["id"]]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "", "body": "x"}, "title"),
        ({"title": "x" * 201, "body": "x"}, "title"),
        ({"title": "T", "body": ""}, "body"),
        ({"title": "T", "body": "x", "status": "live"}, "status"),
        ({"title": "T", "body": "x", "visibility": "secret"}, "visibility"),
        ({"title": "T", "body": "x", "tags": "not-a-list"}, "tags"),
        ({"title": "T", "body": "x", "related": ["nope"]}, "related"),
        ({"title": "T", "body": "x", "colour": "red"}, "colour"),
    ],
)
def test_bad_article_input_is_a_400_that_names_the_field(
    acme: TenantSetup, payload: dict[str, Any], field: str
) -> None:
    api = acme.api_client()
    category = _category(api)
    response = _post(api, "/api/v1/kb/articles/", {"category": category, **payload})
    assert response.status_code == 400, response.content
    assert field in response.content.decode()


def test_ids_that_name_nothing_are_a_400_with_a_message(acme: TenantSetup) -> None:
    api = acme.api_client()
    category = _category(api)
    missing = "0190f2a1-1111-7000-8000-000000000000"
    for payload in (
        {"category": missing},
        {"category": "no-such-category"},
        {"category": category, "section": missing},
        {"category": category, "related": [missing]},
    ):
        response = _post(api, "/api/v1/kb/articles/", {"title": "T", "body": "x", **payload})
        assert response.status_code == 400, (payload, response.content)
        assert response.json()["error"]["code"] == "invalid_article"
        assert response.json()["error"]["message"]
    assert _post(api, "/api/v1/kb/categories/", {"name": ""}).status_code == 400
    assert api.get("/api/v1/kb/articles/?category=nope").status_code == 400
    article = _article(api, category)
    assert api.get(f"/api/v1/kb/articles/{article['id']}/revisions/9/").status_code == 404
    full = api.delete(f"/api/v1/kb/categories/{category}/")
    assert full.status_code == 409
    assert full.json()["error"]["code"] == "category_not_empty"


def test_light_agents_read_but_do_not_write(acme: TenantSetup) -> None:
    api = acme.api_client()
    category = _category(api)
    article = _article(api, category, visibility="internal")
    with tenant_context(acme.id):
        light = make_member(acme.tenant, MembershipRole.LIGHT_AGENT)
    reader = acme.api_client(light)
    assert reader.get("/api/v1/kb/articles/").json()["results"][0]["id"] == article["id"]
    url = f"/api/v1/kb/articles/{article['id']}/"
    assert reader.get(url).status_code == 200
    assert reader.get(f"{url}revisions/").status_code == 200
    for response in (
        _post(reader, "/api/v1/kb/categories/", {"name": "Mine"}),
        _post(reader, "/api/v1/kb/sections/", {"category": category, "name": "S"}),
        _post(reader, "/api/v1/kb/articles/", {"title": "T", "body": "x", "category": category}),
        _patch(reader, url, {"title": "Changed"}),
        reader.delete(url),
        reader.post(f"{url}revisions/1/restore/"),
        _patch(reader, f"/api/v1/kb/categories/{category}/", {"name": "X"}),
    ):
        assert response.status_code == 403, response.content
    agent_page = acme.client(light)
    assert agent_page.get(f"/kb/{article['slug']}/").status_code == 200
    assert agent_page.get(f"/kb/{article['slug']}/edit/").status_code == 403
    assert agent_page.get("/kb/new/").status_code == 403


def test_every_endpoint_keeps_to_its_tenant(acme: TenantSetup, globex: TenantSetup) -> None:
    api = acme.api_client()
    category = _category(api)
    section = _post(api, "/api/v1/kb/sections/", {"category": category, "name": "S"}).json()
    article = _article(api, category, status="published")
    other = globex.api_client()
    url = f"/api/v1/kb/articles/{article['id']}/"
    assert other.get("/api/v1/kb/articles/").json()["results"] == []
    assert other.get("/api/v1/kb/categories/").json() == []
    assert other.get("/api/v1/kb/sections/").json() == []
    for response in (
        other.get(url),
        _patch(other, url, {"title": "Mine now"}),
        other.delete(url),
        other.get(f"{url}revisions/"),
        other.get(f"{url}revisions/1/"),
        other.post(f"{url}revisions/1/restore/"),
        other.get(f"/api/v1/kb/categories/{category}/"),
        _patch(other, f"/api/v1/kb/categories/{category}/", {"name": "X"}),
        other.delete(f"/api/v1/kb/categories/{category}/"),
        other.get(f"/api/v1/kb/sections/{section['id']}/"),
        other.delete(f"/api/v1/kb/sections/{section['id']}/"),
    ):
        assert response.status_code == 404, response.content
    # Another tenant's category cannot hold this tenant's article.
    taken = _post(other, "/api/v1/kb/articles/", {"title": "T", "body": "x", "category": category})
    assert taken.status_code == 400
    related = _post(
        other,
        "/api/v1/kb/articles/",
        {"title": "T", "body": "x", "category": _category(other), "related": [article["id"]]},
    )
    assert related.status_code == 400
    globex_admin = globex.client(globex.admin)
    for page in ("", "edit/", "revisions/", "revisions/1/"):
        assert globex_admin.get(f"/kb/{article['slug']}/{page}").status_code == 404, page
    assert acme.client(acme.admin).get(f"/kb/{article['slug']}/").status_code == 200


def test_preview_renders_like_the_article(acme: TenantSetup) -> None:
    api = acme.api_client()
    response = _post(api, "/api/v1/kb/preview/", {"body": "**hi** <script>x</script>"})
    assert response.json() == {
        "html": "<p><strong>hi</strong> &lt;script&gt;x&lt;/script&gt;</p>\n"
    }
    page = acme.client(acme.admin).post("/kb/preview/", {"body": "## Sub"})
    assert b"<h2>Sub</h2>" in page.content
    assert acme.client().post("/kb/preview/", {"body": "x"}).status_code == 302  # login


def test_the_editor_pages_write_publish_and_restore(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        services.create_category(name="Billing")
        category = selectors.list_categories().get()
    agent = acme.client(acme.admin)
    assert agent.get("/kb/new/").status_code == 200
    created = agent.post(
        "/kb/new/",
        {
            "title": "Download an invoice",
            "category": category.id,
            "body": "Open **Account**.",
            "status": "draft",
            "visibility": "public",
            "tags": "billing, invoices",
        },
    )
    assert created.status_code == 302
    assert created["Location"] == "/kb/download-an-invoice/edit/"
    bad = agent.post("/kb/new/", {"title": "", "category": category.id, "body": ""})
    assert bad.status_code == 400
    assert b"This field is required" in bad.content
    edit = agent.get("/kb/download-an-invoice/edit/")
    assert b"<strong>Account</strong>" in edit.content  # the preview, rendered
    form = {
        "title": "Download an invoice",
        "category": category.id,
        "body": "Open **Account**, then Invoices.",
        "status": "draft",
        "visibility": "public",
        "tags": "billing",
        "note": "Where exactly",
        "publish": "1",
    }
    assert agent.post("/kb/download-an-invoice/edit/", form).status_code == 302
    with tenant_context(acme.id):
        article = Article.objects.get()
        assert article.status == "published"
        assert article.tags == ["billing"]
        assert article.revision_count == 2
    history = agent.get("/kb/download-an-invoice/revisions/").content.decode()
    assert "Where exactly" in history
    assert "Acme Admin" in history
    assert b"then Invoices" in agent.get("/kb/download-an-invoice/revisions/2/").content
    assert agent.post("/kb/download-an-invoice/revisions/1/restore/").status_code == 302
    with tenant_context(acme.id):
        assert Article.objects.get().body == "Open **Account**."
        assert ArticleRevision.objects.count() == 3
    assert agent.get("/kb/download-an-invoice/revisions/99/").status_code == 404


def test_a_save_from_an_older_copy_is_refused_not_lost(acme: TenantSetup) -> None:
    """Two agents open the editor; A saves a fix, then B saves a new title from the copy
    opened before: B's form sends A's old body back, which silently undid A's fix."""
    api = acme.api_client()
    article = _article(api, _category(api), body="v1")
    agent = acme.client(acme.admin)
    page = agent.get(f"/kb/{article['slug']}/edit/").content.decode()
    assert 'name="revision" value="1"' in page
    form = {
        "title": article["title"],
        "category": article["category"],
        "body": "v1",
        "status": "draft",
        "visibility": "public",
        "revision": "1",
    }
    fixed = agent.post(f"/kb/{article['slug']}/edit/", {**form, "body": "v1 and the fix"})
    assert fixed.status_code == 302
    stale = agent.post(f"/kb/{article['slug']}/edit/", {**form, "title": "Reset it"})
    assert stale.status_code == 400
    assert "Someone saved this article since you opened it" in stale.content.decode()
    with tenant_context(acme.id):
        assert Article.objects.get().body == "v1 and the fix"
    url = f"/api/v1/kb/articles/{article['id']}/"
    refused = _patch(api, url, {"title": "Reset it", "expected_revision": 1})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "article_changed"
    assert _patch(api, url, {"title": "Reset it", "expected_revision": 2}).status_code == 200


def test_images_are_uploaded_checked_and_served_by_visibility(acme: TenantSetup) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    api = acme.api_client()
    draft = _article(api, _category(api))
    agent = acme.client(acme.admin)
    upload = SimpleUploadedFile("shot.png", PNG, content_type="image/png")
    assert agent.post(f"/kb/{draft['slug']}/images/", {"image": upload}).status_code == 302
    fake = SimpleUploadedFile("shot.png", b"<svg onload=alert(1)>", content_type="image/png")
    agent.post(f"/kb/{draft['slug']}/images/", {"image": fake})
    svg = SimpleUploadedFile("x.svg", b"<svg/>", content_type="image/svg+xml")
    agent.post(f"/kb/{draft['slug']}/images/", {"image": svg})
    with tenant_context(acme.id):
        images = list(selectors.get_article(draft["id"]).images.all())
    assert len(images) == 1  # the fake PNG and the SVG were refused
    url = f"/kb/images/{images[0].id}/"
    assert agent.get(url).status_code == 200
    assert acme.client().get(url).status_code == 404  # a draft's image is not public
    assert globex_get(url) == 404
    _patch(api, f"/api/v1/kb/articles/{draft['id']}/", {"status": "published"})
    served = acme.client().get(url)
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"


def globex_get(url: str) -> int:
    from tests.conftest import make_tenant

    other = make_tenant("initech", "Initech")
    return other.client(other.admin).get(url).status_code


def test_every_fixed_path_beside_the_articles_is_reserved() -> None:
    """An article whose slug is a page's path (/help/sign-in/, /kb/new/) could never be
    opened: every fixed first segment under /help/ and /kb/ is a reserved slug."""
    fixed = set()
    for top in get_resolver().url_patterns:
        if isinstance(top, URLResolver) and str(top.pattern) in {"help/", "kb/"}:
            for pattern in top.url_patterns:
                segment = str(pattern.pattern).split("/", 1)[0]
                if re.fullmatch(r"[-a-zA-Z0-9_]+", segment):
                    fixed.add(segment)
    assert {"sign-in", "requests", "new", "search"} <= fixed
    assert fixed <= services.RESERVED_SLUGS


def test_an_article_takes_its_position_when_created(acme: TenantSetup) -> None:
    api = acme.api_client()
    article = _article(api, _category(api), position=7)
    assert article["position"] == 7


def test_a_section_moves_into_a_category_with_a_namesake(acme: TenantSetup) -> None:
    """Section slugs are unique per category: the moved one gets a numbered slug (the
    unique constraint was a 500); one without a namesake there keeps its slug."""
    api = acme.api_client()
    first, second = _category(api, "First"), _category(api, "Second")
    moving = _post(api, "/api/v1/kb/sections/", {"category": first, "name": "Billing"}).json()
    _post(api, "/api/v1/kb/sections/", {"category": second, "name": "Billing"})
    moved = _patch(api, f"/api/v1/kb/sections/{moving['id']}/", {"category": second})
    assert moved.status_code == 200, moved.content
    assert moved.json()["slug"] == "billing-2"
    back = _patch(api, f"/api/v1/kb/sections/{moving['id']}/", {"category": first})
    assert back.json()["slug"] == "billing-2"


def test_the_categories_page_refuses_ids_that_are_none(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    for field in ("delete-category", "delete-section"):
        response = client.post("/kb/categories/", {field: "zz"}, follow=True)
        assert response.status_code == 400, field
        assert "No such " in response.content.decode()


def test_the_services_keep_old_slugs_and_reserved_paths(tenant: TenantSetup) -> None:
    category = services.create_category(name="General")
    article = services.create_article(category=category, title="New", body="x")
    assert article.slug == "new-2"  # /kb/new/ is the editor
    services.update_article(article=article, actor=None, title="Newer")
    services.update_article(article=article, actor=None, title="New")
    article.refresh_from_db()
    assert article.slug == "new-2"
    assert sorted(ArticleSlug.objects.values_list("slug", flat=True)) == ["newer"]


def test_migration_0011_moves_articles_off_the_portals_paths(acme: TenantSetup) -> None:
    """An article that took /help/sign-in/ before the portal reserved it gets the next
    free slug, and the old one leads agents' links to it."""
    from types import SimpleNamespace

    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    name = "0011_rename_articles_on_portal_paths"
    migration = importlib.import_module(f"knowledge_base.migrations.{name}")
    state = MigrationLoader(connection).project_state(("knowledge_base", name))
    with tenant_context(acme.id):
        category = services.create_category(name="Account")
        taken = services.create_article(category=category, title="Signing in", body="x")
        hidden = services.create_article(category=category, title="Sign in help", body="y")
        other = services.create_article(category=category, title="Forms", body="z")
        Article.objects.filter(id=taken.id).update(slug="sign-in-2")
        Article.objects.filter(id=hidden.id).update(slug="sign-in")
        Article.objects.filter(id=other.id).update(slug="my-data")
    migration.rename_articles_on_portal_paths(state.apps, SimpleNamespace(connection=connection))
    with tenant_context(acme.id):
        slugs = dict(Article.objects.values_list("id", "slug"))
        assert slugs == {taken.id: "sign-in-2", hidden.id: "sign-in-3", other.id: "my-data-2"}
        former = dict(ArticleSlug.objects.values_list("slug", "article_id"))
        assert former == {"sign-in": hidden.id, "my-data": other.id}
    client = acme.client()
    assert b"y" in client.get("/help/sign-in-3/").content
    assert client.get("/help/sign-in/").status_code == 200  # the portal's page
