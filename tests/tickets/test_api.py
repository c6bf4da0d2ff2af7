"""The tickets API: contract payloads, filters, errors in one envelope, query counts."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from django.test import Client
from pytest_django import DjangoAssertNumQueries

from helpdesk.accounts import services as account_services
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_ticket

if TYPE_CHECKING:
    from tests.conftest import ClientResponse


@pytest.fixture
def api(acme: TenantSetup) -> Client:
    return acme.api_client()


def _create(api: Client, **extra: object) -> ClientResponse:
    payload = {
        "subject": "Printer jam",
        "body": "Paper stuck in tray 2.",
        "contact_email": "Carla@Example.test",
        **extra,
    }
    return api.post("/api/v1/tickets/", payload, content_type="application/json")


def test_create_ticket_returns_the_contract_fields(api: Client, acme: TenantSetup) -> None:
    response = _create(api, contact_name="Carla", priority="high", tags=["Printer", "hw"])
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"] == 1
    assert body["status"] == "open"
    assert body["priority"] == "high"
    assert body["tags"] == ["hw", "printer"]
    assert body["contact"]["email"] == "Carla@Example.test"
    assert body["department"]["name"] == "Support"
    assert body["assignee"] is None
    assert body["channel"] == "api"
    assert {"created_at", "updated_at"} <= set(body)


def test_numbers_are_sequential_per_tenant(api: Client, globex: TenantSetup) -> None:
    with tenant_context(globex.id):
        make_ticket()
        make_ticket()
    numbers = [_create(api).json()["number"] for _ in range(3)]
    assert numbers == [1, 2, 3]


def test_same_email_reuses_the_contact(api: Client) -> None:
    first = _create(api).json()["contact"]["id"]
    second = _create(api, contact_email="carla@example.TEST").json()["contact"]["id"]
    assert first == second


def test_create_validates_input_with_field_errors(api: Client) -> None:
    response = api.post("/api/v1/tickets/", {"subject": ""}, content_type="application/json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert {"subject", "body", "contact_email"} <= set(error["fields"])


def test_create_refuses_a_priority_outside_the_tenants_scale(
    api: Client, acme: TenantSetup
) -> None:
    from tickets.configuration import services as configuration

    with tenant_context(acme.id):
        configuration.update_settings(
            priorities=[{"value": v} for v in ("low", "normal", "high", "urgent")]
        )
    response = _create(api, priority="critical")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Priority is one of low, normal, high, urgent."
    assert _create(api, priority="urgent").status_code == 201


def test_create_refuses_one_of_our_own_addresses_as_the_customer(
    api: Client, acme: TenantSetup
) -> None:
    for address in (acme.mailbox.address, acme.mailbox.address.replace("@", "+vip@").upper()):
        response = _create(api, contact_email=address)
        assert response.status_code == 400, response.content
        assert response.json()["error"]["code"] == "contact_invalid"
        assert "own mailbox addresses" in response.json()["error"]["message"]
    with tenant_context(acme.id):
        from tickets.models import Contact, Ticket

        assert not Ticket.objects.exists()
        assert not Contact.objects.exists()


def test_create_outbound_emails_the_customer_like_the_new_ticket_page(
    api: Client, acme: TenantSetup
) -> None:
    from tickets.models import Message

    response = _create(
        api,
        direction="outbound",
        subject="Your replacement part",
        body="The part ships **Monday**.",
        body_format="markdown",
        cc=["boss@example.test"],
        tags=["shipping"],
        priority="high",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["channel"], body["status"], body["priority"]) == ("email", "waiting", "high")
    assert body["assignee"]["id"] == str(acme.admin.id)
    assert body["tags"] == ["shipping"]
    assert body["contact"]["email"] == "Carla@Example.test"
    with tenant_context(acme.id):
        (first,) = Message.objects.filter(ticket__number=body["number"]).exclude(kind="event")
        assert (first.kind, first.author_member_id) == ("reply", acme.admin.id)
        assert "<strong>Monday</strong>" in first.body_html
        mail = first.outbound_email
        assert mail is not None
        assert mail.to == ["Carla@Example.test"]
        assert mail.cc == ["boss@example.test"]
        assert f"[#{body['number']}]" in mail.subject


def test_create_outbound_bad_input_is_a_400_with_a_message(api: Client, acme: TenantSetup) -> None:
    from tickets.models import Ticket

    sideways = _create(api, direction="sideways")
    assert sideways.status_code == 400
    assert "direction" in sideways.json()["error"]["fields"]
    # Copies and a format belong to a mail the member sends, not to a customer's request.
    inbound_cc = _create(api, cc=["boss@example.test"], body_format="markdown")
    assert inbound_cc.status_code == 400
    fields = inbound_cc.json()["error"]["fields"]
    assert set(fields) == {"cc", "body_format"}
    assert "direction outbound" in str(fields["cc"])
    bad_cc = _create(api, direction="outbound", cc=["not an address"])
    assert bad_cc.status_code == 400
    assert "cc" in bad_cc.json()["error"]["fields"]
    bad_format = _create(api, direction="outbound", body_format="html")
    assert bad_format.status_code == 400
    own = _create(api, direction="outbound", contact_email=acme.mailbox.address)
    assert own.status_code == 400
    assert own.json()["error"]["code"] == "contact_invalid"
    blank = _create(api, direction="outbound", body="   ")
    assert blank.status_code == 400
    with tenant_context(acme.id):
        assert not Ticket.objects.exists()


def test_create_outbound_is_refused_to_a_light_agent(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        light = make_member(acme.tenant, role=MembershipRole.LIGHT_AGENT)
    response = _create(acme.api_client(light), direction="outbound")
    assert response.status_code == 403, response.content
    assert response.json()["error"]["message"]


def test_create_outbound_never_reaches_another_tenant(
    api: Client, acme: TenantSetup, globex: TenantSetup
) -> None:
    from tickets.models import Ticket

    foreign = _create(api, direction="outbound", department=str(globex.department.id))
    assert foreign.status_code == 404
    # Tenant A's token on tenant B's host is answered like a missing resource.
    key = api.defaults["HTTP_AUTHORIZATION"]
    other_host = Client(HTTP_HOST=globex.host, HTTP_AUTHORIZATION=key)
    assert _create(other_host, direction="outbound").status_code in (401, 404)
    with tenant_context(globex.id):
        assert not Ticket.objects.exists()


def test_malformed_json_is_a_400_not_a_500(api: Client) -> None:
    response = api.post("/api/v1/tickets/", "{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_unknown_department_is_404(api: Client) -> None:
    response = _create(api, department="Nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "department_not_found"


def test_department_by_name(api: Client, acme: TenantSetup) -> None:
    from departments import services as department_services

    with tenant_context(acme.id):
        department_services.create_department(name="Billing")
    assert _create(api, department="billing").json()["department"]["name"] == "Billing"


def test_detail_and_404(api: Client) -> None:
    number = _create(api).json()["number"]
    assert api.get(f"/api/v1/tickets/{number}/").json()["subject"] == "Printer jam"
    missing = api.get("/api/v1/tickets/999/")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ticket_not_found"


def test_patch_changes_fields_and_records_events(api: Client, acme: TenantSetup) -> None:
    number = _create(api).json()["number"]
    response = api.patch(
        f"/api/v1/tickets/{number}/",
        {
            "status": "on_hold",
            "priority": "urgent",
            "tags": ["vip"],
            "assignee": str(acme.admin.id),
        },
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["priority"], body["tags"]) == ("on_hold", "urgent", ["vip"])
    assert body["assignee"]["id"] == str(acme.admin.id)
    events = [
        m["event"]["field"]
        for m in api.get(f"/api/v1/tickets/{number}/messages/").json()["results"]
        if m["kind"] == "event"
    ]
    assert sorted(events) == ["assignee", "priority", "status", "tags"]


def test_closed_ticket_cannot_reopen_409(api: Client) -> None:
    number = _create(api).json()["number"]
    api.patch(f"/api/v1/tickets/{number}/", {"status": "closed"}, content_type="application/json")
    response = api.patch(
        f"/api/v1/tickets/{number}/", {"status": "open"}, content_type="application/json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "ticket_closed"


def test_assignee_of_another_tenant_is_404(api: Client, globex: TenantSetup) -> None:
    number = _create(api).json()["number"]
    response = api.patch(
        f"/api/v1/tickets/{number}/",
        {"assignee": str(globex.admin.id)},
        content_type="application/json",
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "member_not_found"


def test_reply_sets_waiting_and_note_keeps_status(api: Client) -> None:
    number = _create(api).json()["number"]
    note = api.post(
        f"/api/v1/tickets/{number}/messages/",
        {"kind": "note", "body": "checking"},
        content_type="application/json",
    )
    assert note.status_code == 201
    assert api.get(f"/api/v1/tickets/{number}/").json()["status"] == "open"
    reply = api.post(
        f"/api/v1/tickets/{number}/messages/",
        {"kind": "reply", "body": "Fixed?"},
        content_type="application/json",
    )
    assert reply.json()["author"]["type"] == "agent"
    assert api.get(f"/api/v1/tickets/{number}/").json()["status"] == "waiting"


def test_light_agent_may_note_but_not_reply_nor_open_a_ticket(
    api: Client, acme: TenantSetup
) -> None:
    light = make_member(acme.tenant, MembershipRole.LIGHT_AGENT)
    _, key = account_services.create_api_token(membership=light)
    client = acme.client()
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
    refused = _create(client)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "reply_not_allowed"
    number = _create(api).json()["number"]
    reply = client.post(
        f"/api/v1/tickets/{number}/messages/",
        {"kind": "reply", "body": "x"},
        content_type="application/json",
    )
    assert reply.status_code == 403
    assert reply.json()["error"]["code"] == "reply_not_allowed"
    note = client.post(
        f"/api/v1/tickets/{number}/messages/",
        {"kind": "note", "body": "x"},
        content_type="application/json",
    )
    assert note.status_code == 201
    status_by_note = client.post(
        f"/api/v1/tickets/{number}/messages/",
        {"kind": "note", "body": "x", "status": "on_hold"},
        content_type="application/json",
    )
    assert status_by_note.status_code == 403
    assert api.get(f"/api/v1/tickets/{number}/").json()["status"] == "open"


def test_list_filters(api: Client, acme: TenantSetup) -> None:
    _create(api, subject="Invoice wrong", tags=["billing"])
    second = _create(api, subject="Login broken").json()["number"]
    api.patch(
        f"/api/v1/tickets/{second}/",
        {"status": "on_hold", "assignee": str(acme.admin.id)},
        content_type="application/json",
    )

    def subjects(query: str) -> list[str]:
        return [t["subject"] for t in api.get(f"/api/v1/tickets/?{query}").json()["results"]]

    assert subjects("status=on_hold") == ["Login broken"]
    assert subjects("tag=billing") == ["Invoice wrong"]
    assert subjects("assignee=me") == ["Login broken"]
    assert subjects("assignee=none") == ["Invoice wrong"]
    assert subjects("q=invoice") == ["Invoice wrong"]
    assert subjects("q=stuck tray") == ["Login broken", "Invoice wrong"]


def test_list_rejects_bad_filters(api: Client) -> None:
    response = api.get("/api/v1/tickets/?status=nope&assignee=bob")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"status", "assignee"}


def test_list_is_cursor_paginated_newest_first(api: Client) -> None:
    for _ in range(3):
        _create(api)
    page = api.get("/api/v1/tickets/?page_size=2").json()
    assert [t["number"] for t in page["results"]] == [3, 2]
    assert page["next"]
    rest = api.get(page["next"]).json()
    assert [t["number"] for t in rest["results"]] == [1]


def test_list_query_count_does_not_grow_with_tickets(
    api: Client, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    for index in range(5):
        _create(api, tags=[f"tag{index}"])
    with django_assert_max_num_queries(9):
        response = api.get("/api/v1/tickets/")
    assert len(response.json()["results"]) == 5


def test_session_requests_need_csrf(acme: TenantSetup) -> None:

    client = Client(HTTP_HOST=acme.host, enforce_csrf_checks=True)
    client.force_login(acme.admin.user)
    response = client.post(
        "/api/v1/tickets/",
        {"subject": "x", "body": "y", "contact_email": "a@b.test"},
        content_type="application/json",
    )
    assert response.status_code == 403


def test_unauthenticated_is_401_with_envelope(acme: TenantSetup) -> None:
    response = acme.client().get("/api/v1/tickets/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_openapi_document_and_docs_page(acme: TenantSetup) -> None:
    schema = acme.client().get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/tickets/{number}/messages/" in schema.content
    docs = acme.client().get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
