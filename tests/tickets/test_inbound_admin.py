"""The inbound log (pages and API) and ESP webhooks through django-anymail."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from base64 import b64encode
from typing import TYPE_CHECKING

import pytest
from django.test import Client
from pytest_django import Settings

from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.tickets.test_inbound import build, deliver
from tickets.models import InboundEmail, Ticket, UnroutedEmail

if TYPE_CHECKING:
    from tests.conftest import ClientResponse


@pytest.fixture
def admin_api(acme: TenantSetup) -> Client:
    return acme.api_client()


def test_inbound_log_lists_and_filters(acme: TenantSetup) -> None:
    deliver(acme, build(subject="Good one"))
    deliver(acme, build(sender="support@acme.localhost"))
    client = acme.client(acme.admin)
    page = client.get("/settings/inbound/").content
    assert b"Processed" in page
    assert b"Rejected" in page
    rejected = client.get("/settings/inbound/?status=rejected").content
    assert b"own mailboxes" in rejected
    assert b"#1" not in rejected


def test_inbound_detail_raw_and_retry(acme: TenantSetup) -> None:
    email = deliver(acme, build(sender="support@acme.localhost", body="raw body here"))
    client = acme.client(acme.admin)
    detail = client.get(f"/settings/inbound/{email.id}/")
    assert b"Process again" in detail.content
    raw = client.get(f"/settings/inbound/{email.id}/raw/")
    assert raw["Content-Type"].startswith("text/plain")
    assert b"raw body here" in raw.content
    client.post(f"/settings/inbound/{email.id}/retry/")
    with tenant_context(acme.id):
        email.refresh_from_db()
        assert email.status == "queued"


def test_inbound_log_is_admin_only_and_per_tenant(acme: TenantSetup, globex: TenantSetup) -> None:
    foreign = deliver(globex, build(to="support@globex.localhost"))
    agent = make_member(acme.tenant, MembershipRole.AGENT)
    assert acme.client(agent).get("/settings/inbound/").status_code == 403
    client = acme.client(acme.admin)
    assert client.get(f"/settings/inbound/{foreign.id}/").status_code == 404
    assert client.get(f"/settings/inbound/{foreign.id}/raw/").status_code == 404
    assert client.post(f"/settings/inbound/{foreign.id}/retry/").status_code == 404


def test_inbound_api(admin_api: Client, acme: TenantSetup, globex: TenantSetup) -> None:
    good = deliver(acme, build())
    bad = deliver(acme, build(sender="support@acme.localhost"))
    foreign = deliver(globex, build(to="support@globex.localhost"))
    listed = admin_api.get("/api/v1/inbound-emails/").json()["results"]
    assert {e["id"] for e in listed} == {str(good.id), str(bad.id)}
    rejected = admin_api.get("/api/v1/inbound-emails/?status=rejected").json()["results"]
    assert [e["reason"] for e in rejected] == ["sent from one of our own mailboxes"]
    detail = admin_api.get(f"/api/v1/inbound-emails/{good.id}/").json()
    assert detail["ticket"] == 1
    raw = admin_api.get(f"/api/v1/inbound-emails/{good.id}/raw/")
    assert raw["Content-Type"] == "message/rfc822"
    assert admin_api.get(f"/api/v1/inbound-emails/{foreign.id}/").status_code == 404
    retried = admin_api.post(f"/api/v1/inbound-emails/{bad.id}/retry/")
    assert retried.status_code == 202
    again = admin_api.post(f"/api/v1/inbound-emails/{good.id}/retry/")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "inbound_email_not_retryable"


# --- ESP webhooks -------------------------------------------------------------------------

SIGNING_KEY = "mailgun-signing-key"
BASIC = "hook:secret"


@pytest.fixture
def anymail_settings(settings: Settings) -> None:
    settings.ANYMAIL = {"WEBHOOK_SECRET": BASIC, "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}


def _mailgun_post(
    client: Client, raw: bytes, recipient: str, *, signature: str | None = None, auth: str = BASIC
) -> ClientResponse:
    timestamp, token = str(int(time.time())), "abc123token"
    expected = hmac.new(
        SIGNING_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256
    ).hexdigest()
    return client.post(
        "/anymail/mailgun/inbound_mime/",
        {
            "body-mime": raw.decode(),
            "recipient": recipient,
            "sender": "carla@example.test",
            "timestamp": timestamp,
            "token": token,
            "signature": signature or expected,
        },
        HTTP_AUTHORIZATION="Basic " + b64encode(auth.encode()).decode(),
    )


@pytest.mark.django_db(transaction=True)
def test_esp_webhook_mail_becomes_a_ticket(anymail_settings: None, client: Client) -> None:
    from tests.conftest import make_tenant

    acme = make_tenant("acme", "Acme")
    response = _mailgun_post(client, build(subject="Via Mailgun"), "support@acme.localhost")
    assert response.status_code == 200, response.content
    with tenant_context(acme.id):
        email = InboundEmail.objects.get()
        assert email.channel == "esp:mailgun"
        assert Ticket.objects.get().subject == "Via Mailgun"


@pytest.mark.django_db(transaction=True)
def test_esp_webhook_takes_a_mail_of_several_megabytes(
    anymail_settings: None, client: Client
) -> None:
    """ESPs post the whole mail as a form field (Mailgun's body-mime, SendGrid's email,
    Postmark's JSON): Django's default 2.5 MB limit on request bodies refused such a mail
    with a 400, and the ESP would give up on it."""
    from tests.conftest import make_tenant

    acme = make_tenant("acme", "Acme")
    raw = build(subject="Big one", body="0123456789abcdef\n" * 400_000)  # 6.8 MB
    response = _mailgun_post(client, raw, "support@acme.localhost")
    assert response.status_code == 200, response.content[:300]
    with tenant_context(acme.id):
        assert InboundEmail.objects.get().size > 6_000_000
        assert Ticket.objects.get().subject == "Big one"


@pytest.mark.django_db(transaction=True)
def test_esp_webhook_takes_a_mail_with_a_nul_byte(anymail_settings: None, client: Client) -> None:
    """Form fields with NUL are refused everywhere else (RejectNulMiddleware); a mail
    posted by an ESP is stored whatever it holds."""
    from tests.conftest import make_tenant

    acme = make_tenant("acme", "Acme")
    raw = build(subject="Odd bytes", body="before\x00after")
    response = _mailgun_post(client, raw, "support@acme.localhost")
    assert response.status_code == 200, response.content
    with tenant_context(acme.id):
        assert b"\x00" in bytes(InboundEmail.objects.get().raw)
        assert Ticket.objects.get().subject == "Odd bytes"


@pytest.mark.django_db(transaction=True)
def test_esp_webhook_on_a_tenant_host_still_routes_by_recipient(anymail_settings: None) -> None:

    from tests.conftest import make_tenant

    make_tenant("acme", "Acme")
    globex = make_tenant("globex", "Globex")
    client = Client(HTTP_HOST="acme.localhost")
    response = _mailgun_post(
        client, build(to="support@globex.localhost"), "support@globex.localhost"
    )
    assert response.status_code == 200
    with tenant_context(globex.id):
        assert Ticket.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_esp_webhook_with_a_bad_signature_stores_nothing(
    anymail_settings: None, client: Client
) -> None:
    from tests.conftest import make_tenant

    acme = make_tenant("acme", "Acme")
    forged = _mailgun_post(client, build(), "support@acme.localhost", signature="0" * 64)
    assert forged.status_code == 400
    no_auth = _mailgun_post(client, build(), "support@acme.localhost", auth="hook:wrong")
    assert no_auth.status_code == 400
    with tenant_context(acme.id):
        assert InboundEmail.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_esp_webhook_for_an_unknown_address_is_kept_unrouted(
    anymail_settings: None, client: Client
) -> None:
    response = _mailgun_post(client, build(to="who@nowhere.test"), "who@nowhere.test")
    assert response.status_code == 200
    assert UnroutedEmail.objects.get().channel == "esp:mailgun"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "configured",
    [{}, {"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}],
    ids=["nothing", "signing-key-only"],
)
def test_esp_webhooks_without_a_webhook_secret_are_refused(
    settings: Settings, client: Client, configured: dict[str, str]
) -> None:
    """django-anymail would take these posts with only a warning: they fail closed."""
    from tests.conftest import make_tenant

    settings.ANYMAIL = configured
    acme = make_tenant("acme", "Acme")
    response = _mailgun_post(client, build(), "support@acme.localhost", auth="")
    assert response.status_code == 403
    assert b"ANYMAIL_WEBHOOK_SECRET" in response.content
    raw_mime = client.post(
        "/anymail/postmark/inbound/",
        json.dumps({"RawEmail": build().decode(), "OriginalRecipient": "support@acme.localhost"}),
        content_type="application/json",
    )
    assert raw_mime.status_code == 403
    with tenant_context(acme.id):
        assert InboundEmail.objects.count() == 0
