"""The single sign-on settings page: an admin sets the provider up in the browser (the
secret write-only: never shown back, kept when left empty, replaced when typed), sees the
redirect URI to register, removes it; bad input is a 400 with the reason beside the
field; agents get a 403, another tenant's admin never sees this tenant's settings; every
change is in the audit log without the secret. The discovery test against a real
provider is in test_sso_sign_in.py."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from pytest_django import Settings as SettingsWrapper

from helpdesk.accounts.models import SsoProvider
from helpdesk.core import crypto
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import AuditAction, AuditEvent, MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member

PAGE = "/accounts/sso/settings/"
FORM: dict[str, Any] = {
    "issuer": "https://idp.acme.example/oidc/",
    "client_id": "helpdesk",
    "client_secret": "s3cret-value",
    "allowed_domains": "Example.com\n@acme.test, example.com",
    "is_enabled": "on",
}


def _provider(setup: TenantSetup) -> SsoProvider:
    with tenant_context(setup.id):
        return SsoProvider.objects.get()


def test_the_admin_page_links_here_and_shows_the_redirect_uri(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    assert PAGE.encode() in client.get("/settings/").content
    page = client.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert (
        '<code class="secret" id="sso-redirect-uri">http://acme.localhost/accounts/sso/callback/</code>'
        in html
    )
    assert 'data-copy="#sso-redirect-uri"' in html
    assert "Not set yet: required." in html


def test_set_up_keep_and_replace_the_secret_which_is_never_shown(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    saved = client.post(PAGE, FORM)
    assert saved.status_code == 302
    provider = _provider(acme)
    assert provider.issuer == "https://idp.acme.example/oidc"
    assert provider.allowed_domains == ["example.com", "acme.test"]
    assert provider.is_enabled
    assert crypto.decrypt(provider.client_secret_encrypted) == "s3cret-value"
    page = client.get(PAGE).content.decode()
    assert "s3cret-value" not in page
    assert provider.client_secret_encrypted not in page
    assert "Replace the client secret" in page
    assert 'id="sso-state">on<' in page
    assert "example.com\nacme.test" in page
    # Saved without a secret: kept. Turned off.
    kept = {**FORM, "client_secret": "", "client_id": "hd2"}
    del kept["is_enabled"]
    assert client.post(PAGE, kept).status_code == 302
    provider = _provider(acme)
    assert provider.client_id == "hd2"
    assert not provider.is_enabled
    assert crypto.decrypt(provider.client_secret_encrypted) == "s3cret-value"
    # A new one replaces it.
    assert client.post(PAGE, {**FORM, "client_secret": "n3w-secret"}).status_code == 302
    assert crypto.decrypt(_provider(acme).client_secret_encrypted) == "n3w-secret"
    with tenant_context(acme.id):
        events = list(
            AuditEvent.objects.filter(action=AuditAction.SETTINGS_CHANGED, target_type="sso")
            .order_by("created_at")
            .values_list("details", flat=True)
        )
    assert [event["client_secret"] for event in events] == ["changed", "kept", "changed"]
    assert "secret-value" not in str(events)
    assert "n3w" not in str(events)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"issuer": "http://idp.acme.example"}, "https:// address"),
        ({"issuer": "not a url"}, "https:// address"),
        ({"issuer": "x" * 600}, "at most 500"),
        ({"client_id": "   "}, "This field is required"),
        ({"allowed_domains": "not_a_domain"}, "is not an email domain"),
        ({"allowed_domains": " ".join(f"d{i}.example.com" for i in range(51))}, "At most 50"),
    ],
)
def test_bad_input_is_a_400_with_the_reason(
    acme: TenantSetup, change: dict[str, Any], message: str
) -> None:
    response = acme.client(acme.admin).post(PAGE, {**FORM, **change})
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert 'role="alert"' in html
    assert "s3cret-value" not in html  # a refused form does not echo the secret either
    with tenant_context(acme.id):
        assert not SsoProvider.objects.exists()


def test_the_first_setup_needs_a_secret(acme: TenantSetup) -> None:
    response = acme.client(acme.admin).post(PAGE, {**FORM, "client_secret": ""})
    assert response.status_code == 400
    assert "The client secret is required." in response.content.decode()


def test_agents_get_a_403_and_other_tenants_see_nothing(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    assert acme.client(acme.admin).post(PAGE, FORM).status_code == 302
    agent = make_member(acme.tenant, MembershipRole.AGENT)
    agent_client = acme.client(agent)
    assert agent_client.get(PAGE).status_code == 403
    assert agent_client.post(PAGE, {**FORM, "client_id": "evil"}).status_code == 403
    assert agent_client.post(f"{PAGE}delete/").status_code == 403
    assert agent_client.post(f"{PAGE}test/", {"issuer": FORM["issuer"]}).status_code == 403
    assert acme.client().get(PAGE).status_code == 302  # anonymous: to the login page
    other = globex.client(globex.admin).get(PAGE).content.decode()
    assert "idp.acme.example" not in other
    assert "http://globex.localhost/accounts/sso/callback/" in other
    assert globex.client(globex.admin).post(f"{PAGE}delete/").status_code == 302
    assert _provider(acme).client_id == "helpdesk"


def test_remove_it(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    client.post(PAGE, FORM)
    done = client.post(f"{PAGE}delete/", follow=True)
    assert "Single sign-on removed" in done.content.decode()
    with tenant_context(acme.id):
        assert not SsoProvider.objects.exists()
        assert AuditEvent.objects.filter(target_type="sso", details__deleted="true").exists()


def test_discovery_of_a_bad_or_private_issuer_says_why(
    acme: TenantSetup, settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.HELPDESK_OUTBOUND_ALLOW_PRIVATE_HOSTS = False
    settings.HELPDESK_WEBHOOK_ALLOW_PRIVATE_HOSTS = False

    real_getaddrinfo = socket.getaddrinfo

    def fake_getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "idp.internal.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.8", port))]
        if host.endswith(".test"):
            raise socket.gaierror(socket.EAI_NONAME, "not known")
        return real_getaddrinfo(host, port, *args, **kwargs)  # the database, Redis

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    client = acme.client(acme.admin)
    htmx = {"HX-Request": "true"}
    private = client.post(f"{PAGE}test/", {"issuer": "https://idp.internal.test/o"}, headers=htmx)
    assert private.status_code == 400
    assert "check-failed" in private.content.decode()
    assert "HELPDESK_OUTBOUND_ALLOW_PRIVATE_HOSTS" in private.content.decode()
    unknown = client.post(f"{PAGE}test/", {"issuer": "https://nowhere.example.test"}, headers=htmx)
    assert "cannot be found" in unknown.content.decode()
    bad = client.post(f"{PAGE}test/", {"issuer": "ftp://x"}, headers=htmx)
    assert bad.status_code == 400
    assert "https:// address" in bad.content.decode()
    plain = client.post(f"{PAGE}test/", {"issuer": ""})  # without htmx: the whole page
    assert plain.status_code == 400
    assert b"<h1>Single sign-on</h1>" in plain.content
    api = acme.api_client()
    refused = api.post("/api/v1/sso/test/", {"issuer": "https://idp.internal.test/o"})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "sso_provider_unreachable"
    assert api.post("/api/v1/sso/test/", {}).status_code == 400
    agent = make_member(acme.tenant, MembershipRole.AGENT)
    assert acme.api_client(agent).post("/api/v1/sso/test/", {"issuer": "x"}).status_code == 403
