"""How intake stores the raw mail: compressed with lz4 rather than pglz (migration 0034,
issue 17), which spent three times the server CPU on each mail and compressed fewer; in one
statement that carries its tenant setting."""

from __future__ import annotations

from email.message import EmailMessage
from uuid import UUID

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django import Settings

from helpdesk.tenancy.context import tenant_context
from tests.conftest import TenantSetup
from tickets.mail_in import intake
from tickets.models import InboundEmail


def _lz4_built_in() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
        return "lz4" in cursor.fetchone()[0]


def test_the_raw_mail_columns_compress_with_lz4(db: None) -> None:
    if not _lz4_built_in():
        pytest.skip("this PostgreSQL was built without lz4: the migration keeps pglz")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attrelid::regclass::text, attcompression FROM pg_attribute"
            " WHERE attname = 'raw' AND attrelid IN"
            " ('tickets_inboundemail'::regclass, 'tickets_unroutedemail'::regclass)"
        )
        assert dict(cursor.fetchall()) == {
            "tickets_inboundemail": "l",
            "tickets_unroutedemail": "l",
        }


def test_accepted_mail_is_stored_with_lz4_and_reads_back_whole(acme: TenantSetup) -> None:
    if not _lz4_built_in():
        pytest.skip("this PostgreSQL was built without lz4: the migration keeps pglz")
    message = EmailMessage()
    message["From"] = "carla@example.test"
    message["To"] = "support@acme.localhost"
    message["Subject"] = "Printer on fire"
    message["Message-ID"] = "<lz4-storage@example.test>"
    message.set_content("The printer on the third floor is on fire again.\n" * 200)
    raw = message.as_bytes()
    assert len(raw) > 4000  # over the size PostgreSQL compresses
    accepted = intake.accept(
        raw=raw, envelope_to=[], envelope_from="", channel="test", enqueue=False
    )
    assert accepted is not None
    with tenant_context(acme.id), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_column_compression(raw), pg_column_size(raw) FROM tickets_inboundemail"
            " WHERE id = %s",
            [UUID(accepted.email_id)],
        )
        method, stored = cursor.fetchone()
        assert method == "lz4"
        assert stored < len(raw) // 4
        assert bytes(InboundEmail.objects.get(id=accepted.email_id).raw) == raw


def test_accepting_a_mail_is_one_statement_with_its_tenant_setting(
    acme: TenantSetup, settings: Settings
) -> None:
    settings.HELPDESK_TENANT_CACHE_SECONDS = 60  # as in production: the recipient is cached

    def mail(number: int) -> bytes:
        message = EmailMessage()
        message["From"] = "carla@example.test"
        message["To"] = "support@acme.localhost"
        message["Subject"] = "Printer on fire"
        message["Message-ID"] = f"<one-statement-{number}@example.test>"
        message.set_content("Help!")
        return message.as_bytes()

    intake.accept(raw=mail(1), envelope_to=[], envelope_from="", channel="test", enqueue=False)
    with CaptureQueriesContext(connection) as captured:
        accepted = intake.accept(
            raw=mail(2), envelope_to=[], envelope_from="", channel="test", enqueue=False
        )
    assert accepted is not None
    assert accepted.created
    # The tenant setting and the INSERT in one round trip (no BEGIN, setting, COMMIT).
    assert len(captured.captured_queries) == 1
    sql = captured.captured_queries[0]["sql"]
    assert "set_config('app.tenant_id'" in sql
    assert "INSERT INTO tickets_inboundemail" in sql
    with tenant_context(acme.id):
        assert InboundEmail.objects.filter(message_id="<one-statement-2@example.test>").exists()
