"""Single sign-on against a real OpenID Connect provider (django-oauth-toolkit, started on
loopback for this module): a person of an allowed domain gets a seat on first sign-in;
an existing member signs in to their seat (with their second factor when they have
one); an address of another domain, an unverified address, a forged state and a
provider on a private address when the operator did not allow it are all refused."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pyotp
import pytest
import requests
from django.test import Client

from helpdesk.accounts import services as account_services
from helpdesk.accounts import two_factor
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import AuditAction, AuditEvent, Membership, MembershipRole
from tests.accounts.oidc_provider.server import run_provider
from tests.conftest import PASSWORD, TenantSetup

CALLBACK = "http://acme.localhost/accounts/sso/callback/"
SECRET = pyotp.random_base32()


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The provider's issuer URL, while it runs."""
    pytest.importorskip("oauth2_provider")
    with run_provider(tmp_path_factory.mktemp("oidc"), CALLBACK) as issuer:
        yield issuer


def _configure(setup: TenantSetup, issuer: str, *, domains: list[str] | None = None) -> None:
    response = setup.api_client().put(
        "/api/v1/sso/",
        {
            "issuer": issuer,
            "client_id": "helpdesk-client",
            "client_secret": "helpdesk-secret",
            "allowed_domains": ["example.com"] if domains is None else domains,
            "is_enabled": True,
        },
        content_type="application/json",
    )
    assert response.status_code == 200, response.content


def _at_provider(authorize_url: str, username: str) -> str:
    """The person signs in at the provider; the callback URL it sends the browser to."""
    browser = requests.Session()
    base = f"{urlsplit(authorize_url).scheme}://{urlsplit(authorize_url).netloc}"
    form = browser.get(f"{base}/login/", timeout=10)
    token = form.text.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    browser.post(
        f"{base}/login/",
        {"csrfmiddlewaretoken": token, "username": username, "password": f"pw-{username}"},
        timeout=10,
        allow_redirects=False,
    )
    answer = browser.get(authorize_url, timeout=10, allow_redirects=False)
    assert answer.status_code == 302, answer.text[:500]
    location = answer.headers["Location"]
    assert location.startswith(CALLBACK), location
    return location.removeprefix("http://acme.localhost")


def _sso(setup: TenantSetup, username: str) -> tuple[Client, str]:
    client = setup.client()
    start = client.get("/accounts/sso/")
    assert start.status_code == 302
    callback = _at_provider(start["Location"], username)
    done = client.get(callback)
    assert done.status_code == 302
    return client, done["Location"]


@pytest.fixture
def private_hosts(settings: object) -> None:
    settings.HELPDESK_OUTBOUND_ALLOW_PRIVATE_HOSTS = True  # type: ignore[attr-defined]


@pytest.mark.usefixtures("private_hosts")
def test_a_person_of_an_allowed_domain_gets_a_seat(acme: TenantSetup, provider: str) -> None:
    _configure(acme, provider)
    client, target = _sso(acme, "nina")
    assert target == "/inbox/"
    assert client.get("/inbox/").status_code == 200
    seat = Membership.objects.get(tenant=acme.tenant, user__email="nina@example.com")
    assert seat.role == "agent"
    assert seat.is_active
    with tenant_context(acme.id):
        assert AuditEvent.objects.filter(
            action=AuditAction.SIGN_IN_SUCCEEDED, details__method="oidc"
        ).exists()


@pytest.mark.usefixtures("private_hosts")
def test_an_existing_member_signs_in_to_their_seat(acme: TenantSetup, provider: str) -> None:
    _configure(acme, provider, domains=[])
    client, target = _sso(acme, "admin")
    assert target == "/inbox/"
    assert client.get("/inbox/").status_code == 200
    assert Membership.objects.filter(tenant=acme.tenant).count() == 1


@pytest.mark.usefixtures("private_hosts")
def test_other_domains_and_unverified_addresses_get_no_seat(
    acme: TenantSetup, provider: str
) -> None:
    _configure(acme, provider)
    for username in ("olga", "ivan"):
        client, target = _sso(acme, username)
        assert target == "/accounts/login/"
        assert client.get("/inbox/").status_code == 302
    assert Membership.objects.filter(tenant=acme.tenant).count() == 1
    with tenant_context(acme.id):
        assert (
            AuditEvent.objects.filter(
                action=AuditAction.SIGN_IN_FAILED, details__method="oidc"
            ).count()
            == 2
        )


@pytest.mark.usefixtures("private_hosts")
def test_the_provider_does_not_join_a_login_made_elsewhere(
    acme: TenantSetup, globex: TenantSetup, provider: str
) -> None:
    """Acme's admin chooses Acme's provider, which may vouch for any address: a login
    with a seat at Globex gets none at Acme through it, only through an invitation."""
    nina = account_services.get_or_create_user(email="nina@example.com", password=PASSWORD)
    account_services.add_member(tenant=globex.tenant, user=nina, role=MembershipRole.ADMIN)
    _configure(acme, provider)
    client, target = _sso(acme, "nina")
    assert target == "/accounts/login/"
    assert client.get("/inbox/").status_code == 302
    assert not Membership.objects.filter(tenant=acme.tenant, user=nina).exists()


@pytest.mark.usefixtures("private_hosts")
def test_a_single_sign_on_session_is_not_carried_to_another_tenant(
    acme: TenantSetup, globex: TenantSetup, provider: str
) -> None:
    """Signed in through Acme's provider, the tenant switcher leads to Globex's own login
    page: no handoff token, which would sign in at Globex on Acme's word."""
    account_services.add_member(
        tenant=globex.tenant, user=acme.admin.user, role=MembershipRole.ADMIN
    )
    _configure(acme, provider, domains=[])
    client, target = _sso(acme, "admin")
    assert target == "/inbox/"
    switch = client.get("/accounts/switch/globex/")
    assert switch["Location"] == "http://globex.localhost/accounts/login/"


@pytest.mark.usefixtures("private_hosts")
def test_a_forged_state_or_missing_code_is_refused(acme: TenantSetup, provider: str) -> None:
    _configure(acme, provider)
    client = acme.client()
    start = client.get("/accounts/sso/")
    callback = _at_provider(start["Location"], "nina")
    forged = callback.replace("state=", "state=x")
    assert client.get(forged)["Location"] == "/accounts/login/"
    assert client.get("/accounts/sso/callback/")["Location"] == "/accounts/login/"
    start = client.get("/accounts/sso/")
    callback = _at_provider(start["Location"], "nina")
    not_ascii = re.sub(r"state=[^&]*", "state=%C3%A9", callback)
    assert client.get(not_ascii)["Location"] == "/accounts/login/"
    assert not Membership.objects.filter(user__email="nina@example.com").exists()


def test_a_provider_on_a_private_address_is_refused_by_default(
    acme: TenantSetup, provider: str
) -> None:
    _configure(acme, provider)
    response = acme.client().get("/accounts/sso/")
    assert response["Location"] == "/accounts/login/"


def test_no_sso_without_a_provider_and_not_across_tenants(
    acme: TenantSetup, globex: TenantSetup, provider: str
) -> None:
    _configure(acme, provider)
    assert globex.client().get("/accounts/sso/").status_code == 404
    assert globex.client().get("/accounts/sso/callback/?code=x&state=y").status_code == 404


@pytest.mark.usefixtures("private_hosts")
def test_the_login_page_offers_it_and_a_second_factor_still_applies(
    acme: TenantSetup, provider: str
) -> None:
    assert b'id="sso-link"' not in acme.client().get("/accounts/login/").content
    _configure(acme, provider)
    assert b'id="sso-link"' in acme.client().get("/accounts/login/").content
    two_factor.enable(
        user=acme.admin.user,
        secret=SECRET,
        code=pyotp.TOTP(SECRET).now(),
        actor=None,
    )
    client, target = _sso(acme, "admin")
    assert target == "/accounts/login/code/"
    assert client.get("/inbox/").status_code == 302
    step = client.post(
        "/accounts/login/code/", {"code": pyotp.TOTP(SECRET).at(int(time.time()) + 30)}
    )
    assert step["Location"] == "/inbox/"
    assert client.get("/inbox/").status_code == 200


@pytest.mark.usefixtures("private_hosts")
def test_the_settings_page_tests_discovery_against_the_provider(
    acme: TenantSetup, provider: str
) -> None:
    client = acme.client(acme.admin)
    found = client.post(
        "/accounts/sso/settings/test/", {"issuer": provider + "/"}, HTTP_HX_REQUEST="true"
    )
    assert found.status_code == 200
    assert f"Found the provider {provider}" in found.content.decode()
    wrong = client.post(
        "/accounts/sso/settings/test/", {"issuer": provider + "/nothing"}, HTTP_HX_REQUEST="true"
    )
    assert wrong.status_code == 400
    assert "answered HTTP 404" in wrong.content.decode()
    api = acme.api_client().post("/api/v1/sso/test/", {"issuer": provider})
    assert api.status_code == 200
    assert api.json()["token_endpoint"].startswith(provider)
