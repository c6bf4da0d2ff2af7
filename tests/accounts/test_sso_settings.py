"""Single sign-on settings: an admin sets up the tenant's OpenID Connect provider; the
secret is encrypted and never returned; bad input is a 400 naming the field; another
tenant's admin sees nothing of it."""

from __future__ import annotations

from typing import Any

import pytest

from helpdesk.accounts.models import SsoProvider
from helpdesk.core import crypto
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import AuditAction, AuditEvent, MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member

GOOD: dict[str, Any] = {
    "issuer": "https://login.example.com/realms/acme/",
    "client_id": "helpdesk",
    "client_secret": "s3cret-value",
    "allowed_domains": ["Example.com", "@acme.test", "example.com"],
    "is_enabled": True,
}


def test_admin_sets_up_the_provider_and_the_secret_stays_hidden(acme: TenantSetup) -> None:
    api = acme.api_client()
    assert api.get("/api/v1/sso/").status_code == 404
    saved = api.put("/api/v1/sso/", GOOD, content_type="application/json")
    assert saved.status_code == 200
    body = saved.json()
    assert body["issuer"] == "https://login.example.com/realms/acme"
    assert body["allowed_domains"] == ["example.com", "acme.test"]
    assert body["has_client_secret"] is True
    assert "s3cret-value" not in saved.content.decode()
    with tenant_context(acme.id):
        provider = SsoProvider.objects.get()
        assert "s3cret-value" not in provider.client_secret_encrypted
        assert crypto.decrypt(provider.client_secret_encrypted) == "s3cret-value"
        event = AuditEvent.objects.get(action=AuditAction.SETTINGS_CHANGED, target_type="sso")
        assert "s3cret-value" not in str(event.details)
    # Changed without a secret: the stored one is kept.
    again = api.put(
        "/api/v1/sso/",
        {**GOOD, "client_secret": None, "client_id": "hd2"},
        content_type="application/json",
    )
    assert again.status_code == 400  # null is not "left out"
    kept = {k: v for k, v in GOOD.items() if k != "client_secret"}
    assert api.put("/api/v1/sso/", kept, content_type="application/json").status_code == 200
    with tenant_context(acme.id):
        provider = SsoProvider.objects.get()
        assert crypto.decrypt(provider.client_secret_encrypted) == "s3cret-value"
    assert api.delete("/api/v1/sso/").status_code == 204
    assert api.get("/api/v1/sso/").status_code == 404
    assert api.delete("/api/v1/sso/").status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"issuer": "http://login.example.com"}, "issuer"),
        ({"issuer": "ftp://login.example.com"}, "issuer"),
        ({"issuer": "https://login.example.com/?x=1"}, "issuer"),
        ({"issuer": "https://user:pw@login.example.com"}, "issuer"),
        ({"issuer": "not a url"}, "issuer"),
        ({"client_id": "   "}, "client_id"),
        ({"allowed_domains": ["not a domain"]}, "allowed_domains"),
        ({"allowed_domains": "example.com"}, "allowed_domains"),
        ({"allowed_domains": [f"d{i}.example.com" for i in range(51)]}, "allowed_domains"),
        ({"is_enabled": "maybe"}, "is_enabled"),
    ],
)
def test_bad_settings_are_a_400_naming_the_field(
    acme: TenantSetup, change: dict[str, Any], field: str
) -> None:
    response = acme.api_client().put(
        "/api/v1/sso/", {**GOOD, **change}, content_type="application/json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert field in str(error)


def test_the_first_setup_needs_a_secret(acme: TenantSetup) -> None:
    without = {k: v for k, v in GOOD.items() if k != "client_secret"}
    response = acme.api_client().put("/api/v1/sso/", without, content_type="application/json")
    assert response.status_code == 400
    assert "client_secret" in str(response.json()["error"])


def test_loopback_issuer_may_be_plain_http(acme: TenantSetup) -> None:
    response = acme.api_client().put(
        "/api/v1/sso/",
        {**GOOD, "issuer": "http://127.0.0.1:9000/o"},
        content_type="application/json",
    )
    assert response.status_code == 200


def test_agents_and_other_tenants_see_nothing(acme: TenantSetup, globex: TenantSetup) -> None:
    assert acme.api_client().put("/api/v1/sso/", GOOD, content_type="application/json")
    agent = make_member(acme.tenant, MembershipRole.AGENT)
    assert acme.api_client(agent).get("/api/v1/sso/").status_code == 403
    assert acme.api_client(agent).delete("/api/v1/sso/").status_code == 403
    assert globex.api_client().get("/api/v1/sso/").status_code == 404
    assert globex.api_client().delete("/api/v1/sso/").status_code == 404
    with tenant_context(acme.id):
        assert SsoProvider.objects.count() == 1
