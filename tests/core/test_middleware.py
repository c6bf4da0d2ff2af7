"""Requests refused before any view: a NUL character in a query string or form field,
which PostgreSQL text cannot hold (it was a 500 wherever a view passed it to a query)."""

from __future__ import annotations

import base64

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pytest_django import Settings

from automation.models import CannedResponse
from helpdesk.tenancy.context import tenant_context
from tests.conftest import TenantSetup


def test_a_nul_in_a_query_string_or_form_field_is_a_400_that_says_so(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    for url in ("/inbox/?q=%00", "/inbox/?tag=a%00b", "/canned-responses/?q=%00", "/inbox/?%00=1"):
        response = client.get(url)
        assert response.status_code == 400, url
        assert b"contains a NUL character" in response.content
    public = acme.client().get("/satisfaction/%00/")  # no login: a survey token
    assert public.status_code == 400
    api = acme.api_client().get("/api/v1/tickets/?q=%00")
    assert api.status_code == 400
    assert api.json()["error"]["code"] == "bad_request"
    posted = client.post(
        "/canned-responses/", {"title": "Hi\x00", "body": "x", "scope": "personal"}
    )
    assert posted.status_code == 400
    with tenant_context(acme.id):
        assert not CannedResponse.objects.exists()
    # Uploaded files may hold any byte; ordinary requests pass.
    upload = client.post(
        "/canned-responses/",
        {"title": "Hi", "body": "x", "scope": "personal", "file": SimpleUploadedFile("a", b"\x00")},
    )
    assert upload.status_code != 400
    assert client.get("/inbox/?q=printer").status_code == 200


def _post_tracking(secret: str, script_name: str = "") -> tuple[int, bytes]:
    basic = base64.b64encode(secret.encode()).decode()
    response = Client().post(
        "/anymail/mailgun/tracking/",
        "{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {basic}",
        SCRIPT_NAME=script_name,
    )
    return response.status_code, response.content


@pytest.mark.parametrize("secret", ["change-me-user:change-me-password", "esp:Change-Me-password"])
def test_the_example_webhook_secret_keeps_the_webhooks_closed(
    settings: Settings, secret: str
) -> None:
    """A .env copied from .env.example without editing must not open /anymail/ with
    credentials anyone can read there."""
    settings.ANYMAIL = {"WEBHOOK_SECRET": secret, "MAILGUN_WEBHOOK_SIGNING_KEY": "key"}
    status, content = _post_tracking(secret)
    assert status == 403
    assert b"ANYMAIL_WEBHOOK_SECRET" in content
    # A real secret opens them (then the ESP's own signature check answers).
    settings.ANYMAIL = {"WEBHOOK_SECRET": "esp:s3cret", "MAILGUN_WEBHOOK_SIGNING_KEY": "key"}
    assert _post_tracking("esp:s3cret")[0] != 403


def test_a_script_prefix_does_not_step_around_the_closed_webhooks(settings: Settings) -> None:
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": "key"}
    assert _post_tracking("any:thing")[0] == 403
    status, content = _post_tracking("any:thing", script_name="/helpdesk")
    assert status == 403
    assert b"ANYMAIL_WEBHOOK_SECRET" in content
