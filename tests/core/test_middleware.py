"""Requests refused before any view: a NUL character in a query string or form field,
which PostgreSQL text cannot hold (it was a 500 wherever a view passed it to a query)."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

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
