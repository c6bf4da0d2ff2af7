"""Contacts and companies: pages, editing with custom fields, merging duplicates, the API,
tenant isolation and the light-agent rule."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.test import Client
from pytest_django import DjangoAssertNumQueries, DjangoCaptureOnCommitCallbacks

from helpdesk.accounts import services as account_services
from helpdesk.core.errors import PermissionDenied
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Membership, MembershipRole, TenantModel
from tests.concurrency import second_behind_first
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_contact, make_ticket
from tickets.configuration import services as configuration
from tickets.contacts import selectors as contact_selectors
from tickets.contacts import services as contacts
from tickets.errors import ContactInvalid, CustomFieldInvalid
from tickets.inbox import selectors as inbox_selectors
from tickets.models import (
    Company,
    CompanyDomain,
    Contact,
    Message,
    MessageKind,
    Ticket,
    TicketFollower,
)
from tickets.ticket import services

if TYPE_CHECKING:
    from tests.conftest import ClientResponse

_Row = TypeVar("_Row", bound=TenantModel)

# --- helpers ---------------------------------------------------------------------------


def _contact(setup: TenantSetup, **fields: Any) -> Contact:
    with tenant_context(setup.id):
        return make_contact(**fields)


def _company(setup: TenantSetup, name: str = "Initech", domains: Iterable[str] = ()) -> Company:
    with tenant_context(setup.id):
        return contacts.create_company(name=name, domains=list(domains), actor=None)


def _custom_fields(setup: TenantSetup, target: str = "contact") -> None:
    """One field of every type for the target."""
    with tenant_context(setup.id):
        for position, (label, kind, options) in enumerate(
            [
                ("Account id", "text", None),
                ("Seats", "number", None),
                ("Plan", "select", ["Free", "Pro"]),
                ("Renewal", "date", None),
                ("VIP", "checkbox", None),
            ]
        ):
            configuration.save_custom_field(
                target=target, label=label, type=kind, options=options, position=position
            )


def _light_agent_api(setup: TenantSetup) -> tuple[Membership, Client]:
    light = make_member(setup.tenant, MembershipRole.LIGHT_AGENT)
    _, key = account_services.create_api_token(membership=light)
    client = setup.client()
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
    return light, client


def _reload(setup: TenantSetup, row: _Row) -> _Row:
    with tenant_context(setup.id):
        return type(row).objects.get(id=row.id)


# --- pages -----------------------------------------------------------------------------


def test_contact_list_shows_and_searches_contacts(acme: TenantSetup) -> None:
    company = _company(acme, "Analytical Engines")
    _contact(acme, name="Ada Lovelace", email="ada@engines.test", company=company)
    _contact(acme, name="Bob Builder", email="bob@build.test")
    client = acme.client(acme.admin)
    page = client.get("/contacts/")
    assert page.status_code == 200
    assert b"Ada Lovelace" in page.content
    assert b"Bob Builder" in page.content
    for query in ("lovelace", "ADA@engines", "analytical"):
        found = client.get(f"/contacts/?q={query}").content
        assert b"Ada Lovelace" in found, query
        assert b"Bob Builder" not in found, query
    assert client.get("/contacts/?q=%00").status_code == 400  # as every page (middleware)
    assert client.get("/api/v1/contacts/?q=%00").status_code == 400
    fragment = client.get("/contacts/?q=bob", HTTP_HX_REQUEST="true")
    assert fragment.content.lstrip().startswith(b'<div id="contact-list"')
    assert b"Bob Builder" in fragment.content
    assert "HX-Request" in fragment["Vary"]


def test_contact_list_is_paginated(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        for _ in range(51):
            make_contact()
    client = acme.client(acme.admin)
    assert b"Page 1 of 2" in client.get("/contacts/").content
    assert b"Page 2 of 2" in client.get("/contacts/?page=2").content


def test_nav_links_to_contacts(acme: TenantSetup) -> None:
    page = acme.client(acme.admin).get("/contacts/").content.decode()
    assert '<a href="/contacts/" aria-current="page">Contacts</a>' in page


def test_contact_page_shows_details_fields_tickets_and_ratings_placeholder(
    acme: TenantSetup,
) -> None:
    _custom_fields(acme)
    company = _company(acme, "Initech")
    contact = _contact(acme, name="Peter Gibbons", email="peter@initech.test", company=company)
    with tenant_context(acme.id):
        contacts.update_contact(
            contact,
            name=contact.name,
            email=contact.email,
            phone="+1 555 0100",
            notes="Prefers mornings.",
            company=company,
            custom_fields={"plan": "Pro", "vip": True},
            actor=acme.admin,
        )
        first = make_ticket(subject="TPS reports", contact=contact)
        second = make_ticket(subject="Stapler missing", contact=contact)
        services.change_status(ticket=first, status="solved", actor=None)
    page = acme.client(acme.admin).get(f"/contacts/{contact.id}/").content.decode()
    assert "peter@initech.test" in page
    assert "+1 555 0100" in page
    assert "Prefers mornings." in page
    assert f'href="/companies/{company.id}/"' in page
    assert "<dt>Plan</dt>" in page
    assert "Pro" in page
    assert "<dt>VIP</dt>" in page
    assert "Yes" in page
    # Newest first, with status badges.
    assert page.index("Stapler missing") < page.index("TPS reports")
    assert '<span class="badge status-solved">Solved</span>' in page
    assert f'href="/tickets/{second.number}/"' in page
    assert "Satisfaction" in page
    assert "No ratings yet." in page


def test_ticket_page_links_the_customer_to_their_contact_page(acme: TenantSetup) -> None:
    contact = _contact(acme, name="Carla")
    with tenant_context(acme.id):
        ticket = make_ticket(contact=contact)
    page = acme.client(acme.admin).get(f"/tickets/{ticket.number}/").content.decode()
    assert f'<a href="/contacts/{contact.id}/">Carla</a>' in page


def test_edit_form_renders_custom_fields_by_type(acme: TenantSetup) -> None:
    _custom_fields(acme)
    contact = _contact(acme)
    page = acme.client(acme.admin).get(f"/contacts/{contact.id}/edit/").content.decode()
    assert 'name="cf_account_id"' in page
    assert 'type="number" name="cf_seats"' in page
    assert '<select name="cf_plan"' in page
    assert '<option value="Pro">' in page
    assert 'type="date" name="cf_renewal"' in page
    assert 'type="checkbox" name="cf_vip"' in page


def test_edit_contact_saves_details_and_custom_fields(acme: TenantSetup) -> None:
    _custom_fields(acme)
    company = _company(acme)
    contact = _contact(acme, email="old@example.test")
    response = acme.client(acme.admin).post(
        f"/contacts/{contact.id}/edit/",
        {
            "name": "  Milton   Waddams ",
            "email": "milton@initech.test",
            "phone": "555",
            "notes": "Red stapler.",
            "company": str(company.id),
            "cf_account_id": "A-17",
            "cf_seats": "12",
            "cf_plan": "Pro",
            "cf_renewal": "2030-01-31",
            "cf_vip": "on",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"/contacts/{contact.id}/"
    contact = _reload(acme, contact)
    assert (contact.name, contact.email, contact.phone, contact.company_id) == (
        "Milton Waddams",
        "milton@initech.test",
        "555",
        company.id,
    )
    assert contact.custom_fields == {
        "account_id": "A-17",
        "seats": 12,
        "plan": "Pro",
        "renewal": "2030-01-31",
        "vip": True,
    }


def test_edit_contact_refuses_invalid_custom_values(acme: TenantSetup) -> None:
    _custom_fields(acme)
    contact = _contact(acme, name="Samir")
    client = acme.client(acme.admin)
    base = {"name": "Samir", "email": contact.email, "company": ""}
    bad_number = client.post(f"/contacts/{contact.id}/edit/", {**base, "cf_seats": "many"})
    assert bad_number.status_code == 400
    assert b"Seats takes a number." in bad_number.content
    bad_date = client.post(f"/contacts/{contact.id}/edit/", {**base, "cf_renewal": "31/01/2030"})
    assert bad_date.status_code == 400
    assert b"Renewal takes a date (YYYY-MM-DD)." in bad_date.content
    assert _reload(acme, contact).custom_fields == {}


def test_edit_contact_refuses_an_email_another_contact_has(acme: TenantSetup) -> None:
    _contact(acme, email="Taken@Example.test")
    contact = _contact(acme, email="mine@example.test")
    response = acme.client(acme.admin).post(
        f"/contacts/{contact.id}/edit/", {"name": "", "email": "taken@example.TEST", "company": ""}
    )
    assert response.status_code == 400
    assert b"Another contact already uses Taken@Example.test." in response.content
    assert _reload(acme, contact).email == "mine@example.test"


def test_update_contact_refuses_a_malformed_email(tenant: TenantSetup) -> None:
    contact = make_contact()
    with pytest.raises(ContactInvalid, match="not a valid email address"):
        contacts.update_contact(
            contact,
            name="",
            email="not-an-address",
            phone="",
            notes="",
            company=None,
            custom_fields={},
            actor=tenant.admin,
        )


def test_editing_a_contact_refreshes_the_search_of_their_tickets(acme: TenantSetup) -> None:
    contact = _contact(acme, name="Old Name")
    with tenant_context(acme.id):
        make_ticket(subject="Broken printer", contact=contact)
        contacts.update_contact(
            contact,
            name="Zebulon",
            email=contact.email,
            phone="",
            notes="",
            company=None,
            custom_fields={},
            actor=acme.admin,
        )
    assert b"Broken printer" in acme.client(acme.admin).get("/inbox/?q=zebulon").content


def test_company_pages_create_edit_and_show_contacts_and_tickets(acme: TenantSetup) -> None:
    _custom_fields(acme, target="company")
    client = acme.client(acme.admin)
    assert client.get("/companies/new/").status_code == 200
    created = client.post(
        "/companies/new/",
        {
            "name": " Initech ",
            "domains": "@Initech.COM, https://initech.io/about\ninitech.com",
            "notes": "",
            "cf_plan": "Free",
        },
    )
    assert created.status_code == 302
    with tenant_context(acme.id):
        company = Company.objects.get()
        assert company.domains == ["initech.com", "initech.io"]
        assert company.custom_fields == {"plan": "Free", "vip": False}
        peter = make_contact(name="Peter", company=company)
        make_ticket(subject="TPS reports", contact=peter)
    assert created["Location"] == f"/companies/{company.id}/"
    page = client.get(f"/companies/{company.id}/").content.decode()
    assert "initech.com, initech.io" in page
    assert f'href="/contacts/{peter.id}/"' in page
    assert "TPS reports" in page
    assert "Initech" in client.get("/companies/?q=initech.io").content.decode()
    edited = client.post(
        f"/companies/{company.id}/edit/",
        {"name": "Initrode", "domains": "initrode.test", "notes": "Merged company."},
    )
    assert edited.status_code == 302
    company = _reload(acme, company)
    assert (company.name, company.domains, company.notes) == (
        "Initrode",
        ["initrode.test"],
        "Merged company.",
    )


def test_company_with_a_taken_name_or_domain_is_refused(acme: TenantSetup) -> None:
    _company(acme, "Initech", ["initech.com"])
    client = acme.client(acme.admin)
    same_name = client.post("/companies/new/", {"name": "INITECH", "domains": ""})
    assert same_name.status_code == 400
    assert b"There is already a company named" in same_name.content
    same_domain = client.post("/companies/new/", {"name": "Initrode", "domains": "Initech.com"})
    assert same_domain.status_code == 400
    assert b"initech.com already belongs to Initech." in same_domain.content
    bad_domain = client.post("/companies/new/", {"name": "Initrode", "domains": "not a domain!"})
    assert bad_domain.status_code == 400
    with tenant_context(acme.id):
        assert Company.objects.count() == 1


def test_company_rename_to_an_existing_name_is_refused(tenant: TenantSetup) -> None:
    contacts.create_company(name="Initech", actor=None)
    other = contacts.create_company(name="Initrode", actor=None)
    with pytest.raises(ContactInvalid, match="already a company named"):
        contacts.update_company(
            other, name="initech", domains=[], notes="", custom_fields={}, actor=None
        )


# --- merging ---------------------------------------------------------------------------


def test_merge_moves_tickets_followers_messages_and_records_events(tenant: TenantSetup) -> None:
    survivor = make_contact(email="carla@example.test", name="", phone="")
    company = contacts.create_company(name="Globocorp", actor=None)
    duplicate = make_contact(
        email="carla.work@example.test", name="Carla", phone="555", company=company
    )
    third = make_contact()
    asked = make_ticket(subject="Asked by the duplicate", contact=duplicate)
    followed = make_ticket(subject="Followed by the duplicate", contact=third)
    both_follow = make_ticket(subject="Both follow", contact=third)
    survivor_asked = make_ticket(subject="Asked by the survivor", contact=survivor)
    TicketFollower.objects.create(ticket=followed, contact=duplicate)
    TicketFollower.objects.create(ticket=both_follow, contact=duplicate)
    TicketFollower.objects.create(ticket=both_follow, contact=survivor)
    TicketFollower.objects.create(ticket=survivor_asked, contact=duplicate)
    services.add_customer_message(ticket=followed, contact=duplicate, body="Me too")

    merged = contacts.merge_contacts(survivor=survivor, duplicate=duplicate, actor=tenant.admin)

    assert merged.id == survivor.id
    asked.refresh_from_db()
    assert asked.contact_id == survivor.id
    followers = set(TicketFollower.objects.values_list("ticket_id", "contact_id"))
    assert followers == {(followed.id, survivor.id), (both_follow.id, survivor.id)}
    assert not Message.objects.filter(author_contact=duplicate).exists()
    assert Message.objects.filter(ticket=followed, author_contact=survivor).count() == 1
    event = Message.objects.get(ticket=asked, kind=MessageKind.EVENT)
    assert event.event == {
        "field": "contact",
        "from": "carla.work@example.test",
        "to": "carla@example.test",
    }
    assert event.author_member_id == tenant.admin.id
    assert not Message.objects.filter(ticket=survivor_asked, kind=MessageKind.EVENT).exists()
    survivor.refresh_from_db()
    duplicate.refresh_from_db()
    assert (survivor.name, survivor.phone, survivor.company_id) == ("Carla", "555", company.id)
    assert duplicate.merged_into_id == survivor.id
    listed = list(contact_selectors.list_contacts())
    assert survivor in listed
    assert duplicate not in listed


def test_merge_fills_only_empty_custom_values_and_keeps_the_survivors(tenant: TenantSetup) -> None:
    _custom_fields(tenant)
    survivor = make_contact(name="Kept", custom_fields={"plan": "Pro"})
    duplicate = make_contact(name="Dropped", custom_fields={"plan": "Free", "seats": 3})
    contacts.merge_contacts(survivor=survivor, duplicate=duplicate, actor=None)
    survivor.refresh_from_db()
    assert survivor.name == "Kept"
    assert survivor.custom_fields == {"plan": "Pro", "seats": 3}


def test_merge_repoints_earlier_merges_to_the_survivor(tenant: TenantSetup) -> None:
    survivor, middle, oldest = make_contact(), make_contact(), make_contact()
    contacts.merge_contacts(survivor=middle, duplicate=oldest, actor=None)
    contacts.merge_contacts(survivor=survivor, duplicate=middle, actor=None)
    oldest.refresh_from_db()
    assert oldest.merged_into_id == survivor.id


def test_merge_refuses_itself_and_merged_contacts(tenant: TenantSetup) -> None:
    contact, other, third = make_contact(), make_contact(), make_contact()
    with pytest.raises(ContactInvalid, match="into itself"):
        contacts.merge_contacts(survivor=contact, duplicate=contact, actor=None)
    contacts.merge_contacts(survivor=contact, duplicate=other, actor=None)
    with pytest.raises(ContactInvalid, match="itself merged"):
        contacts.merge_contacts(survivor=other, duplicate=third, actor=None)
    with pytest.raises(ContactInvalid, match="already merged"):
        contacts.merge_contacts(survivor=third, duplicate=other, actor=None)


def test_mail_from_a_merged_address_finds_the_survivor(tenant: TenantSetup) -> None:
    survivor = make_contact(email="main@example.test")
    duplicate = make_contact(email="Old@Example.test")
    contacts.merge_contacts(survivor=survivor, duplicate=duplicate, actor=None)
    # Needs find_contact_by_email to follow merged_into (the lead engineer's change).
    assert contact_selectors.find_contact_by_email("old@example.test") == survivor


def test_merge_page_searches_previews_and_merges(acme: TenantSetup) -> None:
    survivor = _contact(acme, email="carla@example.test", name="Carla")
    duplicate = _contact(acme, email="carla.old@example.test", name="")
    with tenant_context(acme.id):
        make_ticket(subject="Old ticket", contact=duplicate)
    client = acme.client(acme.admin)
    url = f"/contacts/{survivor.id}/merge/"
    assert client.get(url).status_code == 200
    found = client.get(f"{url}?q=carla", HTTP_HX_REQUEST="true").content.decode()
    assert "carla.old@example.test" in found
    assert f'id="contact-{survivor.id}"' not in found
    preview = client.get(f"{url}?duplicate={duplicate.id}").content.decode()
    assert "1 ticket moves to carla@example.test" in preview
    assert 'name="duplicate"' in preview
    merged = client.post(url, {"duplicate": str(duplicate.id)})
    assert merged.status_code == 302
    assert merged["Location"] == f"/contacts/{survivor.id}/"
    page = client.get(merged["Location"]).content.decode()
    assert "carla.old@example.test merged into this contact." in page
    assert "Old ticket" in page


def test_merge_page_explains_a_refused_merge(acme: TenantSetup) -> None:
    contact = _contact(acme)
    client = acme.client(acme.admin)
    preview = client.get(f"/contacts/{contact.id}/merge/?duplicate={contact.id}")
    assert b"A contact cannot be merged into itself." in preview.content
    refused = client.post(f"/contacts/{contact.id}/merge/", {"duplicate": str(contact.id)})
    assert refused.status_code == 302
    follow = client.get(refused["Location"]).content
    assert b"A contact cannot be merged into itself." in follow


def test_a_duplicates_page_redirects_to_the_survivor(acme: TenantSetup) -> None:
    survivor, duplicate = _contact(acme), _contact(acme)
    with tenant_context(acme.id):
        contacts.merge_contacts(survivor=survivor, duplicate=duplicate, actor=None)
    client = acme.client(acme.admin)
    response = client.get(f"/contacts/{duplicate.id}/")
    assert response.status_code == 302
    assert response["Location"] == f"/contacts/{survivor.id}/"
    assert client.get(f"/contacts/{duplicate.id}/edit/")["Location"] == (
        f"/contacts/{survivor.id}/edit/"
    )
    assert f'id="contact-{duplicate.id}"'.encode() not in client.get("/contacts/").content


# --- who may do what -------------------------------------------------------------------


def test_light_agent_may_view_but_not_change(acme: TenantSetup) -> None:
    light = make_member(acme.tenant, MembershipRole.LIGHT_AGENT)
    contact, other = _contact(acme), _contact(acme)
    company = _company(acme)
    client = acme.client(light)
    page = client.get(f"/contacts/{contact.id}/")
    assert page.status_code == 200
    assert f"/contacts/{contact.id}/edit/".encode() not in page.content
    assert client.get(f"/companies/{company.id}/").status_code == 200
    assert client.get(f"/contacts/{contact.id}/edit/").status_code == 403
    edit = client.post(f"/contacts/{contact.id}/edit/", {"name": "X", "email": contact.email})
    assert edit.status_code == 403
    merge = client.post(f"/contacts/{contact.id}/merge/", {"duplicate": str(other.id)})
    assert merge.status_code == 403
    assert client.post("/companies/new/", {"name": "Nope"}).status_code == 403
    assert client.get(f"/companies/{company.id}/edit/").status_code == 403
    assert _reload(acme, other).merged_into_id is None
    with tenant_context(acme.id), pytest.raises(PermissionDenied):
        contacts.merge_contacts(survivor=contact, duplicate=other, actor=light)


def test_light_agent_api_reads_but_cannot_patch_or_merge(acme: TenantSetup) -> None:
    contact, other = _contact(acme), _contact(acme)
    _, client = _light_agent_api(acme)
    assert client.get(f"/api/v1/contacts/{contact.id}/").status_code == 200
    patch = client.patch(
        f"/api/v1/contacts/{contact.id}/", {"name": "X"}, content_type="application/json"
    )
    assert patch.status_code == 403
    assert patch.json()["error"]["code"] == "permission_denied"
    merge = client.post(
        f"/api/v1/contacts/{contact.id}/merge/",
        {"duplicate": str(other.id)},
        content_type="application/json",
    )
    assert merge.status_code == 403
    company = client.post("/api/v1/companies/", {"name": "X"}, content_type="application/json")
    assert company.status_code == 403


def test_another_tenants_contacts_and_companies_are_404(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    theirs = _contact(globex, email="secret@globex.test")
    their_company = _company(globex, "Globex Secret")
    mine = _contact(acme)
    client = acme.client(acme.admin)
    for url in (
        f"/contacts/{theirs.id}/",
        f"/contacts/{theirs.id}/edit/",
        f"/contacts/{theirs.id}/merge/",
        f"/companies/{their_company.id}/",
        f"/companies/{their_company.id}/edit/",
    ):
        assert client.get(url).status_code == 404, url
    assert b"secret@globex.test" not in client.get("/contacts/?q=secret").content
    assert b"Globex Secret" not in client.get("/companies/").content
    assert client.get(f"/contacts/{mine.id}/merge/?duplicate={theirs.id}").status_code == 404
    client.post(f"/contacts/{mine.id}/merge/", {"duplicate": str(theirs.id)})
    assert _reload(globex, theirs).merged_into_id is None

    api = acme.api_client()
    for url in (
        f"/api/v1/contacts/{theirs.id}/",
        f"/api/v1/contacts/{theirs.id}/tickets/",
        f"/api/v1/companies/{their_company.id}/",
    ):
        response = api.get(url)
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] in {"contact_not_found", "company_not_found"}
    assert api.get("/api/v1/contacts/?q=secret").json()["results"] == []
    assert api.get("/api/v1/companies/").json()["results"] == []
    merge = api.post(
        f"/api/v1/contacts/{mine.id}/merge/",
        {"duplicate": str(theirs.id)},
        content_type="application/json",
    )
    assert merge.status_code == 404
    patch = api.patch(
        f"/api/v1/contacts/{mine.id}/",
        {"company": str(their_company.id)},
        content_type="application/json",
    )
    assert patch.status_code == 404
    assert patch.json()["error"]["code"] == "company_not_found"


# --- API -------------------------------------------------------------------------------


def test_api_lists_and_searches_contacts(
    acme: TenantSetup, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    company = _company(acme, "Analytical Engines")
    ada = _contact(acme, name="Ada", email="ada@engines.test", company=company)
    _contact(acme, name="Bob", email="bob@build.test")
    duplicate = _contact(acme, name="Ada again")
    with tenant_context(acme.id):
        contacts.merge_contacts(survivor=ada, duplicate=duplicate, actor=None)
    api = acme.api_client()
    with django_assert_max_num_queries(8):
        body = api.get("/api/v1/contacts/").json()
    assert {"results", "next", "previous"} <= set(body)
    assert sorted(c["name"] for c in body["results"]) == ["Ada", "Bob"]
    found = api.get("/api/v1/contacts/?q=analytical").json()["results"]
    assert [c["email"] for c in found] == ["ada@engines.test"]
    assert found[0]["company"] == {"id": str(company.id), "name": "Analytical Engines"}
    assert api.get("/api/v1/contacts/?q=" + "x" * 300).status_code == 400


def test_api_contact_detail_patch_and_tickets(acme: TenantSetup) -> None:
    _custom_fields(acme)
    company = _company(acme)
    contact = _contact(acme, name="Carla", email="carla@example.test")
    with tenant_context(acme.id):
        first = make_ticket(subject="First", contact=contact)
        second = make_ticket(subject="Second", contact=contact)
    api = acme.api_client()
    url = f"/api/v1/contacts/{contact.id}/"
    assert api.get(url).json()["email"] == "carla@example.test"
    response = api.patch(
        url,
        {
            "phone": "555",
            "company": str(company.id),
            "custom_fields": {"seats": "7", "vip": True, "plan": "Pro"},
        },
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["phone"], body["company"]["id"]) == ("Carla", "555", str(company.id))
    assert body["custom_fields"] == {"seats": 7, "vip": True, "plan": "Pro"}
    cleared = api.patch(
        url, {"company": None, "custom_fields": {"plan": None}}, content_type="application/json"
    ).json()
    assert cleared["company"] is None
    assert cleared["custom_fields"] == {"seats": 7, "vip": True}
    tickets = api.get(f"{url}tickets/").json()["results"]
    assert [t["number"] for t in tickets] == [second.number, first.number]


def test_api_patch_refuses_bad_input_with_4xx(acme: TenantSetup) -> None:
    _custom_fields(acme)
    _contact(acme, email="taken@example.test")
    contact = _contact(acme)
    api = acme.api_client()
    url = f"/api/v1/contacts/{contact.id}/"

    def patch(payload: object) -> ClientResponse:
        return api.patch(url, payload, content_type="application/json")

    taken = patch({"email": "TAKEN@example.test"})
    assert taken.status_code == 400
    assert taken.json()["error"] == {
        "code": "contact_invalid",
        "message": "Another contact already uses taken@example.test.",
    }
    bad_value = patch({"custom_fields": {"seats": "lots"}})
    assert bad_value.status_code == 400
    assert bad_value.json()["error"]["code"] == "custom_field_invalid"
    unknown = patch({"custom_fields": {"nope": "1"}})
    assert unknown.status_code == 400
    assert patch({"custom_fields": {"plan": ["Pro"]}}).status_code == 400
    assert patch({"custom_fields": "Pro"}).status_code == 400
    assert patch({"company": "not-a-uuid"}).status_code == 400
    assert patch({"email": ""}).status_code == 400
    assert api.patch(url, "{nope", content_type="application/json").status_code == 400
    assert api.get("/api/v1/contacts/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_api_merge(acme: TenantSetup) -> None:
    survivor = _contact(acme, email="main@example.test")
    duplicate = _contact(acme, email="dup@example.test")
    with tenant_context(acme.id):
        ticket = make_ticket(contact=duplicate)
    api = acme.api_client()
    url = f"/api/v1/contacts/{survivor.id}/merge/"
    response = api.post(url, {"duplicate": str(duplicate.id)}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["id"] == str(survivor.id)
    assert _reload(acme, ticket).contact_id == survivor.id
    merged = api.get(f"/api/v1/contacts/{duplicate.id}/").json()
    assert merged["merged_into"] == str(survivor.id)
    itself = api.post(url, {"duplicate": str(survivor.id)}, content_type="application/json")
    assert itself.status_code == 400
    assert itself.json()["error"]["code"] == "contact_invalid"
    assert api.post(url, {}, content_type="application/json").status_code == 400
    assert api.post(url, {"duplicate": "x"}, content_type="application/json").status_code == 400


def test_api_companies(acme: TenantSetup) -> None:
    _custom_fields(acme, target="company")
    api = acme.api_client()
    created = api.post(
        "/api/v1/companies/",
        {"name": "Initech", "domains": ["@INITECH.com"], "custom_fields": {"plan": "Pro"}},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    company = created.json()
    assert (company["domains"], company["custom_fields"]) == (["initech.com"], {"plan": "Pro"})
    duplicate = api.post("/api/v1/companies/", {"name": "initech"}, content_type="application/json")
    assert duplicate.status_code == 400
    assert duplicate.json()["error"]["code"] == "contact_invalid"
    bad_domain = api.post(
        "/api/v1/companies/",
        {"name": "Initrode", "domains": ["exa mple"]},
        content_type="application/json",
    )
    assert bad_domain.status_code == 400
    assert api.post("/api/v1/companies/", {}, content_type="application/json").status_code == 400
    url = f"/api/v1/companies/{company['id']}/"
    patched = api.patch(url, {"notes": "Big account."}, content_type="application/json").json()
    assert (patched["name"], patched["domains"], patched["notes"]) == (
        "Initech",
        ["initech.com"],
        "Big account.",
    )
    assert api.get(url).json()["notes"] == "Big account."
    listed = api.get("/api/v1/companies/?q=initech").json()["results"]
    assert [c["name"] for c in listed] == ["Initech"]


def test_openapi_schema_documents_contacts_and_companies(acme: TenantSetup) -> None:
    schema = acme.client().get("/api/schema/").content.decode()
    for path in (
        "/api/v1/contacts/:",
        "/api/v1/contacts/{contact_id}/:",
        "/api/v1/contacts/{contact_id}/tickets/:",
        "/api/v1/contacts/{contact_id}/merge/:",
        "/api/v1/companies/:",
        "/api/v1/companies/{company_id}/:",
    ):
        assert path in schema, path
    for component in (
        "ContactOutput:",
        "PatchedContactUpdateInputRequest:",
        "ContactMergeInputRequest:",
    ):
        assert component in schema, component


def test_merged_contacts_keep_their_rows(tenant: TenantSetup) -> None:
    survivor, duplicate = make_contact(), make_contact()
    contacts.merge_contacts(survivor=survivor, duplicate=duplicate, actor=None)
    assert Contact.objects.filter(id=duplicate.id).exists()
    assert Ticket.objects.filter(contact=duplicate).count() == 0


def test_custom_field_errors_name_the_field(tenant: TenantSetup) -> None:
    _custom_fields(tenant)
    contact = make_contact()
    with pytest.raises(CustomFieldInvalid) as error:
        contacts.update_contact(
            contact,
            name="",
            email=contact.email,
            phone="",
            notes="",
            company=None,
            custom_fields={"plan": "Platinum"},
            actor=None,
        )
    assert error.value.details["field"] == "plan"


def test_contact_lookup_by_email_uses_its_index_under_row_level_security(
    tenant: TenantSetup,
) -> None:
    """Every inbound mail looks its sender up. lower(email) is not LEAKPROOF, so under
    row-level security PostgreSQL checks it after the policy on every row (a sequential
    scan, whatever index exists); `=` on the stored email_key can use the unique index."""
    kept = make_contact(email="Carla.Diaz@Example.test")
    assert contact_selectors.find_contact_by_email(" carla.diaz@EXAMPLE.test ") == kept
    # Statistics of a table the suite filled and emptied can make the tenant's index look as
    # good as the unique one: give the planner this tenant's real proportions.
    Contact.objects.bulk_create(
        Contact(tenant=tenant.tenant, email=f"filler{number}@example.test", name="Filler")
        for number in range(300)
    )
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")  # ANALYZE is the table owner's
        cursor.execute(f"ANALYZE {Contact._meta.db_table}")
        cursor.execute(f'SET ROLE "{settings.HELPDESK_DB_ROLES["app"]}"')

    def plan(queryset: QuerySet[Contact]) -> str:
        sql, params = queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")  # an index, whenever one can serve
            cursor.execute(f"EXPLAIN {sql}", params)
            found = "\n".join(row[0] for row in cursor.fetchall())
            cursor.execute("SET LOCAL enable_seqscan = on")
        return found

    with connection.cursor() as cursor:
        cursor.execute("SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False,)  # the app's role: the policy applies
    lookup = plan(contact_selectors.contacts_with_email("carla.diaz@example.test"))
    assert "tickets_contact_email_key_uniq" in lookup
    assert any("Index Cond" in line and "email_key" in line for line in lookup.splitlines())
    by_expression = Contact.objects.alias(key=Lower("email")).filter(key="carla.diaz@example.test")
    lines = plan(by_expression).splitlines()
    assert [line.strip().split(":")[0] for line in lines if "lower(" in line] == ["Filter"]


@pytest.mark.django_db(transaction=True)
def test_two_mails_from_a_new_address_at_once_share_one_contact(acme: TenantSetup) -> None:
    """The second insert waits on the first one's unique key, fails when it commits, and
    takes the contact it made (seen in the inbound benchmark: a mail marked failed)."""

    def second() -> Contact:
        with tenant_context(acme.id):
            return services.get_or_create_contact(email="NEW@example.test")

    first, second_result = second_behind_first(
        acme.id, lambda: services.get_or_create_contact(email="new@example.test"), second
    )
    assert second_result == first
    with tenant_context(acme.id):
        assert Contact.objects.filter(email__iexact="new@example.test").count() == 1


def test_a_companys_domains_are_rows_that_new_contacts_join_by(tenant: TenantSetup) -> None:
    """Each domain is a CompanyDomain row, kept in step with Company.domains: a new contact
    joins the owner of its address's domain, a domain given up is free for another."""
    initech = contacts.create_company(
        name="Initech", domains=["initech.com", "initech.io"], actor=None
    )
    assert services.get_or_create_contact(email="peter@Initech.IO").company == initech
    contacts.update_company(
        initech, name="Initech", domains=["initech.com"], notes="", custom_fields={}, actor=None
    )
    assert set(CompanyDomain.objects.values_list("domain", flat=True)) == {"initech.com"}
    assert services.get_or_create_contact(email="milton@initech.io").company is None
    initrode = contacts.create_company(name="Initrode", domains=["initech.io"], actor=None)
    assert services.get_or_create_contact(email="bill@initech.io").company == initrode
    with pytest.raises(ContactInvalid, match=r"initech\.com already belongs to Initech"):
        contacts.create_company(name="Penetrode", domains=["initech.com"], actor=None)

    CompanyDomain.objects.bulk_create(  # enough rows for the planner to pick an index
        CompanyDomain(tenant_id=initrode.tenant_id, company=initrode, domain=f"d{n}.initrode.test")
        for n in range(2000)
    )
    sql, params = CompanyDomain.objects.filter(domain="initech.com").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET LOCAL enable_seqscan = on")
    # Under row-level security, as the app's role: `=` on the unique index.
    assert "tickets_companydomain_uniq" in plan


def test_a_company_given_a_domain_takes_in_the_people_already_known_there(
    tenant: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    """Known contacts at a new domain join the company (a task after the commit), their
    tickets become findable by the company's name; contacts of another company stay."""
    loose = services.get_or_create_contact(email="Peter@Initech.com", name="Peter Gibbons")
    ticket = make_ticket(contact=loose, subject="TPS report")
    other = contacts.create_company(name="Initrode", actor=None)
    taken = services.get_or_create_contact(email="bill@initech.com")
    taken.company = other
    taken.save(update_fields=["company"])
    elsewhere = services.get_or_create_contact(email="milton@initech.co")
    with django_capture_on_commit_callbacks(execute=True):
        initech = contacts.create_company(name="Globochem", domains=["initech.com"], actor=None)
    loose.refresh_from_db()
    taken.refresh_from_db()
    elsewhere.refresh_from_db()
    assert (loose.company, taken.company, elsewhere.company) == (initech, other, None)
    found = inbox_selectors.list_tickets(inbox_selectors.TicketFilters(q="globochem"))
    assert [t.id for t in found] == [ticket.id]
    # Saving again without a new domain queues nothing.
    with django_capture_on_commit_callbacks() as callbacks:
        contacts.update_company(
            initech,
            name="Globochem",
            domains=["initech.com"],
            notes="",
            custom_fields={},
            actor=None,
        )
    assert callbacks == []
