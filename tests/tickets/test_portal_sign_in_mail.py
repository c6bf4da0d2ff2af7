"""The customer portal's sign-in link is an outbox email of its own kind, in the tenant's
language (English and German), and like every mail whose link takes over an account it
keeps no link once its send was interrupted."""

from __future__ import annotations

import datetime
import importlib
from types import SimpleNamespace

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from helpdesk.mail import services as mail_services
from helpdesk.mail.models import OutboundEmail, OutboundEmailKind
from helpdesk.tenancy.context import tenant_context
from tests.conftest import TenantSetup
from tests.factories.tickets import make_contact


def _sign_in_mail(setup: TenantSetup, email: str = "ada@example.com") -> OutboundEmail:
    with tenant_context(setup.id):
        make_contact(email=email, name="Ada")
    assert setup.client().post("/help/sign-in/", {"email": email}).status_code == 200
    with tenant_context(setup.id):
        return OutboundEmail.objects.get(tags=["portal-sign-in"], to=[email])


def test_the_sign_in_link_is_its_own_kind_in_english(acme: TenantSetup) -> None:
    mail = _sign_in_mail(acme)
    assert mail.kind == "portal_sign_in"
    assert mail.subject == "Your sign-in link for Acme"
    assert mail.body_text.startswith("Hello Ada,")
    assert "Open this link to see your requests to Acme. It works once, for 60 minutes:" in (
        mail.body_text
    )
    assert 'href="http://acme.localhost' in mail.body_html
    assert mail.headers["Auto-Submitted"] == "auto-generated"
    with tenant_context(acme.id):
        assert not OutboundEmail.objects.filter(kind=OutboundEmailKind.PASSWORD_RESET).exists()


def test_the_sign_in_link_in_german(acme: TenantSetup) -> None:
    acme.tenant.language = "de"
    acme.tenant.save(update_fields=["language"])
    mail = _sign_in_mail(acme)
    assert mail.kind == OutboundEmailKind.PORTAL_SIGN_IN
    assert mail.subject == "Ihr Anmeldelink für Acme"
    assert "Öffnen Sie diesen Link, um Ihre Anfragen an Acme zu sehen." in mail.body_text
    assert "Falls Sie ihn nicht angefordert haben" in mail.body_html


def test_an_interrupted_sign_in_mail_keeps_no_link(acme: TenantSetup) -> None:
    mail = _sign_in_mail(acme)
    assert "/help/sign-in/" in mail.body_text
    with tenant_context(acme.id):
        # The worker claimed it and died during the send.
        OutboundEmail.objects.filter(id=mail.id).update(
            status="sending", updated_at=timezone.now() - datetime.timedelta(hours=1)
        )
        assert mail_services.mark_interrupted_sends(older_than=datetime.timedelta(minutes=10)) == 1
        mail.refresh_from_db()
    assert mail.status == "unknown"
    assert (mail.body_text, mail.body_html) == ("", "")


def test_the_database_knows_the_kind_and_refuses_others(acme: TenantSetup) -> None:
    mail = _sign_in_mail(acme)
    with tenant_context(acme.id):
        refused = pytest.raises(IntegrityError, match="mail_outboundemail_kind_valid")
        with refused, transaction.atomic():
            OutboundEmail.objects.filter(id=mail.id).update(kind="sign_in")
        OutboundEmail.objects.filter(id=mail.id).update(kind="password_reset")
        OutboundEmail.objects.filter(id=mail.id).update(kind="portal_sign_in")


def test_the_migration_gives_sign_in_links_already_queued_their_kind(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    migration = importlib.import_module("helpdesk.mail.migrations.0003_portal_sign_in_kind")

    def row(setup: TenantSetup, key: str) -> OutboundEmail:
        with tenant_context(setup.id):
            return OutboundEmail.objects.create(
                key=key, kind="password_reset", to=["x@example.com"], subject="s", body_text="b"
            )

    links = [row(acme, "portal-sign-in:1:a"), row(globex, "portal-sign-in:2:b")]
    reset = row(acme, "password_reset:3")
    migration.retag_sign_in_links(None, SimpleNamespace(connection=connection))
    for setup, mail in ((acme, links[0]), (globex, links[1]), (acme, reset)):
        with tenant_context(setup.id):
            mail.refresh_from_db()
    assert [m.kind for m in links] == ["portal_sign_in", "portal_sign_in"]
    assert reset.kind == "password_reset"
