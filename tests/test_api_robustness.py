"""Bad API input found by fuzzing (schemathesis and probes by hand): each gets a 4xx with a
message in the error envelope, never a 500, and nothing reaches another tenant."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client

from departments import services as department_services
from helpdesk.tenancy.context import tenant_context
from tests.conftest import TenantSetup
from tests.factories.tickets import make_ticket
from tickets.configuration import services as configuration

if TYPE_CHECKING:
    from tests.conftest import ClientResponse


@pytest.fixture
def api(acme: TenantSetup) -> Client:
    return acme.api_client()


def _error(response: ClientResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    return error


@pytest.mark.parametrize("path", ["/api/v1/tickets/", "/api/v1/contacts/", "/api/v1/mailboxes/"])
@pytest.mark.parametrize("sort", ["", "-updated", "-priority"])
def test_a_forged_or_broken_cursor_is_a_400(
    api: Client, acme: TenantSetup, path: str, sort: str
) -> None:
    with tenant_context(acme.id):
        make_ticket()
    forged = base64.b64encode(b"p=zzz").decode()
    for cursor in (forged, base64.b64encode(b"p=%00").decode(), "garbage!"):
        error = _error(api.get(path, {"cursor": cursor, "sort": sort}), 400)
        assert error["fields"] == {"cursor": ["Invalid cursor"]}


def test_custom_field_values_that_cannot_be_stored_are_refused(
    api: Client, acme: TenantSetup
) -> None:
    with tenant_context(acme.id):
        configuration.save_custom_field(target="ticket", label="Note", type="text")
        configuration.save_custom_field(target="ticket", label="Seats", type="number")
        configuration.save_custom_field(target="contact", label="Note", type="text")
        ticket = make_ticket()
        contact_id = ticket.contact_id
    url = f"/api/v1/tickets/{ticket.number}/"
    for values, message in (
        ({"note": "a\x00b"}, "Note contains a character that cannot be stored."),
        ({"seats": "1e99999999"}, "Seats is too large a number."),
    ):
        body = json.dumps({"custom_fields": values})
        error = _error(api.patch(url, body, content_type="application/json"), 400)
        assert error["message"] == message
    nested = api.patch(url, {"custom_fields": {"note": {"x": 1}}}, content_type="application/json")
    assert _error(nested, 400)["code"] == "invalid"
    contact = api.patch(
        f"/api/v1/contacts/{contact_id}/",
        json.dumps({"custom_fields": {"note": "a\x00b"}}),
        content_type="application/json",
    )
    _error(contact, 400)
    assert _error(api.get("/api/v1/tickets/", {"cf_seats": "1e99999999"}), 400)
    with tenant_context(acme.id):
        ticket.refresh_from_db()
        assert ticket.custom_fields == {}


def test_addresses_longer_than_254_characters_are_a_400(api: Client) -> None:
    long_address = "x" * 250 + "@example.test"
    created = api.post(
        "/api/v1/tickets/",
        {"subject": "s", "body": "b", "contact_email": long_address},
        content_type="application/json",
    )
    assert "contact_email" in _error(created, 400)["fields"]
    mailbox = api.post(
        "/api/v1/mailboxes/", {"address": long_address}, content_type="application/json"
    )
    assert "address" in _error(mailbox, 400)["fields"]


def test_names_equal_in_postgresql_lower_case_are_a_conflict_not_a_500(api: Client) -> None:
    """The Kelvin sign K lower-cases to k in PostgreSQL, as the unique index compares."""
    first = api.post(
        "/api/v1/sla-policies/",
        {"name": "Kelvin\u212a", "first_response_minutes": 30},
        content_type="application/json",
    )
    assert first.status_code == 201, first.content
    second = api.post(
        "/api/v1/sla-policies/",
        {"name": "Kelvink", "first_response_minutes": 30},
        content_type="application/json",
    )
    assert _error(second, 409)["code"] == "sla_policy_name_taken"
    hours = {"timezone": "UTC", "intervals": [{"day": 0, "start": "09:00", "end": "17:00"}]}
    made = api.post(
        "/api/v1/business-hours/", {"name": "\u212aeep", **hours}, content_type="application/json"
    )
    assert made.status_code == 201, made.content
    clash = api.post(
        "/api/v1/business-hours/", {"name": "keep", **hours}, content_type="application/json"
    )
    assert _error(clash, 409)["code"] == "business_hours_name_taken"


@pytest.mark.parametrize(
    "body",
    [
        {"title": "t", "body": "b", "scope": "\ud800"},  # echoed by "not a valid choice"
        {"title": "t", "body": "b", "\udfff": 1},  # echoed by "does not take"
        {"title": "t\ud83d", "body": "b"},  # stored
        {"title": "t", "body": "b", "scope": ["\ud800"]},
    ],
)
def test_half_a_surrogate_pair_anywhere_in_json_is_a_400(api: Client, body: dict[str, Any]) -> None:
    """JSON can escape half of a UTF-16 pair alone; no text holds one: PostgreSQL refused
    it (a 500 where no field checked), and the JSON answer echoing it could not be
    encoded (a 500 for the error itself)."""
    response = api.post("/api/v1/canned-responses/", json.dumps(body), "application/json")
    error = _error(response, 400)
    assert error["code"] == "parse_error"
    assert "surrogate" in error["message"]


def test_json_nested_too_deeply_is_a_400(api: Client) -> None:
    response = api.post(
        "/api/v1/tickets/", "[" * 100_000 + "]" * 100_000, content_type="application/json"
    )
    assert _error(response, 400)["code"] == "parse_error"


def test_a_multipart_body_without_a_boundary_is_a_json_400(api: Client) -> None:
    response = api.post("/api/v1/tickets/", "x", content_type="multipart/form-data")
    error = _error(response, 400)
    assert error["code"] == "bad_request"
    assert "multipart" in error["message"]


def test_a_write_without_the_trailing_slash_is_a_404_naming_the_url(
    api: Client, acme: TenantSetup
) -> None:
    response = api.post(
        "/api/v1/tickets",
        {"subject": "s", "body": "b", "contact_email": "a@example.test"},
        content_type="application/json",
    )
    error = _error(response, 404)
    assert error["message"] == "Not found: API URLs end with a slash (/api/v1/tickets/)."
    with tenant_context(acme.id):
        from tickets.models import Ticket

        assert not Ticket.objects.exists()
    assert api.get("/api/v1/tickets").status_code == 301  # reads still redirect


def test_a_mailbox_display_name_on_two_lines_is_refused(api: Client, acme: TenantSetup) -> None:
    for method, path in (
        (api.post, "/api/v1/mailboxes/"),
        (api.patch, f"/api/v1/mailboxes/{acme.mailbox.id}/"),
    ):
        response = method(
            path,
            {"address": "sales@acme.localhost", "display_name": "Support\r\nBcc: x@example.test"},
            content_type="application/json",
        )
        assert _error(response, 400)["message"] == "The display name must be on one line."


def test_a_plus_variant_of_another_tenants_address_is_taken(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    with tenant_context(globex.id):
        department_services.create_mailbox(
            address="help@globex-corp.test", department=globex.department
        )
    api = acme.api_client()
    response = api.post(
        "/api/v1/mailboxes/",
        {"address": "help+x@globex-corp.test"},
        content_type="application/json",
    )
    assert _error(response, 409)["code"] == "mailbox_address_taken"
    with tenant_context(globex.id):  # its own variants stay possible
        department_services.create_mailbox(
            address="help+vip@globex-corp.test", department=globex.department
        )


def test_lists_that_are_not_paginated_are_documented_as_arrays(api: Client) -> None:
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path in (
        "/api/v1/email-templates/",
        "/api/v1/saved-views/",
        "/api/v1/tickets/{number}/presence/",
        "/api/v1/tickets/{number}/sla/",
    ):
        content = schema["paths"][path]["get"]["responses"]["200"]["content"]
        assert content["application/json"]["schema"]["type"] == "array", path


def test_the_default_mailbox_stays_default_with_a_409_not_silently(
    api: Client, acme: TenantSetup
) -> None:
    response = api.patch(
        f"/api/v1/mailboxes/{acme.mailbox.id}/",
        {"is_default": False},
        content_type="application/json",
    )
    assert _error(response, 409)["code"] == "default_mailbox_required"


def test_an_id_of_the_wrong_type_is_a_400_for_the_field(api: Client, acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket()
    for field, value in (("assignee", 123), ("type", True), ("custom_status", 5)):
        response = api.patch(
            f"/api/v1/tickets/{ticket.number}/", {field: value}, content_type="application/json"
        )
        assert field in _error(response, 400)["fields"], field


def test_every_operation_documents_the_error_envelope(api: Client) -> None:
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert set(schema["components"]["schemas"]["ErrorOutput"]["properties"]) == {"error"}
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                for code in ("400", "401", "403", "404"):
                    content = operation["responses"][code]["content"]["application/json"]
                    assert content["schema"]["$ref"].endswith("/ErrorOutput"), (path, method)


def test_saved_views_say_why_a_change_is_refused(acme: TenantSetup) -> None:
    from helpdesk.tenancy.models import MembershipRole
    from tests.factories.accounts import make_member

    agent = make_member(acme.tenant, MembershipRole.AGENT)
    light = make_member(acme.tenant, MembershipRole.LIGHT_AGENT)
    shared = acme.api_client().post(
        "/api/v1/saved-views/",
        {"name": "Team", "filters": {"priority": "urgent"}, "is_shared": True},
        content_type="application/json",
    )
    view_id = shared.json()["id"]
    agent_api = acme.api_client(agent)
    assert agent_api.get(f"/api/v1/saved-views/{view_id}/").status_code == 200
    changed = agent_api.put(
        f"/api/v1/saved-views/{view_id}/",
        {"name": "Mine now", "filters": {}},
        content_type="application/json",
    )
    assert _error(changed, 403)["code"] == "saved_view_not_yours"
    assert _error(agent_api.delete(f"/api/v1/saved-views/{view_id}/"), 403)
    sharing = acme.api_client(light).post(
        "/api/v1/saved-views/",
        {"name": "x", "filters": {}, "is_shared": True},
        content_type="application/json",
    )
    assert _error(sharing, 403)["message"].startswith("Light agents keep personal views")


def test_a_field_the_operation_does_not_take_is_refused_by_name(
    api: Client, acme: TenantSetup
) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket(subject="Old")
    typo = api.patch(
        f"/api/v1/tickets/{ticket.number}/",
        {"subjct": "New", "number": 999},
        content_type="application/json",
    )
    assert set(_error(typo, 400)["fields"]) == {"subjct", "number"}
    with tenant_context(acme.id):
        ticket.refresh_from_db()
        assert ticket.subject == "Old"
    listed = api.get("/api/v1/tickets/", {"utm_source": "mail"})
    assert listed.status_code == 200  # query strings are not held to this
