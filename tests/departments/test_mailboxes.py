"""Mailboxes: addresses and aliases in the global index, templates, IMAP password at rest,
admin pages and the API, each with its cross-tenant check."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from pytest_django import DjangoCaptureOnCommitCallbacks

from departments import services
from departments.errors import (
    DefaultMailboxRequired,
    InvalidMailboxAddress,
    InvalidMailboxTemplate,
    MailboxAddressTaken,
)
from departments.models import DEFAULT_AUTO_ACK_BODY, Mailbox
from helpdesk.accounts import services as account_services
from helpdesk.core import crypto
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import InboundAddress, MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.tickets.test_inbound import build, deliver
from tickets.mail_out import templates


def test_default_mailbox_exists_for_every_tenant(acme: TenantSetup) -> None:
    assert acme.mailbox.address == "support@acme.localhost"
    assert InboundAddress.objects.get(address="support@acme.localhost").tenant_id == acme.id


def test_aliases_are_registered_and_unregistered(tenant: TenantSetup) -> None:
    mailbox = services.create_mailbox(
        address="Sales@Acme.localhost",
        department=tenant.department,
        aliases=["shop@acme.localhost", "sales@acme.localhost"],
    )
    assert mailbox.address == "sales@acme.localhost"
    assert mailbox.aliases == ["shop@acme.localhost"]
    owned = set(
        InboundAddress.objects.filter(mailbox_id=mailbox.id).values_list("address", flat=True)
    )
    assert owned == {"sales@acme.localhost", "shop@acme.localhost"}
    services.update_mailbox(mailbox=mailbox, aliases=["store@acme.localhost"])
    owned = set(
        InboundAddress.objects.filter(mailbox_id=mailbox.id).values_list("address", flat=True)
    )
    assert owned == {"sales@acme.localhost", "store@acme.localhost"}


def test_an_address_belongs_to_one_tenant(acme: TenantSetup, globex: TenantSetup) -> None:
    with tenant_context(acme.id):
        services.create_mailbox(address="help@acme.example", department=acme.department)
    with tenant_context(globex.id), pytest.raises(MailboxAddressTaken):
        services.create_mailbox(address="help@acme.example", department=globex.department)
    with tenant_context(globex.id), pytest.raises(MailboxAddressTaken):
        services.create_mailbox(
            address="help@globex.localhost",
            department=globex.department,
            aliases=["help@acme.example"],
        )


def test_platform_addresses_only_at_the_tenants_own_subdomain(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    """Globex cannot take sales@acme.localhost (nobody's yet), nor the bare platform
    domain, as address or alias, by page or API; other domains are free to forward."""
    with tenant_context(globex.id):
        for address, aliases in (
            ("sales@acme.localhost", []),
            ("help@globex.localhost", ["sales@acme.localhost"]),
            ("hello@localhost", []),
            ("x@deep.acme.localhost", []),
        ):
            with pytest.raises(
                InvalidMailboxAddress, match=r"must be at your own globex\.localhost"
            ):
                services.create_mailbox(
                    address=address, department=globex.department, aliases=aliases
                )
        with pytest.raises(InvalidMailboxAddress):
            services.update_mailbox(mailbox=globex.mailbox, aliases=["sales@acme.localhost"])
        assert (
            services.create_mailbox(
                address="Sales@Globex.localhost", department=globex.department
            ).address
            == "sales@globex.localhost"
        )
        services.create_mailbox(address="support@globex.example", department=globex.department)
    refused = globex.api_client().post(
        "/api/v1/mailboxes/", {"address": "sales@acme.localhost"}, content_type="application/json"
    )
    assert refused.status_code == 400
    assert "must be at your own globex.localhost" in refused.json()["error"]["message"]
    page = globex.client(globex.admin).post(
        "/settings/mailboxes/new/",
        {
            "address": "sales@acme.localhost",
            "department": str(globex.department.id),
            "is_active": "on",
            "imap_port": "993",
            "imap_security": "ssl",
            "imap_folder": "INBOX",
            "auto_ack_subject": "Got it",
            "auto_ack_body": "Thanks",
        },
    )
    assert page.status_code == 400
    assert b"must be at your own globex.localhost" in page.content
    assert not InboundAddress.objects.filter(address="sales@acme.localhost").exists()


def test_unknown_placeholder_is_refused(tenant: TenantSetup) -> None:
    with pytest.raises(InvalidMailboxTemplate, match=r"\{\{ ticket.secret \}\}"):
        services.update_mailbox(mailbox=tenant.mailbox, auto_ack_body="Hi {{ ticket.secret }}")


def test_imap_password_is_encrypted_at_rest(tenant: TenantSetup) -> None:
    services.update_mailbox(
        mailbox=tenant.mailbox,
        imap_enabled=True,
        imap_host="imap.test",
        imap_username="u",
        imap_password="s3cret!",
    )
    stored = Mailbox.objects.get(id=tenant.mailbox.id).imap_password_encrypted
    assert "s3cret" not in stored
    assert crypto.decrypt(stored) == "s3cret!"
    services.update_mailbox(mailbox=tenant.mailbox, imap_password="")
    assert Mailbox.objects.get(id=tenant.mailbox.id).imap_password_encrypted == stored


def test_default_mailbox_cannot_be_deleted(tenant: TenantSetup) -> None:
    with pytest.raises(DefaultMailboxRequired):
        services.delete_mailbox(mailbox=tenant.mailbox)
    other = services.create_mailbox(address="x@acme.localhost", department=tenant.department)
    services.delete_mailbox(mailbox=other)
    assert not InboundAddress.objects.filter(address="x@acme.localhost").exists()


def test_admin_pages_create_and_edit_a_mailbox(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    form = {
        "address": "help@acme.localhost",
        "aliases": "helpdesk@acme.localhost",
        "display_name": "Acme Help",
        "department": str(acme.department.id),
        "is_active": "on",
        "auto_ack_enabled": "on",
        "auto_ack_subject": "Got it [#{{ ticket.number }}]",
        "auto_ack_body": "Hi {{ contact.first_name }}",
        "imap_port": "143",
        "imap_security": "starttls",
        "imap_folder": "INBOX",
    }
    created = client.post("/settings/mailboxes/new/", form)
    assert created.status_code == 302, created.content
    with tenant_context(acme.id):
        mailbox = Mailbox.objects.get(address="help@acme.localhost")
    assert (mailbox.imap_port, mailbox.imap_security) == (143, "starttls")
    page = client.get(f"/settings/mailboxes/{mailbox.id}/")
    assert b"helpdesk@acme.localhost" in page.content
    assert b'<option value="starttls" selected>STARTTLS' in page.content
    unknown = client.post(f"/settings/mailboxes/{mailbox.id}/", {**form, "imap_security": "tls"})
    assert unknown.status_code == 400
    bad = client.post(
        f"/settings/mailboxes/{mailbox.id}/", {**form, "auto_ack_body": "{{ settings.SECRET_KEY }}"}
    )
    assert bad.status_code == 400
    assert b"unknown placeholder" in bad.content


def test_a_mailbox_follows_the_acknowledgement_template_until_it_has_wording_of_its_own(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    """Saving the mailbox form unchanged (a browser posts CRLF) or pasting the built-in text
    keeps the template; the mailbox's own subject or body wins field by field."""
    with tenant_context(acme.id):
        templates.save_template(
            actor=None,
            kind="acknowledgement",
            department=None,
            subject="Got it [#{{ ticket.number }}]",
            body="TEMPLATE WORDING for {{ contact.first_name }}",
        )
    client = acme.client(acme.admin)
    page = client.get(f"/settings/mailboxes/{acme.mailbox.id}/")
    assert b"acknowledgement email template" in page.content
    form = {
        "address": acme.mailbox.address,
        "department": str(acme.department.id),
        "auto_ack_enabled": "on",
        "is_active": "on",
        "is_default": "on",
        "auto_ack_subject": "",
        "auto_ack_body": DEFAULT_AUTO_ACK_BODY.replace("\n", "\r\n"),
        "imap_port": "993",
        "imap_security": "ssl",
        "imap_folder": "INBOX",
    }
    assert client.post(f"/settings/mailboxes/{acme.mailbox.id}/", form).status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        deliver(acme, build(subject="First"))
    assert mail.outbox[-1].subject.startswith("Got it [#")
    assert "TEMPLATE WORDING for Carla" in mail.outbox[-1].body

    form["auto_ack_body"] = "MAILBOX WORDING\r\nfor {{ contact.first_name }}\r\n"
    assert client.post(f"/settings/mailboxes/{acme.mailbox.id}/", form).status_code == 302
    with tenant_context(acme.id):
        acme.mailbox.refresh_from_db()
        assert (acme.mailbox.auto_ack_subject, acme.mailbox.auto_ack_body) == (
            "",
            "MAILBOX WORDING\nfor {{ contact.first_name }}",
        )
    with django_capture_on_commit_callbacks(execute=True):
        deliver(acme, build(subject="Second", sender="Dan <dan@example.test>"))
    assert mail.outbox[-1].subject.startswith("Got it [#")
    assert "MAILBOX WORDING\nfor Dan" in mail.outbox[-1].body
    assert "TEMPLATE WORDING" not in mail.outbox[-1].body


def test_mailbox_pages_are_admin_only_and_per_tenant(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    agent = make_member(acme.tenant, MembershipRole.AGENT)
    assert acme.client(agent).get("/settings/mailboxes/new/").status_code == 403
    foreign = acme.client(acme.admin).get(f"/settings/mailboxes/{globex.mailbox.id}/")
    assert foreign.status_code == 404


@pytest.fixture
def admin_api(acme: TenantSetup) -> Client:
    return acme.api_client()


def test_mailbox_api_crud(admin_api: Client, acme: TenantSetup) -> None:
    created = admin_api.post(
        "/api/v1/mailboxes/",
        {
            "address": "sales@acme.localhost",
            "aliases": ["shop@acme.localhost"],
            "imap_password": "pw",
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["imap_password_set"] is True
    assert "imap_password" not in body
    listed = admin_api.get("/api/v1/mailboxes/").json()["results"]
    assert {m["address"] for m in listed} == {"support@acme.localhost", "sales@acme.localhost"}
    patched = admin_api.patch(
        f"/api/v1/mailboxes/{body['id']}/",
        {"auto_ack_enabled": False},
        content_type="application/json",
    )
    assert patched.json()["auto_ack_enabled"] is False
    assert body["imap_security"] == "ssl"
    secured = admin_api.patch(
        f"/api/v1/mailboxes/{body['id']}/",
        {"imap_security": "starttls", "imap_port": 143},
        content_type="application/json",
    )
    assert (secured.json()["imap_security"], secured.json()["imap_port"]) == ("starttls", 143)
    bad_security = admin_api.patch(
        f"/api/v1/mailboxes/{body['id']}/",
        {"imap_security": "yes"},
        content_type="application/json",
    )
    assert bad_security.status_code == 400
    assert "imap_security" in bad_security.content.decode()
    assert admin_api.delete(f"/api/v1/mailboxes/{body['id']}/").status_code == 204
    refused = admin_api.delete(f"/api/v1/mailboxes/{acme.mailbox.id}/")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "default_mailbox_required"


def test_mailbox_api_errors(admin_api: Client, globex: TenantSetup) -> None:
    with tenant_context(globex.id):
        services.create_mailbox(address="help@globex.example", department=globex.department)
    taken = admin_api.post(
        "/api/v1/mailboxes/",
        {"address": "help@globex.example"},
        content_type="application/json",
    )
    assert taken.status_code == 409
    assert admin_api.get(f"/api/v1/mailboxes/{globex.mailbox.id}/").status_code == 404
    invalid = admin_api.post(
        "/api/v1/mailboxes/", {"address": "not-an-address"}, content_type="application/json"
    )
    assert invalid.status_code == 400


def test_an_address_another_mailbox_of_the_tenant_has_is_refused_not_a_500(
    acme: TenantSetup, admin_api: Client
) -> None:
    """Page (form kept, message by the field), API (409) and service alike, on create and
    on edit; nothing is written."""
    with tenant_context(acme.id):
        sales = services.create_mailbox(address="sales@acme.localhost", department=acme.department)
    taken = acme.mailbox.address
    page = acme.client(acme.admin).post(
        "/settings/mailboxes/new/",
        {
            "address": taken,
            "display_name": "Kept as typed",
            "department": str(acme.department.id),
            "auto_ack_subject": "Got it",
            "auto_ack_body": "Hi",
            "imap_port": "993",
            "imap_security": "ssl",
            "imap_folder": "INBOX",
        },
    )
    assert page.status_code == 400
    assert b"That address already belongs to a mailbox." in page.content
    assert b'value="Kept as typed"' in page.content
    created = admin_api.post(
        "/api/v1/mailboxes/",
        {"address": taken, "department": str(acme.department.id)},
        content_type="application/json",
    )
    assert created.status_code == 409, created.content
    assert created.json()["error"]["code"] == "mailbox_address_taken"
    edited = admin_api.patch(
        f"/api/v1/mailboxes/{sales.id}/", {"address": taken}, content_type="application/json"
    )
    assert edited.status_code == 409, edited.content
    with tenant_context(acme.id):
        sales.refresh_from_db()
        assert sales.address == "sales@acme.localhost"
        assert Mailbox.objects.count() == 2


def test_mailbox_api_is_admin_only(acme: TenantSetup) -> None:
    agent = make_member(acme.tenant, MembershipRole.AGENT)
    _, key = account_services.create_api_token(membership=agent)
    response = acme.client().get("/api/v1/mailboxes/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_the_stored_password_hint_shows_only_when_a_password_is_stored(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    assert b"keep the stored password" not in client.get("/settings/mailboxes/new/").content
    with tenant_context(acme.id):
        services.update_mailbox(mailbox=acme.mailbox, imap_password="s3cret")
    edit = client.get(f"/settings/mailboxes/{acme.mailbox.id}/").content
    assert b"Leave empty to keep the stored password." in edit
