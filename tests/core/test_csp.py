"""Content-Security-Policy on every response (helpdesk.core.csp) and templates it can hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.http import HttpResponseBase
from django.test import Client
from django.urls import reverse

from helpdesk.tenancy.context import tenant_context
from tests.conftest import TenantSetup
from tests.factories.tickets import make_ticket
from tickets.mail_out import tracking

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def _policy(response: HttpResponseBase) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        name: sources for name, *sources in (directive.split() for directive in header.split(";"))
    }


def _assert_strict(policy: dict[str, list[str]]) -> None:
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


def test_agent_pages_have_a_strict_policy(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    with tenant_context(acme.id):
        ticket = make_ticket(subject="Printer")
    for path in ("/inbox/", f"/tickets/{ticket.number}/", "/settings/", "/kb/"):
        response = client.get(path)
        assert response.status_code == 200, path
        _assert_strict(_policy(response))


def test_public_and_error_pages_have_a_strict_policy(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket(subject="Printer")
        tracking_path = reverse("tickets:tracking", args=[tracking.tracking_token(ticket.id)])
    customer = acme.client()
    for path in ("/accounts/login/", "/help/", tracking_path, "/no-such-page/"):
        response = customer.get(path)
        assert response.status_code in (200, 404), path
        _assert_strict(_policy(response))
    _assert_strict(_policy(Client(HTTP_HOST="nowhere.example").get("/")))


def test_api_pages_allow_inline_styles_but_never_inline_scripts(acme: TenantSetup) -> None:
    response = acme.client().get("/api/docs/")
    assert response.status_code == 200
    policy = _policy(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    # The Swagger UI's set-up script comes from a URL of its own, not an inline <script>.
    page = response.content.decode()
    assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", page), page
    script = acme.client().get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")


# What the policy refuses, found in our own page templates (mail templates are not pages).
FORBIDDEN_IN_TEMPLATES = {
    "inline script": re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.IGNORECASE),
    "style element": re.compile(r"<style\b", re.IGNORECASE),
    "style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "hx-on attribute": re.compile(r"\shx-on", re.IGNORECASE),
    "evaluated htmx value": re.compile(r"""hx-(vals|vars|headers)\s*=\s*['"]\s*(js|javascript):"""),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


@pytest.mark.parametrize("kind", sorted(FORBIDDEN_IN_TEMPLATES))
def test_page_templates_hold_nothing_the_policy_blocks(kind: str) -> None:
    pattern = FORBIDDEN_IN_TEMPLATES[kind]
    found = [
        f"{path.relative_to(TEMPLATES)}: {match.group(0)!r}"
        for path in TEMPLATES.rglob("*.html")
        if "emails" not in path.relative_to(TEMPLATES).parts
        for match in pattern.finditer(path.read_text())
    ]
    assert found == []


def test_htmx_runs_without_eval_and_without_injected_styles() -> None:
    base = (TEMPLATES / "base.html").read_text()
    assert '"allowEval": false' in base
    assert '"includeIndicatorStyles": false' in base
