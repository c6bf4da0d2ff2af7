"""Host resolution and principals over HTTP: pages and API, on A's and B's hosts."""

from __future__ import annotations

from django.test import Client
from pytest_django import DjangoAssertNumQueries, Settings

from helpdesk.accounts import services as account_services
from helpdesk.tenancy import services as tenancy_services
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Membership
from tests.conftest import TenantSetup
from tests.factories.tickets import make_ticket


def _token(setup: TenantSetup, membership: Membership | None = None) -> str:
    _, key = account_services.create_api_token(membership=membership or setup.admin)
    return key


def test_unknown_host_is_a_clean_404_page(db: None) -> None:
    response = Client(HTTP_HOST="nobody.localhost").get("/")
    assert response.status_code == 404
    assert b"no help desk at this address" in response.content


def test_base_domain_is_the_platform_area(db: None) -> None:
    response = Client(HTTP_HOST="localhost:8000").get("/")
    assert response.status_code == 200
    assert b"Platform staff" in response.content


def test_tenant_host_with_port_resolves(acme: TenantSetup) -> None:
    response = Client(HTTP_HOST="acme.localhost:8000").get("/accounts/login/")
    assert response.status_code == 200
    assert b"Log in to Acme" in response.content


def test_custom_domain_resolves_to_its_tenant(acme: TenantSetup) -> None:
    tenancy_services.add_custom_domain(tenant=acme.tenant, domain="help.acme.example")
    response = Client(HTTP_HOST="help.acme.example").get("/accounts/login/")
    assert b"Log in to Acme" in response.content


def test_anonymous_pages_redirect_to_login(acme: TenantSetup) -> None:
    response = acme.client().get("/inbox/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_member_of_a_sees_its_ticket(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket(subject="Acme printer")
    response = acme.client(acme.admin).get(f"/tickets/{ticket.number}/")
    assert response.status_code == 200
    assert b"Acme printer" in response.content


def test_user_of_a_gets_404_for_b_objects_on_a_host(acme: TenantSetup, globex: TenantSetup) -> None:
    with tenant_context(globex.id):
        for _ in range(3):
            make_ticket(subject="Globex secret")
    response = acme.client(acme.admin).get("/tickets/3/")
    assert response.status_code == 404
    assert b"Globex secret" not in response.content


def test_user_of_a_gets_404_on_b_host(acme: TenantSetup, globex: TenantSetup) -> None:
    with tenant_context(globex.id):
        ticket = make_ticket(subject="Globex secret")
    client = globex.client(acme.admin)
    for path in ("/inbox/", f"/tickets/{ticket.number}/", "/api/v1/tickets/"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"Globex secret" not in response.content


def test_api_token_of_a_is_refused_on_b_host_with_a_401_saying_why(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    key = _token(acme)
    response = globex.client().get("/api/v1/tickets/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "not_authenticated"
    assert error["message"].startswith("This API token belongs to another help desk")
    assert "results" not in response.json()


def test_api_token_of_a_cannot_read_b_ticket_on_a_host(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    with tenant_context(globex.id):
        ticket = make_ticket(subject="Globex secret")
    key = _token(acme)
    response = acme.client().get(
        f"/api/v1/tickets/{ticket.number}/", HTTP_AUTHORIZATION=f"Token {key}"
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ticket_not_found"


def test_api_list_shows_only_the_hosts_tickets(acme: TenantSetup, globex: TenantSetup) -> None:
    with tenant_context(acme.id):
        make_ticket(subject="Acme one")
    with tenant_context(globex.id):
        make_ticket(subject="Globex one")
    response = acme.client().get("/api/v1/tickets/", HTTP_AUTHORIZATION=f"Token {_token(acme)}")
    assert [t["subject"] for t in response.json()["results"]] == ["Acme one"]


def test_invalid_token_is_401(acme: TenantSetup) -> None:
    response = acme.client().get("/api/v1/tickets/", HTTP_AUTHORIZATION="Token nope")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_revoked_token_is_401(acme: TenantSetup) -> None:
    token, key = account_services.create_api_token(membership=acme.admin)
    account_services.revoke_api_token(token=token)
    response = acme.client().get("/api/v1/tickets/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401


def test_request_runs_inside_the_tenant_database_context(acme: TenantSetup) -> None:
    """The RLS setting is what the request sees, not only the ORM filter."""
    with tenant_context(acme.id):
        make_ticket(subject="Visible")
    response = acme.client(acme.admin).get("/inbox/?view=open")
    assert b"Visible" in response.content


def test_the_tenant_of_a_host_is_cached(
    acme: TenantSetup, settings: Settings, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    from helpdesk.tenancy import selectors

    settings.HELPDESK_TENANT_CACHE_SECONDS = 60
    host = f"help-{acme.id.hex}.example.test"  # unique: the cache outlives the test database
    assert selectors.find_tenant_for_host(host) is None  # unknown hosts are not cached
    from helpdesk.tenancy import services as tenancy_services

    tenancy_services.add_custom_domain(tenant=acme.tenant, domain=host)
    assert selectors.find_tenant_for_host(host) == acme.tenant
    with django_assert_num_queries(0):
        assert selectors.find_tenant_for_host(host) == acme.tenant
