"""The audit log covers content and configuration that had no entries: canned responses
(created, changed, deleted), the knowledge base's categories and sections, the order of
workflow rules, articles (created, changed, published, unpublished, deleted) and their
translations (created, changed, deleted). Written through the API as people do; refused
changes (bad input, a role without the right) write nothing; another tenant's admin never
sees these entries."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import AuditEvent, MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member


def _send(client: Client, method: str, url: str, data: Any = None) -> Any:
    return getattr(client, method)(url, data=json.dumps(data), content_type="application/json")


def _log(setup: TenantSetup, family: str = "") -> list[tuple[str, str, str, dict[str, Any]]]:
    """(action, target type, label, details) oldest first, of one family or all."""
    with tenant_context(setup.id):
        events = AuditEvent.objects.order_by("id")
        if family:
            events = events.filter(action__startswith=f"{family}.")
        return [(e.action, e.target_type, e.target_label, e.details) for e in events]


def test_canned_responses(acme: TenantSetup) -> None:
    api = acme.api_client()
    created = _send(api, "post", "/api/v1/canned-responses/", {"title": "Hi", "body": "Hello"})
    assert created.status_code == 201, created.content
    url = f"/api/v1/canned-responses/{created.json()['id']}/"
    assert _send(api, "patch", url, {"title": "Hi there", "scope": "tenant"}).status_code == 200
    assert _send(api, "patch", url, {"title": "Hi there"}).status_code == 200  # no change
    assert api.delete(url).status_code == 204
    log = _log(acme, "canned_response")
    assert [(action, label) for action, _, label, _ in log] == [
        ("canned_response.created", "Hi"),
        ("canned_response.updated", "Hi there"),
        ("canned_response.deleted", "Hi there"),
    ]
    assert log[1][3] == {"scope": "tenant", "changed": "title, scope"}
    assert all("Hello" not in str(details) for *_, details in log)  # the body stays out

    # Refused: bad input, and an agent's shared response.
    agent = acme.api_client(make_member(acme.tenant, MembershipRole.AGENT))
    bad = _send(api, "post", "/api/v1/canned-responses/", {"title": " ", "body": "x"})
    assert bad.status_code == 400
    shared = {"title": "Shared", "body": "x", "scope": "tenant"}
    assert _send(agent, "post", "/api/v1/canned-responses/", shared).status_code == 403
    assert len(_log(acme, "canned_response")) == 3


def test_rule_order(acme: TenantSetup) -> None:
    api = acme.api_client()
    ids = [
        _send(
            api,
            "post",
            "/api/v1/rules/",
            {"name": name, "actions": [{"action": "add_tags", "value": [name]}]},
        ).json()["id"]
        for name in ("a", "b", "c")
    ]
    assert _send(api, "post", "/api/v1/rules/reorder/", {"ids": ids}).status_code == 200
    assert _log(acme, "rule")[-1][0] == "rule.created"  # the same order: nothing moved
    moved = _send(api, "post", "/api/v1/rules/reorder/", {"ids": [ids[2], ids[0], ids[1]]})
    assert moved.status_code == 200
    action, target, label, details = _log(acme, "rule")[-1]
    assert (action, target, label) == ("rule.reordered", "rule", "3 of 3 rules moved")
    assert details == {"order": "c > a > b"}
    assert _send(api, "post", "/api/v1/rules/reorder/", {"ids": ids[:2]}).status_code == 400
    agent = acme.api_client(make_member(acme.tenant, MembershipRole.AGENT))
    assert _send(agent, "post", "/api/v1/rules/reorder/", {"ids": ids}).status_code == 403
    assert [entry[0] for entry in _log(acme, "rule")].count("rule.reordered") == 1


def test_knowledge_base_categories_sections_articles_and_translations(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    api = acme.api_client()
    category = _send(api, "post", "/api/v1/kb/categories/", {"name": "Accounts"}).json()["id"]
    assert (
        _send(api, "patch", f"/api/v1/kb/categories/{category}/", {"name": "Account"}).status_code
        == 200
    )
    section = _send(
        api, "post", "/api/v1/kb/sections/", {"category": category, "name": "Passwords"}
    ).json()["id"]
    assert api.delete(f"/api/v1/kb/sections/{section}/").status_code == 204
    settings_log = [
        (label, details)
        for _, target, label, details in _log(acme, "settings")
        if target in {"kb_category", "kb_section"}
    ]
    assert settings_log == [
        ("Accounts", {"change": "created"}),
        ("Account", {"change": "saved", "changed": "name"}),
        ("Account / Passwords", {"change": "created"}),
        ("Account / Passwords", {"change": "deleted"}),
    ]

    article = _send(
        api,
        "post",
        "/api/v1/kb/articles/",
        {"title": "Reset", "body": "Click **reset**.", "category": category},
    ).json()
    url = f"/api/v1/kb/articles/{article['id']}/"
    assert _send(api, "patch", url, {"status": "published"}).status_code == 200
    assert _send(api, "patch", url, {"body": "Click the link."}).status_code == 200
    assert _send(api, "patch", url, {"status": "draft"}).status_code == 200
    translations = f"{url}translations/"
    german = {"language": "de", "title": "Zurücksetzen", "body": "Klicken."}
    assert _send(api, "post", translations, german).status_code == 201
    assert _send(api, "patch", f"{translations}de/", {"body": "Bitte klicken."}).status_code == 200
    assert api.delete(f"{translations}de/").status_code == 204
    assert api.delete(url).status_code == 204
    log = [(action, label, details) for action, _, label, details in _log(acme)]
    content = [entry for entry in log if entry[0].startswith("article")]
    assert [(action, label) for action, label, _ in content] == [
        ("article.created", "Reset"),
        ("article.published", "Reset"),
        ("article.updated", "Reset"),
        ("article.unpublished", "Reset"),
        ("article_translation.created", "Zurücksetzen"),
        ("article_translation.updated", "Zurücksetzen"),
        ("article_translation.deleted", "Zurücksetzen"),
        ("article.deleted", "Reset"),
    ]
    assert content[1][2]["status"] == "published"
    # The text edit: title, slug and revision number, never the text itself.
    assert content[2][2] == {
        "slug": "reset",
        "status": "published",
        "visibility": "public",
        "revision": 3,
        "changed": ["body"],
    }
    assert "Click" not in str(content[2][2])
    assert content[4][2] == {"language": "de", "article": article["id"]}

    # Refused: bad input and a light agent's attempt write nothing.
    light = acme.api_client(make_member(acme.tenant, MembershipRole.LIGHT_AGENT))
    before = len(_log(acme))
    bad = _send(
        api, "post", "/api/v1/kb/articles/", {"title": " ", "body": "x", "category": category}
    )
    assert bad.status_code == 400
    refused = _send(
        light, "post", "/api/v1/kb/articles/", {"title": "T", "body": "x", "category": category}
    )
    assert refused.status_code == 403
    assert len(_log(acme)) == before

    # Another tenant's admin sees none of it, in the page or the API.
    other = globex.api_client().get("/api/v1/audit-log/?action=article").json()
    assert other["results"] == []
    page = globex.client(globex.admin).get("/accounts/audit-log/").content.decode()
    assert "Reset" not in page
    mine = acme.api_client().get("/api/v1/audit-log/?action=article_translation").json()
    assert len(mine["results"]) == 3


def test_article_edits_name_the_revision_and_slug_never_the_text(acme: TenantSetup) -> None:
    api = acme.api_client()
    category = _send(api, "post", "/api/v1/kb/categories/", {"name": "Accounts"}).json()["id"]
    article = _send(
        api,
        "post",
        "/api/v1/kb/articles/",
        {"title": "Reset", "body": "Secret steps.", "category": category},
    ).json()
    url = f"/api/v1/kb/articles/{article['id']}/"
    assert _send(api, "patch", url, {"title": "Reset a password"}).status_code == 200
    assert _send(api, "patch", url, {"tags": ["login"]}).status_code == 200  # no revision
    assert _send(api, "patch", url, {"visibility": "internal"}).status_code == 200
    restored = _send(api, "post", f"{url}revisions/1/restore/")
    assert restored.status_code == 200, restored.content
    changed = [
        (label, details["revision"], details["slug"], details["changed"])
        for action, _, label, details in _log(acme, "article")
        if action == "article.updated"
    ]
    assert changed == [
        ("Reset a password", 2, "reset-a-password", ["title"]),
        ("Reset a password", 3, "reset-a-password", ["visibility"]),
        ("Reset", 4, "reset", ["title"]),
    ]
    assert all("Secret" not in str(details) for *_, details in _log(acme, "article"))
