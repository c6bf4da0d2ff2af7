"""The help center's look: admins set the name, the accent colour and the logo (an upload
of a checked type and size) through the API or the settings page; members read it; the
help center shows it at once; another tenant never sees or changes it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import AuditEvent, MembershipRole, Tenant
from helpdesk.tenancy.selectors import forget_tenant
from helpdesk.tenancy.services import LOGO_BYTES
from tests.conftest import TenantSetup

if TYPE_CHECKING:
    from tests.conftest import ClientResponse
from tests.factories.accounts import make_member

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
GIF = b"GIF89a" + b"\x00" * 32
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.fixture(autouse=True)
def _media_and_tenant_cache(
    settings: Settings, tmp_path: Path, acme: TenantSetup, globex: TenantSetup
) -> Iterator[None]:
    settings.MEDIA_ROOT = tmp_path
    # The real cache of a host's tenant: a change must show on the next request. It
    # outlives the test database, so it starts and ends empty for these hosts.
    settings.HELPDESK_TENANT_CACHE_SECONDS = 60
    for setup in (acme, globex):
        forget_tenant(setup.tenant)
    yield
    for setup in (acme, globex):
        forget_tenant(setup.tenant)


def _patch(client: Client, data: dict[str, object]) -> ClientResponse:
    return client.patch("/api/v1/kb/theme/", json.dumps(data), content_type="application/json")


def _upload(
    client: Client, content: bytes, name: str = "logo.png", kind: str = "image/png"
) -> ClientResponse:
    return client.put(
        "/api/v1/kb/theme/logo/",
        encode_multipart(BOUNDARY, {"file": SimpleUploadedFile(name, content, content_type=kind)}),
        content_type=MULTIPART_CONTENT,
    )


def test_an_admin_sets_name_and_colour_and_the_help_center_shows_them(acme: TenantSetup) -> None:
    visitor = acme.client()
    assert "Acme" in visitor.get("/help/").content.decode()  # the tenant now cached
    api = acme.api_client()
    response = _patch(api, {"name": "Acme Support", "brand_colour": "#FFCC00"})
    assert response.status_code == 200, response.content
    assert response.json() == {
        "name": "Acme Support",
        "brand_colour": "#ffcc00",
        "logo_url": None,
    }
    assert "<span>Acme Support</span>" in visitor.get("/help/").content.decode()
    assert b"--brand: #ffcc00" in visitor.get("/help/theme.css").content
    assert _patch(api, {"brand_colour": ""}).json()["brand_colour"] == ""
    assert b"--brand: #2457c5" in visitor.get("/help/theme.css").content


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"brand_colour": "red"}, "brand_colour"),
        ({"brand_colour": "#12345g"}, "brand_colour"),
        ({"brand_colour": "#1234567"}, "brand_colour"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"colour": "#ffffff"}, "colour"),
        ({"name": None}, "name"),
    ],
)
def test_bad_theme_input_is_a_400_that_names_the_field(
    acme: TenantSetup, data: dict[str, object], field: str
) -> None:
    response = _patch(acme.api_client(), data)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["message"]
    assert field in json.dumps(error)
    acme.tenant.refresh_from_db()
    assert (acme.tenant.name, acme.tenant.brand_colour) == ("Acme", "")


def test_agents_read_the_theme_but_only_admins_change_it(acme: TenantSetup) -> None:
    agent = make_member(acme.tenant, MembershipRole.AGENT)
    api = acme.api_client(agent)
    assert api.get("/api/v1/kb/theme/").json()["name"] == "Acme"
    assert _patch(api, {"name": "Mine"}).status_code == 403
    assert _upload(api, PNG).status_code == 403
    assert api.delete("/api/v1/kb/theme/logo/").status_code == 403
    assert acme.client(agent).get("/kb/theme/").status_code == 403
    assert acme.client(agent).post("/kb/theme/", {"name": "Mine"}).status_code == 403
    acme.tenant.refresh_from_db()
    assert acme.tenant.name == "Acme"


def test_a_logo_is_uploaded_served_replaced_and_removed(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    api = acme.api_client()
    visitor = acme.client()
    assert visitor.get("/help/logo/").status_code == 404
    response = _upload(api, PNG)
    assert response.status_code == 200, response.content
    assert response.json()["logo_url"] == "/help/logo/"
    logo = visitor.get("/help/logo/")
    assert (logo.status_code, logo["Content-Type"]) == (200, "image/png")
    assert b"".join(logo.streaming_content) == PNG  # type: ignore[attr-defined]
    assert 'class="help-logo"' in visitor.get("/help/").content.decode()
    acme.tenant.refresh_from_db()
    first = Path(acme.tenant.logo.path)
    assert first.parent.name == str(acme.id)  # stored by tenant and id, not by its name
    # Told by its content: a WebP named .png is served as WebP; the old file is deleted.
    with django_capture_on_commit_callbacks(execute=True):
        assert _upload(api, WEBP, name="logo.png").status_code == 200
    assert visitor.get("/help/logo/")["Content-Type"] == "image/webp"
    assert not first.exists()
    assert api.delete("/api/v1/kb/theme/logo/").status_code == 204
    assert visitor.get("/help/logo/").status_code == 404
    assert api.get("/api/v1/kb/theme/").json()["logo_url"] is None


@pytest.mark.parametrize(
    ("content", "name", "kind"),
    [
        (SVG, "logo.svg", "image/svg+xml"),
        (b"not an image at all", "logo.png", "image/png"),
        (b"", "logo.png", "image/png"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * LOGO_BYTES, "big.png", "image/png"),
    ],
    ids=["svg", "text-named-png", "empty", "too-large"],
)
def test_a_logo_of_another_type_or_too_large_is_refused(
    acme: TenantSetup, content: bytes, name: str, kind: str
) -> None:
    response = _upload(acme.api_client(), content, name=name, kind=kind)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["message"]
    acme.tenant.refresh_from_db()
    assert not acme.tenant.logo


def test_a_logo_request_without_a_file_is_a_400(acme: TenantSetup) -> None:
    response = acme.api_client().put("/api/v1/kb/theme/logo/", {}, content_type="application/json")
    assert response.status_code == 400
    assert "file" in response.json()["error"]["fields"]


def test_another_tenant_neither_sees_nor_changes_the_theme(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    acme_api = acme.api_client()
    assert _patch(acme_api, {"name": "Acme Support", "brand_colour": "#ffcc00"}).status_code == 200
    assert _upload(acme_api, GIF).status_code == 200
    # Acme's token on globex's host is refused (it names another help desk).
    on_globex = Client(HTTP_HOST=globex.host)
    on_globex.defaults["HTTP_AUTHORIZATION"] = acme_api.defaults["HTTP_AUTHORIZATION"]
    assert on_globex.get("/api/v1/kb/theme/").status_code == 401
    assert _patch(on_globex, {"name": "Stolen"}).status_code == 401
    assert _upload(on_globex, PNG).status_code == 401
    assert on_globex.delete("/api/v1/kb/theme/logo/").status_code == 401
    globex_visitor = globex.client()
    assert globex_visitor.get("/help/logo/").status_code == 404
    assert b"--brand: #2457c5" in globex_visitor.get("/help/theme.css").content
    assert globex.api_client().get("/api/v1/kb/theme/").json() == {
        "name": "Globex",
        "brand_colour": "",
        "logo_url": None,
    }
    # An acme admin's session on globex's host is no one there.
    assert Client(HTTP_HOST=globex.host).get("/kb/theme/").status_code in (302, 404)
    assert Tenant.objects.get(id=globex.id).name == "Globex"


def test_the_settings_page_saves_the_look_and_shows_errors(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    page = client.get("/kb/theme/")
    assert page.status_code == 200
    assert 'value="Acme"' in page.content.decode()
    # Saved as shown: the default colour stays the default, nothing is recorded.
    assert client.post("/kb/theme/", {"name": "Acme", "brand_colour": "#2457c5"}).status_code == 302
    with tenant_context(acme.id):
        assert not AuditEvent.objects.filter(target_type="branding").exists()
    acme.tenant.refresh_from_db()
    assert acme.tenant.brand_colour == ""
    bad = client.post("/kb/theme/", {"name": "Acme", "brand_colour": "blue"})
    assert bad.status_code == 400
    assert "#rrggbb" in bad.content.decode()
    wrong = client.post(
        "/kb/theme/",
        {"name": "Acme", "brand_colour": "#123456", "logo": SimpleUploadedFile("x.png", SVG)},
    )
    assert wrong.status_code == 400
    assert "PNG, JPEG, GIF or WebP" in wrong.content.decode()
    saved = client.post(
        "/kb/theme/",
        {"name": "Acme Help", "brand_colour": "#123456", "logo": SimpleUploadedFile("l.gif", GIF)},
    )
    assert saved.status_code == 302
    acme.tenant.refresh_from_db()
    assert (acme.tenant.name, acme.tenant.brand_colour) == ("Acme Help", "#123456")
    assert str(acme.tenant.logo.name).endswith(".gif")
    removed = client.post(
        "/kb/theme/", {"name": "Acme Help", "brand_colour": "#123456", "remove_logo": "on"}
    )
    assert removed.status_code == 302
    acme.tenant.refresh_from_db()
    assert not acme.tenant.logo


def test_no_article_slug_hides_the_settings_page(acme: TenantSetup) -> None:
    from knowledge_base import services
    from tests.factories.knowledge_base import make_category

    with tenant_context(acme.id):
        article = services.create_article(category=make_category("Basics"), title="Theme", body="x")
    assert article.slug == "theme-2"


def test_the_admin_overview_links_to_the_help_center_look(acme: TenantSetup) -> None:
    page = acme.client(acme.admin).get("/settings/").content.decode()
    assert 'href="/kb/theme/"' in page
