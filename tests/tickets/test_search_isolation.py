"""The search documents under row-level security: the table has the forced tenant policy
like every tenant table, and the view the search reads (so that the full-text index can
serve it) holds the current tenant's documents only and takes no writes."""

from __future__ import annotations

from uuid import UUID

import pytest
from django.db import ProgrammingError, connection, transaction
from django.db.utils import DatabaseError

from helpdesk.tenancy.context import tenant_context
from tests.conftest import TenantSetup
from tests.factories.tickets import make_ticket
from tickets.models import SEARCH_VIEW


def _count(table: str, where: str = "true") -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table} WHERE {where}")  # noqa: S608 - test SQL
        row = cursor.fetchone()
        assert row is not None
        return int(row[0])


def test_search_documents_are_read_only_in_their_tenant(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    with tenant_context(acme.id):
        make_ticket(subject="Printer on fire")
    with tenant_context(globex.id):
        make_ticket(subject="Printer jammed")
    for table in ("tickets_ticketsearch", SEARCH_VIEW):
        assert _count(table) == 0, table  # no tenant set: nothing
        with tenant_context(acme.id):
            assert _count(table) == 1, table
    with tenant_context(acme.id):
        assert _count("tickets_ticketsearch", f"tenant_id = '{globex.id}'") == 0


def _execute(sql: str, params: list[UUID] | None = None) -> list[tuple[object, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def test_a_search_document_cannot_be_written_for_another_tenant(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    with tenant_context(globex.id):
        theirs = make_ticket(subject="Printer jammed")
    with tenant_context(acme.id):
        stolen = _execute(
            "UPDATE tickets_ticketsearch SET document = to_tsvector('stolen')"
            " WHERE ticket_id = %s RETURNING 1",
            [theirs.id],
        )
        assert stolen == []  # not even seen
        planted = (
            "INSERT INTO tickets_ticketsearch (ticket_id, tenant_id, indexed_at, document)"
            " VALUES (%s, %s, now(), to_tsvector('planted'))"
            " ON CONFLICT (ticket_id) DO UPDATE SET document = EXCLUDED.document"
        )
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            _execute(planted, [theirs.id, globex.id])
        with pytest.raises(ProgrammingError, match="permission denied"), transaction.atomic():
            _execute(f"DELETE FROM {SEARCH_VIEW}")  # noqa: S608 - a constant
    with tenant_context(globex.id):
        assert _count("tickets_ticketsearch", "document @@ to_tsquery('stolen | planted')") == 0
        assert _count(SEARCH_VIEW) == 1
